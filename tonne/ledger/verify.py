"""`tonne ledger verify`: recompute every hash, the Merkle root at every
checkpoint and its signature, replay every entry to rebuild the holdings, and
compare them with the live tables. Names the first divergence."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from tonne.ledger.checkpoint import CheckpointError, verify_checkpoint
from tonne.ledger.merkle import MerkleAccumulator
from tonne.ledger.models import Checkpoint, LedgerEntry, LedgerHead
from tonne.ledger.replay import Holdings, ReplayError
from tonne.ledger.services import GENESIS_HASH

try:  # orjson parses entries several times faster; the stdlib is the fallback
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover
    _loads = json.loads


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

    @property
    def ok(self) -> bool:
        return not self.divergences

    @property
    def first(self) -> Divergence | None:
        return self.divergences[0] if self.divergences else None


class _Stop(Exception):
    pass


def verify_ledger(*, verifier_key: str | None = None, chunk_size: int = 20000) -> VerifyResult:
    from tonne.ledger import keys

    started = time.perf_counter()
    result = VerifyResult()
    key = verifier_key or keys.verifier_key_text()
    checkpoints = {cp.size: cp for cp in Checkpoint.objects.order_by("size")}
    holdings = Holdings()

    def diverge(code: str, message: str, seq: int | None = None) -> None:
        result.divergences.append(Divergence(code, message, seq))
        raise _Stop

    try:
        acc = MerkleAccumulator()
        prev = GENESIS_HASH
        expected = 0
        sha256 = hashlib.sha256
        rows = LedgerEntry.objects.order_by("seq").values_list("seq", "kind", "body", "prev_hash", "leaf_hash")
        for seq, kind, body, prev_hash, leaf_hash in rows.iterator(chunk_size=chunk_size):
            if seq != expected:
                if seq > expected:
                    diverge("LEDGER_ENTRY_MISSING", f"entry {expected} is missing (next entry is {seq})", expected)
                diverge("LEDGER_SEQUENCE_BROKEN", f"entry {seq} appears out of order", seq)
            raw = body.encode("utf-8")
            leaf = sha256(b"\x00" + raw).digest()
            if leaf.hex() != leaf_hash:
                diverge("LEDGER_ENTRY_ALTERED", f"entry {seq} does not hash to its recorded leaf hash", seq)
            if prev_hash != prev:
                diverge("LEDGER_CHAIN_BROKEN", f"entry {seq} does not follow the entry before it", seq)
            doc = _loads(raw)
            if doc.get("seq") != seq or doc.get("prev") != prev or doc.get("kind") != kind:
                diverge("LEDGER_ENTRY_ALTERED", f"entry {seq}'s content disagrees with its position or kind", seq)
            try:
                holdings.apply(doc)
            except (ReplayError, KeyError, TypeError, ValueError) as exc:
                diverge("LEDGER_REPLAY_FAILED", f"entry {seq} cannot be replayed: {exc}", seq)
            acc.append(leaf)
            prev = leaf.hex()
            expected += 1
            checkpoint = checkpoints.get(expected)
            if checkpoint is not None:
                _check_checkpoint(checkpoint, acc.root(), key, diverge)
                result.checkpoints += 1
        result.entries = expected
        beyond = [size for size in checkpoints if size > expected]
        if beyond:
            diverge(
                "LEDGER_TRUNCATED",
                f"a signed checkpoint covers {max(beyond)} entries but the ledger holds only {expected}",
                expected,
            )
        head = LedgerHead.objects.get(pk=1)
        if head.size != expected or head.last_hash != prev:
            diverge(
                "LEDGER_HEAD_MISMATCH",
                f"the ledger head says {head.size} entries, the table holds {expected}",
                min(head.size, expected),
            )
        result.blocks = _compare_holdings(holdings, diverge)
    except _Stop:
        pass
    result.seconds = time.perf_counter() - started
    return result


def _check_checkpoint(checkpoint: Checkpoint, root: bytes, key: str, diverge: Callable[..., None]) -> None:
    if root.hex() != checkpoint.root_hash:
        diverge(
            "CHECKPOINT_ROOT_MISMATCH",
            f"the entries up to {checkpoint.size} no longer hash to the root signed in that checkpoint",
            checkpoint.size - 1,
        )
    try:
        note = verify_checkpoint(checkpoint.note, key)
    except CheckpointError as exc:
        diverge("CHECKPOINT_SIGNATURE_INVALID", f"checkpoint {checkpoint.size}: {exc}", checkpoint.size - 1)
        return
    if note.size != checkpoint.size or note.root != root:
        diverge(
            "CHECKPOINT_ROOT_MISMATCH",
            f"checkpoint {checkpoint.size}'s signed note does not match the ledger",
            checkpoint.size - 1,
        )


LIVE_BLOCKS_SQL = """
SELECT b.serial_start, b.serial_end, a.identifier, p.project_id, b.vintage, b.unit_class
FROM units_unitblock b
JOIN organisations_account a ON a.id = b.account_id
JOIN projects_project p ON p.id = b.project_id
ORDER BY b.serial_start
"""


def _fmt(block: tuple | None) -> str:
    if block is None:
        return "nothing"
    start, end, account, project, vintage, unit_class = block
    return f"serials {start}-{end} in {account} ({project}, vintage {vintage}, {unit_class})"


def _compare_holdings(holdings: Holdings, diverge: Callable[..., None]) -> int:
    count = 0
    replayed = holdings.blocks()
    with connection.cursor() as cursor:
        cursor.execute(LIVE_BLOCKS_SQL)
        while True:
            rows = cursor.fetchmany(5000)
            for row in rows:
                expected = next(replayed, None)
                live = tuple(row)
                if expected != live:
                    diverge(
                        "HOLDINGS_DIVERGE",
                        f"the ledger gives {_fmt(expected)}; the tables hold {_fmt(live)}",
                    )
                count += 1
            if not rows:
                break
    leftover = next(replayed, None)
    if leftover is not None:
        diverge("HOLDINGS_DIVERGE", f"the ledger gives {_fmt(leftover)}; the tables hold nothing there")
    return count
