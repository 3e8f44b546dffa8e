"""The sending side of the protocol (docs/linkage.md §3): a holder's units
wait, reserved in their account, while the partner decides; accepted, they
leave for the export account (the signed transfer file and the first
transfer recorded as for every export) and the completion goes; rejected,
timed out or withdrawn, the reservation ends (the units never left) and
the partner is told to close. One row per transfer, locked for every step:
it never returns after completing, never completes after returning."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction

from tonne.article6 import international
from tonne.article6.models import InternationalTransfer
from tonne.controls import services as controls
from tonne.core import clock
from tonne.core.errors import RegistryError, ValidationFailed
from tonne.ledger.services import append_entry
from tonne.linkage import messages
from tonne.linkage.models import Outbound, Partner
from tonne.linkage.services import sender_of
from tonne.organisations.models import User
from tonne.organisations.services import get_account, require_account_operator
from tonne.units import services as units
from tonne.units.models import Transaction

State = Outbound.State
OPEN = (State.PROPOSED, State.COMPLETING, State.CANCELLING)
GONE = (Transaction.Status.FAILED, Transaction.Status.CANCELLED, Transaction.Status.REJECTED)


def _partner(registry_id: str, party: str, at: dt.datetime) -> Partner:
    partner = Partner.objects.filter(registry_id=(registry_id or "").strip().upper()).first()
    if partner is None:
        raise ValidationFailed("PARTNER_NOT_FOUND", f"{registry_id} is not a partner registry.",
                               field="destination_registry", details={"registry": registry_id})
    if partner.status != Partner.Status.ACTIVE:
        raise ValidationFailed(f"PARTNER_{partner.status.upper()}", f"{partner.registry_id} is {partner.status}.",
                               field="destination_registry")
    if partner.effective_at > at:
        raise ValidationFailed("PARTNER_NOT_IN_FORCE", f"{partner.registry_id} is a partner from "
                               f"{partner.effective_at.isoformat()}.", field="destination_registry", details={"registry": partner.registry_id, "date": partner.effective_at.isoformat()})
    if partner.party != (party or "").strip().upper():
        raise ValidationFailed("PARTNER_PARTY_DIFFERS", f"{partner.registry_id} is the registry of {partner.party}.",
                               field="destination_party", details={"registry": partner.registry_id, "party": partner.party})
    return partner


def propose(
    *, actor: User, from_account: str, ranges: list[tuple[int, int]], destination_party: str,
    destination_registry: str, destination_account: str, idempotency_key: str,
) -> Outbound:
    """Propose an international transfer to a partner registry: the export
    through the controls as every export, its units reserved until the
    partner decides. A retry answers as the first request did."""
    now = clock.now()
    require_account_operator(actor, get_account(from_account, field="from_account"))  # before saying who partners are
    partner = _partner(destination_registry, destination_party, now)
    with transaction.atomic():
        sent = international.export_units(
            actor=actor, from_account=from_account, ranges=ranges, destination_party=destination_party,
            destination_registry=partner.registry_id, destination_account=destination_account,
            idempotency_key=idempotency_key, awaits_partner=True,
        )
        earlier = Outbound.objects.filter(uid=sent.uid).first()
        if earlier is not None:
            return earlier
        out = Outbound.objects.create(
            uid=sent.uid, partner=partner, transaction_identifier=sent.transaction_identifier,
            proposal=international.proposal_file(sent, ranges),
            deadline=now + dt.timedelta(hours=settings.TONNE_LINKAGE_TIMEOUT_HOURS), next_attempt_at=now,
            created_at=now, updated_at=now,
        )
        _entry("transfer_proposed", out, actor)
    return out


def _entry(kind: str, out: Outbound, actor: User | None = None, **extra: Any) -> None:
    append_entry(kind=f"linkage.{kind}", actor=actor, transaction_ref=out.transaction_identifier, data={
        "transfer": str(out.uid), "registry_id": out.partner.registry_id, "state": out.state, "code": out.code,
        **extra})


def _txn(out: Outbound) -> Transaction:
    return Transaction.objects.select_related("initiated_by").get(identifier=out.transaction_identifier)


def _set(out: Outbound, state: str, code: str = "") -> None:
    out.state, out.code, out.updated_at, out.next_attempt_at, out.attempts = state, code, clock.now(), clock.now(), 0
    out.save(update_fields=["state", "code", "updated_at", "next_attempt_at", "attempts"])


def _give_back(out: Outbound, code: str, *, told: bool) -> None:
    """The units stay with the holder: the waiting export ends (if it still
    waits); `told`: the partner already knows (it rejected or closed)."""
    txn = _txn(out)
    if txn.status in (Transaction.Status.AWAITING_APPROVAL, Transaction.Status.DELAYED):
        controls.cancel_waiting(actor=txn.initiated_by, identifier=txn.identifier)
    _set(out, State.CANCELLED if told else State.CANCELLING, code)
    _entry("transfer_returned", out)


def _complete(out: Outbound) -> None:
    """Accepted: the units leave for the export account now; if they no
    longer can (a freeze, the switch, the holder withdrew), they stay and
    the partner is told to close."""
    txn = _txn(out)
    if txn.status != Transaction.Status.DELAYED:
        _give_back(out, txn.failure_code or "WITHDRAWN", told=False)
        return
    settled = units.settle_waiting(txn.pk)
    international.on_export_settled(settled)  # the signed file and the first transfer, as for every export
    if settled.status != Transaction.Status.COMPLETED:
        _set(out, State.CANCELLING, settled.failure_code or "SETTLEMENT_FAILED")
        _entry("transfer_returned", out)
        return
    out.completion = InternationalTransfer.objects.get(direction="sent", uid=out.uid).signed_file
    out.save(update_fields=["completion"])
    _set(out, State.COMPLETING)
    _entry("transfer_accepted", out)


def next_message(uid: uuid.UUID | str) -> str | None:
    """The message this transfer sends next (None: nothing yet), after the
    steps time alone takes: the deadline, a waiting export that failed."""
    now = clock.now()
    with transaction.atomic():
        out = Outbound.objects.select_for_update().select_related("partner").get(uid=uid)
        if out.state == State.PROPOSED:
            txn = _txn(out)
            if txn.status in GONE:
                _give_back(out, txn.failure_code or str(txn.status).upper(), told=False)
            elif now >= out.deadline:
                _give_back(out, "TIMEOUT", told=False)
            elif txn.status == Transaction.Status.AWAITING_APPROVAL:
                return None  # its second person first
        transfer, to = str(out.uid), out.partner.registry_id
        if out.state == State.PROPOSED:
            return messages.request("proposal", transfer=transfer, to=to, at=now, file=out.proposal)
        if out.state == State.COMPLETING:
            return messages.request("complete", transfer=transfer, to=to, at=now, file=out.completion)
        if out.state == State.CANCELLING:
            return messages.request("cancel", transfer=transfer, to=to, at=now, reason=out.code)
        return None


def take_answer(note: str) -> tuple[Outbound, str]:
    """The partner's answer to a message of ours: the step it calls for. The transfer and the partner's state."""
    if not isinstance(note, str) or len(note) > 100_000:
        raise ValidationFailed("LINKAGE_MESSAGE_INVALID", "An answer is a signed note.", field="note")
    sender = sender_of(note, clock.now())
    body = messages.read(note, sender.verifier_key, sender=sender.registry, types=("answer",))
    with transaction.atomic():
        out = Outbound.objects.select_for_update().select_related("partner").filter(
            uid=body["transfer"], partner__registry_id=sender.registry).first()
        if out is None:
            raise ValidationFailed("TRANSFER_UNKNOWN", f"No transfer {body['transfer']} to {sender.registry}.", details={"transfer": body["transfer"], "registry": sender.registry})
        state, code = body["state"], body.get("code") or ""
        if out.state == State.PROPOSED:
            if state == "accepted":
                _complete(out)
            elif state in ("rejected", "closed", "unknown"):
                _give_back(out, code or state.upper(), told=True)
        elif out.state == State.COMPLETING and state == "completed":
            _set(out, State.COMPLETED)
            _entry("transfer_completed", out)
        elif out.state == State.CANCELLING and state in ("closed", "rejected", "unknown"):
            _set(out, State.CANCELLED, out.code)
            _entry("transfer_cancelled", out)
        elif out.state == State.CANCELLING and state == "completed":  # never, by the protocol: said loudly
            out.last_error = "PARTNER_SAYS_COMPLETED"
            out.save(update_fields=["last_error"])
        return out, state


def due(limit: int = 100) -> list[uuid.UUID]:
    return list(Outbound.objects.filter(state__in=OPEN, next_attempt_at__lte=clock.now())
                .order_by("next_attempt_at", "pk").values_list("uid", flat=True)[:limit])


def later(uid: uuid.UUID | str, error: str = "") -> None:
    """The next try: after a failure, with backoff (2^n seconds, at most 10 minutes); else after the poll interval."""
    with transaction.atomic():
        out = Outbound.objects.select_for_update().get(uid=uid)
        if out.state not in OPEN:
            return
        if error:
            out.attempts += 1
            wait = min(2 ** out.attempts, 600)
        else:
            out.attempts = 0
            wait = settings.TONNE_LINKAGE_POLL_SECONDS if out.state == State.PROPOSED else 0
        out.last_error = error[:200]
        out.next_attempt_at = clock.now() + dt.timedelta(seconds=wait)
        out.save(update_fields=["attempts", "last_error", "next_attempt_at"])


def deliver(uid: uuid.UUID | str, post: Any) -> str:
    """One round for one transfer: its next message posted, the answer taken. What happened, in words."""
    try:
        note = next_message(uid)
    except RegistryError as exc:
        later(uid, exc.code)
        return f"{uid}: {exc.code}"
    if note is None:
        later(uid)
        return f"{uid}: waiting"
    out = Outbound.objects.select_related("partner").get(uid=uid)
    answer, error = post(out.partner.endpoint, note)
    if error:
        later(uid, error)
        return f"{uid}: {error}"
    try:
        out, theirs = take_answer(answer)
    except RegistryError as exc:
        later(uid, exc.code)
        return f"{uid}: {exc.code}"
    later(uid)
    return f"{uid}: {out.state} ({out.partner.registry_id}: {theirs})"
