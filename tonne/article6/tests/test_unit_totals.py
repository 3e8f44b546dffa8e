"""The dashboard's Article 6 figures: units by status, revocations included."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from tonne import testing
from tonne.article6 import services as a6
from tonne.article6.selectors import unit_totals
from tonne.article6.tests.conftest import T0, key
from tonne.core import clock
from tonne.units.domain import Selection

pytestmark = pytest.mark.django_db


def test_authorised_units_await_their_first_transfer_and_the_rest_are_mitigation_contribution(world):
    world.authorise(quantity=600)
    clock.freeze(T0 + dt.timedelta(hours=1))
    testing.issue(world.reg, world.project, {2024: 1000})
    assert unit_totals() == {
        "first_transferred": 0, "awaiting_first_transfer": 600, "received": 0, "mitigation_contribution": 400,
    }


def test_a_revocation_takes_back_what_was_not_first_transferred(world):
    authorisation = world.authorise(first_transfer_definition="use_or_cancellation", quantity=1000)
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(world.reg, world.project, {2024: 1000})
    s = issuance.serial_start
    clock.freeze(T0 + dt.timedelta(days=1))
    a6.use_units(actor=world.reg.developer, from_account=world.reg.developer_account.identifier,
                 selection=Selection.build(ranges=[(s, s + 99)]), use="ndc", using_party="CH",
                 idempotency_key=key())
    assert unit_totals()["first_transferred"] == 100
    assert unit_totals()["awaiting_first_transfer"] == 900
    world.approve(a6.request_revocation(actor=world.reg.admin, identifier=authorisation.identifier, reason="Withdrawn"))
    clock.freeze(T0 + dt.timedelta(days=2))
    assert unit_totals() == {
        "first_transferred": 100, "awaiting_first_transfer": 0, "received": 0, "mitigation_contribution": 900,
    }
    page = Client().get("/dashboard/").content.decode()
    assert "Units by Article 6 status" in page and "Mitigation contribution units" in page
    csv = Client().get("/dashboard/article6-units.csv").content.decode()
    assert "\"Authorised, first transferred\",100" in csv and "Mitigation contribution units,900" in csv
