"""REST endpoints for projects (CAD Trust v2 fields and child records),
their life cycle and documents."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db.models import Q
from django.http import FileResponse, HttpRequest
from ninja import Field, File, Form, Query, Router, Schema, Status, UploadedFile

from tonne.core import uploads
from tonne.core.api_support import ERRORS, ListQuery, Page, StrictSchema, get_or_404, paginate
from tonne.core.errors import NotFound
from tonne.organisations.api import OrganisationRef, org_ref
from tonne.organisations.api_auth import AUTH, actor, require_scope, viewer
from tonne.organisations.models import ApiToken, User
from tonne.projects import domain, selectors
from tonne.projects import services as projects
from tonne.projects.handlers import handlers
from tonne.projects.models import Document, Project

router = Router(tags=["projects"])

# -- schemas -----------------------------------------------------------------------------


class LocationIn(StrictSchema):
    country: str | None = None
    region: str | None = None
    gis: str | None = None
    map_type: str | None = None
    map_file_link: str | None = None


class EstimationIn(StrictSchema):
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    unit_count: int | None = None
    reference_no: str | None = None


class RatingIn(StrictSchema):
    type: str | None = None
    name: str | None = None
    value: str | None = None
    link: str | None = None


class CoBenefitIn(StrictSchema):
    co_benefit: str | None = None


class LabelIn(StrictSchema):
    name: str | None = None
    type: str | None = None
    link: str | None = None
    date: dt.date | None = None


class StakeholderIn(StrictSchema):
    name: str | None = None
    type: str | None = None
    link: str | None = None


class RelatedProjectIn(StrictSchema):
    related_project_id: str | None = None
    relationship: str | None = None
    registry: str | None = None


class MethodologyIn(StrictSchema):
    code: str | None = None
    date: dt.date | None = None
    description: str | None = None


class ProjectIn(StrictSchema):
    """CAD Trust v2.0.2 project fields plus national fields. Picklist values
    are checked by the registry, with the allowed values in the error."""

    name: str | None = None
    registry_name: str | None = None
    crediting_program: str | None = None
    link: str | None = None
    description: str | None = None
    sectors: list[str] | None = None
    types: list[str] | None = None
    subtype: str | None = None
    unit_metric: str | None = None
    unit_type: str | None = None
    reference_project_id: str | None = None
    host_party: str | None = None
    sectoral_scope: int | None = None
    ndc_coverage: str | None = None
    article6_status: str | None = None
    unit_class: str | None = None
    non_permanence_risk: str | None = None
    buffer_basis_points: int | None = None
    crediting_period_start: dt.date | None = None
    crediting_period_end: dt.date | None = None
    benefit_sharing_plan: str | None = None
    consent_evidence: str | None = None
    grievance_contact: str | None = None
    locations: list[LocationIn] | None = None
    estimations: list[EstimationIn] | None = None
    ratings: list[RatingIn] | None = None
    co_benefits: list[CoBenefitIn] | None = None
    labels: list[LabelIn] | None = None
    stakeholders: list[StakeholderIn] | None = None
    related_projects: list[RelatedProjectIn] | None = None
    methodologies: list[MethodologyIn] | None = None
    vvb: uuid.UUID | None = Field(
        None, description="The accredited VVB that will validate the project."
    )
    change_reason: str = Field("", description="Why a submitted project is corrected (kept in its change log).")

    def fields(self) -> tuple[dict[str, Any], str | None]:
        data = self.model_dump(exclude_unset=True)
        vvb = data.pop("vvb", None)
        data.pop("change_reason", None)
        return data, (str(vvb) if vvb else None)


class ValidationIn(StrictSchema):
    type: str | None = None
    report: uuid.UUID | None = Field(
        None, description="A document of this project (the validation report)."
    )
    crediting_period_start: dt.date | None = None
    crediting_period_end: dt.date | None = None


class StatusIn(StrictSchema):
    status: str
    reason: str = ""
    validation: ValidationIn | None = None


class ProjectQuery(ListQuery):
    status: str | None = None
    host_party: str | None = None
    sectoral_scope: int | None = None
    developer: uuid.UUID | None = None
    q: str | None = Field(None, description="Search in name, description and project id.")


class ProjectOut(Schema):
    uid: uuid.UUID
    project_id: str
    number: int
    name: str
    status: str
    status_changed_at: dt.datetime
    developer: OrganisationRef
    vvb: OrganisationRef | None
    host_party: str
    sectoral_scope: int
    unit_class: str
    sectors: list[str]
    types: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime


class DocumentOut(Schema):
    uid: uuid.UUID
    project_id: str | None
    kind: str
    title: str
    filename: str
    content_type: str
    size: int
    sha256: str
    is_public: bool
    uploaded_at: dt.datetime
    download: str


class StatusChangeOut(Schema):
    from_status: str
    to_status: str
    reason: str
    at: dt.datetime


# An issuance as the API shows it (here, on its project; at /issuances in the units API).
class IssuanceOut(Schema):
    uid: uuid.UUID
    project_id: str
    number: int
    vintage: int
    unit_class: str
    quantity: int
    buffer_quantity: int
    serial: str
    serial_start: int
    serial_end: int
    report: uuid.UUID
    issued_at: dt.datetime


class ProjectDetailOut(ProjectOut):
    registry_name: str
    crediting_program: str
    link: str
    description: str
    subtype: str
    unit_metric: str
    unit_type: str
    reference_project_id: str
    ndc_coverage: str
    article6_status: str
    non_permanence_risk: str
    buffer_basis_points: int
    crediting_period_start: dt.date | None
    crediting_period_end: dt.date | None
    benefit_sharing_plan: str
    consent_evidence: str
    grievance_contact: str
    locations: list[dict[str, Any]]
    estimations: list[dict[str, Any]]
    ratings: list[dict[str, Any]]
    co_benefits: list[dict[str, Any]]
    labels: list[dict[str, Any]]
    stakeholders: list[dict[str, Any]]
    related_projects: list[dict[str, Any]]
    methodologies: list[dict[str, Any]]
    validations: list[dict[str, Any]]
    documents: list[DocumentOut]
    issuances: list[IssuanceOut]
    status_history: list[StatusChangeOut]
    changes: list[dict[str, Any]] = Field(description="Corrections after submission: fields, before, after, reason.")


class RemovalIn(StrictSchema):
    reason: str


# -- rendering ---------------------------------------------------------------------------

CHILD_COLUMNS = {
    "locations": ("country", "region", "gis", "map_type", "map_file_link"),
    "estimations": ("start_date", "end_date", "unit_count", "reference_no"),
    "ratings": ("type", "name", "value", "link"),
    "co_benefits": ("co_benefit",),
    "labels": ("name", "type", "link", "date"),
    "stakeholders": ("name", "type", "link"),
    "related_projects": ("related_project_id", "relationship", "registry"),
}


def project_out(project: Project) -> dict:
    return {
        "uid": project.uid,
        "project_id": project.project_id,
        "number": project.number,
        "name": project.name,
        "status": project.status,
        "status_changed_at": project.status_changed_at,
        "developer": org_ref(project.developer),
        "vvb": org_ref(project.vvb),
        "host_party": project.host_party,
        "sectoral_scope": project.sectoral_scope,
        "unit_class": project.unit_class,
        "sectors": project.sectors,
        "types": project.types,
        "created_at": project.created_at,
        "updated_at": project.updated_at,
    }


def document_out(document: Document) -> dict:
    return {
        "uid": document.uid,
        "project_id": document.project.project_id if document.project else None,
        "kind": document.kind,
        "title": document.title,
        "filename": document.filename,
        "content_type": document.content_type,
        "size": document.size,
        "sha256": document.sha256,
        "is_public": document.is_public,
        "uploaded_at": document.uploaded_at,
        "download": f"/api/v1/documents/{document.uid}/content",
    }


def _child_rows(project: Project, name: str) -> list[dict[str, Any]]:
    columns = CHILD_COLUMNS[name]
    return [
        {"uid": row.uid, **{c: getattr(row, c) for c in columns}}
        for row in getattr(project, name).order_by("created_at", "id")
    ]


def project_detail(project: Project, user: User | None) -> dict:
    out = project_out(project)
    for name in (
        "registry_name",
        "crediting_program",
        "link",
        "description",
        "subtype",
        "unit_metric",
        "unit_type",
        "reference_project_id",
        "ndc_coverage",
        "article6_status",
        "non_permanence_risk",
        "buffer_basis_points",
        "crediting_period_start",
        "crediting_period_end",
        "benefit_sharing_plan",
        "consent_evidence",
        "grievance_contact",
    ):
        out[name] = getattr(project, name)
    for name in CHILD_COLUMNS:
        out[name] = _child_rows(project, name)
    out["methodologies"] = [
        {
            "uid": pm.uid,
            "code": pm.methodology.code,
            "name": pm.methodology.name,
            "version": pm.version or pm.methodology.version,  # the version the project follows
            "date": pm.date,
            "description": pm.description,
        }
        for pm in project.methodologies.select_related("methodology").order_by("id")
    ]
    out["validations"] = [
        {
            "uid": v.uid,
            "validation_id": v.validation_id,
            "type": v.type,
            "body": v.body.name,
            "date": v.date,
            "credit_period_start": v.credit_period_start,
            "credit_period_end": v.credit_period_end,
            "report_sha256": v.report.sha256 if v.report else None,
        }
        for v in project.validations.select_related("body", "report").order_by("id")
    ]
    out["documents"] = [document_out(d) for d in selectors.documents_for(user, project)]
    out["issuances"] = handlers().issuances_of(project)
    out["changes"] = [{"changes": c.changes, "reason": c.reason, "at": c.at} for c in project.changes.all()]
    out["status_history"] = [
        {"from_status": c.from_status, "to_status": c.to_status, "reason": c.reason, "at": c.at}
        for c in project.status_history.all()
    ]
    return out


def _project(user: User | None, project_id: str, *, lock: bool = False) -> Project:
    return get_or_404(
        selectors.projects_for(user),
        "PROJECT_NOT_FOUND",
        f"Project {project_id} does not exist.",
        details={"project": project_id},
        project_id=project_id,
    )


# -- reads -----------------------------------------------------------------------------------


@router.get("/projects", response={200: Page[ProjectOut], **ERRORS}, auth=None)
def list_projects(request: HttpRequest, query: Query[ProjectQuery]):
    """Projects (public past draft), with filters and full-text search."""
    user = viewer(request)
    qs = selectors.projects_for(user)
    if query.status:
        qs = qs.filter(status=query.status)
    if query.host_party:
        qs = qs.filter(host_party=query.host_party.upper())
    if query.sectoral_scope:
        qs = qs.filter(sectoral_scope=query.sectoral_scope)
    if query.developer:
        qs = qs.filter(developer__uid=query.developer)
    if query.q:
        for word in query.q.split():
            qs = qs.filter(
                Q(name__icontains=word)
                | Q(description__icontains=word)
                | Q(project_id__icontains=word)
            )
    return paginate(
        qs,
        query,
        project_out,
        allowed={
            "number": "number",
            "project_id": "project_id",
            "name": "name",
            "status": "status",
            "created_at": "created_at",
            "updated_at": "updated_at",
        },
        default="number",
    )


@router.get("/projects/{project_id}", response={200: ProjectDetailOut, **ERRORS}, auth=None)
def get_project(request: HttpRequest, project_id: str):
    """A project with all its CAD Trust child records, documents and issuances."""
    user = viewer(request)
    return project_detail(_project(user, project_id), user)


@router.get(
    "/projects/{project_id}/documents", response={200: list[DocumentOut], **ERRORS}, auth=None
)
def list_project_documents(request: HttpRequest, project_id: str):
    user = viewer(request)
    project = _project(user, project_id)
    return [document_out(d) for d in selectors.documents_for(user, project)]


@router.get(
    "/documents/{uuid:uid}", response={200: DocumentOut, **ERRORS}, auth=None, tags=["documents"]
)
def get_document(request: HttpRequest, uid: uuid.UUID):
    user = viewer(request)
    return document_out(_document(user, uid))


@router.get(
    "/documents/{uuid:uid}/content", auth=None, tags=["documents"], response={200: None, **ERRORS}
)
def download_document(request: HttpRequest, uid: uuid.UUID):
    """The file itself (public documents; private ones for the project's parties)."""
    user = viewer(request)
    document = _document(user, uid)
    path = projects.document_path(document)
    if not path.exists():
        raise NotFound("DOCUMENT_CONTENT_MISSING", "The document's file is missing from storage.")
    response = FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=document.filename,
        content_type=uploads.served_type(document.content_type),
    )
    response["X-Content-SHA256"] = document.sha256
    return uploads.harden(response)


@router.post(
    "/documents/{uuid:uid}/removal", response={200: DocumentOut, **ERRORS}, auth=AUTH, tags=["documents"]
)
def remove_document(request: HttpRequest, uid: uuid.UUID, payload: RemovalIn):
    """Take back a mistaken upload (its uploader, while no record cites it).
    It is no longer listed or served; the ledger keeps that it existed."""
    user = actor(request)
    return document_out(projects.remove_document(actor=user, document=_document(user, uid), reason=payload.reason))


def _document(user: User | None, uid: uuid.UUID) -> Document:
    return get_or_404(
        selectors.documents_for(user),
        "DOCUMENT_NOT_FOUND",
        f"Document {uid} does not exist.",
        details={"document": str(uid)},
        uid=uid,
    )


# -- changes ------------------------------------------------------------------------------------


@router.post("/projects", response={201: ProjectDetailOut, **ERRORS}, auth=AUTH)
def register_project(request: HttpRequest, payload: ProjectIn):
    """Register a project as a draft (project developers)."""
    user = actor(request)
    data, vvb = payload.fields()
    project = projects.register_project(actor=user, data=data, vvb=vvb)
    return Status(201, project_detail(project, user))


@router.patch("/projects/{project_id}", response={200: ProjectDetailOut, **ERRORS}, auth=AUTH)
def update_project(request: HttpRequest, project_id: str, payload: ProjectIn):
    """Edit a draft project; only the fields sent change. After submission
    only the fields accounting does not rely on (PROJECT_FIELD_LOCKED
    otherwise), each correction kept in the project's change log."""
    user = actor(request)
    data, vvb = payload.fields()
    project = projects.update_project(
        actor=user, project=_project(user, project_id), data=data, vvb=vvb, reason=payload.change_reason
    )
    return project_detail(project, user)


@router.post("/projects/{project_id}/status", response={200: ProjectDetailOut, **ERRORS}, auth=AUTH)
def change_project_status(request: HttpRequest, project_id: str, payload: StatusIn):
    """Move the project along its life cycle (submit, approve, validate,
    register, reject, withdraw, hold); each step belongs to one party."""
    user = actor(request)
    project = _project(user, project_id)
    if domain.TRANSITIONS.get((project.status, payload.status)) == domain.ADMINISTRATOR:
        require_scope(request, ApiToken.Scope.ADMIN)
    validation = None
    if payload.validation is not None:
        validation = payload.validation.model_dump(exclude_none=True)
        if "report" in validation:
            validation["report"] = str(validation["report"])
    project = projects.change_project_status(
        actor=user,
        project=project,
        status=payload.status,
        reason=payload.reason,
        validation=validation,
    )
    return project_detail(project, user)


@router.post("/projects/{project_id}/documents", response={201: DocumentOut, **ERRORS}, auth=AUTH)
def upload_document(
    request: HttpRequest,
    project_id: str,
    file: File[UploadedFile],
    kind: Form[str],
    title: Form[str] = "",
    is_public: Form[bool] = True,
):
    """Upload a document (multipart: file, kind, title); it is known by its SHA-256."""
    user = actor(request)
    project = _project(user, project_id)
    document = projects.upload_document(
        actor=user,
        project=project,
        kind=kind,
        title=title,
        filename=file.name or "document",
        content=file.read(),
        content_type=file.content_type or "application/octet-stream",
        is_public=is_public,
    )
    return Status(201, document_out(document))
