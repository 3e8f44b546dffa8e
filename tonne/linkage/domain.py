"""Pure rules of the partner list: what a partner's terms may be, and
whether a key is in force at a moment."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from tonne.core.errors import ValidationFailed

REGISTRY_ID = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,99}$")
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_ENDPOINT = 300
MAX_KEY = 300


def registry_id(value: object) -> str:
    text = str(value or "").strip().upper()
    if not REGISTRY_ID.match(text):
        raise ValidationFailed(
            "PARTNER_REGISTRY_INVALID",
            "A registry id is 1-100 letters, digits, '.', '_' or '-' (e.g. CH-TONNE).",
            field="registry_id",
        )
    return text


def endpoint(value: object) -> str:
    """HTTPS, or plain HTTP to this machine only (two installations linked on one host)."""
    text = str(value or "").strip()
    if len(text) > MAX_ENDPOINT:
        raise ValidationFailed("PARTNER_ENDPOINT_INVALID", f"An endpoint is at most {MAX_ENDPOINT} characters.",
                               field="endpoint", details={"limit": MAX_ENDPOINT})
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise ValidationFailed("PARTNER_ENDPOINT_INVALID", "The endpoint is not a URL.", field="endpoint") from None
    secure = parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK)
    if not secure or not host or parts.query or parts.fragment or parts.username or parts.password:
        raise ValidationFailed(
            "PARTNER_ENDPOINT_INVALID",
            "The endpoint is an https:// URL (no user, query or fragment); plain http only to this machine.",
            field="endpoint",
        )
    return text.rstrip("/")


@dataclass(frozen=True)
class KeyWindow:
    valid_from: dt.datetime
    valid_until: dt.datetime | None

    def in_force(self, at: dt.datetime) -> bool:
        return self.valid_from <= at and (self.valid_until is None or at < self.valid_until)


def retire_at(now: dt.datetime, requested: dt.datetime | None, valid_from: dt.datetime) -> dt.datetime:
    """A key retires now or later (the overlap while the partner moves to its
    new key), never in the past: what was accepted under it stays accepted."""
    at = now if requested is None else requested
    if at.tzinfo is None:
        raise ValidationFailed("KEY_RETIREMENT_INVALID", "A retirement time names its time zone.", field="valid_until")
    if at < now:
        raise ValidationFailed("KEY_RETIREMENT_IN_PAST", "A key retires now or later, never in the past.",
                               field="valid_until")
    return max(at, valid_from)
