"""`tonne ledger verify`: recompute every hash, the Merkle root at every
checkpoint and its signature, replay every entry to rebuild the holdings, and
compare them with the live tables. Names the first divergence.

The work is two independent checks over the same entries, in seq order:

* the *chain* check (:class:`ChainCheck`): the seq sequence, every leaf hash
  recomputed from the body, the prev-hash chain, the Merkle root and the
  signature at every checkpoint, then truncation and the ledger head;
* the *replay* check (:class:`ReplayCheck`): every body parsed and compared
  with its position (seq, prev, kind), every entry replayed into
  :class:`~tonne.ledger.replay.Holdings`, then the holdings compared with the
  live unit blocks.

Each stops at its own first divergence, and every divergence has an ordering
key that says when the one-pass verifier (entry by entry: sequence, hash,
chain, content, replay, then the checkpoint that ends there; after the last
entry: truncation, head, holdings) would have met it, so the reported first
divergence is the smallest key of the two.

Where it is built, a compiled one-pass check (``_fastverify.c``) reads the
entries first; only if it finds anything wrong, or anything it does not read
exactly like the reference, does the reference path run, in the same
snapshot, to name the first divergence.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Generator, Iterator
from itertools import islice
from typing import Any

from django.db import connection

from tonne.ledger.commitments import ACCOUNT
from tonne.ledger.external import External, hold
from tonne.ledger.models import Checkpoint, LedgerHead
from tonne.ledger.openings import commitment_key, ledger_name, legacy_accounts
from tonne.ledger.services import leaf_hashes
from tonne.ledger.state import check_state
from tonne.ledger.verify_checks import ChainCheck, ReplayCheck, VerifyResult, result_of

try:  # the compiled path (optional; built from _fastverify.c when a compiler is there)
    from tonne.ledger import _fastverify  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the build
    _fastverify = None

LIVE_BLOCKS_SQL = """
SELECT b.serial_start, b.serial_end, a.identifier, p.project_id, b.vintage, b.unit_class
FROM units_unitblock b
JOIN organisations_account a ON a.id = b.account_id
JOIN projects_project p ON p.id = b.project_id
ORDER BY b.serial_start
"""

ENTRIES_SQL = "SELECT seq, kind, {body}, prev_hash, leaf_hash FROM ledger_ledgerentry ORDER BY seq"


# -- reading ---------------------------------------------------------------------------


def _pg_stream(sql: str, chunk_size: int, binary: bool) -> Generator[list[tuple], None, None]:
    """Batches of rows of one query on PostgreSQL, streamed by the server
    (libpq chunked mode when available, else a server-side cursor)."""
    import psycopg

    raw = connection.connection
    # A plain (server-side binding) cursor: Django's default ClientCursor
    # cannot receive binary results.
    cursor = psycopg.Cursor(raw)
    if psycopg.pq.version() >= 170000:
        rows = cursor.stream(sql, binary=binary, size=chunk_size)
        try:
            while batch := list(islice(rows, chunk_size)):
                yield batch
        finally:
            if connection.in_atomic_block:
                # Cancelling a stream would abort the caller's transaction:
                # read the rest instead.
                for _ in rows:
                    pass
            rows.close()  # type: ignore[attr-defined]  # a generator at run time
            cursor.close()
    else:  # pragma: no cover - older libpq
        named = psycopg.ServerCursor(raw, f"tonne_verify_{os.getpid()}")
        named.itersize = chunk_size
        try:
            named.execute(sql, binary=binary)
            while batch := named.fetchmany(chunk_size):
                yield batch
        finally:
            named.close()
            cursor.close()


def _entry_batches(chunk_size: int) -> Generator[list[tuple], None, None]:
    """Entries in seq order as (seq, kind, body bytes, prev_hash, leaf_hash)."""
    if connection.vendor == "postgresql":
        # Bodies come as the stored UTF-8 bytes, ready to hash.
        yield from _pg_stream(ENTRIES_SQL.format(body="convert_to(body, 'UTF8')"), chunk_size, True)
        return
    with connection.cursor() as cursor:
        cursor.execute(ENTRIES_SQL.format(body="body"))
        while rows := cursor.fetchmany(chunk_size):
            yield [
                (seq, kind, body.encode("utf-8"), prev, leaf)
                for seq, kind, body, prev, leaf in rows
            ]


def _live_block_batches(chunk_size: int) -> Generator[list[tuple], None, None]:
    """The live unit blocks, each holder named as the ledger names it (its
    pseudonym, or its identifier if an entry before version 2 opened it)."""
    names: dict[str, str] = {}
    # Read now: no other query may run on the connection while the blocks stream.
    legacy_accounts()
    commitment_key()

    def named(rows: list[tuple]) -> list[tuple]:
        out = []
        for start, end, account, project, vintage, unit_class in rows:
            name = names.get(account)
            if name is None:
                name = names[account] = ledger_name(ACCOUNT, account)
            out.append((start, end, name, project, vintage, unit_class))
        return out

    if connection.vendor == "postgresql":
        for rows in _pg_stream(LIVE_BLOCKS_SQL, chunk_size, False):
            yield named(rows)
        return
    with connection.cursor() as cursor:
        cursor.execute(LIVE_BLOCKS_SQL)
        while rows := cursor.fetchmany(chunk_size):
            yield named([tuple(row) for row in rows])


def _transpose(rows: list[tuple], n: int) -> tuple[tuple, tuple, tuple]:
    """(kinds, bodies, prevs) of the first n rows."""
    part = rows if n == len(rows) else rows[:n]
    if not part:
        return (), (), ()
    _seqs, kinds, bodies, prevs, _leaves = zip(*part, strict=True)
    return kinds, bodies, prevs


# -- the verifier ----------------------------------------------------------------------


def compiled_available() -> bool:
    return _fastverify is not None


def verify_ledger(
    *,
    verifier_key: str | None = None,
    chunk_size: int = 2000,
    workers: int | None = 1,
    compiled: bool | None = None,
    external: list[External] | None = None,
) -> VerifyResult:
    """Verify the whole ledger, in this process (inside the caller's
    transaction, if any). ``workers``: 1 (or None); verification is one process.

    ``compiled`` (default: when it is built) runs the compiled one-pass check
    first; if it finds anything wrong, or anything it does not read exactly
    like the reference, the reference path runs in the same snapshot and
    names the first divergence. ``compiled=False`` runs the reference path only.

    ``external``: checkpoints kept outside the database (see
    :mod:`tonne.ledger.external`); each is checked even when the database
    diverges on its own, since a rollback is what matters most then."""
    from tonne.ledger import keys

    started = time.perf_counter()
    key = verifier_key or keys.verifier_key_text()
    if workers not in (None, 1):
        raise ValueError(f"verification runs in one process (workers=1), not {workers}")
    if compiled is None:
        compiled = _fastverify is not None
    elif compiled and _fastverify is None:
        raise ValueError("the compiled verifier is not built (python setup.py build_ext --inplace)")
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of short-lived objects, no cycles: collections only cost time
    try:
        result = _verify_compiled_then_reference(key, chunk_size) if compiled else _verify_here(key, chunk_size)
    finally:
        if gc_was_enabled:
            gc.enable()
    result.workers = 1
    if result.ok:
        with _Snapshot():
            divergence = check_state()
        if divergence is not None:
            result.divergences.append(divergence)
    if external:
        found, result.held_size = hold(external, leaf_hashes(), key)
        result.divergences.extend(found)
    result.external = len(external or ())
    result.seconds = time.perf_counter() - started
    return result


class _Snapshot:
    """A REPEATABLE READ, READ ONLY transaction on the default connection, so
    that the entries, the checkpoints, the head and the unit blocks are read
    as of one moment; inside the caller's transaction, that one is used."""

    def __init__(self) -> None:
        self.own = False

    def __enter__(self) -> _Snapshot:
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            return self
        connection.ensure_connection()
        raw = connection.connection
        raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        self.own = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self.own:
            try:
                connection.connection.execute("ROLLBACK")
            except Exception:  # the connection is gone: nothing to end
                connection.close()


def _load_checkpoints() -> dict[int, Checkpoint]:
    return {cp.size: cp for cp in Checkpoint.objects.order_by("size")}


def _verify_here(key: str, chunk_size: int) -> VerifyResult:
    with _Snapshot():
        return _check_here(key, chunk_size)


def _check_here(key: str, chunk_size: int) -> VerifyResult:
    """The reference path, in the snapshot already open."""
    chain = ChainCheck(_load_checkpoints(), key)
    replay = ReplayCheck()
    batches = _entry_batches(chunk_size)
    try:
        for rows in batches:
            first = chain.expected
            passed = chain.feed(rows)
            replay.feed(first, *_transpose(rows, passed))
            if chain.failure is not None or replay.failure is not None:
                break
    finally:
        batches.close()
    if chain.failure is None and replay.failure is None:
        chain.finish(LedgerHead.objects.get(pk=1))
        if chain.failure is None:
            replay.finish(_live_block_batches(chunk_size))
    return result_of(chain, replay.failure, replay.blocks)


# -- the compiled path -------------------------------------------------------------------

ENTRY_COLUMNS = "seq, kind, {body}, prev_hash, leaf_hash"
# As stored (physical order, usually seq order on an append-only table: the
# cheapest read PostgreSQL has), and in seq order, for when it is not.
COPY_TABLE_SQL = "COPY ledger_ledgerentry ({columns}) TO STDOUT (FORMAT BINARY)"
COPY_ORDERED_SQL = "COPY (SELECT {columns} FROM ledger_ledgerentry ORDER BY seq) TO STDOUT (FORMAT BINARY)"


def _copy_sql(ordered: bool) -> str:
    raw = connection.connection
    # Binary text columns arrive in the client encoding: as stored UTF-8 bytes
    # when that is UTF-8 (psycopg's default), else convert them.
    utf8 = raw.info.encoding == "utf-8"
    if ordered or not utf8:
        body = "body" if utf8 else "convert_to(body, 'UTF8')"
        return COPY_ORDERED_SQL.format(columns=ENTRY_COLUMNS.format(body=body))
    return COPY_TABLE_SQL.format(columns=ENTRY_COLUMNS.format(body="body"))


def _copy_entries(verifier: Any, ordered: bool) -> bool:
    """Stream the entries into the compiled verifier; False if it gave up."""
    import psycopg

    with psycopg.Cursor(connection.connection) as cursor, cursor.copy(_copy_sql(ordered)) as copy:
        going = True
        for chunk in copy:
            # Once it gave up, read on without checking: cancelling the
            # COPY would abort the snapshot the reference path needs.
            going = going and verifier.feed_copy(chunk)
    return going and verifier.finish_copy()


def _verify_compiled_then_reference(key: str, chunk_size: int) -> VerifyResult:
    with _Snapshot():
        result = _check_compiled(key, chunk_size)
        if result is None:
            # Something is wrong, or unusual: the reference path names it.
            result = _check_here(key, chunk_size)
            result.path = "python"
        else:
            result.path = "compiled"
    result.workers = 1
    return result


def _check_compiled(key: str, chunk_size: int) -> VerifyResult | None:
    """The compiled one-pass check, then what follows the entries (the
    checkpoints' roots and signatures, truncation, head, holdings) as the
    reference does it. None as soon as anything fails."""
    assert _fastverify is not None
    checkpoints = _load_checkpoints()
    chain = ChainCheck(checkpoints, key)
    verifier = _fastverify.Verifier(chain.sizes)
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        if not _copy_entries(verifier, ordered=False):
            if not verifier.disorder:
                return None
            # Stored too far out of seq order (rows land wherever a page has
            # room): read them again, sorted by the database.
            verifier = _fastverify.Verifier(chain.sizes)
            if not _copy_entries(verifier, ordered=True):
                return None
    else:
        feed = verifier.feed_row
        for rows in _entry_batches(chunk_size):
            for row in rows:
                if not feed(*row):
                    return None
        if not verifier.finish_rows():
            return None
    roots = verifier.roots
    for size in chain.sizes:
        if size not in roots or not chain._check_checkpoint(checkpoints[size], roots[size]):
            return None
        chain.passed_checkpoints += 1
    chain.expected = verifier.entries
    chain.prev = verifier.prev
    chain.finish(LedgerHead.objects.get(pk=1))
    if chain.failure is not None:
        return None
    replay = ReplayCheck()
    replay.holdings = _ReplayedBlocks(verifier)  # type: ignore[assignment]
    replay.finish(_live_block_batches(chunk_size))
    if replay.failure is not None:
        return None
    return result_of(chain, None, replay.blocks)


class _ReplayedBlocks:
    """The compiled replay's blocks, where ReplayCheck.finish expects Holdings."""

    def __init__(self, verifier: Any) -> None:
        self.verifier = verifier

    def blocks(self) -> Iterator[tuple]:
        return iter(self.verifier.blocks())
