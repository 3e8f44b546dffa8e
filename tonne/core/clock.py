"""The registry's clock. Services ask it for the time so tests can move it."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    return _frozen if _frozen is not None else timezone.now()


def freeze(at: dt.datetime | None) -> None:
    """Pin the clock (tests); None lets it run again."""
    global _frozen
    _frozen = at
