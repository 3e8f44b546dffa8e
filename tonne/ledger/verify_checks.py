"""The two checks of `tonne ledger verify` over the same entries (see
tonne.ledger.verify): the chain check and the replay check, each stopping at
its first divergence with an ordering key, and the result the one-pass
verifier would report from the two."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from tonne.ledger.checkpoint import CheckpointError, verify_checkpoint
from tonne.ledger.merkle import MerkleAccumulator
from tonne.ledger.models import Checkpoint, LedgerHead
from tonne.ledger.replay import Holdings, ReplayError
from tonne.ledger.services import GENESIS_HASH

try:  # orjson parses entries several times faster; the stdlib is the fallback
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover
    _loads = json.loads

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
    # Checkpoints held from outside the database, and the largest size of
    # those the ledger extends.
    external: int = 0
    held_size: int = 0

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


class ChainCheck:
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


class ReplayCheck:
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


def _fmt(block: tuple | None) -> str:
    if block is None:
        return "nothing"
    start, end, account, project, vintage, unit_class = block
    return f"serials {start}-{end} in {account} ({project}, vintage {vintage}, {unit_class})"


def result_of(chain: ChainCheck, replay_failure: _Failure | None, blocks: int) -> VerifyResult:
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


