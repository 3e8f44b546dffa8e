"""Plausibility checks on intake (pure): a reading that passes its signature
and calibration checks but looks wrong is accepted and flagged for the VVB,
never silently taken nor silently dropped."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

MICRO = Decimal(1_000_000)
CLOCK_DRIFT_LIMIT = dt.timedelta(minutes=2)
GAP_FACTOR = 2  # a gap is more than twice the expected interval


@dataclass(frozen=True)
class Limits:
    min_micro: int | None
    max_micro: int | None
    max_change_micro_per_hour: int | None
    expected_interval: dt.timedelta | None


@dataclass(frozen=True)
class Flag:
    code: str
    detail: str


def check(
    limits: Limits, quantity_micro: int, taken_at: dt.datetime, previous: tuple[dt.datetime, int] | None
) -> list[Flag]:
    flags = []
    if limits.min_micro is not None and quantity_micro < limits.min_micro:
        flags.append(Flag("RANGE", f"{Decimal(quantity_micro) / MICRO} is below the minimum {Decimal(limits.min_micro) / MICRO}"))
    if limits.max_micro is not None and quantity_micro > limits.max_micro:
        flags.append(Flag("RANGE", f"{Decimal(quantity_micro) / MICRO} is above the maximum {Decimal(limits.max_micro) / MICRO}"))
    if previous is not None:
        before, last = previous
        elapsed = taken_at - before
        if limits.expected_interval and elapsed > limits.expected_interval * GAP_FACTOR:
            flags.append(Flag("GAP", f"no reading for {elapsed} (expected every {limits.expected_interval})"))
        if limits.max_change_micro_per_hour is not None and elapsed.total_seconds() > 0:
            # change × 3600 / seconds > limit, in integers
            change = abs(quantity_micro - last)
            if change * 3600 > limits.max_change_micro_per_hour * elapsed.total_seconds():
                flags.append(Flag("RATE_OF_CHANGE", f"changed by {Decimal(change) / MICRO} in {elapsed}"))
    return flags


def clock_drift(sent_at: dt.datetime | None, received_at: dt.datetime) -> Flag | None:
    """The device's clock, as stated when it sent the batch, against ours."""
    if sent_at is None:
        return None
    drift = received_at - sent_at
    if abs(drift) > CLOCK_DRIFT_LIMIT:
        return Flag("CLOCK_DRIFT", f"device clock differs from the registry's by {drift}")
    return None
