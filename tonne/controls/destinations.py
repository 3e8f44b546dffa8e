"""State changes of the trusted destinations for exports (the controls'
services, apart for size): a destination abroad is added as a trusted
account is, by the holder, with a second person of the holder's
organisation when four-eyes covers the trusted lists, and takes effect after
the trusted-list delay; a removal is at once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction

from tonne.audit.models import AuditEvent
from tonne.audit.services import record
from tonne.controls import gate
from tonne.controls.models import Approval, TrustedDestination
from tonne.controls.services import new_approval, require_account_holder
from tonne.core import clock, iso3166
from tonne.core.errors import Conflict, NotFound, ValidationFailed
from tonne.ledger.services import append_entry
from tonne.organisations.models import Account, User
from tonne.organisations.services import get_account

ADD = "trusted_destination_add"  # the approval's action


def _terms(party: str, registry: str, destination_account: str) -> dict[str, str]:
    party = iso3166.country(party, "party", code="PARTY_INVALID")
    registry = (registry or "").strip()
    if party == settings.TONNE_COUNTRY:
        raise ValidationFailed("DESTINATION_IS_THIS_PARTY", "A destination abroad is another Party's.", field="party")
    if not registry or len(registry) > 100:
        raise ValidationFailed("REGISTRY_INVALID", "Name the destination registry (at most 100 characters).", field="registry")
    destination_account = (destination_account or "").strip()
    if len(destination_account) > 40:
        raise ValidationFailed("ACCOUNT_INVALID", "An account identifier is at most 40 characters.", field="destination_account")
    return {"party": party, "registry": registry, "destination_account": destination_account}


def request_addition(
    *, actor: User, account: str, party: str, registry: str, destination_account: str = ""
) -> Approval | TrustedDestination:
    """Trust a destination abroad for exports from `account` (blank
    `destination_account`: every account of that registry)."""
    terms = _terms(party, registry, destination_account)
    with transaction.atomic():
        source = get_account(account, field="account")
        require_account_holder(actor, source)
        if source.type != Account.Type.HOLDING:
            raise ValidationFailed("TRUSTED_ACCOUNT_TYPE", "Only holding accounts export.", field="account")
        _refuse_duplicate(source, terms)
        payload = {"account": source.identifier, **terms}
        if "trusted_list" in settings.TONNE_FOUR_EYES:
            return new_approval(actor=actor, action=ADD, account=source, payload=payload)
        return _add(payload, requested_by=actor, approved_by=None, now=clock.now())


def _refuse_duplicate(source: Account, terms: dict[str, str]) -> None:
    if TrustedDestination.objects.filter(
        account=source, registry=terms["registry"], destination_account=terms["destination_account"], removed_at__isnull=True
    ).exists():
        raise Conflict("TRUSTED_ALREADY", f"{terms['registry']} {terms['destination_account']} is already on the list.", details={"registry": terms["registry"], "destination": terms["destination_account"]})


def carry_out_addition(approval: Approval, approver: User) -> None:
    """The second person approved: the destination is trusted after the delay."""
    gate.check_approved(approval)
    _add(approval.payload, requested_by=approval.initiated_by, approved_by=approver, now=clock.now())


def _add(payload: dict[str, Any], *, requested_by: User, approved_by: User | None, now: dt.datetime) -> TrustedDestination:
    source = Account.objects.get(identifier=payload["account"])
    _refuse_duplicate(source, payload)
    entry = TrustedDestination.objects.create(
        account=source, party=payload["party"], registry=payload["registry"],
        destination_account=payload["destination_account"], requested_by=requested_by, approved_by=approved_by,
        requested_at=now,
        effective_at=gate.trusted_from(now),
    )
    actor = approved_by or requested_by
    append_entry(kind="control.trusted_destination_added", actor=actor,
                 data={**payload, "effective_at": entry.effective_at.isoformat()})
    record(AuditEvent.Category.CONTROL, "trusted_destination.added", actor=actor, target=source.identifier,
           detail={**payload, "effective_at": entry.effective_at.isoformat()})
    return entry


def remove(*, actor: User, account: str, registry: str, destination_account: str = "") -> TrustedDestination:
    """Removals take effect at once and need no second person: they only protect."""
    with transaction.atomic():
        source = get_account(account, field="account")
        require_account_holder(actor, source)
        entry = TrustedDestination.objects.select_for_update().filter(
            account=source, registry=(registry or "").strip(), destination_account=(destination_account or "").strip(),
            removed_at__isnull=True,
        ).first()
        if entry is None:
            raise NotFound("TRUSTED_NOT_FOUND", f"{registry} {destination_account} is not a trusted destination of {source.identifier}.", details={"registry": registry, "destination": destination_account, "account": source.identifier})
        entry.removed_at = clock.now()
        entry.removed_by = actor
        entry.save(update_fields=["removed_at", "removed_by"])
        data = {"account": source.identifier, "registry": entry.registry, "destination_account": entry.destination_account}
        append_entry(kind="control.trusted_destination_removed", actor=actor, data=data)
        record(AuditEvent.Category.CONTROL, "trusted_destination.removed", actor=actor, target=source.identifier, detail=data)
    return entry
