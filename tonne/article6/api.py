"""Article 6 over HTTP: authorisations (public to read; the administrator
proposes, a second administrator approves through /approvals), the status of
any serial range, uses and cancellations, and the AEF report."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Header, Query, Router, Schema, Status

from tonne.access.policy import require_step_up
from tonne.article6 import aef, international, selectors
from tonne.article6 import services as a6
from tonne.article6.models import Authorisation
from tonne.controls.api import ApprovalOut, approval_out
from tonne.controls.models import Approval
from tonne.core.api_support import ERRORS, StrictSchema
from tonne.organisations.api_auth import AUTH, actor, require_scope
from tonne.organisations.models import ApiToken
from tonne.organisations.services import require_registry_administrator
from tonne.units.api import (
    IDEMPOTENCY_HELP,
    SelectionIn,
    TransactionOut,
    move_request,
    move_response,
)

router = Router(tags=["article6"])


class TermsIn(StrictSchema):
    acquiring_parties: list[str] = Field(default_factory=list, description="ISO 3166-1 alpha-2 codes")
    purposes: list[str] = Field(..., description="ndc, oimp or both")
    oimp_purposes: str = ""
    quantity: int
    vintage_quantities: dict[str, int] = Field(default_factory=dict, description='The most of each vintage: {"2025": 300}')
    vintage_from: int
    vintage_to: int | None = None
    projects: list[str]
    entities: list[str] = Field(default_factory=list, description="Uids of the authorised organisations")
    authorisation_date: str
    valid_until: str | None = None
    terms: str = ""
    letter: str = Field("", description="Uid of the uploaded letter of authorisation (document kind 'letter')")


class AuthorisationIn(TermsIn):
    identifier: str
    cooperative_approach: str
    first_transfer_definition: str = Field(
        "", description="authorisation, issuance, first_international_transfer or use_or_cancellation: "
        "the definition of every authorised purpose, unless first_transfer_definitions says otherwise"
    )
    first_transfer_definitions: dict[str, str] | None = Field(
        None, description='The definition of each authorised purpose: {"ndc": ..., "oimp": ...}'
    )


class ChangeIn(TermsIn):
    effective_from: dt.datetime | None = None


class RevocationIn(StrictSchema):
    reason: str
    effective_from: dt.datetime | None = None


class UseIn(SelectionIn):
    from_account: str
    use: str = Field(..., description="ndc, oimp, voluntary_cancellation or omge")
    using_party: str = ""
    using_entity: str = ""
    oimp_purpose: str = ""


class VersionOut(Schema):
    version: int
    effective_from: dt.datetime
    authorisation_date: dt.date
    acquiring_parties: list[str]
    purposes: str
    oimp_purposes: str
    quantity: int
    vintage_quantities: dict[str, int]
    vintage_from: int
    vintage_to: int
    projects: list[str]
    entities: list[dict[str, str]]
    valid_until: dt.date | None
    terms: str
    letter_sha256: str
    requested_by: str
    approved_by: str


class AdjustmentOut(Schema):
    vintage: int
    acquiring_party: str | None
    quantity: int


class StatusOut(Schema):
    attached: int
    first_transferred: int
    awaiting_first_transfer: int
    withdrawn_by_revocation: int
    withdrawn_by_change: int
    remaining_quantity: int
    adjustments: list[AdjustmentOut]


class AuthorisationOut(Schema):
    identifier: str
    cooperative_approach: str
    authorising_party: str
    first_transfer_definition: str
    first_transfer_definitions: dict[str, str]
    status: str
    revoked_from: dt.datetime | None
    revocation_reason: str
    created_at: dt.datetime
    versions: list[VersionOut]
    units: StatusOut


class SegmentOut(Schema):
    serial_start: int
    serial_end: int
    quantity: int
    label: str = Field(..., description="authorised, or mitigation_contribution")
    authorisation: str | None
    cooperative_approach: str | None
    itmo_id: str | None
    authorisation_revoked: bool
    first_transferred: bool
    first_transfer: dict[str, Any] | None
    corresponding_adjustment: dict[str, Any] | None
    received_from: dict[str, Any] | None = None


class LookupOut(Schema):
    serial_start: int
    serial_end: int
    segments: list[SegmentOut]


class BlockArticle6Out(LookupOut):
    block: int


class RangeIn(StrictSchema):
    start: int
    end: int


class ExportIn(StrictSchema):
    from_account: str
    ranges: list[RangeIn]
    destination_party: str
    destination_registry: str
    destination_account: str


class ImportIn(StrictSchema):
    signed_file: str = Field(..., description="The transfer file as the sending registry produced it")
    verifier_key: str | None = Field(
        None, max_length=300,
        description="Optional: the key the file must be signed with; it must be a key in force of the sending "
        "partner registry (the partner list decides whose files are accepted)",
    )


class TransferFileOut(Schema):
    uid: str
    direction: str
    origin_registry: str
    destination_registry: str
    destination_party: str
    destination_account: str
    transaction: str
    quantity: int
    status: str = Field(..., description="The transaction's: completed, or awaiting_approval (no file yet), "
                                         "rejected, cancelled, failed")
    sha256: str
    signed_file: str


def transfer_out(t: Any, status: str = "completed") -> dict[str, Any]:
    return {"uid": str(t.uid), "direction": t.direction, "origin_registry": t.origin_registry,
            "destination_registry": t.destination_registry, "destination_party": t.destination_party,
            "destination_account": t.destination_account, "transaction": t.transaction_identifier,
            "quantity": t.quantity, "status": status, "sha256": t.sha256, "signed_file": t.signed_file}


@router.post("/article6/exports", response={201: TransferFileOut, 202: TransferFileOut, **ERRORS}, auth=AUTH)
def create_export(
    request: HttpRequest,
    payload: ExportIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", description=IDEMPOTENCY_HELP),
):
    """Transfer authorised units to another Party's registry, to a trusted
    destination: they go to the export account, and the answer carries the
    signed transfer file to send; with four-eyes on, 202 and no file until a
    second person approved (the file is then at GET /article6/exports/{uid})."""
    user, key = move_request(request, idempotency_key)
    record = international.export_units(
        actor=user, from_account=payload.from_account, ranges=[(r.start, r.end) for r in payload.ranges],
        destination_party=payload.destination_party, destination_registry=payload.destination_registry,
        destination_account=payload.destination_account, idempotency_key=key,
    )
    status = export_status(record)
    return Status(201 if status == "completed" else 202, transfer_out(record, status))


def export_status(record: Any) -> str:
    return selectors.transaction_status(record.transaction_identifier)


@router.get("/article6/exports/{uid}", response={200: TransferFileOut, **ERRORS}, auth=AUTH)
def get_export(request: HttpRequest, uid: str):
    """An export this registry sent (or that waits for its approval), with its signed file once sent."""
    record = selectors.sent_transfer(actor(request), uid)
    return transfer_out(record, export_status(record))


@router.post("/article6/imports", response={201: TransferFileOut, 202: ApprovalOut, **ERRORS}, auth=AUTH)
def create_import(request: HttpRequest, payload: ImportIn):
    """Receive units another Party's registry sent (registry administrator); a
    file is imported once. With four-eyes on, 202: a second administrator approves it."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    require_step_up(request, user)
    record = international.import_transfer(actor=user, signed=payload.signed_file, verifier_key=payload.verifier_key)
    if isinstance(record, Approval):
        return Status(202, approval_out(record, user))
    return Status(201, transfer_out(record))


class AefQuery(Schema):
    year: int = Field(..., ge=1, le=9999)
    format: str = Field("json", description="json, csv (a zip of one file per table), xlsx, or cadt (CAD Trust v2 AEF T1-T5 as JSON)")


def authorisation_out(a: Authorisation) -> dict[str, Any]:
    versions = sorted(a.versions.all(), key=lambda v: v.version)
    return {
        "identifier": a.identifier,
        "cooperative_approach": a.cooperative_approach,
        "authorising_party": a.authorising_party,
        "first_transfer_definition": a.first_transfer_definition,
        "first_transfer_definitions": a.definitions,
        "status": a.status,
        "revoked_from": a.revoked_from,
        "revocation_reason": a.revocation_reason,
        "created_at": a.created_at,
        "versions": [
            {
                "version": v.version, "effective_from": v.effective_from, "authorisation_date": v.authorisation_date,
                "acquiring_parties": v.acquiring_parties, "purposes": v.purposes, "oimp_purposes": v.oimp_purposes,
                "quantity": v.quantity, "vintage_quantities": v.vintage_quantities, "vintage_from": v.vintage_from, "vintage_to": v.vintage_to,
                "projects": v.projects, "entities": v.entities, "valid_until": v.valid_until, "terms": v.terms,
                "letter_sha256": v.letter_sha256, "requested_by": v.requested_by.username,
                "approved_by": v.approved_by.username,
            }
            for v in versions
        ],
        "units": selectors.status(a),
    }


def _terms(payload: TermsIn) -> dict[str, Any]:
    data = payload.dict()
    data.pop("effective_from", None)
    if data.get("vintage_to") is None:
        data["vintage_to"] = data["vintage_from"]
    return data


@router.get("/article6/authorisations", response={200: list[AuthorisationOut], **ERRORS}, auth=None)
def list_authorisations(request: HttpRequest):
    """Every Article 6 authorisation of this Party, with its versions and units."""
    return [authorisation_out(a) for a in selectors.authorisations()]


@router.get("/article6/authorisations/{identifier}", response={200: AuthorisationOut, **ERRORS}, auth=None)
def get_authorisation(request: HttpRequest, identifier: str):
    return authorisation_out(selectors.get(identifier))


@router.post("/article6/authorisations", response={202: ApprovalOut, **ERRORS}, auth=AUTH)
def request_authorisation(request: HttpRequest, payload: AuthorisationIn):
    """Propose an authorisation; it takes effect when a second administrator approves it (POST /approvals/{uid}/approve)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    require_step_up(request, user)
    approval = a6.request_authorisation(actor=user, data=_terms(payload))
    return Status(202, approval_out(approval, user))


@router.post("/article6/authorisations/{identifier}/changes", response={202: ApprovalOut, **ERRORS}, auth=AUTH)
def request_change(request: HttpRequest, identifier: str, payload: ChangeIn):
    """Propose new terms from effective_from (now or later); a second administrator approves."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    require_step_up(request, user)
    approval = a6.request_change(actor=user, identifier=identifier, data=_terms(payload), effective_from=payload.effective_from)
    return Status(202, approval_out(approval, user))


@router.post("/article6/authorisations/{identifier}/revocation", response={202: ApprovalOut, **ERRORS}, auth=AUTH)
def request_revocation(request: HttpRequest, identifier: str, payload: RevocationIn):
    """Propose a revocation; units already first-transferred keep their status."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    require_step_up(request, user)
    approval = a6.request_revocation(
        actor=user, identifier=identifier, reason=payload.reason, effective_from=payload.effective_from
    )
    return Status(202, approval_out(approval, user))


@router.get("/article6/serials/{text}", response={200: LookupOut, **ERRORS}, auth=None)
def lookup_serials(request: HttpRequest, text: str):
    """Article 6 status of a serial or range: authorised (ITMO identifier,
    first transfer, corresponding adjustment) or mitigation contribution unit."""
    return selectors.lookup(text)


@router.get("/article6/blocks/{int:block_id}", response={200: BlockArticle6Out, **ERRORS}, auth=None)
def block_status(request: HttpRequest, block_id: int):
    return selectors.block(block_id)


@router.post("/article6/uses", response={200: TransactionOut, 201: TransactionOut, **ERRORS}, auth=AUTH)
def create_use(
    request: HttpRequest,
    payload: UseIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", description=IDEMPOTENCY_HELP),
):
    """Use towards an NDC, for other international mitigation purposes, voluntary or OMGE cancellation."""
    user, key = move_request(request, idempotency_key)
    selection = payload.selection()
    return move_response(user, a6.use_units(
        actor=user, from_account=payload.from_account, selection=selection, use=payload.use,
        using_party=payload.using_party, using_entity=payload.using_entity, oimp_purpose=payload.oimp_purpose,
        idempotency_key=key,
    ))


@router.get("/article6/aef", response={200: Any, **ERRORS}, auth=AUTH)
def aef_report(request: HttpRequest, query: Query[AefQuery]):
    """The Agreed Electronic Format tables for a reporting year, from the ledger (administrator)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.READ)
    require_registry_administrator(user)
    report = aef.build(query.year)
    content, content_type, extension = aef.render(report, query.format)
    response = HttpResponse(content, content_type=content_type)
    if extension != "json":
        response["Content-Disposition"] = f'attachment; filename="aef-{query.year}.{extension}"'
    return response
