"""The registry a drill runs against, and what it checks after each crash.

`build` makes a small registry (two holding accounts, units issued, a trade
token each); `check` compares what clients were told with what the registry
kept: every acknowledged move present and completed, every ledger head a
reader saw still there, every move in doubt either wholly there or wholly
absent, units conserved per issuance, the ledger chain intact."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F, Sum

from tonne import testing
from tonne.ledger.models import LedgerEntry, LedgerHead
from tonne.organisations import services as orgs
from tonne.units.models import Issuance, Transaction, UnitBlock

# Settings for a drill's registry (environment of `tonne serve` and the
# service-layer writers): one person moves units, no waiting moves, no
# request limits in the way of a storm.
DRILL_ENV = {
    "TONNE_FOUR_EYES": "",
    "TONNE_DELAY_NON_TRUSTED": "0",
    "TONNE_MFA_REQUIRED": "0",
    "TONNE_KYC_REQUIRED": "0",
    "TONNE_MIN_REPRESENTATIVES": "0",
    "TONNE_API_RATE_PER_MINUTE": "1000000",
}


def apply_drill_settings() -> None:
    """DRILL_ENV's settings, for a drill run in this process."""
    settings.TONNE_FOUR_EYES = frozenset()
    settings.TONNE_MIN_REPRESENTATIVES = 0
    for name in ("TONNE_DELAY_NON_TRUSTED", "TONNE_MFA_REQUIRED", "TONNE_KYC_REQUIRED"):
        setattr(settings, name, False)


def build(units: int = 100_000) -> dict[str, Any]:
    reg = testing.build_registry(f"drill-{uuid.uuid4().hex[:8]}")
    testing.issue(reg, testing.registered_project(reg), {2022: units})
    _, seller = orgs.issue_api_token(actor=reg.developer, name="drill", scope="trade")
    _, buyer = orgs.issue_api_token(actor=reg.buyer, name="drill", scope="trade")
    return {
        "accounts": {
            "seller": {"account": reg.developer_account.identifier, "token": seller, "user": reg.developer.username},
            "buyer": {"account": reg.buyer_account.identifier, "token": buyer, "user": reg.buyer.username},
        },
    }


def check(*, acknowledged: list[str], in_doubt: list[str], heads: list[list[Any]],
          nothing_changed: list[str] = ()) -> list[str]:  # type: ignore[assignment]
    """What the registry kept against what clients were told; [] if all holds."""
    problems: list[str] = []
    kept = {
        key: status
        for key, status in Transaction.objects.filter(
            idempotency_key__in=[*acknowledged, *in_doubt, *nothing_changed]
        ).values_list("idempotency_key", "status")
    }
    for key in nothing_changed:
        if kept.get(key) == Transaction.Status.COMPLETED:
            problems.append(f"move {key} was answered 'nothing was changed' but was kept")
    for key in acknowledged:
        if kept.get(key) != Transaction.Status.COMPLETED:
            problems.append(f"acknowledged move {key} is {kept.get(key) or 'missing'}")
    for key in in_doubt:
        if key in kept and kept[key] != Transaction.Status.COMPLETED:
            problems.append(f"move in doubt {key} is half there ({kept[key]})")
    leaves = dict(LedgerEntry.objects.filter(seq__in=[size - 1 for size, _ in heads if size]).values_list("seq", "leaf_hash"))
    for size, last_hash in heads:
        if size and leaves.get(size - 1) != last_hash:
            problems.append(f"a reader saw ledger size {size} ({last_hash[:12]}…), which the registry no longer has")
    problems += conservation()
    problems += chain()
    return problems


def conservation() -> list[str]:
    held = dict(
        UnitBlock.objects.values("issuance_id").annotate(n=Sum(F("serial_end") - F("serial_start") + 1)).values_list("issuance_id", "n")
    )
    return [
        f"issuance {pk}: {held.get(pk, 0)} units held, {quantity} issued"
        for pk, quantity in Issuance.objects.values_list("pk", "quantity")
        if held.get(pk, 0) != quantity
    ]


def chain() -> list[str]:
    """Entries numbered without gaps up to the head (verify does the hashing)."""
    head = LedgerHead.objects.get(pk=1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*), COALESCE(MAX(seq) + 1, 0) FROM ledger_ledgerentry")
        count, top = cursor.fetchone()
    if not count == top == head.size:
        return [f"ledger has {count} entries up to {top}, head says {head.size}"]
    return []
