"""Public REST endpoints for the ledger: entries, signed checkpoints, the
verifier key, and inclusion / consistency proofs anyone can check offline."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from tonne.core.api_support import BIG, ERRORS, ListQuery, Page, get_or_404, paginate
from tonne.core.errors import NotFound
from tonne.ledger import cosigning, keys, proofs, selectors, witness
from tonne.ledger.models import Checkpoint, LedgerEntry, WitnessedLog

router = Router(tags=["ledger"])

MAX_ENTRIES = 1000


class KeyOut(Schema):
    origin: str
    key_name: str
    verifier_key: str = Field(description="C2SP note verifier key (name+id+Ed25519 public key).")


class HeadOut(Schema):
    size: int
    last_hash: str
    latest_checkpoint_size: int | None


class CheckpointOut(Schema):
    size: int
    root_hash: str
    note: str = Field(description="The C2SP tlog-checkpoint signed note, as published.")
    key_name: str
    created_at: dt.datetime


class EntryOut(Schema):
    seq: int
    kind: str
    transaction: str
    body: str = Field(description="Canonical JSON with private fields committed to (p:… pseudonyms, c:… "
                      "commitments); the leaf hash is SHA-256(0x00 || body), except for entries before version 2, "
                      "shown with their private fields committed to after the fact.")
    prev_hash: str
    leaf_hash: str
    created_at: dt.datetime


class EntriesOut(Schema):
    size: int
    start: int = Field(alias="from")
    limit: int
    items: list[EntryOut]

    model_config = {"populate_by_name": True}


class InclusionOut(Schema):
    format: str
    seq: int
    entry: str
    entry_redacted: bool = Field(False, description="The entry predates version 2: shown with its private fields "
                                                    "committed to, so only its leaf hash is proved.")
    leaf_hash: str
    tree_size: int
    proof: list[str]
    checkpoint: str
    verifier_key: str


class ConsistencyOut(Schema):
    format: str
    old_size: int
    new_size: int
    old_checkpoint: str
    new_checkpoint: str
    proof: list[str]
    verifier_key: str


def checkpoint_out(cp: Checkpoint) -> dict[str, Any]:
    return {
        "size": cp.size,
        "root_hash": cp.root_hash,
        "note": cp.note,
        "key_name": cp.key_name,
        "created_at": cp.created_at,
    }


def entry_out(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "kind": entry.kind,
        "transaction": entry.transaction_ref,
        "body": selectors.public_body(entry),
        "prev_hash": entry.prev_hash,
        "leaf_hash": entry.leaf_hash,
        "created_at": entry.created_at,
    }


@router.get("/ledger", response={200: HeadOut, **ERRORS}, auth=None)
def ledger_head(request: HttpRequest):
    """The ledger's current size and last leaf hash."""
    head = selectors.head()
    latest = selectors.latest_checkpoint()
    return {
        "size": head.size,
        "last_hash": head.last_hash,
        "latest_checkpoint_size": latest.size if latest else None,
    }


@router.get("/ledger/key", response={200: KeyOut, **ERRORS}, auth=None)
def verifier_key(request: HttpRequest):
    """The registry's public verifier key for checkpoints and proofs."""
    return {
        "origin": settings.TONNE_LEDGER_ORIGIN,
        "key_name": settings.TONNE_LEDGER_KEY_NAME,
        "verifier_key": keys.verifier_key_text(),
    }


@router.get("/ledger/checkpoints", response={200: Page[CheckpointOut], **ERRORS}, auth=None)
def list_checkpoints(request: HttpRequest, query: Query[ListQuery]):
    return paginate(
        selectors.checkpoints(),
        query,
        checkpoint_out,
        allowed={"size": "size", "created_at": "created_at"},
        default="-size",
    )


@router.get("/ledger/checkpoints/latest", response={200: CheckpointOut, **ERRORS}, auth=None)
def latest_checkpoint(request: HttpRequest):
    cp = selectors.latest_checkpoint()
    if cp is None:
        raise NotFound("CHECKPOINT_NOT_FOUND", "No checkpoint has been signed yet.")
    return checkpoint_out(cp)


@router.get("/ledger/checkpoints/{int:size}", response={200: CheckpointOut, **ERRORS}, auth=None)
def get_checkpoint(request: HttpRequest, size: int):
    cp = get_or_404(
        selectors.checkpoints(),
        "CHECKPOINT_NOT_FOUND",
        f"No checkpoint of size {size}.",
        details={"size": size},
        size=size,
    )
    return checkpoint_out(cp)


@router.get("/ledger/entries", response={200: EntriesOut, **ERRORS}, auth=None, by_alias=True)
def list_entries(
    request: HttpRequest,
    start: int = Query(0, alias="from", ge=0, le=BIG, description="First sequence number."),
    limit: int = Query(100, ge=1, le=MAX_ENTRIES),
):
    """Ledger entries in order, with their bodies and hashes."""
    head = selectors.head()
    rows = selectors.entries_from(start, limit)
    return {"size": head.size, "from": start, "limit": limit, "items": [entry_out(e) for e in rows]}


@router.get("/ledger/entries/{int:seq}", response={200: EntryOut, **ERRORS}, auth=None)
def get_entry(request: HttpRequest, seq: int):
    entry = get_or_404(
        selectors.entries(),
        "LEDGER_ENTRY_NOT_FOUND",
        f"Ledger entry {seq} does not exist.",
        details={"seq": seq},
        seq=seq,
    )
    return entry_out(entry)


@router.get("/ledger/proofs/inclusion/{int:seq}", response={200: InclusionOut, **ERRORS}, auth=None)
def inclusion_proof(
    request: HttpRequest,
    seq: int,
    size: int | None = Query(
        None, ge=1, le=BIG, description="Checkpoint size; the latest if omitted."
    ),
):
    """Proof that entry `seq` is in the tree a signed checkpoint commits to."""
    return proofs.inclusion_bundle(seq, size)


@router.get("/ledger/proofs/consistency", response={200: ConsistencyOut, **ERRORS}, auth=None)
def consistency_proof(
    request: HttpRequest,
    old: int = Query(..., ge=1, le=BIG, description="Size of the older checkpoint."),
    new: int | None = Query(
        None, ge=1, description="Size of the newer checkpoint; the latest if omitted."
    ),
):
    """Proof that a newer checkpoint extends an older one (append-only)."""
    return proofs.consistency_bundle(old, new)


class RefusalOut(Schema):
    code: str
    message: str
    at: dt.datetime


class WitnessedOut(Schema):
    origin: str
    size: int
    cosigned_note: str = Field(description="The log's checkpoint with this witness's cosignature (C2SP cosignature/v1).")
    cosigned_at: dt.datetime | None
    refusals: list[RefusalOut] = Field(description="The latest checkpoints this witness refused (rollbacks, forks).")


class WitnessOut(Schema):
    witness_key: str = Field(description="cosignature/v1 verifier key of this installation's witness.")
    logs: list[WitnessedOut]


@router.get("/ledger/witnessed", response={200: WitnessOut, **ERRORS}, auth=None)
def witnessed_logs(request: HttpRequest):
    """The other registries' logs this installation witnesses: the last
    checkpoint it cosigned for each, and the ones it refused."""
    logs = [
        {
            "origin": log.origin,
            "size": log.size,
            "cosigned_note": log.cosigned_note,
            "cosigned_at": log.cosigned_at,
            "refusals": [
                {"code": r.code, "message": r.message, "at": r.at} for r in log.refusals.order_by("-at")[:20]
            ],
        }
        for log in WitnessedLog.objects.order_by("origin")[:200]
    ]
    return {"witness_key": witness.witness_verifier_key(), "logs": logs}


class CosignedOut(Schema):
    size: int
    note: str = Field(description="The signed checkpoint with every witness cosignature collected (C2SP signed note).")


@router.get("/ledger/checkpoints/{int:size}/cosigned", response={200: CosignedOut, **ERRORS}, auth=None)
def cosigned_checkpoint(request: HttpRequest, size: int):
    """A checkpoint of this registry with the cosignatures its witnesses made."""
    return {"size": size, "note": cosigning.cosigned_note(size)}
