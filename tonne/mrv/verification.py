"""The VVB's side of verification: answering its assignment (accepting
declares no conflict of interest; declining says why), its opinion on the
report (positive: it verifies; negative: it rejects, with comments), the
developer choosing another VVB after a decline, and the registry
administrator's approval of a verification where the registry requires it
(TONNE_VERIFICATION_APPROVAL). Each is one transaction with its ledger entry."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction

from tonne.core import clock, text
from tonne.core.errors import PermissionDenied, ValidationFailed
from tonne.ledger.services import append_entry
from tonne.mrv import domain
from tonne.mrv import services as mrv
from tonne.mrv.models import MonitoringReport
from tonne.organisations.models import Organisation, User
from tonne.organisations.services import require_active_member, require_registry_administrator
from tonne.projects import eligibility

REASON_LIMIT = 2_000


def _locked(report: MonitoringReport) -> MonitoringReport:
    return MonitoringReport.objects.select_for_update(of=("self",), no_key=True).select_related("project", "vvb").get(
        pk=report.pk
    )


def _as_assigned_vvb(actor: User, report: MonitoringReport) -> Organisation:
    org = require_active_member(actor, mrv.EDITORS)
    if report.vvb_id != org.id:
        raise PermissionDenied("NOT_ASSIGNED_VVB", "Only the VVB assigned to this report may answer for it.")
    if not org.accredited:
        raise PermissionDenied("VVB_NOT_ACCREDITED", f"{org.name} is not accredited.", details={"organisation": org.name})
    return org


@transaction.atomic
def answer_assignment(
    *, actor: User, report: MonitoringReport, decision: str, no_conflict_of_interest: bool = False, reason: str = ""
) -> MonitoringReport:
    report = _locked(report)
    _as_assigned_vvb(actor, report)
    if report.status != MonitoringReport.Status.SUBMITTED:
        raise ValidationFailed("REPORT_NOT_AWAITING_VERIFICATION", f"This report is {report.status}.", details={"status": report.status})
    reason = text.bounded(reason or "", "reason", REASON_LIMIT).strip()
    domain.check_assignment_answer(
        report.assignment, decision, no_conflict_of_interest=no_conflict_of_interest is True, reason=reason
    )
    now = clock.now()
    report.assignment = decision
    report.assignment_reason = reason
    report.assignment_decided_by = actor
    report.assignment_decided_at = now
    report.no_conflict_declared_at = now if decision == domain.ACCEPTED else None
    report.save(update_fields=["assignment", "assignment_reason", "assignment_decided_by", "assignment_decided_at",
                               "no_conflict_declared_at"])
    append_entry(
        kind=f"mrv.assignment_{decision}",
        actor=actor,
        data={
            "report": str(report.uid), "project": report.project.project_id, "vvb": str(report.vvb.uid),
            **({"no_conflict_of_interest": True} if decision == domain.ACCEPTED else {"reason": reason}),
        },
    )
    return report


def accept_assignment(*, actor: User, report: MonitoringReport, no_conflict_of_interest: bool) -> MonitoringReport:
    return answer_assignment(actor=actor, report=report, decision=domain.ACCEPTED,
                             no_conflict_of_interest=no_conflict_of_interest)


def decline_assignment(*, actor: User, report: MonitoringReport, reason: str) -> MonitoringReport:
    return answer_assignment(actor=actor, report=report, decision=domain.DECLINED, reason=reason)


@transaction.atomic
def reassign_vvb(*, actor: User, report: MonitoringReport, vvb: Any) -> MonitoringReport:
    """After a decline, the developer asks another accredited VVB."""
    report = _locked(report)
    org = require_active_member(actor, mrv.EDITORS)
    if report.project.developer_id != org.id:
        raise PermissionDenied("PROJECT_NOT_YOURS", f"Project {report.project.project_id} belongs to another organisation.", details={"project": report.project.project_id})
    if report.status != MonitoringReport.Status.SUBMITTED or report.assignment != domain.DECLINED:
        raise ValidationFailed("ASSIGNMENT_NOT_DECLINED", "Another VVB is asked only after the assigned one declined.")
    try:
        new = Organisation.objects.get(uid=uuid.UUID(str(vvb)), kind=Organisation.Kind.VVB)
    except (ValueError, Organisation.DoesNotExist):
        raise ValidationFailed("VVB_UNKNOWN", "vvb must name a validation / verification body.", field="vvb") from None
    if not new.accredited or new.status != Organisation.Status.APPROVED:
        raise ValidationFailed("VVB_NOT_ACCREDITED", f"{new.name} is not an accredited, approved VVB.", field="vvb", details={"organisation": new.name})
    if new.id == report.vvb_id:
        raise ValidationFailed("VVB_DECLINED", f"{new.name} declined this report; ask another VVB.", field="vvb", details={"organisation": new.name})
    report.vvb = new
    report.assignment, report.assignment_reason = domain.PENDING, ""
    report.assignment_decided_by = report.assignment_decided_at = report.no_conflict_declared_at = None
    report.save(update_fields=["vvb", "assignment", "assignment_reason", "assignment_decided_by",
                               "assignment_decided_at", "no_conflict_declared_at"])
    append_entry(kind="mrv.vvb_reassigned", actor=actor,
                 data={"report": str(report.uid), "project": report.project.project_id, "vvb": str(new.uid)})
    return report


def record_opinion(
    *, actor: User, report: MonitoringReport, opinion: str, comments: str = "", verified: Any = None,
    verification_id: str = "", document: Any = None,
) -> MonitoringReport:
    """The VVB's opinion: positive verifies the quantities `verified` (the
    claimed ones when not given), negative rejects the report with the comments."""
    comments = text.bounded(comments or "", "comments", domain.OPINION_COMMENTS_LIMIT)
    domain.check_opinion(opinion, comments)
    if opinion == domain.NEGATIVE:
        return mrv.reject_report(actor=actor, report=report, reason=comments)
    if verified is None:
        verified = [{"vintage": row.vintage, "quantity": row.claimed} for row in report.vintages.all()]
    return mrv.verify_report(actor=actor, report=report, verified=verified, verification_id=verification_id,
                             document=document, comments=comments)


@transaction.atomic
def approve_verification(*, actor: User, report: MonitoringReport) -> MonitoringReport:
    """The registry administrator approves the VVB's verification, so that
    issuance may follow (where TONNE_VERIFICATION_APPROVAL or the project's programme requires it)."""
    require_registry_administrator(actor)
    report = _locked(report)
    if not eligibility.verification_approval_required(report.project):
        raise ValidationFailed("VERIFICATION_APPROVAL_OFF",
                               "This registry does not approve verifications of this project's programme itself.")
    if report.status != MonitoringReport.Status.VERIFIED:
        raise ValidationFailed("REPORT_NOT_VERIFIED", f"This report is {report.status}; only verified reports are approved.", details={"status": report.status})
    if report.verification_approved_at is not None:
        raise ValidationFailed("VERIFICATION_ALREADY_APPROVED", "This verification is already approved.")
    report.verification_approved_by = actor
    report.verification_approved_at = clock.now()
    report.save(update_fields=["verification_approved_by", "verification_approved_at"])
    append_entry(kind="mrv.verification_approved", actor=actor,
                 data={"report": str(report.uid), "project": report.project.project_id,
                       "verification_id": report.verification_id})
    return report
