"""REST endpoints for monitoring reports, verification and issuance."""

from __future__ import annotations

import datetime as dt
import uuid

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import StrictInt

from tonne.core.api_support import ERRORS, ListQuery, Page, StrictSchema, get_or_404, paginate
from tonne.mrv import selectors, verification
from tonne.mrv import services as mrv
from tonne.mrv.models import MonitoringReport
from tonne.organisations.api import OrganisationRef, org_ref
from tonne.organisations.api_auth import AUTH, actor, require_scope, viewer
from tonne.organisations.models import ApiToken, User
from tonne.projects.api import IssuanceOut
from tonne.projects.selectors import projects_for
from tonne.units.api import issuance_out

router = Router(tags=["mrv"])


class VintageIn(StrictSchema):
    vintage: StrictInt
    quantity: StrictInt


class ReportIn(StrictSchema):
    project: str = Field(description="Project id, e.g. CI-0001")
    period_start: dt.date
    period_end: dt.date
    vintages: list[VintageIn]
    vvb: uuid.UUID = Field(description="The accredited VVB asked to verify.")
    document: uuid.UUID | None = Field(
        None, description="The monitoring report document (uploaded first)."
    )


class VerifyIn(StrictSchema):
    verified: list[VintageIn]
    document: uuid.UUID | None = None
    verification_id: str = ""


class RejectIn(StrictSchema):
    reason: str


class AssignmentIn(StrictSchema):
    decision: str = Field(description="accepted or declined")
    no_conflict_of_interest: bool = Field(False, description="Accepting declares no conflict of interest with the project.")
    reason: str = Field("", description="Why the VVB declines (required to decline).")


class OpinionIn(StrictSchema):
    opinion: str = Field(description="positive (verifies) or negative (rejects)")
    comments: str = ""
    verified: list[VintageIn] | None = Field(None, description="Verified per vintage; the claimed quantities when absent.")
    verification_id: str = ""
    document: uuid.UUID | None = None


class ReassignIn(StrictSchema):
    vvb: uuid.UUID = Field(description="Another accredited VVB, after the assigned one declined.")
class WithdrawIn(StrictSchema):
    reason: str = ""


class CorrectionIn(StrictSchema):
    period_start: dt.date
    period_end: dt.date
    vintages: list[VintageIn]
    vvb: uuid.UUID
    document: uuid.UUID | None = Field(None, description="A new monitoring report document (uploaded first); else the same.")
    reason: str = ""


class VintageOut(Schema):
    vintage: int
    claimed: int
    verified: int | None
    issued: int


class VintageInstructionOut(Schema):
    vintage: int
    instruction: list[dict] = Field(description="Where the developer's share goes at issuance (accounts, retirements).")


class InstructionOut(Schema):
    """Shown to the developer who set it only: it names its accounts."""

    report: uuid.UUID
    vintages: list[VintageInstructionOut]


class RetireAtIssuanceIn(StrictSchema):
    beneficiary: str
    purpose: str = Field(description="voluntary, ndc, corsia, other_compliance or other")
    jurisdiction: str = ""
    reason: str = ""
    compliance_period: str = ""
    using_entity: str = ""
    on_behalf_of: str = ""


class InstructionLineIn(StrictSchema):
    vintage: StrictInt
    quantity: StrictInt
    account: str | None = Field(None, description="One of the developer's own holding accounts.")
    retire: RetireAtIssuanceIn | None = Field(None, description="Retired at issuance, with these details.")


class InstructionIn(StrictSchema):
    lines: list[InstructionLineIn] = Field(description="Replaces any earlier instruction; the rest goes to the first holding account.")


class ReportOut(Schema):
    uid: uuid.UUID
    project_id: str
    number: int
    period_start: dt.date
    period_end: dt.date
    status: str
    status_reason: str
    vvb: OrganisationRef
    document_sha256: str | None
    verification_id: str
    verification_document_sha256: str | None
    submitted_at: dt.datetime
    verified_at: dt.datetime | None
    decided_at: dt.datetime | None
    assignment: str
    assignment_reason: str
    no_conflict_declared_at: dt.datetime | None
    opinion: str
    opinion_comments: str
    verification_approved_at: dt.datetime | None
    vintages: list[VintageOut]


class ReportQuery(ListQuery):
    project: str | None = None
    status: str | None = None


def report_out(report: MonitoringReport) -> dict:
    return {
        "uid": report.uid,
        "project_id": report.project.project_id,
        "number": report.number,
        "period_start": report.period_start,
        "period_end": report.period_end,
        "status": report.status,
        "status_reason": report.status_reason,
        "vvb": org_ref(report.vvb),
        "document_sha256": report.document.sha256 if report.document else None,
        "verification_id": report.verification_id,
        "verification_document_sha256": (
            report.verification_document.sha256 if report.verification_document else None
        ),
        "submitted_at": report.submitted_at,
        "verified_at": report.verified_at,
        "decided_at": report.decided_at,
        "assignment": report.assignment,
        "assignment_reason": report.assignment_reason,
        "no_conflict_declared_at": report.no_conflict_declared_at,
        "opinion": report.opinion,
        "opinion_comments": report.opinion_comments,
        "verification_approved_at": report.verification_approved_at,
        "vintages": [
            {"vintage": v.vintage, "claimed": v.claimed, "verified": v.verified, "issued": v.issued}
            for v in report.vintages.all()
        ],
    }


def _report(user: User | None, uid: uuid.UUID) -> MonitoringReport:
    return get_or_404(
        selectors.reports_for(user),
        "REPORT_NOT_FOUND",
        f"Monitoring report {uid} does not exist.",
        details={"report": str(uid)},
        uid=uid,
    )


def _rows(rows: list[VintageIn]) -> list[dict]:
    return [{"vintage": r.vintage, "quantity": r.quantity} for r in rows]


@router.get("/reports", response={200: Page[ReportOut], **ERRORS}, auth=None)
def list_reports(request: HttpRequest, query: Query[ReportQuery]):
    """Monitoring reports: issued ones are public; developers see their own,
    VVBs those assigned to them, the administrator all."""
    user = viewer(request)
    qs = selectors.reports_for(user)
    if query.project:
        qs = qs.filter(project__project_id=query.project)
    if query.status:
        qs = qs.filter(status=query.status)
    return paginate(
        qs,
        query,
        report_out,
        allowed={
            "submitted_at": "submitted_at",
            "period_start": "period_start",
            "number": "number",
        },
        default="-submitted_at",
    )


@router.get("/reports/{uuid:uid}", response={200: ReportOut, **ERRORS}, auth=None)
def get_report(request: HttpRequest, uid: uuid.UUID):
    return report_out(_report(viewer(request), uid))


@router.post("/reports", response={201: ReportOut, **ERRORS}, auth=AUTH)
def submit_report(request: HttpRequest, payload: ReportIn):
    """Claim reductions for a monitoring period, per vintage (the developer)."""
    user = actor(request)
    project = get_or_404(
        projects_for(user),
        "PROJECT_NOT_FOUND",
        f"Project {payload.project} does not exist.",
        details={"project": payload.project},
        field="project",
        project_id=payload.project,
    )
    report = mrv.submit_report(
        actor=user,
        project=project,
        period_start=payload.period_start,
        period_end=payload.period_end,
        vintages=_rows(payload.vintages),
        vvb=str(payload.vvb),
        document=str(payload.document) if payload.document else None,
    )
    return Status(201, report_out(report))


@router.post("/reports/{uuid:uid}/verify", response={200: ReportOut, **ERRORS}, auth=AUTH)
def verify_report(request: HttpRequest, uid: uuid.UUID, payload: VerifyIn):
    """Sign the verified quantity per vintage (the assigned, accredited VVB)."""
    user = actor(request)
    report = mrv.verify_report(
        actor=user,
        report=_report(user, uid),
        verified=_rows(payload.verified),
        document=str(payload.document) if payload.document else None,
        verification_id=payload.verification_id,
    )
    return report_out(report)


@router.post("/reports/{uuid:uid}/reject", response={200: ReportOut, **ERRORS}, auth=AUTH)
def reject_report(request: HttpRequest, uid: uuid.UUID, payload: RejectIn):
    """Reject a report (the VVB before verification, the administrator after)."""
    user = actor(request)
    report = _report(user, uid)
    if report.status == MonitoringReport.Status.VERIFIED:
        require_scope(request, ApiToken.Scope.ADMIN)
    return report_out(mrv.reject_report(actor=user, report=report, reason=payload.reason))


@router.put("/reports/{uuid:uid}", response={200: ReportOut, **ERRORS}, auth=AUTH)
def correct_report(request: HttpRequest, uid: uuid.UUID, payload: CorrectionIn):
    """Correct a report before the VVB has verified it (its developer): the
    whole claim is sent again and checked as at submission."""
    user = actor(request)
    report = mrv.correct_report(
        actor=user,
        report=_report(user, uid),
        period_start=payload.period_start,
        period_end=payload.period_end,
        vintages=_rows(payload.vintages),
        vvb=str(payload.vvb),
        document=str(payload.document) if payload.document else None,
        reason=payload.reason,
    )
    return report_out(report)


@router.post("/reports/{uuid:uid}/withdrawal", response={200: ReportOut, **ERRORS}, auth=AUTH)
def withdraw_report(request: HttpRequest, uid: uuid.UUID, payload: WithdrawIn):
    """Take back a report before the administrator's decision (its developer)."""
    user = actor(request)
    return report_out(mrv.withdraw_report(actor=user, report=_report(user, uid), reason=payload.reason))


@router.put("/reports/{uuid:uid}/issuance-instruction", response={200: InstructionOut, **ERRORS}, auth=AUTH)
def set_issuance_instruction(request: HttpRequest, uid: uuid.UUID, payload: InstructionIn):
    """Before the decision, the developer splits its share of the issuance
    between its holding accounts and retires part of it at issuance."""
    user = actor(request)
    lines = [line.model_dump(exclude_none=True) for line in payload.lines]
    report = mrv.set_issuance_instruction(actor=user, report=_report(user, uid), lines=lines)
    return {"report": report.uid, "vintages": [{"vintage": v.vintage, "instruction": v.instruction} for v in report.vintages.all()]}


@router.post("/reports/{uuid:uid}/issuance", response={201: list[IssuanceOut], **ERRORS}, auth=AUTH)
def approve_issuance(request: HttpRequest, uid: uuid.UUID):
    """Approve issuance of every verified vintage (registry administrator)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    issuances = mrv.approve_issuance(actor=user, report=_report(user, uid))
    return Status(201, [issuance_out(i) for i in issuances])


@router.post("/reports/{uuid:uid}/assignment", response={200: ReportOut, **ERRORS}, auth=AUTH)
def answer_assignment(request: HttpRequest, uid: uuid.UUID, payload: AssignmentIn):
    """The assigned VVB accepts (declaring no conflict of interest) or declines (with a reason)."""
    user = actor(request)
    report = verification.answer_assignment(
        actor=user, report=_report(user, uid), decision=payload.decision,
        no_conflict_of_interest=payload.no_conflict_of_interest, reason=payload.reason,
    )
    return report_out(report)


@router.post("/reports/{uuid:uid}/opinion", response={200: ReportOut, **ERRORS}, auth=AUTH)
def record_opinion(request: HttpRequest, uid: uuid.UUID, payload: OpinionIn):
    """The VVB's opinion: positive verifies, negative rejects with its comments."""
    user = actor(request)
    report = verification.record_opinion(
        actor=user, report=_report(user, uid), opinion=payload.opinion, comments=payload.comments,
        verified=_rows(payload.verified) if payload.verified is not None else None,
        verification_id=payload.verification_id, document=str(payload.document) if payload.document else None,
    )
    return report_out(report)


@router.post("/reports/{uuid:uid}/vvb", response={200: ReportOut, **ERRORS}, auth=AUTH)
def reassign_vvb(request: HttpRequest, uid: uuid.UUID, payload: ReassignIn):
    """Ask another VVB, after the assigned one declined (the developer)."""
    user = actor(request)
    return report_out(verification.reassign_vvb(actor=user, report=_report(user, uid), vvb=str(payload.vvb)))


@router.post("/reports/{uuid:uid}/verification-approval", response={200: ReportOut, **ERRORS}, auth=AUTH)
def approve_verification(request: HttpRequest, uid: uuid.UUID):
    """The registry administrator approves the VVB's verification before issuance
    (where the registry requires it)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    return report_out(verification.approve_verification(actor=user, report=_report(user, uid)))
