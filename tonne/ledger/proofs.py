"""Inclusion and consistency proofs, bundled with a signed checkpoint so that
anyone can check them offline with only the registry's public key."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tonne.core.errors import NotFound, ValidationFailed
from tonne.ledger import keys, openings
from tonne.ledger.checkpoint import CheckpointError, verify_checkpoint
from tonne.ledger.merkle import (
    consistency_proof,
    inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from tonne.ledger.models import LedgerEntry
from tonne.ledger.services import checkpoint_for, leaf_hashes

INCLUSION_FORMAT = "tonne-inclusion-proof/1"
CONSISTENCY_FORMAT = "tonne-consistency-proof/1"


def inclusion_bundle(seq: int, size: int | None = None) -> dict[str, Any]:
    entry = LedgerEntry.objects.filter(seq=seq).first()
    if entry is None:
        raise NotFound("LEDGER_ENTRY_NOT_FOUND", f"Ledger entry {seq} does not exist.", details={"seq": seq})
    checkpoint = checkpoint_for(size)
    if checkpoint.size <= seq:
        raise ValidationFailed(
            "LEDGER_ENTRY_NOT_YET_CHECKPOINTED",
            f"Entry {seq} is newer than checkpoint {checkpoint.size}; wait for the next signed checkpoint.",
            status=409,
            details={"seq": seq, "size": checkpoint.size},
        )
    proof = inclusion_proof(leaf_hashes(checkpoint.size), seq, checkpoint.size)
    shown = openings.public_body(seq, entry.body)
    return {
        "format": INCLUSION_FORMAT,
        "seq": seq,
        "entry": shown,
        # Before version 2 the hashed text named holders in the clear: the
        # entry is shown committed to instead, and only its leaf is proved.
        **({"entry_redacted": True} if shown != entry.body else {}),
        "leaf_hash": entry.leaf_hash,
        "tree_size": checkpoint.size,
        "proof": [p.hex() for p in proof],
        "checkpoint": checkpoint.note,
        "verifier_key": keys.verifier_key_text(),
    }


def consistency_bundle(old_size: int, new_size: int | None = None) -> dict[str, Any]:
    old = checkpoint_for(old_size)
    new = checkpoint_for(new_size)
    if new.size < old.size:
        raise ValidationFailed("CONSISTENCY_SIZES_INVALID", "The first checkpoint must not be larger than the second.")
    proof = consistency_proof(leaf_hashes(new.size), old.size, new.size)
    return {
        "format": CONSISTENCY_FORMAT,
        "old_size": old.size,
        "new_size": new.size,
        "old_checkpoint": old.note,
        "new_checkpoint": new.note,
        "proof": [p.hex() for p in proof],
        "verifier_key": keys.verifier_key_text(),
    }


class ProofInvalid(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _hexes(values: Any) -> list[bytes]:
    try:
        return [bytes.fromhex(v) for v in values]
    except (TypeError, ValueError):
        raise ProofInvalid("PROOF_MALFORMED", "The proof hashes are not hexadecimal.") from None


def verify_bundle(bundle: dict[str, Any], verifier_key_text: str) -> dict[str, Any]:
    """Check a proof bundle against the registry's verifier key; pure, offline.
    Returns what was proved; raises ProofInvalid naming what failed."""
    try:
        fmt = bundle["format"]
        if fmt == INCLUSION_FORMAT:
            return _verify_inclusion(bundle, verifier_key_text)
        if fmt == CONSISTENCY_FORMAT:
            return _verify_consistency(bundle, verifier_key_text)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProofInvalid("PROOF_MALFORMED", f"The proof file is malformed ({exc}).") from None
    raise ProofInvalid("PROOF_MALFORMED", "Unknown proof format.")


def _checkpoint(note: str, key: str):
    try:
        return verify_checkpoint(note, key)
    except CheckpointError as exc:
        raise ProofInvalid(exc.code, f"Checkpoint signature check failed: {exc}") from None


def _verify_inclusion(bundle: dict[str, Any], key: str) -> dict[str, Any]:
    body = bundle["entry"].encode("utf-8")
    redacted = bundle.get("entry_redacted") is True
    try:
        leaf = bytes.fromhex(bundle["leaf_hash"]) if redacted else hashlib.sha256(b"\x00" + body).digest()
    except ValueError:
        raise ProofInvalid("PROOF_MALFORMED", "The leaf hash is not hexadecimal.") from None
    if leaf.hex() != bundle["leaf_hash"]:
        raise ProofInvalid("ENTRY_HASH_MISMATCH", "The entry's text does not hash to the stated leaf hash.")
    entry = json.loads(body)
    if entry.get("seq") != bundle["seq"]:
        raise ProofInvalid("ENTRY_INDEX_MISMATCH", "The entry's own sequence number differs from the proof's index.")
    checkpoint = _checkpoint(bundle["checkpoint"], key)
    if checkpoint.size != bundle["tree_size"]:
        raise ProofInvalid("TREE_SIZE_MISMATCH", "The proof is for a different tree size than the checkpoint.")
    if not verify_inclusion(leaf, bundle["seq"], checkpoint.size, _hexes(bundle["proof"]), checkpoint.root):
        raise ProofInvalid("INCLUSION_PROOF_INVALID", "The entry is not in the tree the checkpoint signs.")
    return {"proved": "inclusion", "seq": bundle["seq"], "tree_size": checkpoint.size, "origin": checkpoint.origin,
            "entry": entry, "content_proved": not redacted}


def _verify_consistency(bundle: dict[str, Any], key: str) -> dict[str, Any]:
    old = _checkpoint(bundle["old_checkpoint"], key)
    new = _checkpoint(bundle["new_checkpoint"], key)
    if old.origin != new.origin:
        raise ProofInvalid("ORIGIN_MISMATCH", "The two checkpoints come from different ledgers.")
    if not verify_consistency(old.size, new.size, old.root, new.root, _hexes(bundle["proof"])):
        raise ProofInvalid("CONSISTENCY_PROOF_INVALID", "The newer checkpoint does not extend the older one.")
    return {"proved": "consistency", "old_size": old.size, "new_size": new.size, "origin": new.origin}
