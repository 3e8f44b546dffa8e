"""The protocol's messages (docs/linkage.md §3): one line of canonical
JSON in a note signed with the registry's ledger key. Built and read here;
who signed a note is the partner list's business (services.sender_of)."""

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

FORMAT = "tonne-linkage/1"
REQUESTS = ("proposal", "complete", "cancel")
STATES = ("checked", "awaiting_approval", "accepted", "rejected", "completed", "closed", "unknown")
MAX_FILE = 4_000_000
MAX_CODE = 60
CODE = re.compile(r"[A-Z][A-Z0-9_]*")
SHA256 = re.compile(r"[0-9a-f]{64}")


def _signed(body: dict[str, Any]) -> str:
    return sign_note(canonical_json(body).decode("utf-8") + "\n", settings.TONNE_LEDGER_KEY_NAME, keys.private_key())


def request(kind: str, *, transfer: str, to: str, at: dt.datetime, file: str | None = None,
            reason: str | None = None) -> str:
    assert kind in REQUESTS
    return _signed({"format": FORMAT, "type": kind, "transfer": transfer, "from": settings.TONNE_ARTICLE6_REGISTRY_ID,
                    "to": to, "at": at.isoformat(), "file": file, "reason": reason})


def answer(*, transfer: str, to: str, at: dt.datetime, request_sha256: str, state: str, code: str = "",
           field: str = "") -> str:
    assert state in STATES
    return _signed({"format": FORMAT, "type": "answer", "transfer": transfer,
                    "from": settings.TONNE_ARTICLE6_REGISTRY_ID, "to": to, "at": at.isoformat(),
                    "request_sha256": request_sha256, "state": state, "code": code or None, "field": field or None})


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed("LINKAGE_MESSAGE_INVALID", f"{field}: {message}", field=field)


def _text(body: dict[str, Any], key: str, limit: int, *, nullable: bool = False) -> str | None:
    """Every field is present (null where the message has nothing to say): missing is not null."""
    if key not in body:
        raise _fail(key, "is missing.")
    value = body[key]
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise _fail(key, f"must be text of 1-{limit} characters.")
    return value


def _null(body: dict[str, Any], key: str, kind: str) -> None:
    if key not in body:
        raise _fail(key, "is missing.")
    if body[key] is not None:
        raise _fail(key, f"is null in a {kind}.")


def _code(body: dict[str, Any], key: str, *, nullable: bool) -> None:
    value = _text(body, key, MAX_CODE, nullable=nullable)
    if value is not None and not CODE.fullmatch(value):
        raise _fail(key, "must be a code: capital letters, digits and _.")


def _time(body: dict[str, Any], key: str) -> None:
    value = _text(body, key, 40)
    try:
        at = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise _fail(key, "must be an ISO 8601 date-time.") from None
    if at.tzinfo is None:
        raise _fail(key, "must name its time zone.")


def read(note: str, verifier_key: str, *, sender: str, types: tuple[str, ...]) -> dict[str, Any]:
    """A message's fields checked: its format and type, for this registry,
    from the partner whose key signed it, about one transfer id."""
    try:
        body = json.loads(verify_note(note, verifier_key))
    except (ValueError, RecursionError):
        raise _fail("note", "is not one JSON object.") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise _fail("format", f"must be {FORMAT}.")
    if not isinstance(body.get("type"), str) or body["type"] not in types:
        raise _fail("type", f"must be one of: {', '.join(types)}.")
    transfer = _text(body, "transfer", 36)
    try:
        canonical = str(uuid.UUID(str(transfer)))
    except ValueError:
        raise _fail("transfer", "must be a UUID.") from None
    if canonical != transfer:
        raise _fail("transfer", "must be a UUID in its canonical form.")
    if body.get("from") != sender:
        raise ValidationFailed("TRANSFER_SENDER_MISMATCH", f"The message says it is from {str(body.get('from'))[:100]!r}, "
                               f"but {sender} signed it.", field="from")
    if body.get("to") != settings.TONNE_ARTICLE6_REGISTRY_ID:
        raise ValidationFailed("TRANSFER_NOT_FOR_THIS_REGISTRY", "The message is for another registry.", field="to")
    _time(body, "at")
    if body["type"] == "answer":
        if not isinstance(body.get("state"), str) or body["state"] not in STATES:
            raise _fail("state", f"must be one of: {', '.join(STATES)}.")
        if not SHA256.fullmatch(_text(body, "request_sha256", 64) or ""):
            raise _fail("request_sha256", "must be 64 lower-case hex digits.")
        _code(body, "code", nullable=True)
        _text(body, "field", 200, nullable=True)
    elif body["type"] == "cancel":
        _null(body, "file", "cancel")
        _code(body, "reason", nullable=False)
    else:
        _text(body, "file", MAX_FILE)
        _null(body, "reason", body["type"])
    return body
