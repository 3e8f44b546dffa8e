"""KYC and sanctions screening over HTTP. KYC data and documents: the
holder's administrators and the registry administrator only (others get 404);
lists and the review queue: the registry administrator."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, File, Form, Query, Router, Schema, Status, UploadedFile

from tonne.core import uploads
from tonne.core.api_support import ERRORS, ListQuery, Page, StrictSchema, paginate
from tonne.core.errors import NotFound
from tonne.kyc import selectors
from tonne.kyc import services as kyc
from tonne.kyc.models import KycDocument, ScreeningHit
from tonne.organisations.api_auth import AUTH, actor, require_scope
from tonne.organisations.models import ApiToken, Organisation

router = Router(tags=["kyc"])


class OwnerIn(StrictSchema):
    name: str = Field(..., max_length=300)
    birth_date: dt.date | None = None
    nationality: str = Field("", max_length=2)
    ownership_basis_points: int = Field(..., ge=1, le=10000)


class KycIn(StrictSchema):
    legal_name: str = Field(..., max_length=300)
    legal_form: str = Field("", max_length=100)
    registration_country: str = Field(..., max_length=2)
    registration_number: str = Field(..., max_length=100)
    tax_id: str = Field("", max_length=100)
    lei: str = Field("", max_length=20)
    registered_address: str = Field(..., max_length=2000)
    beneficial_owners: list[OwnerIn] = Field(default_factory=list, max_length=100)


class OwnerOut(Schema):
    name: str
    birth_date: dt.date | None
    nationality: str
    ownership_basis_points: int


class DocumentOut(Schema):
    uid: uuid.UUID
    kind: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: dt.datetime


class KycOut(Schema):
    organisation: uuid.UUID
    legal_name: str
    legal_form: str
    registration_country: str
    registration_number: str
    tax_id: str
    lei: str
    registered_address: str
    status: str
    submitted_at: dt.datetime
    reviewed_at: dt.datetime | None
    review_due: dt.date | None
    beneficial_owners: list[OwnerOut]
    documents: list[DocumentOut]


class ListOut(Schema):
    id: int
    source: str
    loaded_at: dt.datetime
    sha256: str
    entries: int
    active: bool


class HitOut(Schema):
    id: int
    organisation: uuid.UUID
    organisation_name: str
    subject: str
    entry_name: str
    entry_reference: str
    source: str
    score: int
    trigger: str
    status: str
    created_at: dt.datetime
    decided_at: dt.datetime | None
    note: str


class HitQuery(ListQuery):
    status: str | None = Field(None, description="pending, cleared or confirmed")


class HitDecisionIn(StrictSchema):
    status: str = Field(..., description="cleared or confirmed")
    note: str = Field(..., max_length=2000)


def document_out(doc: KycDocument) -> dict[str, Any]:
    return {f: getattr(doc, f) for f in DocumentOut.model_fields}


def kyc_out(org: Organisation) -> dict[str, Any]:
    profile = selectors.profile_of(org)
    if profile is None:
        raise NotFound("KYC_MISSING", f"{org.name} has not submitted its KYC data.", details={"organisation": org.name})
    return {
        "organisation": org.uid,
        **{f: getattr(profile, f) for f in KycOut.model_fields if hasattr(profile, f) and f != "organisation"},
        "beneficial_owners": [
            {f: getattr(o, f) for f in OwnerOut.model_fields} for o in selectors.owners_of(org)
        ],
        "documents": [document_out(d) for d in selectors.documents_of(org)],
    }


@router.get("/organisations/{uuid:uid}/kyc", response={200: KycOut, **ERRORS}, auth=AUTH)
def get_kyc(request: HttpRequest, uid: uuid.UUID):
    """The organisation's KYC record (its administrators and the registry administrator)."""
    return kyc_out(selectors.organisation_for(actor(request), uid))


@router.put("/organisations/{uuid:uid}/kyc", response={200: KycOut, **ERRORS}, auth=AUTH)
def submit_kyc(request: HttpRequest, uid: uuid.UUID, payload: KycIn):
    """Submit legal data and beneficial owners; the names are screened against sanctions lists."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.TRADE)
    org = selectors.organisation_for(user, uid)
    kyc.submit_profile(actor=user, organisation=org, data=payload.model_dump())
    return kyc_out(org)


@router.post("/organisations/{uuid:uid}/kyc/verify", response={200: KycOut, **ERRORS}, auth=AUTH)
def verify_kyc(request: HttpRequest, uid: uuid.UUID):
    """Mark the KYC record verified and set its next review date (registry administrator)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    org = selectors.organisation_for(user, uid)
    kyc.verify_profile(actor=user, organisation=org)
    return kyc_out(org)


@router.post("/organisations/{uuid:uid}/kyc/documents", response={201: DocumentOut, **ERRORS}, auth=AUTH)
def upload_kyc_document(request: HttpRequest, uid: uuid.UUID, file: File[UploadedFile], kind: Form[str]):
    """Upload a registration document (multipart: file, kind); stored encrypted."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.TRADE)
    org = selectors.organisation_for(user, uid)
    doc = kyc.upload_document(
        actor=user, organisation=org, kind=kind, filename=file.name or "document", content=file.read(),
        content_type=file.content_type or "application/octet-stream",
    )
    return Status(201, document_out(doc))


@router.get(
    "/kyc/documents/{uuid:uid}",
    response={200: str, **ERRORS},
    auth=AUTH,
    openapi_extra={"responses": {200: {"description": "The document", "content": {"application/octet-stream": {}}}}},
)
def read_kyc_document(request: HttpRequest, uid: uuid.UUID):
    """Download a KYC document (holder's administrators and registry administrator; every read is audited)."""
    doc, content = kyc.read_document(actor=actor(request), uid=uid)
    response = HttpResponse(content, content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="{doc.uid}"'
    response["X-Content-SHA256"] = doc.sha256
    return uploads.harden(response)


@router.post("/sanctions-lists", response={201: ListOut, **ERRORS}, auth=AUTH)
def load_list(request: HttpRequest, file: File[UploadedFile], source: Form[str]):
    """Load a sanctions list file (source: un for the UN consolidated XML,
    opensanctions for its targets CSV); every organisation is screened again."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    loaded = kyc.load_sanctions_list(actor=user, source=source, content=file.read())
    return Status(201, {f: getattr(loaded, f) for f in ListOut.model_fields})


@router.get("/sanctions-lists", response={200: Page[ListOut], **ERRORS}, auth=AUTH)
def list_lists(request: HttpRequest, query: Query[ListQuery]):
    return paginate(selectors.sanctions_lists_for(actor(request)), query, lambda s: {f: getattr(s, f) for f in ListOut.model_fields},
                    allowed={"loaded_at": "loaded_at"}, default="-loaded_at")


def hit_out(hit: ScreeningHit) -> dict[str, Any]:
    return {
        **{f: getattr(hit, f) for f in HitOut.model_fields if f not in ("organisation", "organisation_name")},
        "organisation": hit.organisation.uid,
        "organisation_name": hit.organisation.name,
    }


@router.get("/screening-hits", response={200: Page[HitOut], **ERRORS}, auth=AUTH)
def list_hits(request: HttpRequest, query: Query[HitQuery]):
    """The sanctions review queue (registry administrator)."""
    qs = selectors.screening_hits_for(actor(request), status=query.status)
    return paginate(qs, query, hit_out, allowed={"created_at": "created_at", "score": "score"}, default="-created_at")


@router.post("/screening-hits/{int:hit_id}/decide", response={200: HitOut, **ERRORS}, auth=AUTH)
def decide_hit(request: HttpRequest, hit_id: int, payload: HitDecisionIn):
    """Clear a false match, or confirm a true one (which keeps the organisation's units still)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    hit = kyc.decide_hit(actor=user, hit_id=hit_id, status=payload.status, note=payload.note)
    return hit_out(selectors.screening_hit(hit.pk))
