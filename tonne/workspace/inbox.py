"""The registry administrator's inbox: everything awaiting a decision, from
every part of the registry, in one list.

Each kind of request is an `InboxSource`: it lists what awaits the
administrator and turns approve / reject into the service call of its own
app. A later approval kind (four-eyes transfers, Article 6 authorisations…)
plugs in by adding a source to SOURCES."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.http import Http404
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tonne.mrv import selectors as mrv_selectors
from tonne.mrv import services as mrv
from tonne.mrv.models import MonitoringReport
from tonne.organisations import selectors as org_selectors
from tonne.organisations import services as orgs
from tonne.organisations.models import Organisation, User
from tonne.projects import selectors as project_selectors
from tonne.projects import services as projects
from tonne.projects.models import Project
from tonne.workspace.labels import LABELS


@dataclass(frozen=True)
class InboxItem:
    source: str
    key: str
    title: str
    detail: str
    since: dt.datetime | None
    link: str


class InboxSource:
    name = ""
    heading: Any = ""
    approve_label: Any = _("Approve")
    reject_label: Any = _("Reject")

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
    name = "issuances"
    heading = _("Issuance requests (verified monitoring reports)")
    approve_label = _("Approve issuance")

    def _get(self, user: User, key: str) -> MonitoringReport:
        report = mrv_selectors.reports_for(user).filter(uid=key).first() if _uuid_like(key) else None
        if report is None:
            raise Http404
        return report

    def items(self, user: User) -> list[InboxItem]:
        out = []
        for r in mrv_selectors.reports_for(user).filter(status=MonitoringReport.Status.VERIFIED).order_by("verified_at"):
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
        mrv.approve_issuance(actor=user, report=self._get(user, key))

    def reject(self, user: User, key: str, reason: str) -> None:
        mrv.reject_report(actor=user, report=self._get(user, key), reason=reason)


SOURCES: list[InboxSource] = [
    OrganisationApplications(),
    ProjectSubmissions(),
    ProjectRegistrations(),
    IssuanceRequests(),
]


def source(name: str) -> InboxSource:
    for candidate in SOURCES:
        if candidate.name == name:
            return candidate
    raise Http404


def _uuid_like(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
