"""State changes of the partner list. Adding a partner or a key, changing
its endpoint and reinstating a suspended partner need a second registry
administrator (an approval carried out by the controls, through the
wiring) and take effect after the trusted-list delay; suspending, removing
and retiring a key are at once and need one person: they only protect.
Every change is a ledger entry and an audit event."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.conf import settings
from django.db import transaction

from tonne.article6 import international
from tonne.article6.partners import Sender
from tonne.audit.models import AuditEvent
from tonne.audit.services import record
from tonne.controls import gate
from tonne.controls.models import Approval
from tonne.controls.services import new_approval
from tonne.core import clock, iso3166, text
from tonne.core.canonical import canonical_json
from tonne.core.errors import Conflict, NotFound, RegistryError, ValidationFailed
from tonne.ledger import keys
from tonne.ledger.checkpoint import (
    CheckpointError,
    parse_note,
    parse_verifier_key,
    sign_note,
    verify_note,
)
from tonne.ledger.services import append_entry
from tonne.linkage import domain
from tonne.linkage.models import Partner, PartnerKey
from tonne.organisations.models import User
from tonne.organisations.services import require_registry_administrator

ADD = "linkage_partner_add"  # the approvals' actions
CHANGE = "linkage_partner_change"
ADD_KEY = "linkage_key_add"
ACTIONS = (ADD, CHANGE, ADD_KEY)


def effective_from(now: dt.datetime) -> dt.datetime:
    """When a change approved now takes effect: after the trusted-list delay (none if the country sets 0)."""
    return gate.trusted_from(now) if settings.TONNE_TRUSTED_DELAY_WORKING_DAYS > 0 else now


def _key(value: object) -> tuple[str, str, str]:
    key = str(value or "").strip()
    if len(key) > domain.MAX_KEY:
        raise ValidationFailed("PARTNER_KEY_INVALID", f"A verifier key is at most {domain.MAX_KEY} characters.",
                               field="verifier_key", details={"limit": domain.MAX_KEY})
    try:
        name, kid, _ = parse_verifier_key(key)
    except CheckpointError as exc:
        raise ValidationFailed("PARTNER_KEY_INVALID", f"Not a note verifier key: {exc}", field="verifier_key") from None
    return key, name, kid.hex()


def _partner(registry_id: str, *, lock: bool = False) -> Partner:
    found = Partner.objects.select_for_update() if lock else Partner.objects
    partner = found.filter(registry_id=domain.registry_id(registry_id)).first()
    if partner is None:
        raise NotFound("PARTNER_NOT_FOUND", f"{registry_id} is not a partner registry.", field="registry_id", details={"registry": registry_id})
    return partner


def _refuse_pending(action: str, registry: str) -> None:
    if Approval.objects.filter(action=action, status=Approval.Status.PENDING, payload__registry_id=registry).exists():
        raise Conflict("PARTNER_CHANGE_PENDING", f"A change of {registry} already waits for approval.",
                       field="registry_id", details={"registry": registry})


def _event(kind: str, actor: User, data: dict[str, Any]) -> None:
    append_entry(kind=f"linkage.{kind}", actor=actor, data=data)
    record(AuditEvent.Category.CONTROL, f"partner.{kind}", actor=actor, target=data["registry_id"], detail=data)


# -- changes that need a second administrator ----------------------------------------


def request_partner(*, actor: User, registry_id: str, party: str, endpoint: str, verifier_key: str) -> Approval:
    """Ask to add a partner registry, with its first verifier key."""
    require_registry_administrator(actor)
    payload = {
        "registry_id": domain.registry_id(registry_id),
        "party": iso3166.country(party, "party", code="PARTY_INVALID"),
        "endpoint": domain.endpoint(endpoint),
        "verifier_key": _key(verifier_key)[0],
    }
    if payload["registry_id"] == settings.TONNE_ARTICLE6_REGISTRY_ID or payload["party"] == settings.TONNE_COUNTRY:
        raise ValidationFailed("PARTNER_IS_THIS_REGISTRY", "A partner is another Party's registry.", field="registry_id")
    with transaction.atomic():
        if Partner.objects.filter(registry_id=payload["registry_id"]).exists():
            raise Conflict("PARTNER_EXISTS", f"{payload['registry_id']} is already on the list (or was removed).",
                           field="registry_id", details={"registry": payload["registry_id"]})
        _refuse_pending(ADD, payload["registry_id"])
        return new_approval(actor=actor, action=ADD, account=None, payload=payload)


def request_change(*, actor: User, registry_id: str, endpoint: str | None = None, reinstate: bool = False) -> Approval:
    """Ask to change a partner's endpoint, or to reinstate a suspended partner."""
    require_registry_administrator(actor)
    with transaction.atomic():
        partner = _partner(registry_id)
        payload: dict[str, Any] = {"registry_id": partner.registry_id}
        if endpoint is not None:
            payload["endpoint"] = domain.endpoint(endpoint)
        if reinstate:
            if partner.status != Partner.Status.SUSPENDED:
                raise Conflict("PARTNER_NOT_SUSPENDED", f"{partner.registry_id} is {partner.status}.", field="registry_id", details={"registry": partner.registry_id, "status": partner.status})
            payload["status"] = Partner.Status.ACTIVE
        if len(payload) == 1:
            raise ValidationFailed("NOTHING_TO_CHANGE", "Name a new endpoint or reinstate the partner.")
        if partner.status == Partner.Status.REMOVED:
            raise Conflict("PARTNER_REMOVED", f"{partner.registry_id} was removed for good.", field="registry_id", details={"registry": partner.registry_id})
        _refuse_pending(CHANGE, partner.registry_id)
        return new_approval(actor=actor, action=CHANGE, account=None, payload=payload)


def request_key(*, actor: User, registry_id: str, verifier_key: str) -> Approval:
    """Ask to add a verifier key (a partner's new key, before it retires the old one)."""
    require_registry_administrator(actor)
    key = _key(verifier_key)[0]
    with transaction.atomic():
        partner = _partner(registry_id)
        if partner.status == Partner.Status.REMOVED:
            raise Conflict("PARTNER_REMOVED", f"{partner.registry_id} was removed for good.", field="registry_id", details={"registry": partner.registry_id})
        if partner.keys.filter(verifier_key=key).exists():
            raise Conflict("PARTNER_KEY_EXISTS", "This key is already on the partner's list.", field="verifier_key")
        _refuse_pending(ADD_KEY, partner.registry_id)
        return new_approval(actor=actor, action=ADD_KEY, account=None,
                            payload={"registry_id": partner.registry_id, "verifier_key": key})


def _check_approver(approval: Approval, approver: User) -> None:
    gate.check_approved(approval)
    require_registry_administrator(approver)


def carry_out_addition(approval: Approval, approver: User) -> None:
    _check_approver(approval, approver)
    p, now = approval.payload, clock.now()
    if Partner.objects.filter(registry_id=p["registry_id"]).exists():
        raise Conflict("PARTNER_EXISTS", f"{p['registry_id']} is already on the list.", field="registry_id", details={"registry": p["registry_id"]})
    at = effective_from(now)
    partner = Partner.objects.create(
        registry_id=p["registry_id"], party=p["party"], endpoint=p["endpoint"], status=Partner.Status.ACTIVE,
        effective_at=at, requested_by=approval.initiated_by, approved_by=approver, requested_at=approval.created_at,
        changed_at=now,
    )
    _add_key(partner, p["verifier_key"], at, approval, approver)
    _event("partner_added", approver, {**p, "effective_at": at.isoformat(), "requested_by": approval.initiated_by.username})


def carry_out_change(approval: Approval, approver: User) -> None:
    _check_approver(approval, approver)
    p, now = approval.payload, clock.now()
    partner = _partner(p["registry_id"], lock=True)
    if partner.status == Partner.Status.REMOVED:
        raise Conflict("PARTNER_REMOVED", f"{partner.registry_id} was removed for good.", field="registry_id", details={"registry": partner.registry_id})
    fields = ["changed_at"]
    if "endpoint" in p:
        partner.endpoint = p["endpoint"]
        fields.append("endpoint")
    if p.get("status") == Partner.Status.ACTIVE:
        if partner.status != Partner.Status.SUSPENDED:
            raise Conflict("PARTNER_NOT_SUSPENDED", f"{partner.registry_id} is {partner.status}.", field="registry_id", details={"registry": partner.registry_id, "status": partner.status})
        partner.status, partner.effective_at, partner.reason = Partner.Status.ACTIVE, effective_from(now), ""
        fields += ["status", "effective_at", "reason"]
    partner.changed_at = now
    partner.save(update_fields=fields)
    _event("partner_changed", approver, {**p, "effective_at": partner.effective_at.isoformat(),
                                         "requested_by": approval.initiated_by.username})


def carry_out_key(approval: Approval, approver: User) -> None:
    _check_approver(approval, approver)
    p = approval.payload
    partner = _partner(p["registry_id"], lock=True)
    if partner.status == Partner.Status.REMOVED:
        raise Conflict("PARTNER_REMOVED", f"{partner.registry_id} was removed for good.", field="registry_id", details={"registry": partner.registry_id})
    if partner.keys.filter(verifier_key=p["verifier_key"]).exists():
        raise Conflict("PARTNER_KEY_EXISTS", "This key is already on the partner's list.", field="verifier_key")
    at = effective_from(clock.now())
    _add_key(partner, p["verifier_key"], at, approval, approver)
    _event("key_added", approver, {**p, "valid_from": at.isoformat(), "requested_by": approval.initiated_by.username})


def _add_key(partner: Partner, key: str, at: dt.datetime, approval: Approval, approver: User) -> PartnerKey:
    verifier, name, kid = _key(key)
    return PartnerKey.objects.create(partner=partner, verifier_key=verifier, key_name=name, key_id=kid, valid_from=at,
                                     requested_by=approval.initiated_by, approved_by=approver)


# -- changes that only protect: at once, one administrator ----------------------------


def suspend(*, actor: User, registry_id: str, reason: str) -> Partner:
    return _stop(actor, registry_id, reason, Partner.Status.SUSPENDED)


def remove(*, actor: User, registry_id: str, reason: str) -> Partner:
    return _stop(actor, registry_id, reason, Partner.Status.REMOVED)


def _stop(actor: User, registry_id: str, reason: str, status: str) -> Partner:
    require_registry_administrator(actor)
    reason = text.bounded(reason, "reason", 500)
    if not reason:
        raise ValidationFailed("REASON_REQUIRED", "Say why.", field="reason")
    with transaction.atomic():
        partner = _partner(registry_id, lock=True)
        if partner.status == Partner.Status.REMOVED:
            raise Conflict("PARTNER_REMOVED", f"{partner.registry_id} was removed for good.", field="registry_id", details={"registry": partner.registry_id})
        if partner.status == status:
            return partner
        partner.status, partner.reason, partner.changed_at = status, reason, clock.now()
        partner.save(update_fields=["status", "reason", "changed_at"])
        _event(f"partner_{status}", actor, {"registry_id": partner.registry_id, "reason": reason})
    return partner


def retire_key(*, actor: User, registry_id: str, verifier_key: str, at: dt.datetime | None = None) -> PartnerKey:
    """A key stops being accepted at `at` (default: now), never earlier than now."""
    require_registry_administrator(actor)
    key = _key(verifier_key)[0]
    with transaction.atomic():
        partner = _partner(registry_id, lock=True)
        found = PartnerKey.objects.select_for_update().filter(partner=partner, verifier_key=key).first()
        if found is None:
            raise NotFound("PARTNER_KEY_NOT_FOUND", "This key is not on the partner's list.", field="verifier_key")
        now = clock.now()
        until = domain.retire_at(now, at, found.valid_from)
        if found.valid_until is not None and found.valid_until <= until:
            return found  # already retires no later: a retirement is never pushed back
        found.valid_until, found.retired_by = until, actor
        found.save(update_fields=["valid_until", "retired_by"])
        _event("key_retired", actor, {"registry_id": partner.registry_id, "verifier_key": key,
                                      "valid_until": until.isoformat()})
    return found


# -- who sent this --------------------------------------------------------------------


class PartnerList:
    """The partner list as Article 6 asks it (tonne.article6.partners.PartnerList),
    installed by the registry's wiring."""

    def sender_of(self, signed: str, at: dt.datetime) -> Sender:
        return sender_of(signed, at)


def sender_of(signed: str, at: dt.datetime) -> Sender:
    """The partner whose key in force signed this note; otherwise refused
    with the reason (unknown key, partner suspended or removed, key or
    partner not in force, signature not verifying)."""
    try:
        _, signatures = parse_note(signed)
    except CheckpointError as exc:
        raise ValidationFailed("TRANSFER_SIGNATURE_INVALID", f"Not a signed note: {exc}") from None
    candidates = PartnerKey.objects.select_related("partner").filter(
        key_name__in=[s.name for s in signatures], key_id__in=[s.key_id.hex() for s in signatures]
    ).order_by("pk")
    refusal: ValidationFailed | None = None
    for key in candidates:
        if not any(s.name == key.key_name and s.key_id.hex() == key.key_id for s in signatures):
            continue
        try:
            verify_note(signed, key.verifier_key)
        except CheckpointError as exc:
            raise ValidationFailed("TRANSFER_SIGNATURE_INVALID", f"The signature does not verify: {exc}") from None
        partner = key.partner
        if partner.status != Partner.Status.ACTIVE:
            refusal = ValidationFailed(f"PARTNER_{partner.status.upper()}",
                                       f"{partner.registry_id} is {partner.status}: nothing is accepted from it.")
        elif partner.effective_at > at:
            refusal = ValidationFailed("PARTNER_NOT_IN_FORCE",
                                       f"{partner.registry_id} is a partner from {partner.effective_at.isoformat()}.", details={"registry": partner.registry_id, "date": partner.effective_at.isoformat()})
        elif not domain.KeyWindow(key.valid_from, key.valid_until).in_force(at):
            refusal = ValidationFailed("PARTNER_KEY_NOT_IN_FORCE",
                                       f"Key {key.key_name}+{key.key_id} of {partner.registry_id} is not in force now.", details={"key": f"{key.key_name}+{key.key_id}", "registry": partner.registry_id})
        else:
            return Sender(registry=partner.registry_id, party=partner.party, verifier_key=key.verifier_key)
    if refusal is not None:
        raise refusal
    raise ValidationFailed("PARTNER_KEY_UNKNOWN", "The file is not signed by a key of a partner registry.")


# -- the receiving registry's check of a proposed transfer -----------------------------

ANSWER = "tonne-linkage-answer/1"


def check_proposal(signed: str) -> dict[str, Any]:
    """A partner asks whether this registry would take a transfer (the
    signed transfer file it means to send): every check of an import,
    creating nothing, answered in a note signed with this registry's key
    that names the file (its SHA-256) and accepts or rejects it with the
    refusal's code. A file no partner signed gets no signed answer."""
    if not isinstance(signed, str) or len(signed) > international.MAX_FILE:
        raise ValidationFailed("TRANSFER_FILE_INVALID", f"A transfer file is text of at most {international.MAX_FILE} characters.", details={"limit": international.MAX_FILE})
    now = clock.now()
    sender = sender_of(signed, now)  # strangers are refused, not answered
    answer: dict[str, Any] = {
        "format": ANSWER, "registry": settings.TONNE_ARTICLE6_REGISTRY_ID, "party": settings.TONNE_COUNTRY,
        "to_registry": sender.registry, "file_sha256": hashlib.sha256(signed.encode("utf-8")).hexdigest(),
        "at": now.isoformat(), "transfer": None, "answer": "accept", "code": None, "field": None,
    }
    try:
        payload = international.check_transfer(signed)
        answer["transfer"] = payload["transfer"]
    except RegistryError as exc:
        answer.update(answer="reject", code=exc.code, field=exc.field)
    record(AuditEvent.Category.CONTROL, f"linkage.check_{answer['answer']}", target=sender.registry,
           detail={k: answer[k] for k in ("file_sha256", "transfer", "code", "field")})
    text = canonical_json(answer).decode("utf-8") + "\n"
    return {**answer, "note": sign_note(text, settings.TONNE_LEDGER_KEY_NAME, keys.private_key())}
