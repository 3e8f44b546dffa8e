"""The registry administrator's inbox: everything awaiting a decision, from
every part of the registry, in one list.

Each kind of request is an `InboxSource`: it lists what awaits the
administrator and turns approve / reject into the service call of its own
app. A later approval kind (four-eyes transfers, Article 6 authorisations…)
plugs in by adding a source to SOURCES."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import Http404
from django.urls import reverse
from django.utils.formats import date_format, number_format
from django.utils.timezone import localtime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tonne.controls import selectors as control_selectors
from tonne.controls import services as controls
from tonne.controls.models import Approval, PendingMove
from tonne.mrv import selectors as mrv_selectors
from tonne.mrv import services as mrv
from tonne.mrv.models import MonitoringReport
from tonne.organisations import selectors as org_selectors
from tonne.organisations import services as orgs
from tonne.organisations.models import Organisation, User
from tonne.projects import selectors as project_selectors
from tonne.projects import services as projects
from tonne.projects.models import Project
from tonne.units.models import Issuance
from tonne.units.selectors import serial_text
from tonne.workspace.labels import LABELS


@dataclass(frozen=True)
class InboxItem:
    source: str
    key: str
    title: str
    detail: str
    since: dt.datetime | None
    link: str
    # Four-eyes requests: what exactly will happen, and the hash the approver signs off.
    facts: tuple[tuple[str, str], ...] = ()
    request_hash: str = ""


class InboxSource:
    name = ""
    heading: Any = ""
    approve_label: Any = _("Approve")
    reject_label: Any = _("Reject")
    admin_only = True  # registry administrators' work; others see only their own approvals
    # Deciding moves units or changes controls: a recent second factor is needed.
    needs_step_up = False
    # Approval is bound to the request hash shown (passed to approve as request_hash).
    binds_request_hash = False

    def items(self, user: User) -> list[InboxItem]:
        raise NotImplementedError

    def approve(self, user: User, key: str, reason: str) -> None:
        raise NotImplementedError

    def reject(self, user: User, key: str, reason: str) -> None:
        raise NotImplementedError


class OrganisationApplications(InboxSource):
    name = "organisations"
    heading = _("Organisation applications")

    def _get(self, user: User, key: str) -> Organisation:
        org = org_selectors.organisations_for(user).filter(uid=key).first() if _uuid_like(key) else None
        if org is None:
            raise Http404
        return org

    def items(self, user: User) -> list[InboxItem]:
        return [
            InboxItem(
                self.name,
                str(o.uid),
                o.name,
                f"{LABELS.get(o.kind, o.kind)} · {o.country}",
                o.created_at,
                reverse("workspace:organisation", args=[o.uid]),
            )
            for o in org_selectors.organisations_for(user).filter(status=Organisation.Status.APPLIED).order_by("created_at")
        ]

    def approve(self, user: User, key: str, reason: str) -> None:
        orgs.decide_organisation(actor=user, organisation=self._get(user, key), status="approved", reason=reason)

    def reject(self, user: User, key: str, reason: str) -> None:
        orgs.decide_organisation(actor=user, organisation=self._get(user, key), status="rejected", reason=reason)


class _ProjectStep(InboxSource):
    awaiting = ""
    target = ""

    def _get(self, user: User, key: str) -> Project:
        project = project_selectors.projects_for(user).filter(project_id=key).first()
        if project is None:
            raise Http404
        return project

    def items(self, user: User) -> list[InboxItem]:
        return [
            InboxItem(
                self.name,
                p.project_id,
                f"{p.project_id} {p.name}",
                p.developer.name,
                p.status_changed_at,
                reverse("workspace:project", args=[p.project_id]),
            )
            for p in project_selectors.projects_for(user).filter(status=self.awaiting).order_by("status_changed_at")
        ]

    def approve(self, user: User, key: str, reason: str) -> None:
        projects.change_project_status(actor=user, project=self._get(user, key), status=self.target, reason=reason)

    def reject(self, user: User, key: str, reason: str) -> None:
        projects.change_project_status(actor=user, project=self._get(user, key), status="rejected", reason=reason)


class ProjectSubmissions(_ProjectStep):
    name = "project-submissions"
    heading = _("Project submissions")
    awaiting = Project.Status.SUBMITTED
    target = Project.Status.APPROVED


class ProjectRegistrations(_ProjectStep):
    name = "project-registrations"
    heading = _("Validated projects awaiting registration")
    approve_label = _("Register")
    awaiting = Project.Status.VALIDATED
    target = Project.Status.REGISTERED


class IssuanceRequests(InboxSource):
    """Verified reports. With four-eyes on issuance, the first administrator
    requests issuance here and a second one approves it under Approvals."""

    name = "issuances"
    heading = _("Issuance requests (verified monitoring reports)")
    needs_step_up = True

    @property
    def approve_label(self) -> Any:  # type: ignore[override]
        return _("Request issuance") if _four_eyes_issuance() else _("Approve issuance")

    def _get(self, user: User, key: str) -> MonitoringReport:
        report = mrv_selectors.reports_for(user).filter(uid=key).first() if _uuid_like(key) else None
        if report is None:
            raise Http404
        return report

    def items(self, user: User) -> list[InboxItem]:
        out = []
        requested = set(
            Approval.objects.filter(action=Approval.Action.ISSUANCE, status=Approval.Status.PENDING).values_list(
                "payload__report", flat=True
            )
        )
        for r in mrv_selectors.reports_for(user).filter(status=MonitoringReport.Status.VERIFIED).order_by("verified_at"):
            if str(r.uid) in requested:
                continue  # waits for the second administrator, under Approvals
            verified = ", ".join(f"{v.vintage}: {v.verified}" for v in r.vintages.all())
            title = gettext("%(project)s · monitoring report %(n)s") % {"project": r.project.project_id, "n": r.number}
            detail = gettext("%(start)s – %(end)s · verified %(verified)s · %(vvb)s") % {
                "start": date_format(r.period_start),
                "end": date_format(r.period_end),
                "verified": verified,
                "vvb": r.vvb.name,
            }
            out.append(
                InboxItem(
                    self.name,
                    str(r.uid),
                    title,
                    detail,
                    r.verified_at,
                    reverse("workspace:report", args=[r.uid]),
                )
            )
        return out

    def approve(self, user: User, key: str, reason: str) -> None:
        report = self._get(user, key)
        if _four_eyes_issuance():
            controls.request_issuance(actor=user, report_uid=report.uid)
        else:
            mrv.approve_issuance(actor=user, report=report)

    def reject(self, user: User, key: str, reason: str) -> None:
        mrv.reject_report(actor=user, report=self._get(user, key), reason=reason)


def _four_eyes_issuance() -> bool:
    return "issuance" in settings.TONNE_FOUR_EYES


def serials_of(ranges: list[list[int]]) -> list[str]:
    """A waiting move's serial ranges as the registry writes serial numbers."""
    out = []
    for start, end in ranges:
        issuance = Issuance.objects.filter(serial_start__lte=start, serial_end__gte=end).first()
        out.append(serial_text(issuance, start, end) if issuance is not None else f"{start}–{end}")
    return out


def _ranges(ranges: list[list[int]]) -> str:
    return ", ".join(serials_of(ranges))


ARTICLE6_ACTIONS = ("article6_authorise", "article6_change", "article6_revoke")


def _article6_identifier(a: Approval) -> str:
    return str(a.payload.get("identifier") or a.payload.get("authorisation") or "")


class ControlApprovals(InboxSource):
    """Four-eyes requests: moves of the person's organisation for its approvers
    and administrators, issuance for a second registry administrator, trusted
    list additions and limit changes. Approving sends the request hash shown."""

    name = "approvals"
    heading = _("Approvals (four eyes)")
    admin_only = False
    needs_step_up = True
    binds_request_hash = True

    def _pending(self, user: User) -> Any:
        return control_selectors.approvals_for(user).filter(status=Approval.Status.PENDING).order_by("created_at", "id")

    def items(self, user: User) -> list[InboxItem]:
        if not org_selectors.is_admin(user) and user.role not in controls.APPROVER_ROLES:
            return []
        out = []
        for a in self._pending(user).select_related("transaction__from_account", "transaction__to_account"):
            out.append(
                InboxItem(
                    self.name,
                    str(a.uid),
                    self._title(a),
                    gettext("Requested by %(who)s · expires %(when)s")
                    % {"who": a.initiated_by.username, "when": date_format(localtime(a.expires_at), "DATETIME_FORMAT")},
                    a.created_at,
                    self._link(a),
                    tuple(self._facts(a)),
                    a.request_hash,
                )
            )
        return out

    @staticmethod
    def _title(a: Approval) -> str:
        txn = a.transaction
        if txn is not None:
            return gettext("%(kind)s %(id)s · %(quantity)s units") % {
                "kind": LABELS.get(a.action, a.action),
                "id": txn.identifier,
                "quantity": number_format(txn.quantity, force_grouping=True),
            }
        if a.action == Approval.Action.ISSUANCE:
            return gettext("Issuance for %(project)s") % {"project": a.payload.get("project", "")}
        if a.action == Approval.Action.TRUSTED_ADD:
            return gettext("Add %(trusted)s to the trusted accounts of %(account)s") % a.payload
        if a.action == Approval.Action.LIMIT_CHANGE:
            return gettext("Change the limits of %(account)s") % a.payload
        if a.action in ARTICLE6_ACTIONS:
            return f"{LABELS.get(a.action, a.action)} {_article6_identifier(a)}"
        if a.action == Approval.Action.REPRESENTATIVE_CHANGE:
            return gettext("Change the authorised representative %(username)s") % a.payload
        return str(LABELS.get(a.action, a.action))

    @staticmethod
    def _link(a: Approval) -> str:
        if a.transaction is not None:
            return reverse("workspace:transaction", args=[a.transaction.identifier])
        if a.action == Approval.Action.ISSUANCE:
            return reverse("workspace:report", args=[a.payload.get("report", "")])
        if a.account is not None:
            return reverse("workspace:account", args=[a.account.identifier])
        if a.action in ARTICLE6_ACTIONS and a.action != "article6_authorise":
            return reverse("workspace:article6-authorisation", args=[_article6_identifier(a)])
        if a.action in ARTICLE6_ACTIONS:
            return reverse("workspace:article6")
        return reverse("workspace:inbox")

    @staticmethod
    def _facts(a: Approval) -> list[tuple[str, str]]:
        facts: list[tuple[str, str]] = []
        txn = a.transaction
        none = gettext("none")
        if txn is not None:
            facts.append((gettext("From"), txn.from_account.identifier if txn.from_account else "—"))
            facts.append((gettext("To"), txn.to_account.identifier if txn.to_account else "—"))
            facts.append((gettext("Units"), number_format(txn.quantity, force_grouping=True)))
            pending = PendingMove.objects.filter(transaction=txn).first()
            if pending is not None:
                facts.append((gettext("Serial ranges"), _ranges(pending.ranges)))
                names = {
                    "beneficiary": gettext("Beneficiary"),
                    "purpose": gettext("Purpose"),
                    "jurisdiction": gettext("Jurisdiction"),
                    "reason": gettext("Statement or reason"),
                }
                for field, label in names.items():
                    if pending.details.get(field):
                        facts.append((label, str(pending.details[field])))
            if txn.kind == "transfer" and settings.TONNE_DELAY_NON_TRUSTED:
                facts.append((gettext("Settlement"), gettext("after approval, at once to a trusted account, otherwise after the settlement delay")))
        elif a.action == Approval.Action.ISSUANCE:
            facts.append((gettext("Project"), str(a.payload.get("project", ""))))
            for vintage, quantity in sorted(a.payload.get("vintages", {}).items()):
                facts.append((gettext("Vintage %(vintage)s") % {"vintage": vintage}, number_format(quantity, force_grouping=True)))
        elif a.action == Approval.Action.TRUSTED_ADD:
            facts.append((gettext("Account"), str(a.payload.get("account", ""))))
            facts.append((gettext("Trusted account"), str(a.payload.get("trusted", ""))))
        elif a.action == Approval.Action.LIMIT_CHANGE:
            facts.append((gettext("Account"), str(a.payload.get("account", ""))))
            facts.append((gettext("Per transfer"), str(a.payload.get("per_transfer") or none)))
            facts.append((gettext("Per 24 hours"), str(a.payload.get("per_day") or none)))
        elif a.action in ARTICLE6_ACTIONS:
            p = a.payload
            shown = (
                ("cooperative_approach", gettext("Cooperative approach")),
                ("first_transfer_definition", gettext("First transfer")),
                ("acquiring_parties", gettext("Acquiring Parties")),
                ("purposes", gettext("Purposes")),
                ("quantity", gettext("Authorised quantity (tCO2e)")),
                ("vintage_from", gettext("First vintage")),
                ("vintage_to", gettext("Last vintage")),
                ("projects", gettext("Projects")),
                ("effective_from", gettext("Takes effect")),
                ("reason", gettext("Reason")),
            )
            for key, label in shown:
                if p.get(key) not in (None, "", []):
                    value = p[key]
                    facts.append((label, ", ".join(map(str, value)) if isinstance(value, list) else str(value)))
        elif a.action == Approval.Action.REPRESENTATIVE_CHANGE:
            before, after = a.payload.get("before", {}), a.payload.get("after", {})
            facts.append((gettext("User"), str(a.payload.get("username", ""))))
            if a.organisation is not None:
                facts.append((gettext("Organisation"), a.organisation.name))
            for label, state in ((gettext("Now"), before), (gettext("After approval"), after)):
                role = LABELS.get(state.get("role", ""), state.get("role", ""))
                facts.append((label, f"{role}, {gettext('active') if state.get('active') else gettext('inactive')}"))
        facts.append((gettext("Request hash"), a.request_hash))
        return facts

    def _uid(self, key: str) -> str:
        if not _uuid_like(key):
            raise Http404
        return key

    def approve(self, user: User, key: str, reason: str, request_hash: str = "") -> None:
        controls.approve(actor=user, uid=self._uid(key), request_hash=request_hash)

    def reject(self, user: User, key: str, reason: str) -> None:
        controls.reject(actor=user, uid=self._uid(key), reason=reason)


SOURCES: list[InboxSource] = [
    ControlApprovals(),
    OrganisationApplications(),
    ProjectSubmissions(),
    ProjectRegistrations(),
    IssuanceRequests(),
]


def sources_for(user: User) -> list[InboxSource]:
    admin = org_selectors.is_admin(user)
    return [s for s in SOURCES if admin or not s.admin_only]


def source(name: str) -> InboxSource:
    for candidate in SOURCES:
        if candidate.name == name:
            return candidate
    raise Http404


def _uuid_like(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
