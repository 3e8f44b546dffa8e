"""The pure rules of the ledger: what an entry's body is, how its leaf is
hashed, who it names as the actor, and when a checkpoint is due. The services
apply them to rows; a verifier can recompute them from the entries alone."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Protocol

from tonne.core.canonical import canonical_json

# 2: private fields committed to in the body (tonne.ledger.commitments).
ENTRY_VERSION = 2
GENESIS_HASH = "0" * 64


class Named(Protocol):
    username: str


def actor_ref(actor: Named | None) -> str:
    """How an entry before version 2 named who acted: a user, or the registry itself."""
    if actor is None:
        return "system"
    return f"user:{actor.username}"


def entry_body(
    *, seq: int, prev: str, at: dt.datetime, kind: str, actor: str, data: dict[str, Any], transaction_ref: str
) -> bytes:
    """The canonical JSON of entry `seq`, chained to the previous leaf hash
    `prev`; `actor` and `data` as published (private fields committed to)."""
    return canonical_json(
        {
            "v": ENTRY_VERSION,
            "seq": seq,
            "kind": kind,
            "at": at,
            "actor": actor,
            "transaction": transaction_ref,
            "prev": prev,
            "data": data,
        }
    )


def leaf_hash(body: bytes) -> str:
    """The Merkle leaf hash of an entry body (RFC 6962: a 0x00 prefix)."""
    return hashlib.sha256(b"\x00" + body).hexdigest()


def checkpoint_is_due(
    *, size: int, checkpoint_size: int | None, checkpoint_age: dt.timedelta | None, every_entries: int, every_minutes: float
) -> bool:
    """A checkpoint is due once the ledger has grown since the last one by
    `every_entries`, or by anything after `every_minutes`; the first as soon
    as there is an entry."""
    if checkpoint_size is None:
        return size > 0
    if size == checkpoint_size:
        return False
    if size - checkpoint_size >= every_entries:
        return True
    return checkpoint_age is not None and checkpoint_age.total_seconds() >= every_minutes * 60
