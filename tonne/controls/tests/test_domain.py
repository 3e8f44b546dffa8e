"""The working-day calendar and request hashes."""

from __future__ import annotations

import datetime as dt

from tonne.controls import domain

UTC = dt.UTC


def test_noon_of_next_working_day_skips_weekend_and_holidays() -> None:
    cal = domain.Calendar(holidays=frozenset({dt.date(2026, 3, 9)}))
    friday = dt.datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
    # Saturday, Sunday and Monday the 9th (a holiday) are skipped.
    assert cal.noon_of_working_day(friday, 1) == dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    tuesday_early = dt.datetime(2026, 3, 3, 0, 5, tzinfo=UTC)
    assert cal.noon_of_working_day(tuesday_early, 1) == dt.datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def test_fourth_working_day() -> None:
    cal = domain.Calendar()
    monday = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert cal.noon_of_working_day(monday, 4) == dt.datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
    thursday = dt.datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    assert cal.noon_of_working_day(thursday, 4) == dt.datetime(2026, 3, 11, 12, 0, tzinfo=UTC)


def test_noon_is_local_to_the_country() -> None:
    cal = domain.Calendar(timezone="Europe/Brussels")
    at = dt.datetime(2026, 1, 5, 23, 30, tzinfo=UTC)  # already Tuesday in Brussels
    assert cal.noon_of_working_day(at, 1) == dt.datetime(2026, 1, 7, 11, 0, tzinfo=UTC)


def test_weekend_and_holidays_parse() -> None:
    assert domain.parse_weekend("fri, sat") == frozenset({4, 5})
    assert domain.parse_holidays("2026-01-01; 2026-12-25") == frozenset({dt.date(2026, 1, 1), dt.date(2026, 12, 25)})


def test_request_hash_binds_every_field() -> None:
    a = domain.request_hash("limit_change", {"account": "X", "per_day": 10})
    assert a == domain.request_hash("limit_change", {"per_day": 10, "account": "X"})
    assert a != domain.request_hash("limit_change", {"account": "X", "per_day": 11})
    assert a != domain.request_hash("trusted_add", {"account": "X", "per_day": 10})
