"""Writing the ledger: one entry per completed state change, appended in the
caller's database transaction, and signed checkpoints over the Merkle tree."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction

from tonne.core import clock
from tonne.core.canonical import canonical_json
from tonne.core.errors import NotFound
from tonne.ledger import domain, keys, openings, watermark
from tonne.ledger.checkpoint import Checkpoint as CheckpointNote
from tonne.ledger.checkpoint import sign_checkpoint

# Named here too: the verifier, the benchmarks and callers read them from the services.
from tonne.ledger.domain import ENTRY_VERSION as ENTRY_VERSION
from tonne.ledger.domain import GENESIS_HASH as GENESIS_HASH
from tonne.ledger.domain import Named
from tonne.ledger.domain import actor_ref as actor_ref
from tonne.ledger.merkle import MerkleAccumulator
from tonne.ledger.models import Checkpoint, LedgerEntry, LedgerHead


def ensure_installed() -> None:
    """Rows every registry has from install on (idempotent): the signing key,
    made at install with mode 0600, and the ledger head."""
    keys.ensure_key()
    LedgerHead.objects.get_or_create(id=1)
    openings.reset()
    openings.commitment_key()


@dataclass(frozen=True)
class Appended:
    seq: int
    leaf_hash: str
    body: str
    created_at: dt.datetime


INSERT_ENTRY_SQL = (
    "INSERT INTO ledger_ledgerentry (seq, kind, transaction_ref, body, prev_hash, leaf_hash, created_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
SET_HEAD_HASH_SQL = "UPDATE ledger_ledgerhead SET last_hash = %s WHERE id = 1"


def reserve_seq(cursor: Any) -> tuple[int, str]:
    """Lock the ledger head and take the next entry number: (seq, previous hash).
    The row lock orders concurrent appends until commit, so callers take it
    as late as they can."""
    if not connection.in_atomic_block:
        raise RuntimeError("ledger entries are written inside the change's own transaction")
    cursor.execute("UPDATE ledger_ledgerhead SET size = size + 1 WHERE id = 1 RETURNING size - 1, last_hash")
    seq, prev = cursor.fetchone()
    return int(seq), prev


def entry_row(
    *, seq: int, prev: str, kind: str, actor: str, data: dict[str, Any], transaction_ref: str = ""
) -> tuple[Appended, list[Any], list[Any]]:
    """The entry for number `seq` (actor and data as published): what was
    appended, and the parameters of INSERT_ENTRY_SQL and SET_HEAD_HASH_SQL."""
    at = clock.now()
    raw = domain.entry_body(
        seq=seq, prev=prev, at=at, kind=kind, actor=actor, data=data, transaction_ref=transaction_ref
    )
    leaf = domain.leaf_hash(raw)
    text = raw.decode("utf-8")
    created = connection.ops.adapt_datetimefield_value(at)
    return (
        Appended(seq=seq, leaf_hash=leaf, body=text, created_at=at),
        [seq, kind, transaction_ref, text, prev, leaf, created],
        [leaf],
    )


# On PostgreSQL the entry can be numbered, chained and hashed by the database
# in the same statement that takes the head's lock, so no client round trip
# happens while other writers wait. The body is the same canonical JSON: the
# client renders it around the two values only the database knows.
_PREV_MARK = "\u0001"  # renders as an escape, so it cannot occur in real text
_PREV_JSON = canonical_json(_PREV_MARK).decode("utf-8")

APPEND_IN_DATABASE_SQL = r"""
head_before AS (SELECT size, last_hash FROM ledger_ledgerhead WHERE id = 1 FOR UPDATE),
entry_body AS (
    SELECT size AS seq, last_hash AS prev, %s || last_hash || %s || size::text || %s AS body FROM head_before
),
new_entry AS (
    SELECT seq, prev, body, encode(sha256('\x00'::bytea || convert_to(body, 'UTF8')), 'hex') AS leaf FROM entry_body
),
head_after AS (
    UPDATE ledger_ledgerhead SET size = new_entry.seq + 1, last_hash = new_entry.leaf
    FROM new_entry WHERE ledger_ledgerhead.id = 1
),
entry AS (
    INSERT INTO ledger_ledgerentry (seq, kind, transaction_ref, body, prev_hash, leaf_hash, created_at)
    SELECT seq, %s, %s, body, prev, leaf, %s FROM new_entry
)"""


def entry_template(
    *, kind: str, actor: str, data: dict[str, Any], transaction_ref: str = "", db: Any = None
) -> tuple[list[Any], dt.datetime]:
    """Parameters of APPEND_IN_DATABASE_SQL (a WITH list whose `new_entry`
    gives seq, prev, body and leaf), and the entry's time; actor and data as
    published."""
    at = clock.now()
    text = domain.entry_body(
        seq=0, prev=_PREV_MARK, at=at, kind=kind, actor=actor, data=data, transaction_ref=transaction_ref
    ).decode("utf-8")
    # Keys are sorted: "prev" and "seq" follow "data", so the last match is top level.
    marker = f'"prev":{_PREV_JSON},"seq":0,'
    cut = text.rindex(marker)
    before, after = text[:cut] + '"prev":"', text[cut + len(marker) - 1 :]
    created = (db or connection).ops.adapt_datetimefield_value(at)
    return [before, '","seq":', after, kind, transaction_ref, created], at


@dataclass(frozen=True)
class Stamp:
    """A row of the change that records its entry's number: `column` of the
    row of `table` whose `key_column` is `key` (say, a transaction's ledger_seq)."""

    table: str
    column: str
    key_column: str
    key: Any


@functools.lru_cache(maxsize=16)
def _append_sql(stamp: tuple[str, str, str] | None, asynchronous_commit: bool) -> str:
    sql = f"WITH {APPEND_IN_DATABASE_SQL}"
    if stamp is not None:
        table, column, key_column = stamp
        sql += f", stamped AS (UPDATE {table} SET {column} = new_entry.seq FROM new_entry WHERE {table}.{key_column} = %s)"
    # set_config(..., true) is SET LOCAL: only this transaction commits
    # asynchronously (its caller waits for durability another way).
    return sql + " SELECT seq, leaf, body" + (
        ", set_config('synchronous_commit', 'off', true)" if asynchronous_commit else ""
    ) + " FROM new_entry"


def append(
    cursor: Any,
    *,
    kind: str,
    actor: Any,
    data: dict[str, Any],
    transaction_ref: str = "",
    stamp: Stamp | None = None,
    asynchronous_commit: bool = False,
) -> Callable[[], Appended]:
    """The one way to append an entry: on the cursor of the change, in its
    transaction. Returns how to read what was appended, so a pipelined
    caller can queue the append and read it after its COMMIT went out.

    On PostgreSQL the database numbers, chains and hashes the entry in the
    statement that takes the head's lock (one statement, no round trip while
    other writers wait); elsewhere the head is locked, then the entry written.

    Private fields are committed to (tonne.ledger.commitments): the body holds
    the commitments, the openings go to their private table in the same
    transaction."""
    data, private = openings.conceal(kind, data)
    if private:
        openings.store(cursor, private)
    actor = openings.actor_name(actor)
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of the `connection` proxy costs a lookup
    if db.vendor == "postgresql":
        params, at = entry_template(kind=kind, actor=actor, data=data, transaction_ref=transaction_ref, db=db)
        key = (stamp.table, stamp.column, stamp.key_column) if stamp is not None else None
        cursor.execute(_append_sql(key, asynchronous_commit), [*params, *([stamp.key] if stamp else [])])

        def read() -> Appended:
            seq, leaf, body, *_ = cursor.fetchall()[0]
            return Appended(seq=int(seq), leaf_hash=leaf, body=body, created_at=at)

        return read
    seq, prev = reserve_seq(cursor)
    appended, entry_params, head_params = entry_row(
        seq=seq, prev=prev, kind=kind, actor=actor, data=data, transaction_ref=transaction_ref
    )
    cursor.execute(INSERT_ENTRY_SQL, entry_params)
    cursor.execute(SET_HEAD_HASH_SQL, head_params)
    if stamp is not None:
        cursor.execute(f"UPDATE {stamp.table} SET {stamp.column} = %s WHERE {stamp.key_column} = %s", [seq, stamp.key])
    return lambda: appended


def append_entry(*, kind: str, actor: Named | None, data: dict[str, Any], transaction_ref: str = "") -> Appended:
    """Append one entry. Must run inside the transaction making the change."""
    if not connection.in_atomic_block:
        raise RuntimeError("ledger entries are written inside the change's own transaction")
    with connection.cursor() as cursor:
        return append(cursor, kind=kind, actor=actor, data=data, transaction_ref=transaction_ref)()


def leaf_hashes(size: int | None = None, *, start: int = 0) -> list[bytes]:
    qs = LedgerEntry.objects.order_by("seq")
    if start:
        qs = qs.filter(seq__gte=start)
    if size is not None:
        qs = qs.filter(seq__lt=size)
    return [bytes.fromhex(h) for h in qs.values_list("leaf_hash", flat=True).iterator(chunk_size=20000)]


def make_checkpoint(*, force: bool = False) -> Checkpoint | None:
    """Sign a checkpoint of the ledger as it stands, unless nothing changed."""
    with transaction.atomic():
        head = LedgerHead.objects.select_for_update().get(pk=1)
        latest = Checkpoint.objects.order_by("-size").first()
        if latest is not None and latest.size == head.size:
            return latest if force else None
        if head.size == 0 and not force:
            return None
        acc = _resume_accumulator(latest)
        for leaf in leaf_hashes(head.size, start=acc.size):
            acc.append(leaf)
        root = acc.root()
        watermark.guard_signing(head.size, root)
        note = CheckpointNote(origin=settings.TONNE_LEDGER_ORIGIN, size=head.size, root=root)
        text = sign_checkpoint(note, settings.TONNE_LEDGER_KEY_NAME, keys.private_key())
        checkpoint = Checkpoint.objects.create(
            size=head.size,
            root_hash=root.hex(),
            note=text,
            key_name=settings.TONNE_LEDGER_KEY_NAME,
            compact_range=",".join(h.hex() for h in acc.state()),
            created_at=clock.now(),
        )
    # Outside the database, once the checkpoint is committed in it.
    watermark.record(checkpoint.note, size=checkpoint.size)
    return checkpoint


def acknowledge_restore(*, actor: Named) -> dict[str, Any]:
    """An administrator accepts that the ledger was restored to an earlier
    point: moves resume, and the acceptance is itself a ledger entry."""
    mark = watermark.read()
    if mark is None:
        raise NotFound("NO_CHECKPOINT_MARK", "No checkpoint mark exists; there is nothing to acknowledge.")
    with transaction.atomic():
        size = LedgerHead.objects.get(pk=1).size
        append_entry(kind="ledger.restore_acknowledged", actor=actor,
                     data={"ledger_size": size, "mark_size": mark.size, "mark_root": mark.root})
    # The mark file last: if writing it fails, the administrator runs this again.
    return watermark.acknowledge(size + 1, by=str(getattr(actor, "username", actor)))


def accumulator_at(size: int) -> MerkleAccumulator:
    """Where to resume hashing the first `size` entries: the newest stored
    checkpoint at or below it (or the start)."""
    return _resume_accumulator(Checkpoint.objects.filter(size__lte=size).order_by("-size").first())


def _resume_accumulator(latest: Checkpoint | None) -> MerkleAccumulator:
    """Start from the last checkpoint's compact range when it still matches
    its signed root; otherwise rehash from the first entry."""
    if latest is not None and latest.compact_range:
        try:
            acc = MerkleAccumulator.from_state(
                latest.size, [bytes.fromhex(h) for h in latest.compact_range.split(",")]
            )
        except ValueError:
            return MerkleAccumulator()
        if acc.root().hex() == latest.root_hash:
            return acc
    return MerkleAccumulator()


def checkpoint_due() -> bool:
    head = LedgerHead.objects.get(pk=1)
    latest = Checkpoint.objects.order_by("-size").first()
    return domain.checkpoint_is_due(
        size=head.size,
        checkpoint_size=latest.size if latest else None,
        checkpoint_age=clock.now() - latest.created_at if latest else None,
        every_entries=settings.TONNE_CHECKPOINT_EVERY_ENTRIES,
        every_minutes=settings.TONNE_CHECKPOINT_EVERY_MINUTES,
    )


def checkpoint_for(size: int | None) -> Checkpoint:
    qs = Checkpoint.objects.order_by("-size")
    cp = qs.first() if size is None else qs.filter(size=size).first()
    if cp is None:
        raise NotFound("CHECKPOINT_NOT_FOUND", "No signed checkpoint of that size exists yet.")
    return cp


def check_against_mark() -> str | None:
    """At start-up and in verify: is the ledger behind or off the signed
    high-water mark? Flags it (moves stop) and says why, or None."""
    return watermark.check(LedgerHead.objects.get(pk=1).size)
