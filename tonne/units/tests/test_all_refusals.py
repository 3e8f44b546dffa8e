"""A retirement's details are refused all at once, each naming its field."""

from __future__ import annotations

import pytest

from tonne.core.errors import Refusals
from tonne.units import domain


def test_retirement_details_name_every_broken_rule() -> None:
    with pytest.raises(Refusals) as refused:
        domain.retirement_details("", "bogus", "XX-??", "r", compliance_period="abc", using_entity="x" * 400)
    assert [(e.code, e.field) for e in refused.value.errors] == [
        ("RETIREMENT_BENEFICIARY_REQUIRED", "beneficiary"), ("RETIREMENT_PURPOSE_INVALID", "purpose"),
        ("JURISDICTION_INVALID", "jurisdiction"), ("COMPLIANCE_PERIOD_INVALID", "compliance_period"),
        ("TEXT_TOO_LONG", "using_entity")]


def test_good_details_are_kept_as_before() -> None:
    assert domain.retirement_details("Lagoon Ltd", domain.RETIREMENT_PURPOSES[0], "ci", " why ") == {
        "beneficiary": "Lagoon Ltd", "purpose": domain.RETIREMENT_PURPOSES[0], "jurisdiction": "CI", "reason": "why"}
