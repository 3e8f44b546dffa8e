"""The partner list over HTTP (registry administrator): read it, ask to add
a partner, a key or a change (a second administrator approves, through
/approvals), suspend, remove, retire a key. Every change needs a recent
second factor, as the trusted lists do."""

from __future__ import annotations

import datetime as dt
import uuid

from django.http import HttpRequest
from ninja import Field, Header, Router, Schema, Status

from tonne.access.policy import require_step_up
from tonne.article6.api import ExportIn
from tonne.controls.api import ApprovalOut, approval_out
from tonne.controls.models import Approval
from tonne.core import clock
from tonne.core.api_support import ERRORS, StrictSchema
from tonne.linkage import delivery, receiving, reconciliation, selectors, sending
from tonne.linkage import services as linkage
from tonne.linkage.models import Inbound, Outbound
from tonne.organisations.api_auth import AUTH, actor, require_scope
from tonne.organisations.models import ApiToken, User
from tonne.units.api import IDEMPOTENCY_HELP, move_request

router = Router(tags=["linkage"])


class PartnerKeyOut(Schema):
    verifier_key: str
    key_name: str
    key_id: str
    valid_from: dt.datetime
    valid_until: dt.datetime | None
    in_force: bool


class PartnerOut(Schema):
    registry_id: str
    party: str
    endpoint: str
    status: str = Field(..., description="active, suspended or removed")
    state: str = Field(..., description="what a file from it meets now: active, pending (the delay), suspended, removed")
    effective_at: dt.datetime
    reason: str
    requested_by: str
    approved_by: str
    changed_at: dt.datetime
    keys: list[PartnerKeyOut]


class PartnerIn(StrictSchema):
    registry_id: str = Field(..., max_length=100, description="The partner registry's id, e.g. CH-TONNE")
    party: str = Field(..., max_length=2, description="Its Party (ISO 3166-1 alpha-2)")
    endpoint: str = Field(..., max_length=300, description="https:// URL where its linkage messages are posted")
    verifier_key: str = Field(..., max_length=300, description="Its note verifier key (name+id+key)")


class PartnerChangeIn(StrictSchema):
    endpoint: str | None = Field(None, max_length=300)
    reinstate: bool = Field(False, description="Reinstate a suspended partner")


class PartnerKeyIn(StrictSchema):
    verifier_key: str = Field(..., max_length=300)


class PartnerKeyRetireIn(StrictSchema):
    verifier_key: str = Field(..., max_length=300)
    valid_until: dt.datetime | None = Field(None, description="When it stops being accepted (default: now; never earlier)")


class PartnerReasonIn(StrictSchema):
    reason: str = Field(..., max_length=500)


class LinkageRequestedOut(Schema):
    status: str = Field(..., description="'awaiting_approval': a second administrator approves it")
    approval: uuid.UUID


def _admin(request: HttpRequest, *, change: bool) -> User:
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    if change:
        require_step_up(request, user)
    return user


def _requested(approval: Approval) -> Status[dict[str, object]]:
    return Status(202, {"status": "awaiting_approval", "approval": approval.uid})


@router.get("/linkage/partners", response={200: list[PartnerOut], **ERRORS}, auth=AUTH)
def list_partners(request: HttpRequest):
    """The partner registries, their state and keys."""
    user = _admin(request, change=False)
    now = clock.now()
    return [selectors.partner_out(p, now) for p in selectors.partners(user)[:1000]]


@router.post("/linkage/partners", response={202: LinkageRequestedOut, **ERRORS}, auth=AUTH)
def add_partner(request: HttpRequest, payload: PartnerIn):
    """Ask to add a partner registry; in force after a second administrator's approval and the delay."""
    user = _admin(request, change=True)
    return _requested(linkage.request_partner(actor=user, registry_id=payload.registry_id, party=payload.party,
                                              endpoint=payload.endpoint, verifier_key=payload.verifier_key))


@router.patch("/linkage/partners/{registry_id}", response={202: LinkageRequestedOut, **ERRORS}, auth=AUTH)
def change_partner(request: HttpRequest, registry_id: str, payload: PartnerChangeIn):
    """Ask to change a partner's endpoint or reinstate it; a second administrator approves."""
    user = _admin(request, change=True)
    return _requested(linkage.request_change(actor=user, registry_id=registry_id, endpoint=payload.endpoint,
                                             reinstate=payload.reinstate))


@router.post("/linkage/partners/{registry_id}/keys", response={202: LinkageRequestedOut, **ERRORS}, auth=AUTH)
def add_key(request: HttpRequest, registry_id: str, payload: PartnerKeyIn):
    """Ask to add a partner's new key (rotation: add the new, then retire the old)."""
    user = _admin(request, change=True)
    return _requested(linkage.request_key(actor=user, registry_id=registry_id, verifier_key=payload.verifier_key))


@router.post("/linkage/partners/{registry_id}/keys/retire", response={200: PartnerOut, **ERRORS}, auth=AUTH)
def retire_key(request: HttpRequest, registry_id: str, payload: PartnerKeyRetireIn):
    """Stop accepting a key, now or at a later time; at once, one administrator."""
    user = _admin(request, change=True)
    key = linkage.retire_key(actor=user, registry_id=registry_id, verifier_key=payload.verifier_key,
                             at=payload.valid_until)
    return selectors.partner_out(key.partner, clock.now())


@router.post("/linkage/partners/{registry_id}/suspend", response={200: PartnerOut, **ERRORS}, auth=AUTH)
def suspend_partner(request: HttpRequest, registry_id: str, payload: PartnerReasonIn):
    """Accept nothing from this partner until reinstated; at once, one administrator."""
    user = _admin(request, change=True)
    return selectors.partner_out(linkage.suspend(actor=user, registry_id=registry_id, reason=payload.reason), clock.now())


@router.post("/linkage/partners/{registry_id}/remove", response={200: PartnerOut, **ERRORS}, auth=AUTH)
def remove_partner(request: HttpRequest, registry_id: str, payload: PartnerReasonIn):
    """Remove a partner for good; at once, one administrator."""
    user = _admin(request, change=True)
    return selectors.partner_out(linkage.remove(actor=user, registry_id=registry_id, reason=payload.reason), clock.now())


class LinkageCheckIn(StrictSchema):
    signed_file: str = Field(..., max_length=4_000_000, description="The transfer file the partner means to send")


class LinkageCheckOut(Schema):
    answer: str = Field(..., description="accept or reject")
    code: str | None = Field(None, description="the refusal's code, when rejected")
    field: str | None = None
    transfer: str | None
    file_sha256: str
    note: str = Field(..., description="The answer as a note signed with this registry's key (tonne-linkage-answer/1)")


@router.post("/linkage/check", response={200: LinkageCheckOut, **ERRORS}, auth=None)
def check_transfer(request: HttpRequest, payload: LinkageCheckIn):
    """A partner registry asks whether this registry would take a transfer:
    every check of an import, nothing created; the answer is signed. Only a
    file signed by a partner's key in force is answered (422 otherwise)."""
    return linkage.check_proposal(payload.signed_file)


# -- the transfer protocol (docs/linkage.md §3) ---------------------------------------


class LinkageMessageIn(StrictSchema):
    note: str = Field(..., max_length=4_100_000, description="A tonne-linkage/1 message signed by a partner's key")


class LinkageMessageOut(Schema):
    note: str = Field(..., description="The answer, signed with this registry's key")


@router.post("/linkage/messages", response={200: LinkageMessageOut, **ERRORS}, auth=None)
def receive_message(request: HttpRequest, payload: LinkageMessageIn):
    """A partner registry's message about a transfer (proposal, complete,
    cancel): its signature is the credential. The answer is the transfer's
    state here, signed; a replay gets the same state."""
    return {"note": receiving.handle(payload.note)}


class LinkageOutboundOut(Schema):
    transfer: str
    partner: str
    transaction: str
    state: str
    code: str
    deadline: dt.datetime
    created_at: dt.datetime


def outbound_out(out: Outbound) -> dict[str, object]:
    return {"transfer": str(out.uid), "partner": out.partner.registry_id, "transaction": out.transaction_identifier,
            "state": out.state, "code": out.code, "deadline": out.deadline, "created_at": out.created_at}


@router.post("/linkage/transfers", response={202: LinkageOutboundOut, **ERRORS}, auth=AUTH)
def propose_transfer(
    request: HttpRequest,
    payload: ExportIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", description=IDEMPOTENCY_HELP),
):
    """Propose an international transfer to a partner registry: the units
    wait, reserved, until the partner accepts (then they leave) or rejects
    or the time runs out (then they stay)."""
    user, key = move_request(request, idempotency_key)
    out = sending.propose(
        actor=user, from_account=payload.from_account, ranges=[(r.start, r.end) for r in payload.ranges],
        destination_party=payload.destination_party, destination_registry=payload.destination_registry,
        destination_account=payload.destination_account, idempotency_key=key,
    )
    return Status(202, outbound_out(out))


class LinkageInboundOut(Schema):
    transfer: str
    partner: str
    state: str
    code: str
    destination_account: str
    quantity: int


def inbound_out(inbound: Inbound) -> dict[str, object]:
    return {"transfer": str(inbound.transfer), "partner": inbound.partner.registry_id, "state": inbound.state,
            "code": inbound.code, "destination_account": inbound.destination_account, "quantity": inbound.quantity}


@router.post("/linkage/incoming/{registry_id}/{transfer}/accept", response={200: LinkageInboundOut, 202: ApprovalOut, **ERRORS},
             auth=AUTH)
def accept_transfer(request: HttpRequest, registry_id: str, transfer: str):
    """Accept a partner's checked proposal (the checks again); with four-eyes, 202: a second administrator approves."""
    user = _admin(request, change=True)
    result = receiving.accept(actor=user, registry_id=registry_id, transfer=transfer)
    if isinstance(result, Approval):
        return Status(202, approval_out(result, user))
    return inbound_out(result)


@router.post("/linkage/incoming/{registry_id}/{transfer}/reject", response={200: LinkageInboundOut, **ERRORS}, auth=AUTH)
def reject_transfer(request: HttpRequest, registry_id: str, transfer: str, payload: PartnerReasonIn):
    """Reject a partner's proposal: nothing is created here; its units stay with the sender."""
    user = _admin(request, change=True)
    return inbound_out(receiving.reject(actor=user, registry_id=registry_id, transfer=transfer, reason=payload.reason))


# -- reconciliation (docs/linkage.md §3.6) --------------------------------------------


@router.post("/linkage/statements", response={200: LinkageMessageOut, **ERRORS}, auth=None)
def receive_statement(request: HttpRequest, payload: LinkageMessageIn):
    """A partner registry's reconciliation statement: compared with this
    registry's account, its checkpoint witnessed; the answer (signed) carries
    the mismatches found. Its signature is the credential; a replay gets the
    same answer."""
    return {"note": reconciliation.handle_statement(payload.note)}


class StatementOut(Schema):
    at: dt.datetime
    answered_at: dt.datetime | None
    mismatches: int
    checkpoint_size: int | None
    witness_code: str = Field(..., description="why the partner's checkpoint was not cosigned (empty: it was)")


class MismatchOut(Schema):
    uid: uuid.UUID
    registry_id: str
    transfer: str | None = Field(None, description="null: the partner's ledger (a rollback or a fork)")
    code: str
    found_by: str = Field(..., description="us, or partner (told in its answer)")
    detail: dict
    frozen: list[list[int]] = Field(..., description="this registry's serial ranges frozen until it is resolved")
    state: str
    found_at: dt.datetime
    resolved_at: dt.datetime | None
    resolved_by: str | None
    resolution: str


class ReconciliationOut(Schema):
    registry_id: str
    status: str
    last_sent: StatementOut | None
    last_received: StatementOut | None
    open: list[MismatchOut]


class ReconcileIn(StrictSchema):
    registry_id: str | None = Field(None, max_length=100, description="One partner (default: every active one)")


class ReconcileOut(Schema):
    results: list[str] = Field(..., description="per partner: the mismatches found, or why no answer came")


@router.get("/linkage/reconciliation", response={200: list[ReconciliationOut], **ERRORS}, auth=AUTH)
def reconciliation_reports(request: HttpRequest):
    """Per partner: the last statements sent and received, and the open mismatches."""
    return selectors.reconciliation_reports(_admin(request, change=False))


@router.post("/linkage/reconciliation", response={200: ReconcileOut, **ERRORS}, auth=AUTH)
def reconcile(request: HttpRequest, payload: ReconcileIn):
    """Send a statement to every active partner (or one) now, and take the answers."""
    user = _admin(request, change=False)
    return {"results": reconciliation.reconcile_now(actor=user, post=delivery.post, registry_id=payload.registry_id)}


@router.post("/linkage/mismatches/{uid}/resolve", response={200: MismatchOut, **ERRORS}, auth=AUTH)
def resolve_mismatch(request: HttpRequest, uid: str, payload: PartnerReasonIn):
    """Resolve a mismatch, saying how: the freezes of its units are lifted."""
    user = _admin(request, change=True)
    return selectors.mismatch_out(reconciliation.resolve(actor=user, uid=uid, reason=payload.reason))
