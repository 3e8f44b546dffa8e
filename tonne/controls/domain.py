"""Pure rules of the transaction controls: the working-day calendar,
request hashes, and who may approve what."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from tonne.core.canonical import canonical_json
from tonne.core.errors import ValidationFailed


@dataclass(frozen=True)
class Calendar:
    """The host country's working days: weekdays but the weekend, less holidays,
    with 'noon' in the country's own time zone."""

    timezone: str = "UTC"
    holidays: frozenset[dt.date] = frozenset()
    weekend: frozenset[int] = frozenset({5, 6})  # Monday is 0

    def is_working_day(self, day: dt.date) -> bool:
        return day.weekday() not in self.weekend and day not in self.holidays

    def noon_of_working_day(self, after: dt.datetime, n: int) -> dt.datetime:
        """Noon (local) of the n-th working day after the local day of `after` (n ≥ 1)."""
        zone = ZoneInfo(self.timezone)
        day = after.astimezone(zone).date()
        counted = 0
        while counted < n:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return dt.datetime.combine(day, dt.time(12, 0), tzinfo=zone).astimezone(dt.UTC)


def parse_holidays(text: str) -> frozenset[dt.date]:
    days = set()
    for part in (text or "").replace(";", ",").split(","):
        part = part.strip()
        if part:
            days.add(dt.date.fromisoformat(part))
    return frozenset(days)


WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def parse_weekend(text: str) -> frozenset[int]:
    return frozenset(WEEKDAYS[p.strip().lower()[:3]] for p in (text or "").split(",") if p.strip())


def request_hash(action: str, payload: dict[str, object]) -> str:
    """What an approval is bound to: the action and its exact parameters."""
    return hashlib.sha256(canonical_json({"action": action, **payload})).hexdigest()


def ranges_overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def check_quantity_limit(value: int | None, field: str) -> int | None:
    if value is None:
        return None
    if value <= 0:
        raise ValidationFailed("LIMIT_INVALID", f"{field} must be a positive number of units, or null for none.", field=field, details={"field": field})
    return value


def sum_quantities(ranges: Iterable[tuple[int, int]]) -> int:
    return sum(end - start + 1 for start, end in ranges)
