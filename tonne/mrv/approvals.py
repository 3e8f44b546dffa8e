"""Issuance under four-eyes: what the second administrator approves, and
issuing once they have (the controls call these through the wiring)."""

from __future__ import annotations

from typing import Any

from tonne.controls.domain import request_hash
from tonne.controls.models import Approval
from tonne.core.errors import Conflict, NotFound, ValidationFailed
from tonne.mrv import domain
from tonne.mrv import services as mrv
from tonne.mrv.models import MonitoringReport
from tonne.organisations.models import User
from tonne.projects import eligibility


def _payload(report: MonitoringReport) -> dict[str, Any]:
    vintages = {
        str(row.vintage): int(row.verified or 0) - row.issued
        for row in report.vintages.order_by("vintage")
        if int(row.verified or 0) > row.issued
    }
    return {"report": str(report.uid), "project": report.project.project_id, "vintages": vintages}


def issuance_payload(report_uid: Any) -> dict[str, Any]:
    """The report and the quantities it would issue; refuses a report that is not verified."""
    report = MonitoringReport.objects.select_related("project").filter(uid=report_uid).first()
    if report is None:
        raise NotFound("REPORT_NOT_FOUND", "No such monitoring report.", field="report")
    if report.status != MonitoringReport.Status.VERIFIED:
        raise ValidationFailed("REPORT_NOT_VERIFIED", f"This report is {report.status}; only verified reports are issued.", details={"status": report.status})
    domain.check_issuable_verification(
        approval_required=eligibility.verification_approval_required(report.project),
        approved=report.verification_approved_at is not None
    )
    return _payload(report)


def carry_out_issuance(approval: Approval, approver: User) -> None:
    report = MonitoringReport.objects.select_related("project").get(uid=approval.payload["report"])
    if request_hash(approval.action, _payload(report)) != approval.request_hash:
        raise Conflict("APPROVAL_STALE", "The report changed since issuance was requested; ask again.")
    mrv.approve_issuance(actor=approver, report=report, approval=approval)
