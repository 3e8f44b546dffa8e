"""The registry's clock. Services ask it for the time so tests can move it."""

from __future__ import annotations

import datetime as dt

_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    # timezone.now() reads settings.USE_TZ on every call; Tonne's settings fix it to True.
    return _frozen if _frozen is not None else dt.datetime.now(dt.UTC)


def freeze(at: dt.datetime | None) -> None:
    """Pin the clock (tests); None lets it run again."""
    global _frozen
    _frozen = at
