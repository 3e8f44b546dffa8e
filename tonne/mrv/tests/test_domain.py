"""The pure rules of monitoring and verification, without a database."""

import datetime as dt

import pytest

from tonne.core.errors import ValidationFailed
from tonne.mrv import domain


def test_a_period_runs_forwards_and_has_ended() -> None:
    today = dt.date(2026, 6, 1)
    domain.check_period(dt.date(2025, 1, 1), dt.date(2025, 12, 31), today=today)
    with pytest.raises(ValidationFailed) as backwards:
        domain.check_period(dt.date(2025, 2, 1), dt.date(2025, 1, 1), today=today)
    assert backwards.value.code == "PERIOD_INVALID"
    with pytest.raises(ValidationFailed) as future:
        domain.check_period(dt.date(2026, 1, 1), dt.date(2026, 12, 31), today=today)
    assert future.value.code == "PERIOD_IN_FUTURE"


def test_vintages_are_each_once_and_inside_the_period() -> None:
    period = (dt.date(2024, 1, 1), dt.date(2025, 12, 31))
    assert domain.vintage_quantities({2024: 5, 2025: 7}, "vintages", period) == {2024: 5, 2025: 7}
    for rows, code in (
        ([], "VINTAGES_REQUIRED"),
        ([{"vintage": 2024, "quantity": 1}, {"vintage": 2024, "quantity": 2}], "VINTAGE_DUPLICATE"),
        ([{"vintage": 2023, "quantity": 1}], "VINTAGE_OUTSIDE_PERIOD"),
        ([{"quantity": 1}], "VINTAGE_INVALID"),
    ):
        with pytest.raises(ValidationFailed) as refused:
            domain.vintage_quantities(rows, "vintages", period)
        assert refused.value.code == code


def test_a_verifier_signs_only_what_was_claimed() -> None:
    assert domain.check_verified({2024: 10, 2025: 5}, {2024: 8}) == {2024: 8, 2025: 0}
    with pytest.raises(ValidationFailed) as unknown:
        domain.check_verified({2024: 10}, {2023: 1})
    assert unknown.value.code == "VINTAGE_NOT_CLAIMED"
    with pytest.raises(ValidationFailed) as excess:
        domain.check_verified({2024: 10}, {2024: 11})
    assert excess.value.code == "VERIFIED_EXCEEDS_CLAIMED"


def test_a_period_lies_within_the_crediting_period() -> None:
    crediting = (dt.date(2025, 1, 1), dt.date(2031, 12, 31))
    domain.check_crediting(dt.date(2025, 1, 1), dt.date(2025, 12, 31), crediting)
    domain.check_crediting(dt.date(2020, 1, 1), dt.date(2020, 12, 31), (None, None))  # not validated yet: no bound
    for start, end in ((dt.date(2020, 1, 1), dt.date(2020, 12, 31)), (dt.date(2031, 6, 1), dt.date(2032, 5, 31))):
        with pytest.raises(ValidationFailed) as outside:
            domain.check_crediting(start, end, crediting)
        assert outside.value.code == "PERIOD_OUTSIDE_CREDITING"


def test_an_absurd_claim_against_the_estimate_is_refused() -> None:
    year = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    estimate = [(dt.date(2025, 1, 1), dt.date(2025, 12, 31), 2600)]
    domain.check_claim_plausible({2025: 26_000}, year, estimate)  # ten times: over-performance, still possible
    domain.check_claim_plausible({2025: 10**14}, year, [])  # no estimate: nothing to compare with
    with pytest.raises(ValidationFailed) as absurd:
        domain.check_claim_plausible({2025: 99_999_999_999_999}, year, estimate)
    assert absurd.value.code == "CLAIM_ABOVE_ESTIMATE"
    assert "2,600" in absurd.value.message and "99,999,999,999,999" in absurd.value.message
