"""The pure rules of the audit trail: which browser device ids are taken as
sent, how a device is remembered without keeping its id, what the new-device
notice says, and what a decision on a review queue item must carry."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable

from tonne.core.errors import ValidationFailed


def device_id_acceptable(device_id: str) -> bool:
    """A device id the browser sent back: 16 to 64 URL-safe characters."""
    return 16 <= len(device_id) <= 64 and device_id.replace("-", "").replace("_", "").isalnum()


def device_fingerprint(device_id: str) -> str:
    """What is stored of a device id: its SHA-256, never the id itself."""
    return hashlib.sha256(device_id.encode()).hexdigest()


def new_device_notice(
    *, registry_name: str, username: str, at: dt.datetime, ip: str | None, user_agent: str
) -> tuple[str, str]:
    """The subject and text of the e-mail about a sign-in from a new device."""
    return (
        f"{registry_name}: new sign-in to your account",
        f"Your account {username} was signed in to from a new device\n"
        f"at {at:%Y-%m-%d %H:%M} UTC, address {ip or 'unknown'},\n"
        f"browser: {user_agent or 'unknown'}.\n\n"
        "If this was not you, contact the registry administrator at once.",
    )


def check_review_decision(*, status: str, note: str, choices: Iterable[str], invalid_code: str) -> str:
    """A decision on a review queue item is one of `choices` and says why;
    returns the reason, stripped."""
    choices = tuple(choices)
    if status not in choices:
        raise ValidationFailed(invalid_code, f"status is {' or '.join(choices)}.", field="status")
    note = (note or "").strip()
    if not note:
        raise ValidationFailed("REASON_REQUIRED", "Say why.", field="note")
    return note
