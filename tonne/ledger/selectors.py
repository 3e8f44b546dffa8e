"""Reads of the ledger. Everything here is public: the ledger is meant to be
checked by anyone, entry by entry and against signed checkpoints. Entries are
shown as published (private fields committed to: tonne.ledger.commitments)."""

from __future__ import annotations

from django.db.models import QuerySet

from tonne.ledger import openings
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


def public_body(entry: LedgerEntry) -> str:
    """The entry's body as the public sees it: a version 2 body as stored
    (it is what the leaf hash covers); an older one with its private fields
    committed to for display (its leaf hash covers the original text)."""
    return openings.public_body(entry.seq, entry.body)


def is_redacted(entry: LedgerEntry) -> bool:
    return public_body(entry) != entry.body
