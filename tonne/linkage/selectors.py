"""Reads of the partner list (the registry administrator's)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery

from tonne.linkage import domain
from tonne.linkage.models import Inbound, Outbound, Partner, PartnerKey
from tonne.organisations.models import User
from tonne.organisations.services import require_registry_administrator
from tonne.units.models import Transaction


def partners(user: User) -> QuerySet[Partner]:
    require_registry_administrator(user)
    return Partner.objects.prefetch_related("keys").order_by("registry_id")


def partner_state(partner: Partner, at: dt.datetime) -> str:
    """What a sender would meet now: active, pending (before the delay), suspended or removed."""
    if partner.status == Partner.Status.ACTIVE and partner.effective_at > at:
        return "pending"
    return str(partner.status)


def key_out(key: PartnerKey, at: dt.datetime) -> dict[str, Any]:
    return {"verifier_key": key.verifier_key, "key_name": key.key_name, "key_id": key.key_id,
            "valid_from": key.valid_from, "valid_until": key.valid_until,
            "in_force": domain.KeyWindow(key.valid_from, key.valid_until).in_force(at)}


def partner_out(partner: Partner, at: dt.datetime) -> dict[str, Any]:
    return {
        "registry_id": partner.registry_id, "party": partner.party, "endpoint": partner.endpoint,
        "status": partner.status, "state": partner_state(partner, at), "effective_at": partner.effective_at,
        "reason": partner.reason, "requested_by": partner.requested_by.username,
        "approved_by": partner.approved_by.username, "changed_at": partner.changed_at,
        "keys": [key_out(k, at) for k in sorted(partner.keys.all(), key=lambda k: k.valid_from)],
    }


def in_flight(user: User) -> tuple[QuerySet[Outbound], QuerySet[Inbound]]:
    """The administrator's view: transfers to and from partners not yet settled, oldest first."""
    require_registry_administrator(user)
    outbound = Outbound.objects.select_related("partner").filter(state__in=sending_open()).order_by("created_at")
    inbound = Inbound.objects.select_related("partner").filter(  # completed with a code: created, held
        Q(state__in=(Inbound.State.CHECKED, Inbound.State.AWAITING_APPROVAL, Inbound.State.ACCEPTED))
        | Q(state=Inbound.State.COMPLETED, code__gt="")
    ).order_by("created_at")
    return outbound, inbound


def sending_open() -> tuple[str, ...]:
    return (Outbound.State.PROPOSED, Outbound.State.COMPLETING, Outbound.State.CANCELLING)


def outgoing_of(user: User) -> QuerySet[Outbound]:
    """A holder's international transfers to partner registries (their organisation's accounts)."""
    if user.organisation_id is None:
        return Outbound.objects.none()
    mine = Transaction.objects.filter(from_account__organisation_id=user.organisation_id).values("identifier")
    quantity = Transaction.objects.filter(identifier=OuterRef("transaction_identifier")).values("quantity")[:1]
    return (Outbound.objects.select_related("partner").filter(transaction_identifier__in=mine)
            .annotate(quantity=Subquery(quantity)).order_by("-created_at"))
