"""REST endpoints for digital MRV: data sources, signed readings, anomalies,
computed reports, the methodology catalogue, the trail from a serial, and the
benefit sharing and safeguards shown beside them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db.models import Q
from django.http import HttpRequest
from ninja import Field, File, Query, Router, Status
from ninja.files import UploadedFile

from tonne.core.api_support import ERRORS, ListQuery, Page, StrictSchema, get_or_404, paginate
from tonne.core.errors import NotFound, PermissionDenied
from tonne.methodologies import selectors as catalogue
from tonne.mrv import computation, readings, sources
from tonne.mrv.api import ReportOut, report_out
from tonne.mrv.models import Anomaly, DataSource, Reading, ReportComputation
from tonne.mrv.selectors import reports_for
from tonne.mrv.trail import issuance_trail, methodology_card, source_card, units_allocated
from tonne.organisations.api_auth import AUTH, actor, viewer
from tonne.organisations.models import User
from tonne.projects import benefits
from tonne.projects.models import BenefitShare, ConsentRecord, Disbursement, Grievance, Project
from tonne.projects.selectors import is_project_party, projects_for
from tonne.units.models import Issuance
from tonne.units.selectors import lookup_serials

router = Router(tags=["digital mrv"])


class SourceIn(StrictSchema):
    identifier: str
    kind: str
    measurement: str = Field(description="The methodology input it feeds, e.g. electricity_export, fuel_saved, area")
    unit: str
    public_key: str = Field(description="Ed25519 public key, 64 hex digits (the operator's key for manual sources)")
    location: str = ""
    min_value: str | None = None
    max_value: str | None = None
    max_change_per_hour: str | None = None
    expected_interval_seconds: int | None = None
    raw_confidential: bool = False


class CalibrationIn(StrictSchema):
    document: uuid.UUID = Field(description="A document uploaded to the project (the certificate)")
    valid_from: dt.date
    valid_until: dt.date


class ReadingsIn(StrictSchema):
    readings: list[dict[str, Any]] = Field(
        description="Each: source, id, taken_at (ISO 8601 with zone), quantity (decimal text), unit, "
        "uncertainty (decimal text, optional), signature (Ed25519 over the canonical reading, hex)")
    sent_at: dt.datetime | None = Field(None, description="The device's clock when sending, for the drift check")


class IntakeOut(StrictSchema):
    batch: uuid.UUID | None
    accepted: int
    already_accepted: int
    merkle_root: str | None
    ledger_seq: int | None
    anomalies: list[dict[str, Any]]


class ComputeIn(StrictSchema):
    project: str
    methodology: str
    version: str
    period_start: dt.date
    period_end: dt.date
    vvb: uuid.UUID
    parameters: dict[str, str] = Field(default_factory=dict, description="Project values replacing defaults")
    document: uuid.UUID | None = None


class AnomalyQuery(ListQuery):
    code: str | None = None


def _project(user: User | None, project_id: str) -> Project:
    return get_or_404(projects_for(user), "PROJECT_NOT_FOUND", f"Project {project_id} does not exist.",
                      details={"project": project_id}, project_id=project_id)


def _source(user: User | None, uid: uuid.UUID) -> DataSource:
    source = DataSource.objects.select_related("project").filter(uid=uid).first()
    if source is None or not projects_for(user).filter(pk=source.project_id).exists():
        raise NotFound("SOURCE_NOT_FOUND", f"Data source {uid} does not exist.", details={"source": str(uid)})
    return source


def _intake_out(result: readings.IntakeResult) -> dict[str, Any]:
    batch = result.batch
    return {"batch": batch.uid if batch else None, "accepted": result.accepted,
            "already_accepted": result.already_accepted, "merkle_root": batch.merkle_root if batch else None,
            "ledger_seq": batch.ledger_seq if batch else None,
            "anomalies": [{"source": a.source.identifier, "reading": a.reading.reading_id if a.reading else None,
                           "code": a.code, "detail": a.detail} for a in result.anomalies]}


@router.get("/projects/{project_id}/data-sources", response={200: list[dict[str, Any]], **ERRORS}, auth=None)
def list_sources(request: HttpRequest, project_id: str):
    """A project's data sources with their calibration records (public)."""
    project = _project(viewer(request), project_id)
    return [source_card(s, with_readings=False) for s in project.data_sources.order_by("identifier")]


@router.post("/projects/{project_id}/data-sources", response={201: dict[str, Any], **ERRORS}, auth=AUTH)
def register_source(request: HttpRequest, project_id: str, payload: SourceIn):
    """Register a meter, sensor, logger, remote-sensing product or laboratory (the developer)."""
    user = actor(request)
    source = sources.register_source(actor=user, project=_project(user, project_id), data=payload.dict())
    return Status(201, source_card(source, with_readings=False))


@router.post("/data-sources/{uuid:uid}/calibrations", response={201: dict[str, Any], **ERRORS}, auth=AUTH)
def record_calibration(request: HttpRequest, uid: uuid.UUID, payload: CalibrationIn):
    """Attach a calibration certificate and its validity (the developer)."""
    user = actor(request)
    source = _source(user, uid)
    sources.record_calibration(actor=user, source=source, document=str(payload.document),
                               valid_from=payload.valid_from, valid_until=payload.valid_until)
    return Status(201, source_card(source, with_readings=False))


@router.post("/projects/{project_id}/readings", response={200: IntakeOut, 201: IntakeOut, **ERRORS}, auth=AUTH)
def submit_readings(request: HttpRequest, project_id: str, payload: ReadingsIn):
    """Send a batch of at most 1,000 signed readings; accepted whole or refused
    whole with stable codes. Resending accepted readings is harmless (200)."""
    user = actor(request)
    result = readings.submit_readings(actor=user, project=_project(user, project_id), readings=payload.readings,
                                      sent_at=payload.sent_at)
    return Status(201 if result.batch else 200, _intake_out(result))


@router.post("/projects/{project_id}/readings.csv", response={200: IntakeOut, 201: IntakeOut, **ERRORS}, auth=AUTH)
def upload_readings(request: HttpRequest, project_id: str, file: File[UploadedFile]):
    """Upload a CSV of signed readings (header source,id,taken_at,quantity,unit,uncertainty,signature)."""
    user = actor(request)
    project = _project(user, project_id)
    rows = readings.parse_csv(file.read(readings.MAX_CSV_BYTES + 1))
    result = readings.submit_readings(actor=user, project=project, readings=rows, channel="csv")
    return Status(201 if result.batch else 200, _intake_out(result))


@router.get("/data-sources/{uuid:uid}/readings", response={200: Page[dict[str, Any]], **ERRORS}, auth=None)
def list_readings(request: HttpRequest, uid: uuid.UUID, query: Query[ListQuery]):
    """A source's readings, signed, with their batch. Where the project keeps
    raw data confidential only its parties see them (others: the aggregates
    on the data-source list and the trail)."""
    user = viewer(request)
    source = _source(user, uid)
    if source.raw_confidential and not is_project_party(user, source.project):
        raise PermissionDenied("READINGS_CONFIDENTIAL", "This project publishes aggregates of this source only.")

    def render(r: Reading) -> dict[str, Any]:
        return {"id": r.reading_id, "taken_at": r.taken_at, "quantity": r.quantity, "unit": source.unit,
                "uncertainty": r.uncertainty or None, "signature": r.signature, "leaf_hash": r.leaf_hash,
                "batch": str(r.batch.uid), "ledger_seq": r.batch.ledger_seq}

    qs = Reading.objects.filter(source=source).select_related("batch")
    return paginate(qs, query, render, allowed={"taken_at": "taken_at"}, default="taken_at")


@router.get("/projects/{project_id}/anomalies", response={200: Page[dict[str, Any]], **ERRORS}, auth=AUTH)
def list_anomalies(request: HttpRequest, project_id: str, query: Query[AnomalyQuery]):
    """Plausibility flags on a project's readings (its developer, its VVBs, the administrator)."""
    user = actor(request)
    project = _project(user, project_id)
    if not is_project_party(user, project):
        raise PermissionDenied("PROJECT_NOT_YOURS", "Only the project's parties see its anomalies.")
    qs = Anomaly.objects.filter(source__project=project).select_related("source", "reading")
    if query.code:
        qs = qs.filter(code=query.code)
    return paginate(qs, query, lambda a: {"source": a.source.identifier, "code": a.code, "detail": a.detail,
                                          "reading": a.reading.reading_id if a.reading else None, "at": a.at},
                    allowed={"at": "at"}, default="-at")


@router.post("/reports/compute", response={201: ReportOut, **ERRORS}, auth=AUTH)
def compute_report(request: HttpRequest, payload: ComputeIn):
    """Compute a monitoring report from accepted readings with a methodology version, and submit it."""
    user = actor(request)
    report = computation.compute_report(
        actor=user, project=_project(user, payload.project), methodology=payload.methodology, version=payload.version,
        period_start=payload.period_start, period_end=payload.period_end, vvb=str(payload.vvb),
        parameters=payload.parameters, document=str(payload.document) if payload.document else None)
    return Status(201, report_out(report))


@router.get("/reports/{uuid:uid}/computation", response={200: dict[str, Any], **ERRORS}, auth=None)
def report_computation(request: HttpRequest, uid: uuid.UUID, recompute: bool = False):
    """How a report was computed. With recompute=true the project's parties
    (developer, VVB, administrator) also get whether recomputing it today matches;
    anyone can do the same with `tonne mrv recompute` on a copy of the data."""
    user = viewer(request)
    report = get_or_404(reports_for(user), "REPORT_NOT_FOUND", f"Monitoring report {uid} does not exist.",
                        details={"report": str(uid)}, uid=uid)
    c = get_or_404(ReportComputation.objects.all(), "REPORT_NOT_COMPUTED",
                   "This monitoring report was claimed, not computed.", report=report)
    out: dict[str, Any] = {
        "methodology": methodology_card(c.methodology_code, c.methodology_version, c.parameters),
        "code_version": c.code_version, "inputs": c.inputs, "results": c.results,
        "inputs_merkle_root": c.inputs_merkle_root, "reading_count": c.reading_count,
        "adjustment_reason": c.adjustment_reason, "recomputed": None}
    if recompute:
        if not is_project_party(user, report.project):
            raise PermissionDenied("PROJECT_NOT_YOURS", "Only the project's parties may ask for a recomputation here.")
        again = computation.recompute(report)
        out["recomputed"] = {"matches": again.matches, "inputs_match": again.inputs_match,
                             "code_matches": again.code_matches, "quantities": again.recomputed}
    return out


@router.get("/methodology-catalogue", response={200: list[dict[str, Any]], **ERRORS}, auth=None)
def methodology_catalogue(request: HttpRequest):
    """The methodologies this registry computes, with versions, inputs and sourced parameters (public)."""
    return [methodology_card(m.code, m.version) for m in catalogue.every()]


@router.get("/serials/{text}/trail", response={200: dict[str, Any], **ERRORS}, auth=None)
def serial_trail(request: HttpRequest, text: str):
    """From a serial number (or range) back to the evidence: issuance,
    verification, report, methodology and parameters, readings and their
    Merkle root, data sources and calibration documents (public)."""
    found = lookup_serials(viewer(request), text, require_match=True)
    uids = list(dict.fromkeys(b["issuance"] for b in found["blocks"]))
    issuances = Issuance.objects.filter(Q(uid__in=uids)).select_related("approved_by")
    return {"query": text, "blocks": [{k: b[k] for k in ("serial", "quantity", "project_id", "vintage", "state")}
                                      for b in found["blocks"]],
            "trails": [issuance_trail(i) for i in issuances]}


# -- benefit sharing and safeguards ---------------------------------------------------


class PlanIn(StrictSchema):
    shares: list[dict[str, Any]] = Field(
        description="Each: beneficiary, beneficiary_kind (community, fund, other), basis (units, proceeds), "
        "share_basis_points, frequency (per_issuance, quarterly, annual); units: account; proceeds: currency, "
        "planned_amount (per period, decimal text), first_due")


class DisbursementIn(StrictSchema):
    share: uuid.UUID
    amount: str
    currency: str
    paid_on: dt.date
    evidence: uuid.UUID = Field(description="A document uploaded to the project (receipt, bank statement)")


class ConsentIn(StrictSchema):
    community: str
    obtained_on: dt.date
    document: uuid.UUID


class GrievanceIn(StrictSchema):
    received_on: dt.date
    channel: str
    summary: str


class GrievanceStatusIn(StrictSchema):
    status: str
    resolution: str = ""


def benefits_out(project: Project) -> dict[str, Any]:
    figures = benefits.benefit_figures(project, units_allocated(project))
    return {
        "minimum_community_basis_points": benefits.minimum_community_basis_points(project),
        "shares": [{"uid": str(f.share.uid), "beneficiary": f.share.beneficiary, "kind": f.share.beneficiary_kind,
                    "basis": f.share.basis, "share_basis_points": f.share.share_basis_points,
                    "frequency": f.share.frequency, "account": f.share.account.identifier if f.share.account else None,
                    "currency": f.share.currency or None, "planned_to_date": str(f.planned),
                    "recorded": str(f.recorded), "periods_due": f.periods_due, "overdue": f.overdue} for f in figures],
        "disbursements": [{"share": str(d.share.uid), "amount": str(d.amount), "currency": d.currency,
                           "paid_on": d.paid_on, "evidence_sha256": d.evidence.sha256}
                          for d in Disbursement.objects.filter(share__project=project).select_related("share", "evidence")],
        "consents": [{"community": c.community, "obtained_on": c.obtained_on, "document_sha256": c.document.sha256}
                     for c in ConsentRecord.objects.filter(project=project).select_related("document")],
        "grievances": [{"uid": str(g.uid), "received_on": g.received_on, "channel": g.channel, "summary": g.summary,
                        "status": g.status, "resolution": g.resolution}
                       for g in Grievance.objects.filter(project=project)],
    }


@router.get("/projects/{project_id}/benefits", response={200: dict[str, Any], **ERRORS}, auth=None)
def project_benefits(request: HttpRequest, project_id: str):
    """Benefit-sharing plan, planned against recorded (overdue flagged), consent evidence and grievances (public)."""
    return benefits_out(_project(viewer(request), project_id))


@router.put("/projects/{project_id}/benefit-plan", response={200: dict[str, Any], **ERRORS}, auth=AUTH)
def set_benefit_plan(request: HttpRequest, project_id: str, payload: PlanIn):
    """Replace the project's benefit-sharing plan (the developer); the country's minimum applies."""
    user = actor(request)
    project = _project(user, project_id)
    benefits.set_benefit_plan(actor=user, project=project, shares=payload.shares)
    return benefits_out(project)


@router.post("/projects/{project_id}/disbursements", response={201: dict[str, Any], **ERRORS}, auth=AUTH)
def record_disbursement(request: HttpRequest, project_id: str, payload: DisbursementIn):
    """Record a payment under a money share, with its evidence (the developer)."""
    user = actor(request)
    project = _project(user, project_id)
    share = BenefitShare.objects.filter(uid=payload.share, project=project).first()
    if share is None:
        raise NotFound("SHARE_NOT_FOUND", f"Project {project_id} has no benefit share {payload.share}.", field="share", details={"project": project_id, "share": str(payload.share)})
    benefits.record_disbursement(actor=user, share=share, amount=payload.amount, currency=payload.currency,
                                 paid_on=payload.paid_on, evidence=str(payload.evidence))
    return Status(201, benefits_out(project))


@router.post("/projects/{project_id}/consents", response={201: dict[str, Any], **ERRORS}, auth=AUTH)
def record_consent(request: HttpRequest, project_id: str, payload: ConsentIn):
    """Record a community's free, prior and informed consent with its evidence (the developer)."""
    user = actor(request)
    project = _project(user, project_id)
    benefits.record_consent(actor=user, project=project, community=payload.community, obtained_on=payload.obtained_on,
                            document=str(payload.document))
    return Status(201, benefits_out(project))


@router.post("/projects/{project_id}/grievances", response={201: dict[str, Any], **ERRORS}, auth=AUTH)
def record_grievance(request: HttpRequest, project_id: str, payload: GrievanceIn):
    """Record a grievance received (the developer or the administrator)."""
    user = actor(request)
    project = _project(user, project_id)
    benefits.record_grievance(actor=user, project=project, received_on=payload.received_on, channel=payload.channel,
                              summary=payload.summary)
    return Status(201, benefits_out(project))


@router.post("/grievances/{uuid:uid}/status", response={200: dict[str, Any], **ERRORS}, auth=AUTH)
def update_grievance(request: HttpRequest, uid: uuid.UUID, payload: GrievanceStatusIn):
    """Move a grievance on (received, investigating, resolved, dismissed), with the resolution."""
    user = actor(request)
    grievance = Grievance.objects.select_related("project").filter(uid=uid).first()
    if grievance is None or not projects_for(user).filter(pk=grievance.project_id).exists():
        raise NotFound("GRIEVANCE_NOT_FOUND", f"Grievance {uid} does not exist.", details={"grievance": str(uid)})
    benefits.update_grievance(actor=user, grievance=grievance, status=payload.status, resolution=payload.resolution)
    return benefits_out(grievance.project)
