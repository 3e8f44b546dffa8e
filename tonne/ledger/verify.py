"""`tonne ledger verify`: recompute every hash, the Merkle root at every
checkpoint and its signature, replay every entry to rebuild the holdings, and
compare them with the live tables. Names the first divergence.

The work is two independent checks over the same entries, in seq order:

* the *chain* check (:class:`_ChainCheck`): the seq sequence, every leaf hash
  recomputed from the body, the prev-hash chain, the Merkle root and the
  signature at every checkpoint, then truncation and the ledger head;
* the *replay* check (:class:`_ReplayCheck`): every body parsed and compared
  with its position (seq, prev, kind), every entry replayed into
  :class:`~tonne.ledger.replay.Holdings`, then the holdings compared with the
  live unit blocks.

Each stops at its own first divergence, and every divergence has an ordering
key that says when the one-pass verifier (entry by entry: sequence, hash,
chain, content, replay, then the checkpoint that ends there; after the last
entry: truncation, head, holdings) would have met it, so the reported first
divergence is the smallest key of the two. That lets the two checks run in
one process (``workers=1``) or side by side in two (``workers=2``): the
parent streams the entries from PostgreSQL once, does the chain check and
hands the bodies that passed it to a forked child, which does the replay
check. Both read one snapshot: the parent's REPEATABLE READ transaction,
exported to the child (``pg_export_snapshot``) for its holdings comparison.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import pickle
import time
import traceback
from array import array
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from itertools import accumulate, islice
from typing import Any

from django.db import connection, connections

from tonne.ledger.checkpoint import CheckpointError, verify_checkpoint
from tonne.ledger.merkle import MerkleAccumulator
from tonne.ledger.models import Checkpoint, LedgerHead
from tonne.ledger.replay import Holdings, ReplayError
from tonne.ledger.services import GENESIS_HASH

try:  # the compiled path (optional; built from _fastverify.c when a compiler is there)
    from tonne.ledger import _fastverify  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the build
    _fastverify = None

try:  # orjson parses entries several times faster; the stdlib is the fallback
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover
    _loads = json.loads

# Below this many entries the second process costs more than it saves.
PARALLEL_MIN_ENTRIES = 20_000

# What replaying a bad entry can raise (OverflowError: a serial too large for
# the replay's packed arrays).
_REPLAY_ERRORS = (ReplayError, KeyError, TypeError, ValueError, ArithmeticError)


@dataclass
class Divergence:
    code: str
    message: str
    seq: int | None = None


@dataclass
class VerifyResult:
    entries: int = 0
    checkpoints: int = 0
    blocks: int = 0
    seconds: float = 0.0
    divergences: list[Divergence] = field(default_factory=list)
    workers: int = 1
    # "compiled": the compiled path accepted the ledger; "python": the
    # reference path decided (on its own, or after the compiled one gave up).
    path: str = "python"

    @property
    def ok(self) -> bool:
        return not self.divergences

    @property
    def first(self) -> Divergence | None:
        return self.divergences[0] if self.divergences else None


# -- ordering keys: when the one-pass verifier would have met a divergence ----------

# Per entry, in this order; the checkpoint that ends at an entry comes after it.
_SEQUENCE, _HASH, _CHAIN, _CONTENT, _REPLAY, _CHECKPOINT = range(6)
# After the last entry, in this order.
_TRUNCATED, _HEAD, _HOLDINGS = range(3)

Key = tuple[int, int, int]


def _entry_key(seq: int, phase: int) -> Key:
    return (0, seq, phase)


def _final_key(step: int) -> Key:
    return (1, step, 0)


@dataclass
class _Failure:
    key: Key
    divergence: Divergence


# -- the chain check ------------------------------------------------------------------


class _ChainCheck:
    """Sequence, leaf hashes, prev chain, checkpoints (root and signature),
    truncation and head. Works on rows (seq, kind, body bytes, prev_hash,
    leaf_hash), batch by batch."""

    def __init__(self, checkpoints: dict[int, Checkpoint], key: str) -> None:
        self.checkpoints = checkpoints
        # A checkpoint of the empty ledger ends at no entry: nothing to check.
        self.sizes = sorted(size for size in checkpoints if size > 0)
        self.next_checkpoint = 0  # index into sizes
        self.key = key
        self.acc = MerkleAccumulator()
        self.expected = 0
        self.prev = GENESIS_HASH
        self.passed_checkpoints = 0
        self.failure: _Failure | None = None

    def _fail(self, key: Key, code: str, message: str, seq: int | None) -> None:
        self.fail(_Failure(key, Divergence(code, message, seq)))

    def fail(self, failure: _Failure) -> None:
        if self.failure is None or failure.key < self.failure.key:
            self.failure = failure

    def feed(self, rows: list[tuple]) -> int:
        """Check a batch; returns how many rows (from the first) passed."""
        expected = self.expected
        prev = self.prev
        sha256 = hashlib.sha256
        leaves: list[bytes] = []
        append = leaves.append
        passed = len(rows)
        for n, (seq, _kind, body, prev_hash, leaf_hash) in enumerate(rows):
            if seq != expected:
                if seq > expected:
                    self._fail(
                        _entry_key(expected, _SEQUENCE),
                        "LEDGER_ENTRY_MISSING",
                        f"entry {expected} is missing (next entry is {seq})",
                        expected,
                    )
                else:
                    self._fail(
                        _entry_key(seq, _SEQUENCE),
                        "LEDGER_SEQUENCE_BROKEN",
                        f"entry {seq} appears out of order",
                        seq,
                    )
                passed = n
                break
            leaf = sha256(b"\x00" + body).digest()
            leaf_hex = leaf.hex()
            if leaf_hex != leaf_hash:
                self._fail(
                    _entry_key(seq, _HASH),
                    "LEDGER_ENTRY_ALTERED",
                    f"entry {seq} does not hash to its recorded leaf hash",
                    seq,
                )
                passed = n
                break
            if prev_hash != prev:
                self._fail(
                    _entry_key(seq, _CHAIN),
                    "LEDGER_CHAIN_BROKEN",
                    f"entry {seq} does not follow the entry before it",
                    seq,
                )
                passed = n
                break
            append(leaf)
            prev = leaf_hex
            expected += 1
        self._merkle(leaves)
        self.expected = expected
        self.prev = prev
        return passed

    def _merkle(self, leaves: list[bytes]) -> None:
        """Add the batch's leaves, checking every checkpoint on the way."""
        acc = self.acc
        sizes = self.sizes
        end = acc.size + len(leaves)
        done = 0
        while self.next_checkpoint < len(sizes) and sizes[self.next_checkpoint] <= end:
            size = sizes[self.next_checkpoint]
            take = size - acc.size
            acc.extend(leaves[done : done + take])
            done += take
            if not self._check_checkpoint(self.checkpoints[size], acc.root()):
                return
            self.passed_checkpoints += 1
            self.next_checkpoint += 1
        acc.extend(leaves[done:] if done else leaves)

    def _check_checkpoint(self, checkpoint: Checkpoint, root: bytes) -> bool:
        key = _entry_key(checkpoint.size - 1, _CHECKPOINT)
        if root.hex() != checkpoint.root_hash:
            self._fail(
                key,
                "CHECKPOINT_ROOT_MISMATCH",
                f"the entries up to {checkpoint.size} no longer hash to the root signed in that checkpoint",
                checkpoint.size - 1,
            )
            return False
        try:
            note = verify_checkpoint(checkpoint.note, self.key)
        except CheckpointError as exc:
            self._fail(
                key,
                "CHECKPOINT_SIGNATURE_INVALID",
                f"checkpoint {checkpoint.size}: {exc}",
                checkpoint.size - 1,
            )
            return False
        if note.size != checkpoint.size or note.root != root:
            self._fail(
                key,
                "CHECKPOINT_ROOT_MISMATCH",
                f"checkpoint {checkpoint.size}'s signed note does not match the ledger",
                checkpoint.size - 1,
            )
            return False
        return True

    def finish(self, head: LedgerHead) -> None:
        """After the last entry: truncation, then the head."""
        expected = self.expected
        beyond = [size for size in self.checkpoints if size > expected]
        if beyond:
            self._fail(
                _final_key(_TRUNCATED),
                "LEDGER_TRUNCATED",
                f"a signed checkpoint covers {max(beyond)} entries but the ledger holds only {expected}",
                expected,
            )
        elif head.size != expected or head.last_hash != self.prev:
            self._fail(
                _final_key(_HEAD),
                "LEDGER_HEAD_MISMATCH",
                f"the ledger head says {head.size} entries, the table holds {expected}",
                min(head.size, expected),
            )


# -- the replay check -----------------------------------------------------------------


class _Altered(Exception):
    pass


def _content_failure(seq: int) -> _Failure:
    return _Failure(
        _entry_key(seq, _CONTENT),
        Divergence(
            "LEDGER_ENTRY_ALTERED",
            f"entry {seq}'s content disagrees with its position or kind",
            seq,
        ),
    )


class _ReplayCheck:
    """Each body parsed and checked against its position, replayed into
    Holdings; then the holdings against the live unit blocks. Fed only
    entries that passed the chain check, in order, as (first seq, kinds,
    bodies, prev hashes)."""

    def __init__(self) -> None:
        self.holdings = Holdings()
        self.failure: _Failure | None = None
        self.blocks = 0

    def feed(self, seq: int, kinds: Any, bodies: Any, prevs: Any) -> bool:
        """Check a batch; False once a divergence is found."""
        if self.failure is not None:
            return False
        loads = _loads
        holdings = self.holdings
        move = holdings._move
        apply = holdings.apply
        for kind, body, prev in zip(kinds, bodies, prevs, strict=True):
            try:
                doc = loads(body)
                if doc["seq"] != seq or doc["prev"] != prev or doc["kind"] != kind:
                    raise _Altered
            except (_Altered, ValueError, KeyError, TypeError):
                self.failure = _content_failure(seq)
                return False
            try:
                # Holdings.apply, with its most common case first.
                if kind[:6] == "units." and kind != "units.issued":
                    move(doc["data"])
                else:
                    apply(doc)
            except _REPLAY_ERRORS as exc:
                self._replay_failed(seq, exc)
                return False
            seq += 1
        return True

    def _replay_failed(self, seq: int, exc: BaseException) -> None:
        self.failure = _Failure(
            _entry_key(seq, _REPLAY),
            Divergence("LEDGER_REPLAY_FAILED", f"entry {seq} cannot be replayed: {exc}", seq),
        )

    def finish(self, live_rows: Iterator[list[tuple]]) -> None:
        """Compare the replayed holdings with the live blocks (batches of rows)."""
        count = 0
        replayed = self.holdings.blocks()
        for rows in live_rows:
            expected = list(islice(replayed, len(rows)))
            if expected != rows:
                for i, live in enumerate(rows):
                    block = expected[i] if i < len(expected) else None
                    if block != live:
                        self._holdings_diverge(block, live)
                        return
            count += len(rows)
        leftover = next(replayed, None)
        if leftover is not None:
            self._holdings_diverge(leftover, None)
            return
        self.blocks = count

    def _holdings_diverge(self, block: tuple | None, live: tuple | None) -> None:
        if live is None:
            message = f"the ledger gives {_fmt(block)}; the tables hold nothing there"
        else:
            message = f"the ledger gives {_fmt(block)}; the tables hold {_fmt(live)}"
        self.failure = _Failure(_final_key(_HOLDINGS), Divergence("HOLDINGS_DIVERGE", message))


LIVE_BLOCKS_SQL = """
SELECT b.serial_start, b.serial_end, a.identifier, p.project_id, b.vintage, b.unit_class
FROM units_unitblock b
JOIN organisations_account a ON a.id = b.account_id
JOIN projects_project p ON p.id = b.project_id
ORDER BY b.serial_start
"""

ENTRIES_SQL = "SELECT seq, kind, {body}, prev_hash, leaf_hash FROM ledger_ledgerentry ORDER BY seq"


def _fmt(block: tuple | None) -> str:
    if block is None:
        return "nothing"
    start, end, account, project, vintage, unit_class = block
    return f"serials {start}-{end} in {account} ({project}, vintage {vintage}, {unit_class})"


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
    if connection.vendor == "postgresql":
        yield from _pg_stream(LIVE_BLOCKS_SQL, chunk_size, False)
        return
    with connection.cursor() as cursor:
        cursor.execute(LIVE_BLOCKS_SQL)
        while rows := cursor.fetchmany(chunk_size):
            yield [tuple(row) for row in rows]


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
) -> VerifyResult:
    """Verify the whole ledger. ``workers=1`` does everything in this process
    (inside the caller's transaction, if any); ``workers=2`` splits the work
    with a forked process (PostgreSQL only, outside any transaction: both
    processes read committed rows); ``workers=None`` picks 2 when that is
    possible and the ledger is large enough to gain from it.

    ``compiled`` (default: when it is built, unless ``workers=2``) runs the
    compiled one-pass check first, in this process; if it finds anything
    wrong, or anything it does not read exactly like the reference, the
    reference path runs in the same snapshot and names the first
    divergence. ``compiled=False`` runs the reference path only."""
    from tonne.ledger import keys

    started = time.perf_counter()
    key = verifier_key or keys.verifier_key_text()
    if workers not in (None, 1, 2):
        raise ValueError(f"workers must be 1 or 2, not {workers}")
    if workers == 2 and not _parallel_possible():
        raise ValueError(
            "parallel verification needs PostgreSQL, the fork start method and no open transaction"
        )
    if compiled is None:
        compiled = _fastverify is not None and workers != 2
    elif compiled and _fastverify is None:
        raise ValueError("the compiled verifier is not built (python setup.py build_ext --inplace)")
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of short-lived objects, no cycles: collections only cost time
    try:
        if compiled:
            result = _verify_compiled_then_reference(key, chunk_size)
        else:
            if workers is None:
                big = _parallel_possible() and _ledger_size() > PARALLEL_MIN_ENTRIES
                workers = 2 if big else 1
            result = _verify_parallel(key, chunk_size) if workers == 2 else _verify_here(key, chunk_size)
            result.workers = workers
    finally:
        if gc_was_enabled:
            gc.enable()
    result.seconds = time.perf_counter() - started
    return result


def _parallel_possible() -> bool:
    import multiprocessing

    return (
        connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and "fork" in multiprocessing.get_all_start_methods()
    )


def _ledger_size() -> int:
    return LedgerHead.objects.values_list("size", flat=True).first() or 0


class _Snapshot:
    """A REPEATABLE READ, READ ONLY transaction on the default connection, so
    that the entries, the checkpoints, the head and the unit blocks are read
    as of one moment; inside the caller's transaction, that one is used."""

    def __init__(self, *, export: bool = False, snapshot_id: str | None = None) -> None:
        self.export = export
        self.snapshot_id = snapshot_id
        self.own = False

    def __enter__(self) -> _Snapshot:
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            return self
        connection.ensure_connection()
        raw = connection.connection
        raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        self.own = True
        if self.snapshot_id is not None:
            from psycopg import sql

            raw.execute(
                sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(self.snapshot_id))
            )
        elif self.export:
            self.snapshot_id = raw.execute("SELECT pg_export_snapshot()").fetchone()[0]
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
    chain = _ChainCheck(_load_checkpoints(), key)
    replay = _ReplayCheck()
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
    return _result(chain, replay.failure, replay.blocks)


def _result(chain: _ChainCheck, replay_failure: _Failure | None, blocks: int) -> VerifyResult:
    """What the one-pass verifier would report, from the two checks' first
    divergences."""
    failures = [f for f in (chain.failure, replay_failure) if f is not None]
    result = VerifyResult()
    first = min(failures, key=lambda f: f.key) if failures else None
    if first is None:
        result.entries = chain.expected
        result.checkpoints = chain.passed_checkpoints
        result.blocks = blocks
        return result
    result.divergences.append(first.divergence)
    if first.key[0] == 0:  # during the entries: the checkpoints before it passed
        seq = first.key[1]
        result.checkpoints = sum(1 for size in chain.sizes if size <= seq)
    else:
        result.entries = chain.expected
        result.checkpoints = chain.passed_checkpoints
    return result


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
    chain = _ChainCheck(checkpoints, key)
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
    replay = _ReplayCheck()
    replay.holdings = _ReplayedBlocks(verifier)  # type: ignore[assignment]
    replay.finish(_live_block_batches(chunk_size))
    if replay.failure is not None:
        return None
    return _result(chain, None, replay.blocks)


class _ReplayedBlocks:
    """The compiled replay's blocks, where _ReplayCheck.finish expects Holdings."""

    def __init__(self, verifier: Any) -> None:
        self.verifier = verifier

    def blocks(self) -> Iterator[tuple]:
        return iter(self.verifier.blocks())


# -- two processes ---------------------------------------------------------------------

_NONE = 2**62


def _set_pipe_size(fd: int, size: int = 1 << 20) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (OSError, ImportError):  # not Linux, or above the limit: the default will do
        pass


def _pack_raw(first: int, rows: list[tuple], n: int) -> bytes:
    """Entries for the child to parse: bodies concatenated with their
    lengths, prev hashes concatenated (each passed the chain check, so is
    64 characters), kinds joined by a unit separator unless one contains it."""
    kinds, bodies, prevs = _transpose(rows, n)
    joined = "\x1f".join(kinds)
    packed_kinds: str | tuple = joined if joined.count("\x1f") == n - 1 else kinds
    lengths = array("q", [len(body) for body in bodies]).tobytes()
    return pickle.dumps(
        ("raw", first, n, packed_kinds, b"".join(bodies), lengths, "".join(prevs)),
        pickle.HIGHEST_PROTOCOL,
    )


def _unpack_raw(
    n: int, packed_kinds: Any, blob: bytes, lengths: bytes, prevs: str
) -> tuple[Any, list, list]:
    kinds = packed_kinds.split("\x1f") if type(packed_kinds) is str else packed_kinds
    bounds = list(accumulate(array("q", lengths), initial=0))
    bodies = [blob[a:b] for a, b in zip(bounds, islice(bounds, 1, None), strict=False)]
    prev_list = [prevs[i : i + 64] for i in range(0, 64 * n, 64)]
    return kinds, bodies, prev_list


def _verify_parallel(key: str, chunk_size: int) -> VerifyResult:
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    to_child_r, to_child_w = ctx.Pipe(duplex=False)
    from_child_r, from_child_w = ctx.Pipe(duplex=False)
    _set_pipe_size(to_child_w.fileno())
    # the first failing seq of the replay check, for the parent to stop early
    shared = ctx.RawArray("q", [_NONE])
    connections.close_all()  # the child opens its own connection
    child = ctx.Process(
        target=_replay_worker,
        args=(to_child_r, from_child_w, shared, chunk_size, (to_child_w, from_child_r)),
        name="tonne-verify-replay",
        daemon=True,
    )
    child.start()
    to_child_r.close()
    from_child_w.close()
    try:
        with _Snapshot(export=True) as snapshot:
            to_child_w.send(snapshot.snapshot_id)
            chain = _ChainCheck(_load_checkpoints(), key)
            complete = True
            batches = _entry_batches(chunk_size)
            try:
                for rows in batches:
                    if shared[0] < chain.expected:
                        complete = False  # the replay already failed before here
                        break
                    first = chain.expected
                    passed = chain.feed(rows)
                    if passed:
                        to_child_w.send_bytes(_pack_raw(first, rows, passed))
                    if chain.failure is not None:
                        complete = False
                        break
            except (BrokenPipeError, ConnectionResetError):
                child.join(timeout=10)
                raise RuntimeError(
                    f"ledger verification: the replay process ended early (exit code {child.exitcode})"
                ) from None
            finally:
                batches.close()
            if complete:
                chain.finish(LedgerHead.objects.get(pk=1))
                complete = chain.failure is None
            # The end of the entries; the child compares holdings if all passed.
            to_child_w.send_bytes(pickle.dumps(("end", complete)))
            try:
                outcome = from_child_r.recv()
            except EOFError:
                outcome = {"error": f"the replay process ended with exit code {child.exitcode}"}
    finally:
        to_child_w.close()
        from_child_r.close()
        child.join(timeout=60)
        if child.is_alive():  # pragma: no cover
            child.kill()
            child.join()
    if outcome.get("error"):
        raise RuntimeError(f"ledger verification: the replay process failed:\n{outcome['error']}")
    return _result(chain, outcome["failure"], outcome["blocks"])


def _replay_worker(
    inbox: Any, outbox: Any, shared: Any, chunk_size: int, parent_ends: tuple
) -> None:
    """The child: replay the entries the parent sends, then (if the whole
    ledger passed) compare the holdings, in the parent's snapshot."""
    for end in parent_ends:  # so that the parent's end closing is seen here as EOF
        end.close()
    gc.disable()
    outcome: dict[str, Any] = {"failure": None, "blocks": 0, "error": None}
    try:
        snapshot_id = inbox.recv()
        replay = _ReplayCheck()
        loads = pickle.loads
        while True:
            message = loads(inbox.recv_bytes())
            what = message[0]
            if what == "end":
                complete = message[1]
                break
            if replay.failure is None:  # else: read on to the end, so the parent never blocks
                first, n, *packed = message[1:]
                if not replay.feed(first, *_unpack_raw(n, *packed)):
                    assert replay.failure is not None
                    shared[0] = replay.failure.key[1]
        if complete and replay.failure is None:
            with _Snapshot(snapshot_id=snapshot_id):
                replay.finish(_live_block_batches(chunk_size))
        outcome["failure"] = replay.failure
        outcome["blocks"] = replay.blocks
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises
        outcome["error"] = traceback.format_exc()
    finally:
        try:
            outbox.send(outcome)
        except OSError:  # the parent is gone or gave up: nobody to tell
            pass
        finally:
            connections.close_all()
