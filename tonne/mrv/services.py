"""Monitoring report → verification → issuance."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Q

from tonne.controls import gate as controls_gate
from tonne.controls.models import Approval
from tonne.core import clock, text
from tonne.core.errors import PermissionDenied, RuleChecks, ValidationFailed
from tonne.ledger.services import append_entry
from tonne.mrv import domain
from tonne.mrv.models import MonitoringReport, ReportComputation, ReportVintage
from tonne.organisations.models import Account, Organisation, User
from tonne.organisations.services import (
    check_on_behalf,
    require_active_member,
    require_registry_administrator,
)
from tonne.projects import eligibility
from tonne.projects.domain import ISSUABLE, Upload
from tonne.projects.models import Document, Project
from tonne.projects.services import store_upload
from tonne.units.domain import retirement_details
from tonne.units.models import Issuance
from tonne.units.services import issue_units

EDITORS = (User.Role.ADMIN, User.Role.INITIATOR)


def _document(uid: Any, project: Project, field: str) -> Document | None:
    if not uid:
        return None
    try:
        # Locked: its uploader's removal and this citing of it do not interleave.
        doc = Document.objects.select_for_update(no_key=True).filter(
            uid=uuid.UUID(str(uid)), project=project, removed_at__isnull=True
        ).first()
    except ValueError:
        doc = None
    if doc is None:
        raise ValidationFailed("DOCUMENT_NOT_FOUND", f"{field} must be a document uploaded to this project.", field=field)
    return doc


def _check_no_overlap(project: Project, start: dt.date, end: dt.date, instead_of: MonitoringReport | None) -> None:
    """Periods never overlap; the project row lock makes this check race-free."""
    others = MonitoringReport.objects.filter(project=project, period_start__lte=end, period_end__gte=start).exclude(
        status__in=[MonitoringReport.Status.REJECTED, MonitoringReport.Status.WITHDRAWN]
    )
    clash = (others.exclude(pk=instead_of.pk) if instead_of else others).first()
    if clash is not None:
        raise ValidationFailed(
            "MONITORING_PERIOD_OVERLAP",
            f"The period overlaps monitoring report {clash.number} ({clash.period_start} – {clash.period_end}).",
            field="period_start",
            details={"report": clash.number, "start": clash.period_start.isoformat(), "end": clash.period_end.isoformat()},
        )


def _accredited_vvb(vvb: Any) -> Organisation:
    try:
        vvb_org = Organisation.objects.get(uid=uuid.UUID(str(vvb)), kind=Organisation.Kind.VVB)
    except (ValueError, Organisation.DoesNotExist):
        raise ValidationFailed("VVB_UNKNOWN", "vvb must name a validation / verification body.", field="vvb") from None
    if not vvb_org.accredited or vvb_org.status != Organisation.Status.APPROVED:
        raise ValidationFailed("VVB_NOT_ACCREDITED", f"{vvb_org.name} is not an accredited, approved VVB.", field="vvb", details={"organisation": vvb_org.name})
    return vvb_org


def _checked_claim(
    project: Project, period_start: Any, period_end: Any, vintages: Any, vvb: Any, *, instead_of: MonitoringReport | None = None
) -> tuple[dt.date, dt.date, dict[int, int], Organisation]:
    """The period, claim and VVB of a report, checked (under the project row
    lock); `instead_of` is the report being corrected, which does not clash with itself."""
    checks = RuleChecks()  # every broken rule of the report at once
    with checks.rule():
        start = domain.parse_date(period_start, "period_start")
    with checks.rule():
        end = domain.parse_date(period_end, "period_end")
    period: tuple[dt.date, dt.date] | None = None
    if not checks.errors:
        with checks.rule():
            domain.check_period(start, end, today=clock.now().date())
            period = (start, end)
    if period is not None:
        with checks.rule():
            domain.check_crediting(start, end, (project.crediting_period_start, project.crediting_period_end))
        with checks.rule():
            _check_no_overlap(project, start, end, instead_of)
    with checks.rule():
        claimed = domain.vintage_quantities(vintages, "vintages", period)
        if period is not None:
            estimations = list(project.estimations.values_list("start_date", "end_date", "unit_count"))
            domain.check_claim_plausible(claimed, period, estimations)
    with checks.rule():
        vvb_org = _accredited_vvb(vvb)
    checks.done()
    return start, end, claimed, vvb_org


@transaction.atomic
def submit_report(
    *,
    actor: User,
    project: Project,
    period_start: Any,
    period_end: Any,
    vintages: Any,
    vvb: str,
    document: Any = None,
    upload: Upload | None = None,
) -> MonitoringReport:
    """The developer claims reductions for a period, per vintage. The
    monitoring report's file, when sent as `upload`, is stored in the same
    transaction (and named as `document`)."""
    if upload is not None:
        document = str(store_upload(actor=actor, project=project, upload=upload, kind=Document.Kind.MONITORING_REPORT).uid)
    project = Project.objects.select_for_update(no_key=True).get(pk=project.pk)
    org = require_active_member(actor, EDITORS)
    if project.developer_id != org.id:
        raise PermissionDenied("PROJECT_NOT_YOURS", f"Project {project.project_id} belongs to another organisation.", details={"project": project.project_id})
    if project.status not in ISSUABLE:
        raise ValidationFailed(
            "PROJECT_NOT_REGISTERED", f"Project {project.project_id} is {project.status}; monitoring needs a registered project.",
            details={"project": project.project_id, "status": project.status},
        )
    start, end, claimed, vvb_org = _checked_claim(project, period_start, period_end, vintages, vvb)
    number = (MonitoringReport.objects.filter(project=project).aggregate(m=Max("number"))["m"] or 0) + 1
    report = MonitoringReport.objects.create(
        uid=uuid.uuid4(),
        project=project,
        number=number,
        period_start=start,
        period_end=end,
        vvb=vvb_org,
        document=_document(document, project, "document"),
        submitted_by=actor,
        submitted_at=clock.now(),
    )
    ReportVintage.objects.bulk_create([ReportVintage(report=report, vintage=v, claimed=q) for v, q in sorted(claimed.items())])
    append_entry(
        kind="mrv.report_submitted",
        actor=actor,
        data={"report": str(report.uid), "project": project.project_id, "number": number, **_claim_stated(report, claimed)},
    )
    return report


def _claim_stated(report: MonitoringReport, claimed: Mapping[int, int]) -> dict[str, Any]:
    """What a report claims, as its ledger entries state it (at submission and on each correction)."""
    return {
        "period": [report.period_start, report.period_end],
        "claimed": [[v, q] for v, q in sorted(claimed.items())],
        "vvb": str(report.vvb.uid),
        "document_sha256": report.document.sha256 if report.document else None,
    }


@transaction.atomic
def verify_report(
    *,
    actor: User,
    report: MonitoringReport,
    verified: Any,
    document: Any = None,
    verification_id: str = "",
    adjustment_reason: str = "",
    upload: Upload | None = None,
    comments: str = "",
) -> MonitoringReport:
    """The assigned, accredited VVB, having accepted the assignment, signs the
    verified quantity per vintage (its positive opinion, with `comments`);
    its verification report, when sent as `upload`, is stored in the same transaction.
    A computed report verified at other than its computed quantities needs
    the reason for the adjustment."""
    if upload is not None:
        document = str(
            store_upload(actor=actor, project=report.project, upload=upload, kind=Document.Kind.VERIFICATION_REPORT).uid
        )
    report = MonitoringReport.objects.select_for_update(of=("self",), no_key=True).select_related("project", "vvb").get(pk=report.pk)
    org = require_active_member(actor, EDITORS)
    if report.vvb_id != org.id:
        raise PermissionDenied("NOT_ASSIGNED_VVB", "Only the VVB assigned to this report may verify it.")
    if not org.accredited:
        raise PermissionDenied("VVB_NOT_ACCREDITED", f"{org.name} is not accredited.", details={"organisation": org.name})
    if report.status != MonitoringReport.Status.SUBMITTED:
        raise ValidationFailed("REPORT_NOT_AWAITING_VERIFICATION", f"This report is {report.status}.", details={"status": report.status})
    domain.check_may_act(report.assignment)
    comments = text.bounded(comments, "comments", domain.OPINION_COMMENTS_LIMIT).strip()
    quantities = domain.vintage_quantities(verified, "verified")
    rows = {row.vintage: row for row in report.vintages.select_for_update()}
    signed = domain.check_verified({vintage: row.claimed for vintage, row in rows.items()}, quantities)
    for vintage, row in rows.items():
        row.verified = signed[vintage]
        row.save(update_fields=["verified"])
    adjusted = any(row.verified != row.claimed for row in rows.values())
    reason = record_adjustment(report, adjusted, adjustment_reason)
    doc = _document(document, report.project, "document")
    now = clock.now()
    report.status = MonitoringReport.Status.VERIFIED
    report.verification_document = doc
    report.verification_id = (
        text.bounded(verification_id, "verification_id", 100) or f"{report.project.project_id}-VER-{report.number}"
    )
    report.verified_by = actor
    report.verified_at = now
    report.opinion, report.opinion_comments = domain.POSITIVE, comments
    used = MonitoringReport.objects.filter(verification_id=report.verification_id, verified_by__isnull=False).exclude(
        pk=report.pk
    ).exclude(status__in=[MonitoringReport.Status.REJECTED, MonitoringReport.Status.WITHDRAWN])
    if used.exists():
        raise _verification_used(report.verification_id)
    try:
        with transaction.atomic():  # a concurrent verification citing it is caught by the constraint
            report.save()
    except IntegrityError:
        raise _verification_used(report.verification_id) from None
    append_entry(
        kind="mrv.report_verified",
        actor=actor,
        data={
            "report": str(report.uid),
            "project": report.project.project_id,
            "verified": [[v, rows[v].verified] for v in sorted(rows)],
            "verification_id": report.verification_id,
            "document_sha256": doc.sha256 if doc else None,
            **({"adjustment_reason": reason} if reason else {}),
            "opinion": domain.POSITIVE,
            **({"comments": comments} if comments else {}),
            **({"needs_registry_approval": True} if eligibility.verification_approval_required(report.project) else {}),
        },
    )
    return report


def _verification_used(verification_id: str) -> ValidationFailed:
    return ValidationFailed(
        "VERIFICATION_ID_USED",
        f"Verification {verification_id} already backs another monitoring report.",
        field="verification_id",
        details={"verification": verification_id},
    )


def record_adjustment(report: MonitoringReport, adjusted: bool, reason: str) -> str:
    """Keep the VVB's reason for verifying a computed report at other quantities."""
    computation = ReportComputation.objects.filter(report=report).first()
    reason = (reason or "").strip()
    if computation is None or not adjusted:
        return reason
    if not reason:
        raise ValidationFailed(
            "ADJUSTMENT_REASON_REQUIRED", "Verifying other than the computed quantities needs a reason.", field="adjustment_reason"
        )
    computation.adjustment_reason = reason
    computation.save(update_fields=["adjustment_reason"])
    return reason


@transaction.atomic
def reject_report(*, actor: User, report: MonitoringReport, reason: str) -> MonitoringReport:
    report = MonitoringReport.objects.select_for_update(of=("self",), no_key=True).select_related("project").get(pk=report.pk)
    if not (reason or "").strip():
        raise ValidationFailed("REASON_REQUIRED", "A rejection needs a reason.", field="reason")
    if report.status == MonitoringReport.Status.SUBMITTED:
        org = require_active_member(actor, EDITORS)
        if report.vvb_id != org.id:
            raise PermissionDenied("NOT_ASSIGNED_VVB", "Only the assigned VVB may reject an unverified report.")
        domain.check_may_act(report.assignment)
        # The VVB's rejection is its negative opinion; the reason its comments.
        report.opinion = domain.NEGATIVE
        report.opinion_comments = text.bounded(reason, "reason", domain.OPINION_COMMENTS_LIMIT).strip()
    elif report.status == MonitoringReport.Status.VERIFIED:
        require_registry_administrator(actor)
    else:
        raise ValidationFailed("REPORT_NOT_PENDING", f"This report is {report.status}.", details={"status": report.status})
    report.status = MonitoringReport.Status.REJECTED
    report.status_reason = reason.strip()
    report.decided_by = actor
    report.decided_at = clock.now()
    report.save()
    append_entry(
        kind="mrv.report_rejected",
        actor=actor,
        data={"report": str(report.uid), "project": report.project.project_id, "reason": report.status_reason,
              **({"opinion": report.opinion} if report.opinion else {})},
    )
    return report


def _own_pending_report(actor: User, report: MonitoringReport, statuses: tuple[str, ...]) -> MonitoringReport:
    report = MonitoringReport.objects.select_for_update(of=("self",), no_key=True).select_related("project").get(pk=report.pk)
    org = require_active_member(actor, EDITORS)
    if report.project.developer_id != org.id:
        raise PermissionDenied("PROJECT_NOT_YOURS", f"Project {report.project.project_id} belongs to another organisation.", details={"project": report.project.project_id})
    if report.status not in statuses:
        raise ValidationFailed(
            "REPORT_NOT_PENDING",
            f"Monitoring report {report.number} is {report.status}; only a report "
            f"{' or '.join(statuses)} can be changed by its developer.",
            details={"report": report.number, "status": report.status},
        )
    return report


@transaction.atomic
def withdraw_report(*, actor: User, report: MonitoringReport, reason: str = "") -> MonitoringReport:
    """The developer takes back a report before the administrator's decision
    (awaiting the VVB, or verified and awaiting issuance); its period and its
    verification reference are free again."""
    report = _own_pending_report(actor, report, (MonitoringReport.Status.SUBMITTED, MonitoringReport.Status.VERIFIED))
    before = report.status
    report.status = MonitoringReport.Status.WITHDRAWN
    report.status_reason = text.bounded(reason, "reason", 2000)
    report.decided_by = actor
    report.decided_at = clock.now()
    report.save(update_fields=["status", "status_reason", "decided_by", "decided_at"])
    append_entry(
        kind="mrv.report_withdrawn",
        actor=actor,
        data={"report": str(report.uid), "project": report.project.project_id, "from": before, "reason": report.status_reason},
    )
    return report


@transaction.atomic
def correct_report(
    *,
    actor: User,
    report: MonitoringReport,
    period_start: Any,
    period_end: Any,
    vintages: Any,
    vvb: str,
    document: Any = None,
    upload: Upload | None = None,
    reason: str = "",
) -> MonitoringReport:
    """The developer corrects a report the VVB has not verified yet: period,
    claimed vintages, VVB, document; checked as at submission, the change in the ledger."""
    report = _own_pending_report(actor, report, (MonitoringReport.Status.SUBMITTED,))
    if ReportComputation.objects.filter(report=report).exists():
        raise ValidationFailed(
            "REPORT_COMPUTED", "A report computed from signed readings is not edited: withdraw it and compute it again."
        )
    if upload is not None:
        document = str(
            store_upload(actor=actor, project=report.project, upload=upload, kind=Document.Kind.MONITORING_REPORT).uid
        )
    project = Project.objects.select_for_update(no_key=True).get(pk=report.project_id)
    start, end, claimed, vvb_org = _checked_claim(project, period_start, period_end, vintages, vvb, instead_of=report)
    before = _claim_stated(report, {row.vintage: row.claimed for row in report.vintages.all()})
    report.period_start, report.period_end, report.vvb = start, end, vvb_org
    if document:
        report.document = _document(document, project, "document")
    report.save(update_fields=["period_start", "period_end", "vvb", "document"])
    report.vintages.all().delete()
    ReportVintage.objects.bulk_create([ReportVintage(report=report, vintage=v, claimed=q) for v, q in sorted(claimed.items())])
    append_entry(
        kind="mrv.report_corrected",
        actor=actor,
        data={
            "report": str(report.uid),
            "project": project.project_id,
            "before": before,
            **_claim_stated(report, claimed),
            "reason": text.bounded(reason, "reason", text.LONG_TEXT),
        },
    )
    return report


@transaction.atomic
def set_issuance_instruction(*, actor: User, report: MonitoringReport, lines: Any) -> MonitoringReport:
    """The developer says, before the decision, where its share of each
    vintage goes: quantities to its own holding accounts, quantities retired
    at issuance (pre-sold or CORSIA units, with the retirement's details);
    the rest to its first holding account. Checked again at issuance."""
    report = _own_pending_report(actor, report, (MonitoringReport.Status.SUBMITTED, MonitoringReport.Status.VERIFIED))
    rows = {row.vintage: row for row in report.vintages.select_for_update()}
    checked = domain.instruction_lines(lines, set(rows))
    for vintage, row in rows.items():
        mine = [line for v, line in checked if v == vintage]
        ceiling = row.verified if row.verified is not None else row.claimed
        placed = sum(int(line["quantity"]) for line in mine)
        if placed > ceiling:
            raise ValidationFailed(
                "ISSUANCE_INSTRUCTION_EXCEEDS_UNITS",
                f"The instruction places {placed:,} units of vintage {vintage}; the report has {ceiling:,}.",
                field="lines",
                details={"quantity": placed, "vintage": vintage, "limit": ceiling},
            )
        for line in mine:
            if "account" in line:
                _own_holding_account(report.project, line["account"])
            else:
                line["retire"] = retirement_details(**line["retire"])
                check_on_behalf(report.project.developer, line["retire"])
        row.instruction = mine
        row.save(update_fields=["instruction"])
    append_entry(
        kind="mrv.issuance_instruction",
        actor=actor,
        data={"report": str(report.uid), "project": report.project.project_id,
              "lines": [{"vintage": v, **line} for v, line in checked]},
    )
    return report


def _own_holding_account(project: Project, identifier: str) -> Account:
    account = Account.objects.filter(
        identifier=identifier, organisation_id=project.developer_id, type=Account.Type.HOLDING, status=Account.Status.OPEN
    ).first()
    if account is None:
        raise ValidationFailed(
            "ISSUANCE_ACCOUNT_INVALID", f"Account {identifier} is not an open holding account of the project's developer.",
            field="lines",
            details={"account": identifier},
        )
    return account


@transaction.atomic
def approve_issuance(*, actor: User, report: MonitoringReport, approval: Approval | None = None) -> list[Issuance]:
    """The administrator approves issuance of every verified vintage. The
    report row lock and one-issuance-per-vintage constraint make a retry or a
    race issue nothing twice."""
    require_registry_administrator(actor)
    controls_gate.check_issuance(approval=approval)  # four-eyes: only a second administrator's approval issues
    report = MonitoringReport.objects.select_for_update(of=("self",), no_key=True).select_related("project").get(pk=report.pk)
    if report.status == MonitoringReport.Status.ISSUED:
        raise ValidationFailed("ISSUANCE_ALREADY_DONE", "Units for this report have already been issued.")
    if report.status != MonitoringReport.Status.VERIFIED:
        raise ValidationFailed("REPORT_NOT_VERIFIED", f"This report is {report.status}; only verified reports are issued.", details={"status": report.status})
    domain.check_issuable_verification(
        approval_required=eligibility.verification_approval_required(report.project),
        approved=report.verification_approved_at is not None
    )
    project = Project.objects.select_for_update(no_key=True).get(pk=report.project_id)
    if project.status not in ISSUABLE:
        raise ValidationFailed("PROJECT_NOT_REGISTERED", f"Project {project.project_id} is {project.status}.", details={"project": project.project_id, "status": project.status})
    issuances = []
    for row in report.vintages.select_for_update().filter(Q(verified__gt=0)):
        quantity = int(row.verified or 0) - row.issued
        if quantity <= 0:
            continue
        # The instruction is checked again: an account may have closed since.
        split = [(_own_holding_account(project, line["account"]), line["quantity"]) for line in row.instruction if "account" in line]
        retired = [(retirement_details(**line["retire"]), line["quantity"]) for line in row.instruction if "retire" in line]
        for details, _ in retired:  # the developer may have stopped acting for clients since
            check_on_behalf(project.developer, details)
        issuances.append(issue_units(
            actor=actor, project=project, report=report, vintage=row.vintage, quantity=quantity, split=split, retired=retired
        ))
        row.issued += quantity
        row.save(update_fields=["issued"])
    if not issuances:
        raise ValidationFailed("NOTHING_TO_ISSUE", "No verified quantity remains to be issued for this report.")
    report.status = MonitoringReport.Status.ISSUED
    report.decided_by = actor
    report.decided_at = clock.now()
    report.save(update_fields=["status", "decided_by", "decided_at"])
    return issuances


def record_foreign_report(
    *, actor: User, project: Project, vintage: int, quantity: int, reference: str,
    period: tuple[dt.date, dt.date] | None = None,
) -> MonitoringReport:
    """The verified mitigation behind units received from another Party's
    registry: verified and issued there, so recorded here as issued (over
    the monitoring period the origin states, else the vintage's year), with
    the receiving administrator's organisation standing for the verifier."""
    require_registry_administrator(actor)
    assert actor.organisation is not None
    now = clock.now()
    number = (MonitoringReport.objects.filter(project=project).aggregate(m=Max("number"))["m"] or 0) + 1
    report = MonitoringReport.objects.create(
        uid=uuid.uuid4(), project=project, number=number,
        period_start=period[0] if period else dt.date(vintage, 1, 1),
        period_end=period[1] if period else dt.date(vintage, 12, 31), status=MonitoringReport.Status.ISSUED, vvb=actor.organisation,
        submitted_by=actor, submitted_at=now, verified_at=now, verification_id=reference[:100], assignment="accepted",
    )
    ReportVintage.objects.create(report=report, vintage=vintage, claimed=quantity, verified=quantity, issued=quantity)
    append_entry(
        kind="mrv.report_recorded",
        actor=actor,
        data={"report": str(report.uid), "project": project.project_id, "number": number, "vintage": vintage,
              "quantity": quantity, "reference": reference},
    )
    return report
