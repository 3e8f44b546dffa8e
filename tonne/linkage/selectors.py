"""Reads of the partner list (the registry administrator's)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery

from tonne.article6.models import ImportedRange
from tonne.linkage import domain
from tonne.linkage.models import Inbound, Mismatch, Outbound, Partner, PartnerKey, Statement
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


def local_ranges(received_transfer: Any) -> list[tuple[int, int]]:
    """The local serials created for a transfer received from a partner."""
    return list(ImportedRange.objects.filter(transfer__uid=received_transfer, transfer__direction="received")
                .order_by("serial_start").values_list("serial_start", "serial_end"))


def held_in(account_identifier: str) -> list[dict[str, Any]]:
    """Transfers from partners this account received held (a control refused
    when they were completed here), with the local serials that cannot move
    until the hold is released. For the account's page: its holder may see them."""
    held = Inbound.objects.select_related("partner").filter(
        state=Inbound.State.COMPLETED, destination_account=account_identifier).exclude(code="").order_by("updated_at")
    return [{"registry_id": i.partner.registry_id, "transfer": str(i.transfer), "code": i.code,
             "quantity": i.quantity, "ranges": local_ranges(i.received_transfer)} for i in held]


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


def reconciliation_reports(user: User) -> list[dict[str, Any]]:
    """Per partner: the last statement sent and received, and the mismatches still open."""
    require_registry_administrator(user)
    reports = []
    for partner in Partner.objects.exclude(status=Partner.Status.REMOVED).order_by("registry_id"):
        last = {d: Statement.objects.filter(partner=partner, direction=d).order_by("-at", "-pk").first()
                for d in Statement.Direction.values}
        reports.append({
            "registry_id": partner.registry_id, "status": partner.status,
            "last_sent": statement_out(last[Statement.Direction.SENT]),
            "last_received": statement_out(last[Statement.Direction.RECEIVED]),
            "open": [mismatch_out(m) for m in partner.mismatches.filter(state=Mismatch.State.OPEN).order_by("found_at")],
        })
    return reports


def statement_out(statement: Statement | None) -> dict[str, Any] | None:
    if statement is None:
        return None
    return {"at": statement.at, "answered_at": statement.answered_at, "mismatches": statement.mismatches,
            "checkpoint_size": statement.checkpoint_size, "witness_code": statement.witness_code}


def mismatches(user: User, state: str | None = None) -> QuerySet[Mismatch]:
    require_registry_administrator(user)
    found = Mismatch.objects.select_related("partner", "resolved_by").order_by("-found_at")
    return found.filter(state=state) if state else found


def mismatch_out(m: Mismatch) -> dict[str, Any]:
    return {"uid": m.uid, "registry_id": m.partner.registry_id, "transfer": str(m.transfer) if m.transfer else None,
            "code": m.code, "found_by": m.found_by, "detail": m.detail, "frozen": m.frozen, "state": m.state,
            "found_at": m.found_at, "resolved_at": m.resolved_at,
            "resolved_by": m.resolved_by.username if m.resolved_by else None, "resolution": m.resolution}
