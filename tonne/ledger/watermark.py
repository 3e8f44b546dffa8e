"""The signed high-water mark kept outside the database: the latest signed
checkpoint, written to TONNE_CHECKPOINT_MARK_FILE each time one is signed.

A database restored from an older backup (or a lost tail of WAL) leaves the
ledger behind or off that mark. The registry then refuses to sign a second
root for a size it already signed, flags the rollback at start-up and in
`tonne ledger verify`, and refuses unit moves (LEDGER_ROLLED_BACK) until an
administrator acknowledges the restore (`tonne ledger acknowledge-restore`,
recorded in the ledger itself)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from tonne.core import clock
from tonne.core.errors import RegistryError
from tonne.ledger import keys
from tonne.ledger.checkpoint import CheckpointError, verify_checkpoint


class LedgerRolledBack(RegistryError):
    status = 503
    title = "Ledger rolled back"


@dataclass(frozen=True)
class Mark:
    size: int
    root: str
    note: str
    acknowledged: dict[str, Any] | None


def mark_path() -> Path:
    return Path(settings.TONNE_CHECKPOINT_MARK_FILE)


def flag_path() -> Path:
    path = mark_path()
    return path.with_name(path.name + ".rolled-back")


def read() -> Mark | None:
    path = mark_path()
    if not path.exists():
        return None
    doc = json.loads(path.read_text())
    try:  # a mark nobody signed is no mark: it cannot hold the registry back
        note = verify_checkpoint(doc["note"], keys.verifier_key_text())
    except CheckpointError as exc:
        raise RegistryError("CHECKPOINT_MARK_INVALID", f"{path} does not hold a checkpoint signed by this registry: {exc}") from None
    return Mark(size=note.size, root=note.root.hex(), note=doc["note"], acknowledged=doc.get("acknowledged"))


def _write(path: Path, doc: dict[str, Any]) -> None:
    # Written aside, flushed, then renamed: a crash leaves the old mark or the new, never half of one.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as out:
        out.write(json.dumps(doc, indent=2))
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def guard_signing(size: int, root: bytes) -> None:
    """Never sign a second root for a size this key already signed (nor any
    size below the mark, whose earlier roots the mark does not keep)."""
    mark = read()
    if mark is None:
        return
    if size < mark.size or (size == mark.size and root.hex() != mark.root):
        raise LedgerRolledBack(
            "LEDGER_ROLLED_BACK",
            f"The ledger ({size} entries) is behind or off the last signed checkpoint ({mark.size} entries, "
            f"root {mark.root[:16]}…): no checkpoint is signed until it grows past that mark.",
        )


def record(note: str, *, size: int) -> None:
    mark = read()
    if mark is not None and size <= mark.size:
        return
    _write(mark_path(), {"note": note, "acknowledged": mark.acknowledged if mark else None})


def root_at(size: int) -> str:
    """The root of the first `size` entries, resumed from the stored
    checkpoint nearest below (its compact range, checked against its root):
    hashes only the entries after it, so the start-up check stays short
    however long the ledger grows. Entries against stored checkpoints are
    verify's work."""
    # In the function: services signs through this module.
    from tonne.ledger.services import accumulator_at, leaf_hashes

    acc = accumulator_at(size)
    for leaf in leaf_hashes(size, start=acc.size):
        acc.append(leaf)
    return acc.root().hex()


def compare(ledger_size: int) -> str | None:
    """Why the ledger disagrees with the mark, or None."""
    mark = read()
    if mark is None:
        return None
    if ledger_size < mark.size:
        problem = f"the ledger has {ledger_size} entries; {mark.size} were signed (checkpoint mark)"
    elif root_at(mark.size) != mark.root:
        problem = f"the ledger's first {mark.size} entries differ from those signed in the checkpoint mark"
    else:
        return None
    ack = mark.acknowledged
    if ack and ack.get("mark_size") == mark.size and ack.get("mark_root") == mark.root:
        return None  # an administrator accepted this restore
    return problem


def check(ledger_size: int) -> str | None:
    """At start-up and in verify: flag a rolled-back ledger (moves stop)."""
    problem = compare(ledger_size)
    if problem is not None:
        _write(flag_path(), {"reason": problem, "at": clock.now().isoformat()})
    return problem


def refuse_moves_if_rolled_back() -> None:
    # Every move asks: one stat of a plain path (pathlib costs ten times that).
    if not os.path.exists(f"{settings.TONNE_CHECKPOINT_MARK_FILE}.rolled-back"):
        return
    path = flag_path()
    if path.exists():
        reason = json.loads(path.read_text()).get("reason", "")
        raise LedgerRolledBack(
            "LEDGER_ROLLED_BACK",
            f"The registry was restored to an earlier point ({reason}); no units move until an administrator "
            "acknowledges the restore (tonne ledger acknowledge-restore).",
        )


def acknowledge(ledger_size: int, by: str) -> dict[str, Any]:
    mark = read()
    if mark is None:
        raise RegistryError("NO_CHECKPOINT_MARK", "No checkpoint mark exists; there is nothing to acknowledge.")
    ack = {"mark_size": mark.size, "mark_root": mark.root, "ledger_size": ledger_size, "by": by,
           "at": clock.now().isoformat()}
    _write(mark_path(), {"note": mark.note, "acknowledged": ack})
    flag_path().unlink(missing_ok=True)
    return ack
