"""The receiving side of the protocol (docs/linkage.md §3): a partner's
proposal is checked and remembered (nothing created), an administrator
accepts it (with a second one when four-eyes covers imports) or rejects it,
and the units are created only when the partner completes; a cancel closes
it for good. One row per transfer, locked for every step; a replayed
message gets the answer of the transfer's state, as the first time."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.db import IntegrityError, transaction

from tonne.article6 import international
from tonne.article6.models import ImportedRange
from tonne.audit.models import AuditEvent
from tonne.audit.services import record
from tonne.controls import gate
from tonne.controls import services as control_services
from tonne.controls.models import Approval
from tonne.controls.services import new_approval
from tonne.core import clock, text
from tonne.core.errors import Conflict, NotFound, RegistryError, ValidationFailed
from tonne.ledger.services import append_entry
from tonne.linkage import messages
from tonne.linkage.models import Inbound, Partner
from tonne.linkage.services import sender_of
from tonne.organisations.models import User
from tonne.organisations.services import get_account, require_registry_administrator

ACCEPT = "linkage_accept"  # the approval's action
State = Inbound.State
Answer = tuple[str, str, str]  # state, code, field


def _sha(note: str) -> str:
    return hashlib.sha256(note.encode("utf-8")).hexdigest()


def handle(note: str) -> str:
    """A partner's message (proposal, complete, cancel): the signed answer."""
    if not isinstance(note, str) or len(note) > messages.MAX_FILE + 10_000:
        raise ValidationFailed("LINKAGE_MESSAGE_INVALID", "A message is a signed note of at most 4 MB.", field="note")
    now = clock.now()
    sender = sender_of(note, now)
    body = messages.read(note, sender.verifier_key, sender=sender.registry, types=messages.REQUESTS)
    partner = Partner.objects.get(registry_id=sender.registry)
    steps = {"proposal": _proposal, "complete": _complete, "cancel": _cancel}
    with transaction.atomic():
        state, code, field = steps[body["type"]](partner, body)
    return messages.answer(transfer=body["transfer"], to=sender.registry, at=now, request_sha256=_sha(note),
                           state=state, code=code, field=field)


def _locked(partner: Partner, transfer: str) -> Inbound | None:
    return Inbound.objects.select_for_update().filter(partner=partner, transfer=transfer).first()


def _answer(inbound: Inbound) -> Answer:
    return inbound.state, inbound.code, inbound.field


def _entry(kind: str, inbound: Inbound, actor: User | None = None, **extra: Any) -> None:
    data = {"transfer": str(inbound.transfer), "registry_id": inbound.partner.registry_id, "state": inbound.state,
            "code": inbound.code, "quantity": inbound.quantity, **extra}
    append_entry(kind=f"linkage.{kind}", actor=actor, data=data)
    record(AuditEvent.Category.CONTROL, f"linkage.{kind}", actor=actor, target=str(inbound.transfer), detail=data)


def _proposal(partner: Partner, body: dict[str, Any]) -> Answer:
    file = body["file"]
    inbound = _locked(partner, body["transfer"])
    if inbound is not None:  # a replay, or the sender asking for the decision
        if inbound.proposal_sha256 != _sha(file):
            return inbound.state, "PROPOSAL_DIFFERS", "file"
        return _answer(inbound)
    code, field, payload = "", "", None
    try:
        payload = international.check_transfer(file)
        if payload["transfer"] != body["transfer"] or payload["origin_registry"] != partner.registry_id:
            code, field = "PROPOSAL_DIFFERS", "file"
    except RegistryError as exc:
        code, field = exc.code, exc.field or ""
    now = clock.now()
    try:
        with transaction.atomic():
            inbound = Inbound.objects.create(
                partner=partner, transfer=body["transfer"], state=State.REJECTED if code else State.CHECKED,
                code=code, field=field[:200], proposal=file, proposal_sha256=_sha(file),
                destination_account=(payload or {}).get("destination_account", ""),
                quantity=(payload or {}).get("quantity", 0), created_at=now, updated_at=now,
            )
    except IntegrityError:  # the same proposal, twice at once: the first one's answer
        again = _locked(partner, body["transfer"])
        assert again is not None
        return _answer(again)
    _entry("proposal_rejected" if code else "proposal_checked", inbound)
    return _answer(inbound)


def _same_units(proposal: dict[str, Any], completion: dict[str, Any]) -> bool:
    def units(p: dict[str, Any]) -> tuple[Any, ...]:
        return (p["transfer"], p["destination_account"], p["quantity"],
                sorted((b["serial_start"], b["serial_end"], b["itmo_id"]) for b in p["blocks"]))
    return units(proposal) == units(completion)


def _complete(partner: Partner, body: dict[str, Any]) -> Answer:
    inbound = _locked(partner, body["transfer"])
    if inbound is None:
        return "unknown", "TRANSFER_UNKNOWN", ""
    if inbound.state != State.ACCEPTED:  # completed: a replay; closed or rejected: never created
        return inbound.state, "" if inbound.state == State.COMPLETED else "TRANSFER_NOT_ACCEPTED", ""
    file = body["file"]
    signer = sender_of(file, clock.now())
    if signer.registry != partner.registry_id:  # the units come from the partner that proposed them
        return State.ACCEPTED, "PROPOSAL_DIFFERS", "file"
    key = signer.verifier_key
    if not _same_units(international.read_transfer_file(inbound.proposal, _proposal_key(inbound)),
                       international.read_transfer_file(file, key)):
        return State.ACCEPTED, "PROPOSAL_DIFFERS", "file"
    assert inbound.accepted_by is not None
    try:
        with transaction.atomic():
            received, refusal = international.receive_accepted(actor=inbound.accepted_by, signed=file)
    except RegistryError as exc:  # the file or the account no longer receivable: still accepted, the sender retries
        return State.ACCEPTED, exc.code, exc.field or ""
    # A control refusing now (the switch, a freeze since) does not break the
    # acceptance: the units are created, held until it no longer refuses.
    inbound.state, inbound.code, inbound.received_transfer, inbound.updated_at = (
        State.COMPLETED, refusal.code if refusal else "", received.uid, clock.now())
    inbound.save(update_fields=["state", "code", "received_transfer", "updated_at"])
    for start, end in _ranges(inbound) if refusal else []:
        control_services.hold_serials(on_behalf_of=inbound.accepted_by, serial_start=start, serial_end=end,
                                      reason=_hold_reason(inbound))
    _entry("transfer_completed", inbound, inbound.accepted_by, transaction=received.transaction_identifier,
           held=refusal.code if refusal else None)
    return _answer(inbound)


def _ranges(inbound: Inbound) -> list[tuple[int, int]]:
    """The local serials created for this transfer."""
    assert inbound.received_transfer is not None
    return list(ImportedRange.objects.filter(transfer__uid=inbound.received_transfer, transfer__direction="received")
                .order_by("serial_start").values_list("serial_start", "serial_end"))


def _hold_reason(inbound: Inbound) -> str:
    return (f"Received from {inbound.partner.registry_id} (transfer {inbound.transfer}) while {inbound.code}: "
            "held until that control no longer refuses.")


def release_held(limit: int = 100) -> list[str]:
    """The worker's step: units created held (a control refused at completion)
    are released once the controls let the account receive them again (the
    switch off, the freeze lifted). The transfers released."""
    released = []
    held = Inbound.objects.filter(state=State.COMPLETED).exclude(code="").order_by("pk").values_list("pk", flat=True)
    for pk in list(held[:limit]):
        with transaction.atomic():
            inbound = Inbound.objects.select_for_update().select_related("partner", "accepted_by").get(pk=pk)
            if inbound.state != State.COMPLETED or not inbound.code:
                continue
            account = get_account(inbound.destination_account, field="destination_account")
            if gate.decide_import(account, inbound.quantity, clock.now()).refusal is not None:
                continue
            assert inbound.accepted_by is not None
            reason, held_for = _hold_reason(inbound), inbound.code
            for start, end in _ranges(inbound):
                control_services.release_serials(on_behalf_of=inbound.accepted_by, serial_start=start,
                                                 serial_end=end, reason=reason)
            inbound.code, inbound.updated_at = "", clock.now()
            inbound.save(update_fields=["code", "updated_at"])
            _entry("transfer_released", inbound, inbound.accepted_by, held=held_for)
            released.append(str(inbound.transfer))
    return released


def _proposal_key(inbound: Inbound) -> str:
    """The key that signed the stored proposal, if still in force; else the partner's current one."""
    try:
        return sender_of(inbound.proposal, clock.now()).verifier_key
    except RegistryError:
        raise Conflict("PARTNER_KEY_NOT_IN_FORCE", "The proposal's key is no longer in force.") from None


def _cancel(partner: Partner, body: dict[str, Any]) -> Answer:
    inbound = _locked(partner, body["transfer"])
    if inbound is None:
        return "unknown", "", ""
    if inbound.state in (State.CHECKED, State.AWAITING_APPROVAL, State.ACCEPTED):
        inbound.state, inbound.code, inbound.updated_at = State.CLOSED, text.bounded(
            body.get("reason") or "CANCELLED", "reason", 60), clock.now()
        inbound.save(update_fields=["state", "code", "updated_at"])
        Approval.objects.filter(action=ACCEPT, status=Approval.Status.PENDING,
                                payload__transfer=str(inbound.transfer)).update(
            status=Approval.Status.CANCELLED, decided_at=clock.now())
        _entry("transfer_closed", inbound)
    return _answer(inbound)


# -- the administrators' decision ----------------------------------------------------


def _inbound(registry_id: str, transfer: str) -> Inbound:
    inbound = Inbound.objects.select_for_update().select_related("partner").filter(
        partner__registry_id=(registry_id or "").strip().upper(), transfer=_uuid(transfer)).first()
    if inbound is None:
        raise NotFound("INBOUND_NOT_FOUND", f"No transfer {transfer} proposed by {registry_id}.", details={"transfer": transfer, "registry": registry_id})
    return inbound


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise NotFound("INBOUND_NOT_FOUND", f"No transfer {value}.", details={"transfer": value}) from None


def accept(*, actor: User, registry_id: str, transfer: str) -> Inbound | Approval:
    """Accept a checked proposal: the checks again, then accepted (or, with
    four-eyes on imports, an approval a second administrator gives)."""
    require_registry_administrator(actor)
    with transaction.atomic():
        inbound = _inbound(registry_id, transfer)
        if inbound.state != State.CHECKED:
            raise Conflict("INBOUND_NOT_CHECKED", f"This transfer is {inbound.state}.", details={"state": inbound.state})
        if not _still_receivable(inbound):
            return inbound
        if gate.needs_approval("import"):
            inbound.state, inbound.updated_at = State.AWAITING_APPROVAL, clock.now()
            inbound.save(update_fields=["state", "updated_at"])
            return new_approval(actor=actor, action=ACCEPT, account=None, payload={
                "registry_id": inbound.partner.registry_id, "transfer": str(inbound.transfer),
                "proposal_sha256": inbound.proposal_sha256, "account": inbound.destination_account,
                "quantity": inbound.quantity,
            })
        return _accepted(inbound, actor, approved_by=None)


def carry_out_accept(approval: Approval, approver: User) -> None:
    gate.check_approved(approval)
    inbound = _inbound(approval.payload["registry_id"], approval.payload["transfer"])
    if inbound.state != State.AWAITING_APPROVAL or inbound.proposal_sha256 != approval.payload["proposal_sha256"]:
        raise Conflict("INBOUND_NOT_AWAITING_APPROVAL", f"This transfer is {inbound.state}.", details={"state": inbound.state})
    if _still_receivable(inbound):
        _accepted(inbound, approval.initiated_by, approved_by=approver)


def _still_receivable(inbound: Inbound) -> bool:
    """The checks again (a freeze, the switch, the partner, a key retired since); a refusal rejects it."""
    try:
        international.check_transfer(inbound.proposal)
        return True
    except RegistryError as exc:
        inbound.state, inbound.code, inbound.field, inbound.updated_at = (
            State.REJECTED, exc.code, (exc.field or "")[:200], clock.now())
        inbound.save(update_fields=["state", "code", "field", "updated_at"])
        _entry("proposal_rejected", inbound)
        return False


def _accepted(inbound: Inbound, actor: User, *, approved_by: User | None) -> Inbound:
    inbound.state, inbound.accepted_by, inbound.updated_at = State.ACCEPTED, actor, clock.now()
    inbound.save(update_fields=["state", "accepted_by", "updated_at"])
    _entry("proposal_accepted", inbound, approved_by or actor, accepted_by=actor.username,
           approved_by=approved_by.username if approved_by else None)
    return inbound


def reject(*, actor: User, registry_id: str, transfer: str, reason: str) -> Inbound:
    require_registry_administrator(actor)
    reason = text.bounded(reason, "reason", 500)
    if not reason:
        raise ValidationFailed("REASON_REQUIRED", "A rejection needs a reason.", field="reason")
    with transaction.atomic():
        inbound = _inbound(registry_id, transfer)
        if inbound.state not in (State.CHECKED, State.AWAITING_APPROVAL):
            raise Conflict("INBOUND_NOT_CHECKED", f"This transfer is {inbound.state}.", details={"state": inbound.state})
        inbound.state, inbound.code, inbound.updated_at = State.REJECTED, "REJECTED_BY_REGISTRY", clock.now()
        inbound.save(update_fields=["state", "code", "updated_at"])
        Approval.objects.filter(action=ACCEPT, status=Approval.Status.PENDING,
                                payload__transfer=str(inbound.transfer)).update(
            status=Approval.Status.CANCELLED, decided_at=clock.now())
        _entry("proposal_rejected", inbound, actor, reason=reason)
    return inbound
