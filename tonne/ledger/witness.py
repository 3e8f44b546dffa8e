"""Witnessing other registries' logs (C2SP tlog-witness, tlog-cosignature).

A witness remembers the last checkpoint it cosigned for each log. It fetches
the log's latest signed checkpoint and a consistency proof from that one,
and cosigns only if the log's own key signed it and the new tree extends the
old: a smaller tree (a rollback) or one that does not extend it (a fork) is
refused, and the refusal is kept as evidence. Registries that link witness
each other, so a history shown to one partner and not another is caught.

Cosignatures are C2SP ``cosignature/v1`` (Ed25519, algorithm byte 0x04): the
signed message is ``cosignature/v1\\ntime <unix seconds>\\n`` followed by the
checkpoint text, and the signature line carries the key id, the 8-byte
big-endian time and the signature. The witness key is its own Ed25519 key,
kept next to the registry's ledger key (never the same key).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.db import transaction

from tonne.core import clock, outbound
from tonne.core.errors import NotFound, ValidationFailed
from tonne.ledger import merkle
from tonne.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    NoteSignature,
    generate_private_key,
    load_private_key,
    parse_note,
    parse_verifier_key,
    save_private_key,
    verify_checkpoint,
)
from tonne.ledger.models import WitnessedLog, WitnessRefusal

WITNESS_ROLLBACK = "WITNESS_ROLLBACK"
WITNESS_FORK = "WITNESS_FORK"
WITNESS_UNREACHABLE = "WITNESS_UNREACHABLE"
WITNESS_BAD_ANSWER = "WITNESS_BAD_ANSWER"

_ALG_COSIGNATURE = b"\x04"
_COSIGNATURE_HEADER = "cosignature/v1\ntime {}\n"
_MAX_ANSWER = 1 << 20  # a consistency proof is at most ~64 hashes


# -- cosignatures ----------------------------------------------------------------------


def _public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def cosigner_key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + _ALG_COSIGNATURE + public_key).digest()[:4]


def cosigner_verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    raw = _public_bytes(public_key)
    return f"{name}+{cosigner_key_id(name, raw).hex()}+{base64.b64encode(_ALG_COSIGNATURE + raw).decode()}"


def cosign(note: str, name: str, private_key: Ed25519PrivateKey, timestamp: int) -> str:
    """The note with this witness's cosignature line added (replacing its own
    earlier one)."""
    body, signatures = parse_note(note)
    raw = _public_bytes(private_key.public_key())
    kid = cosigner_key_id(name, raw)
    message = (_COSIGNATURE_HEADER.format(timestamp) + body).encode()
    line = NoteSignature(name, kid, struct.pack(">Q", timestamp) + private_key.sign(message))
    kept = [s for s in signatures if (s.name, s.key_id) != (name, kid)]
    return body + "\n" + "".join(s.line() for s in [*kept, line])


def verify_cosignature(note: str, cosigner_key: str) -> int:
    """The time of a valid cosignature by ``cosigner_key`` on ``note``."""
    name, _, rest = cosigner_key.partition("+")
    id_hex, _, key_b64 = rest.partition("+")
    raw = base64.b64decode(key_b64, validate=True)
    if raw[:1] != _ALG_COSIGNATURE or len(raw) != 33 or cosigner_key_id(name, raw[1:]).hex() != id_hex:
        raise CheckpointError("KEY_MALFORMED", "not a cosignature/v1 verifier key")
    body, signatures = parse_note(note)
    ours = [s for s in signatures if s.name == name and s.key_id.hex() == id_hex]
    if not ours or len(ours[0].signature) != 72:
        raise CheckpointError("CHECKPOINT_UNKNOWN_KEY", f"no cosignature by {name}")
    (timestamp,) = struct.unpack(">Q", ours[0].signature[:8])
    try:
        Ed25519PublicKey.from_public_bytes(raw[1:]).verify(
            ours[0].signature[8:], (_COSIGNATURE_HEADER.format(timestamp) + body).encode()
        )
    except InvalidSignature:
        raise CheckpointError("CHECKPOINT_BAD_SIGNATURE", f"invalid cosignature by {name}") from None
    return timestamp


# -- this installation's witness key ----------------------------------------------------


def witness_name() -> str:
    return f"{settings.TONNE_LEDGER_KEY_NAME}-witness"


@functools.cache
def witness_private_key() -> Ed25519PrivateKey:
    path = settings.TONNE_LEDGER_KEY_FILE.with_name("witness-ed25519.pem")
    try:
        save_private_key(path, generate_private_key())
    except FileExistsError:  # made before: use it
        pass
    return load_private_key(path)


def witness_verifier_key() -> str:
    return cosigner_verifier_key(witness_name(), witness_private_key().public_key())


# -- witnessing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    origin: str
    cosigned: bool
    size: int
    code: str = ""
    message: str = ""


def add_log(*, origin: str, verifier_key: str, url: str) -> WitnessedLog:
    """Start witnessing a log (an operator's decision, from the command line)."""
    try:
        parse_verifier_key(verifier_key)
    except CheckpointError as exc:
        raise ValidationFailed(exc.code, exc.message, field="verifier_key") from None
    outbound.check_url(url, field="url")
    if len(origin) > 200 or not origin.strip():
        raise ValidationFailed("WITNESS_ORIGIN_INVALID", "The origin is one line of at most 200 characters.")
    log, _ = WitnessedLog.objects.update_or_create(
        origin=origin, defaults={"verifier_key": verifier_key, "url": url.rstrip("/")}
    )
    return log


def _get(url: str) -> bytes:
    answer = outbound.send("GET", url, headers={"Accept": "application/json"}, max_bytes=_MAX_ANSWER)
    if not answer.ok:
        raise ValidationFailed(WITNESS_UNREACHABLE, f"{url}: {answer.reason}")
    if len(answer.body) > _MAX_ANSWER:
        raise ValidationFailed(WITNESS_BAD_ANSWER, f"{url}: answer too large")
    return answer.body


def _json(url: str) -> dict:
    try:
        data = json.loads(_get(url))
    except ValueError:
        raise ValidationFailed(WITNESS_BAD_ANSWER, f"{url}: not JSON") from None
    if not isinstance(data, dict):
        raise ValidationFailed(WITNESS_BAD_ANSWER, f"{url}: not a JSON object")
    return data


def _proof(log: WitnessedLog, checkpoint: Checkpoint) -> list[bytes]:
    url = f"{log.url}/api/v1/ledger/proofs/consistency?old={log.size}&new={checkpoint.size}"
    data = _json(url)
    proof = data.get("proof")
    if data.get("old_size") != log.size or data.get("new_size") != checkpoint.size or not isinstance(proof, list):
        raise ValidationFailed(WITNESS_BAD_ANSWER, f"{url}: not a consistency proof for these sizes")
    try:
        return [bytes.fromhex(p) for p in proof]
    except (TypeError, ValueError):
        raise ValidationFailed(WITNESS_BAD_ANSWER, f"{url}: proof hashes are not hex") from None


def judge(log: WitnessedLog, checkpoint: Checkpoint, proof: list[bytes] | None = None) -> tuple[str, str] | None:
    """Why this checkpoint must not be cosigned, or None. The consistency
    proof from the size last cosigned is fetched from the log unless given
    (a partner registry carries it in its reconciliation statement)."""
    if log.size and checkpoint.size < log.size:
        return WITNESS_ROLLBACK, f"the log shows {checkpoint.size} entries; this witness cosigned {log.size}"
    if not log.size:
        return None
    old_root = bytes.fromhex(log.root_hash)
    if checkpoint.size == log.size:
        proof = []
    elif proof is None:
        proof = _proof(log, checkpoint)
    if not merkle.verify_consistency(log.size, checkpoint.size, old_root, checkpoint.root, proof):
        return WITNESS_FORK, (
            f"the checkpoint of size {checkpoint.size} does not extend the one of size {log.size} "
            "this witness cosigned"
        )
    return None


def witness(origin: str) -> Outcome:
    """Fetch, check and cosign one log's latest checkpoint; refusals are kept."""
    log = WitnessedLog.objects.filter(origin=origin).first()
    if log is None:
        raise NotFound("WITNESSED_LOG_NOT_FOUND", f"This installation does not witness {origin}.", details={"origin": origin})
    served = ""
    try:
        data = _json(f"{log.url}/api/v1/ledger/checkpoints/latest")
        note = data.get("note")
        served = note if isinstance(note, str) else ""
        if not served:
            raise ValidationFailed(WITNESS_BAD_ANSWER, "the latest checkpoint has no note")
        checkpoint = verify_checkpoint(served, log.verifier_key, expected_origin=log.origin)
        refused = judge(log, checkpoint)
    except CheckpointError as exc:
        refused = (exc.code, exc.message)
    except ValidationFailed as exc:
        if exc.code in (WITNESS_UNREACHABLE, outbound.ADDRESS_REFUSED) and not served:
            # Nothing was served: nothing to keep as evidence.
            return Outcome(origin, False, log.size, exc.code, exc.message)
        refused = (exc.code, exc.message)
    with transaction.atomic():
        return keep(log, served, checkpoint if refused is None else None, refused)


def keep(log: WitnessedLog, served: str, checkpoint: Checkpoint | None, refused: tuple[str, str] | None) -> Outcome:
    """The judgment kept (inside the caller's transaction): a refusal as
    evidence, or the checkpoint cosigned and remembered as the one every
    later checkpoint must extend."""
    log = WitnessedLog.objects.select_for_update().get(pk=log.pk)
    if refused is not None or checkpoint is None:
        code, message = refused or (WITNESS_BAD_ANSWER, "no checkpoint")
        WitnessRefusal.objects.create(log=log, code=code, message=message[:2000], note=served[:65536], at=clock.now())
        return Outcome(log.origin, False, log.size, code, message)
    now = clock.now()
    log.cosigned_note = cosign(served, witness_name(), witness_private_key(), int(now.timestamp()))
    log.size, log.root_hash, log.cosigned_at = checkpoint.size, checkpoint.root.hex(), now
    log.save(update_fields=["cosigned_note", "size", "root_hash", "cosigned_at"])
    return Outcome(log.origin, True, checkpoint.size)


def witness_all() -> list[Outcome]:
    """Every configured log, once (the worker's job and `tonne ledger witness run`)."""
    return [witness(origin) for origin in WitnessedLog.objects.values_list("origin", flat=True)]
