"""Canonical JSON for ledger entries: sorted keys, no spaces, UTF-8,
integers only and UTC timestamps, so the same entry always hashes the same."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

_PLAIN = frozenset({str, int, bool, type(None)})


def _normalise(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:  # the common case first, by exact type (subclasses take the checks below)
        return value
    if kind is dict:
        return {k if type(k) is str else str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        raise TypeError("canonical JSON holds integers only; got a float")
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise TypeError("canonical JSON needs timezone-aware datetimes")
        return utc_timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    raise TypeError(f"cannot put {type(value).__name__} into canonical JSON")


def utc_timestamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        _normalise(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
