"""Many moves in one request: the batches exchanges and MRV systems send
(many transfers, or many retirements, e.g. several blocks retired for one
beneficiary). Every item is one ordinary move through `services.request_move`,
with its own Idempotency-Key, gate decision (freezes, four-eyes, delays...)
and result; nothing here decides anything a single move would not.

Each item on its own (the default): each move is its own transaction, a
refusal refuses that item only. All or nothing: every item in one
transaction; the first refusal rolls back every item, and the answer names
that item."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction

from tonne.core.errors import RegistryError, ValidationFailed
from tonne.organisations.domain import check_account_identifier
from tonne.organisations.models import User
from tonne.units import services, store
from tonne.units.domain import Selection
from tonne.units.models import Transaction

TRANSFER = Transaction.Kind.TRANSFER
RETIREMENT = Transaction.Kind.RETIREMENT
KINDS = (TRANSFER, RETIREMENT)


@dataclass(frozen=True)
class BatchItem:
    """One move of a batch, as asked: the selection's arguments are built into
    a `Selection` when the item runs, so a bad one refuses only this item."""

    idempotency_key: str
    from_account: str
    selection: dict[str, Any]
    to_account: str = ""  # a transfer's
    retirement: dict[str, str] = field(default_factory=dict)  # retirement_details' fields


@dataclass(frozen=True)
class Outcome:
    """An item's result: its transaction (new, or the earlier one for a
    replayed key), or its refusal; neither when an all-or-nothing batch was
    rolled back because of another item."""

    transaction: Transaction | None = None
    refusal: RegistryError | None = None


@dataclass(frozen=True)
class BatchResult:
    outcomes: list[Outcome]
    refused_item: int | None = None  # all or nothing: the item whose refusal rolled every item back


def check_batch(keys: Sequence[str]) -> None:
    """The batch as a whole: at least one item, at most TONNE_MAX_BATCH_ITEMS,
    and no Idempotency-Key twice (two items with one key would be one move)."""
    if not keys:
        raise ValidationFailed("BATCH_EMPTY", "A batch needs at least one item.", field="items")
    limit = settings.TONNE_MAX_BATCH_ITEMS
    if len(keys) > limit:
        raise ValidationFailed(
            "BATCH_TOO_LARGE", f"A batch carries at most {limit} items; this one has {len(keys)}.", field="items",
            details={"limit": limit, "given": len(keys)},
        )
    seen: dict[str, int] = {}
    for index, key in enumerate(keys):
        key = (key or "").strip()
        if key in seen:
            raise ValidationFailed(
                "BATCH_KEY_REPEATED",
                f"Items {seen[key]} and {index} have the same idempotency_key; each item needs its own.",
                field=f"items[{index}].idempotency_key",
                details={"item": seen[key], "other_item": index},
            )
        if key:
            seen[key] = index


def move_batch(*, actor: User, kind: str, items: Sequence[BatchItem], all_or_nothing: bool) -> BatchResult:
    """Carry out a batch of transfers or retirements for `actor`."""
    if kind not in KINDS:
        raise ValidationFailed("BATCH_KIND_INVALID", f"A batch holds transfers or retirements, not {kind}.", details={"movement": kind})
    check_batch([item.idempotency_key for item in items])
    if not all_or_nothing:
        outcomes = []
        for item in items:
            try:
                outcomes.append(Outcome(transaction=_move(actor, kind, item)))
            except RegistryError as exc:
                outcomes.append(Outcome(refusal=exc))
        return BatchResult(outcomes)
    return _all_or_nothing(actor, kind, items)


class _Refused(Exception):
    def __init__(self, index: int, refusal: RegistryError) -> None:
        super().__init__(refusal.code)
        self.index, self.refusal = index, refusal


def _all_or_nothing(actor: User, kind: str, items: Sequence[BatchItem]) -> BatchResult:
    done: list[Transaction] = []
    try:
        with transaction.atomic():
            # The transferring accounts first, in one order: a batch holds the
            # ledger head from its first move to its commit, and must not then
            # wait for an account a single move holds while it waits for the head.
            store.lock_accounts(sorted(_identifiers(items)))
            for index, item in enumerate(items):
                try:
                    done.append(_move(actor, kind, item))
                except RegistryError as exc:
                    raise _Refused(index, exc) from exc
    except _Refused as refused:
        outcomes = [Outcome() for _ in items]
        outcomes[refused.index] = Outcome(refusal=refused.refusal)
        return BatchResult(outcomes, refused_item=refused.index)
    return BatchResult([Outcome(transaction=txn) for txn in done])


def _identifiers(items: Sequence[BatchItem]) -> set[str]:
    identifiers = set()
    for item in items:
        try:
            identifiers.add(check_account_identifier(item.from_account, field="from_account"))
        except RegistryError:
            pass  # that item is refused when it runs
    return identifiers


def _move(actor: User, kind: str, item: BatchItem) -> Transaction:
    selection = Selection.build(**item.selection)
    if kind == TRANSFER:
        return services.transfer(
            actor=actor, from_account=item.from_account, to_account=item.to_account, selection=selection,
            idempotency_key=item.idempotency_key,
        )
    return services.retire(
        actor=actor, from_account=item.from_account, selection=selection,
        beneficiary=item.retirement.get("beneficiary", ""), purpose=item.retirement.get("purpose", ""),
        jurisdiction=item.retirement.get("jurisdiction", ""), reason=item.retirement.get("reason", ""),
        compliance_period=item.retirement.get("compliance_period", ""),
        using_entity=item.retirement.get("using_entity", ""), on_behalf_of=item.retirement.get("on_behalf_of", ""),
        idempotency_key=item.idempotency_key,
    )
