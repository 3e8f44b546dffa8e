"""Reconciliation's messages (docs/linkage.md §3.6), `tonne-linkage-statement/1`:
one line of canonical JSON in a note signed with the registry's ledger key,
built and read here (every field checked; refused with
`LINKAGE_MESSAGE_INVALID` naming it). Who signed a note is the partner
list's business (services.sender_of)."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

from django.conf import settings

from tonne.core.canonical import canonical_json
from tonne.core.errors import ValidationFailed
from tonne.ledger import keys
from tonne.ledger.checkpoint import sign_note, verify_note
from tonne.linkage import reconciliation_domain as domain

FORMAT = "tonne-linkage-statement/1"
MAX_NOTE = 4_000_000
MAX_LINES = 100_000
MAX_RANGES = 1000
MAX_SERIAL = 2**63 - 1
MAX_PROOF = 128
CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,59}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _signed(body: dict[str, Any]) -> str:
    return sign_note(canonical_json(body).decode("utf-8") + "\n", settings.TONNE_LEDGER_KEY_NAME, keys.private_key())


def line_out(line: domain.Line) -> dict[str, Any]:
    return {"transfer": line.transfer, "direction": line.direction, "state": line.state,
            "ranges": [list(r) for r in line.ranges]}


def statement(*, to: str, at: dt.datetime, lines: list[domain.Line], checkpoint: str | None,
              consistency: dict[str, Any] | None) -> str:
    return _signed({"format": FORMAT, "type": "statement", "from": settings.TONNE_ARTICLE6_REGISTRY_ID, "to": to,
                    "at": at.isoformat(), "transfers": [line_out(line) for line in lines], "checkpoint": checkpoint,
                    "consistency": consistency})


def answer(*, to: str, at: dt.datetime, statement_sha256: str, mismatches: list[dict[str, Any]],
           cosigned: str | None, witness: str | None) -> str:
    return _signed({"format": FORMAT, "type": "answer", "from": settings.TONNE_ARTICLE6_REGISTRY_ID, "to": to,
                    "at": at.isoformat(), "statement_sha256": statement_sha256, "mismatches": mismatches,
                    "cosigned": cosigned, "witness": witness})


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed("LINKAGE_MESSAGE_INVALID", f"{field}: {message}", field=field)


def _uuid(value: Any, field: str) -> str:
    try:
        canonical = str(uuid.UUID(str(value)))
    except ValueError:
        raise _fail(field, "must be a UUID.") from None
    if canonical != value:
        raise _fail(field, "must be a UUID in its canonical form.")
    return canonical


def _ranges(value: Any, field: str) -> domain.Ranges:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_RANGES:
        raise _fail(field, f"must be 1-{MAX_RANGES} serial ranges.")
    out = []
    for i, pair in enumerate(value):
        ok = (isinstance(pair, list) and len(pair) == 2 and all(type(v) is int for v in pair)
              and 1 <= pair[0] <= pair[1] <= MAX_SERIAL)
        if not ok:
            raise _fail(f"{field}[{i}]", f"must be [start, end], 1 ≤ start ≤ end ≤ {MAX_SERIAL}.")
        out.append((pair[0], pair[1]))
    return tuple(out)


def _line(value: Any, field: str) -> domain.Line:
    if not isinstance(value, dict):
        raise _fail(field, "must be an object.")
    direction = value.get("direction")
    states = {"sent": domain.SENT_STATES, "received": domain.RECEIVED_STATES}.get(str(direction))
    if states is None:
        raise _fail(f"{field}.direction", "must be sent or received.")
    if value.get("state") not in states:
        raise _fail(f"{field}.state", f"must be one of: {', '.join(states)}.")
    return domain.Line(_uuid(value.get("transfer"), f"{field}.transfer"), str(direction), str(value["state"]),
                       _ranges(value.get("ranges"), f"{field}.ranges"))


def _text(body: dict[str, Any], key: str, limit: int, *, nullable: bool = False) -> str | None:
    value = body.get(key)
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise _fail(key, f"must be text of 1-{limit} characters.")
    return value


def _consistency(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    size = value.get("old_size") if isinstance(value, dict) else None
    proof = value.get("proof") if isinstance(value, dict) else None
    if type(size) is not int or size < 0 or not isinstance(proof, list) or len(proof) > MAX_PROOF \
            or not all(isinstance(p, str) and HEX64.match(p) for p in proof):
        raise _fail("consistency", "must be {old_size, proof: [64 hex, …]}.")
    return {"old_size": size, "proof": proof}


def _mismatch(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(field, "must be an object.")
    transfer = value.get("transfer")
    if transfer is not None:
        _uuid(transfer, f"{field}.transfer")
    code = value.get("code")
    if not isinstance(code, str) or not CODE.match(code):
        raise _fail(f"{field}.code", "must be a code.")
    sender = value.get("sender")
    if sender is not None and (not isinstance(sender, str) or not 1 <= len(sender) <= 100):
        raise _fail(f"{field}.sender", "must be a registry id.")
    ranges = _ranges(value["ranges"], f"{field}.ranges") if value.get("ranges") else ()
    return {"transfer": transfer, "code": code, "sender": sender, "ranges": [list(r) for r in ranges]}


def read(note: str, verifier_key: str, *, sender: str, kind: str) -> dict[str, Any]:
    """A statement's or an answer's fields checked: its format and type, for
    this registry, from the partner whose key signed it."""
    try:
        body = json.loads(verify_note(note, verifier_key))
    except (ValueError, RecursionError):
        raise _fail("note", "is not one JSON object.") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise _fail("format", f"must be {FORMAT}.")
    if body.get("type") != kind:
        raise _fail("type", f"must be {kind}.")
    if body.get("from") != sender:
        raise ValidationFailed("TRANSFER_SENDER_MISMATCH", f"The message says it is from {body.get('from')!r}, "
                               f"but {sender} signed it.", field="from")
    if body.get("to") != settings.TONNE_ARTICLE6_REGISTRY_ID:
        raise ValidationFailed("TRANSFER_NOT_FOR_THIS_REGISTRY", "The message is for another registry.", field="to")
    _text(body, "at", 40)
    if kind == "statement":
        transfers = body.get("transfers")
        if not isinstance(transfers, list) or len(transfers) > MAX_LINES:
            raise _fail("transfers", f"must be a list of at most {MAX_LINES} transfers.")
        body["lines"] = [_line(t, f"transfers[{i}]") for i, t in enumerate(transfers)]
        if len({(line.transfer, line.direction) for line in body["lines"]}) != len(body["lines"]):
            raise _fail("transfers", "names a transfer twice in one direction.")
        _text(body, "checkpoint", 10_000, nullable=True)
        body["consistency"] = _consistency(body.get("consistency"))
    else:
        digest = body.get("statement_sha256")
        if not isinstance(digest, str) or not HEX64.match(digest):
            raise _fail("statement_sha256", "must be 64 hex characters.")
        found = body.get("mismatches")
        if not isinstance(found, list) or len(found) > MAX_LINES:
            raise _fail("mismatches", f"must be a list of at most {MAX_LINES}.")
        body["mismatches"] = [_mismatch(m, f"mismatches[{i}]") for i, m in enumerate(found)]
        _text(body, "cosigned", 20_000, nullable=True)
        _text(body, "witness", 60, nullable=True)
    return body
