"""Reads of the ledger. Everything here is public: the ledger is meant to be
checked by anyone, entry by entry and against signed checkpoints."""

from __future__ import annotations

from django.db.models import QuerySet

from tonne.ledger.models import Checkpoint, LedgerEntry, LedgerHead


def head() -> LedgerHead:
    return LedgerHead.objects.get(pk=1)


def checkpoints() -> QuerySet[Checkpoint]:
    return Checkpoint.objects.all()


def latest_checkpoint() -> Checkpoint | None:
    return Checkpoint.objects.order_by("-size").first()


def entries() -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.all()


def entries_from(start: int, limit: int) -> QuerySet[LedgerEntry]:
    """Up to `limit` entries in order, from sequence number `start`."""
    return LedgerEntry.objects.filter(seq__gte=start).order_by("seq")[:limit]
