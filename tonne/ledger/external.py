"""Checkpoints kept outside the registry's database: files a partner, an
auditor or a witness saved, or URLs that serve them. `tonne ledger verify
--checkpoint FILE|URL` holds the database against each one, so that a
restored old backup (smaller than a checkpoint seen before) or a rewritten
history re-signed with the registry's own key (a fork) is named even though
the database, on its own, is consistent.

Each checkpoint must be signed by the registry's key and name its origin.
The check is the one any outside verifier does: the database's tree must be
at least as large, and a consistency proof (RFC 9162) from the checkpoint's
tree to the database's tree, built from the stored leaf hashes, must verify
against the checkpoint's root.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from tonne.core import outbound
from tonne.core.errors import ValidationFailed
from tonne.ledger import merkle
from tonne.ledger.checkpoint import Checkpoint, CheckpointError, verify_checkpoint
from tonne.ledger.verify_checks import Divergence

LEDGER_ROLLED_BACK = "LEDGER_ROLLED_BACK"
CHECKPOINT_INCONSISTENT = "CHECKPOINT_INCONSISTENT"
CHECKPOINT_UNREADABLE = "CHECKPOINT_UNREADABLE"
# A signed checkpoint is a few hundred bytes; cosigned ones stay far below this.
MAX_NOTE_BYTES = 65536


@dataclass(frozen=True)
class External:
    source: str  # the file or URL it came from, for messages
    note: str


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def load(source: str) -> External:
    """Read one checkpoint note from a file or an http(s) URL (through the
    SSRF-safe outbound client). Refused with CHECKPOINT_UNREADABLE."""
    if is_url(source):
        try:
            answer = outbound.send("GET", source, headers={"Accept": "text/plain"}, max_bytes=MAX_NOTE_BYTES)
        except ValidationFailed as exc:
            raise ValidationFailed(CHECKPOINT_UNREADABLE, f"{source}: {exc.message}") from None
        if not answer.ok:
            raise ValidationFailed(CHECKPOINT_UNREADABLE, f"{source}: {answer.reason}")
        data = answer.body
    else:
        try:
            with open(Path(source), "rb") as fh:
                data = fh.read(MAX_NOTE_BYTES + 1)
        except OSError as exc:
            raise ValidationFailed(CHECKPOINT_UNREADABLE, f"{source}: {exc.strerror}") from None
    if len(data) > MAX_NOTE_BYTES:
        raise ValidationFailed(CHECKPOINT_UNREADABLE, f"{source}: larger than {MAX_NOTE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed(CHECKPOINT_UNREADABLE, f"{source}: not UTF-8 text") from None
    return External(source, _note_of(text))


def _note_of(text: str) -> str:
    """The note itself, or the one inside the registry's JSON answers
    (/checkpoints/latest, /checkpoints/SIZE/cosigned), as saved from them."""
    if not text.lstrip().startswith("{"):
        return text
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    note = doc.get("note") if isinstance(doc, dict) else None
    return note if isinstance(note, str) else text


def check_against(leaves: list[bytes], checkpoint: Checkpoint, source: str) -> Divergence | None:
    """Whether the tree of ``leaves`` extends ``checkpoint``."""
    size = len(leaves)
    if checkpoint.size > size:
        return Divergence(
            LEDGER_ROLLED_BACK,
            f"the ledger has {size} entries but the checkpoint from {source} already had "
            f"{checkpoint.size}: entries were removed, or an older copy of the database was restored",
            size,
        )
    root = merkle.root_from_leaves(leaves)
    proof = merkle.consistency_proof(leaves, checkpoint.size, size)
    if not merkle.verify_consistency(checkpoint.size, size, checkpoint.root, root, proof):
        return Divergence(
            CHECKPOINT_INCONSISTENT,
            f"the ledger's first {checkpoint.size} entries are not those the checkpoint from {source} "
            "signed: the history was rewritten (a fork)",
        )
    return None


def hold(notes: list[External], leaves: list[bytes], key: str) -> tuple[list[Divergence], int]:
    """Every external checkpoint's divergence (signature, origin, rollback,
    fork), and the largest size held."""
    found: list[Divergence] = []
    largest = 0
    for ext in notes:
        try:
            checkpoint = verify_checkpoint(ext.note, key, expected_origin=settings.TONNE_LEDGER_ORIGIN)
        except CheckpointError as exc:
            found.append(Divergence(exc.code, f"checkpoint from {ext.source}: {exc.message}"))
            continue
        divergence = check_against(leaves, checkpoint, ext.source)
        if divergence is not None:
            found.append(divergence)
        else:
            largest = max(largest, checkpoint.size)
    return found, largest


