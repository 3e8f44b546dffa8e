"""Collecting the cosignatures this registry's witnesses made on its own
checkpoints, and publishing each checkpoint with them.

A witness (another Tonne installation, or any C2SP tlog-witness) publishes
the last checkpoint of ours it cosigned. Collection keeps a cosignature only
if the checkpoint carries this registry's valid signature, is one this
database signed (same size, same root) and the cosignature verifies with the
witness's configured key. A witness holding a checkpoint of ours that this
database does not have is the sign of a rollback or a fork, and is reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from tonne.core import clock, outbound
from tonne.core.errors import NotFound, ValidationFailed
from tonne.ledger import keys
from tonne.ledger.checkpoint import CheckpointError, parse_note, verify_checkpoint
from tonne.ledger.models import Checkpoint, Cosignature, RegistryWitness
from tonne.ledger.witness import verify_cosignature

COSIGNED_CHECKPOINT_UNKNOWN = "COSIGNED_CHECKPOINT_UNKNOWN"


@dataclass(frozen=True)
class Collected:
    witness: str
    size: int = 0
    code: str = ""
    message: str = ""


def trust_witness(*, name: str, verifier_key: str, url: str) -> RegistryWitness:
    name_part, _, rest = verifier_key.partition("+")
    if name_part != name or not rest:
        raise ValidationFailed("WITNESS_KEY_INVALID", "The witness key must be a cosignature/v1 key named NAME.")
    outbound.check_url(url, field="url")
    witness, _ = RegistryWitness.objects.update_or_create(
        name=name, defaults={"verifier_key": verifier_key, "url": url.rstrip("/")}
    )
    return witness


def _fetch(witness: RegistryWitness) -> str:
    answer = outbound.send("GET", f"{witness.url}/api/v1/ledger/witnessed", max_bytes=1 << 20)
    if not answer.ok:
        raise ValidationFailed("WITNESS_UNREACHABLE", f"{witness.url}: {answer.reason}")
    try:
        logs = json.loads(answer.body).get("logs")
    except (ValueError, AttributeError):
        raise ValidationFailed("WITNESS_BAD_ANSWER", f"{witness.url}: not the witness's JSON") from None
    for log in logs if isinstance(logs, list) else []:
        if isinstance(log, dict) and log.get("origin") == settings.TONNE_LEDGER_ORIGIN:
            note = log.get("cosigned_note")
            return note if isinstance(note, str) else ""
    return ""


def collect_from(witness: RegistryWitness) -> Collected:
    try:
        note = _fetch(witness)
        if not note:
            return Collected(witness.name, code="NOT_WITNESSED", message="this witness has cosigned nothing of ours")
        checkpoint = verify_checkpoint(note, keys.verifier_key_text(), expected_origin=settings.TONNE_LEDGER_ORIGIN)
        verify_cosignature(note, witness.verifier_key)
    except (ValidationFailed, CheckpointError) as exc:
        return Collected(witness.name, code=exc.code, message=exc.message)
    ours = Checkpoint.objects.filter(size=checkpoint.size).first()
    if ours is None or ours.root_hash != checkpoint.root.hex():
        return Collected(witness.name, checkpoint.size, COSIGNED_CHECKPOINT_UNKNOWN, (
            f"{witness.name} cosigned our checkpoint of size {checkpoint.size}, which this database "
            "does not hold: it was rolled back, or another history was shown to that witness"
        ))
    _body, signatures = parse_note(note)
    name, id_hex, _ = witness.verifier_key.split("+", 2)
    line = next(s.line() for s in signatures if s.name == name and s.key_id.hex() == id_hex)
    with transaction.atomic():
        Cosignature.objects.update_or_create(
            witness=witness, size=checkpoint.size, defaults={"line": line, "collected_at": clock.now()}
        )
    return Collected(witness.name, checkpoint.size)


def collect_all() -> list[Collected]:
    return [collect_from(w) for w in RegistryWitness.objects.order_by("name")]


def cosigned_note(size: int) -> str:
    """Our signed checkpoint of ``size`` with every cosignature collected."""
    checkpoint = Checkpoint.objects.filter(size=size).first()
    if checkpoint is None:
        raise NotFound("CHECKPOINT_NOT_FOUND", f"No checkpoint of size {size}.", details={"size": size})
    lines = Cosignature.objects.filter(size=size).order_by("witness__name").values_list("line", flat=True)
    return checkpoint.note + "".join(lines)

