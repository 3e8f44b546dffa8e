"""An account's two limits and an organisation's application are refused all at once."""

from __future__ import annotations

import pytest

from tonne import testing
from tonne.controls import services as controls
from tonne.core.errors import Refusals
from tonne.organisations import services as orgs

pytestmark = pytest.mark.django_db


def test_both_limits_refused_together(registry: testing.Registry) -> None:
    with pytest.raises(Refusals) as refused:
        controls.request_limits(actor=registry.developer, account=registry.developer_account.identifier, per_transfer=0, per_day=-5)
    assert [(e.code, e.field) for e in refused.value.errors] == [("LIMIT_INVALID", "per_transfer"), ("LIMIT_INVALID", "per_day")]


def test_organisation_application_refused_together(registry: testing.Registry) -> None:
    with pytest.raises(Refusals) as refused:
        orgs.apply_for_organisation(actor=None, name=registry.buyer_org.name.upper(), kind="pirate", country="XX")
    assert [(e.code, e.field) for e in refused.value.errors] == [
        ("ORGANISATION_EXISTS", "name"), ("ORGANISATION_KIND_INVALID", "kind"), ("COUNTRY_INVALID", "country")]
