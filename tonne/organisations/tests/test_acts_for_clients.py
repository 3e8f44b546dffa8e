"""The administrator marks a buyer, trader or exchange as acting for its
clients: a service with its ledger entry, stated for `tonne ledger verify`,
and an API operation for administrators only."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from tonne import testing
from tonne.core.errors import PermissionDenied, ValidationFailed
from tonne.core.tests.test_api_core import API, assert_problem, post
from tonne.ledger.models import LedgerEntry
from tonne.ledger.openings import opened_body
from tonne.ledger.state import check_state
from tonne.organisations import services as orgs

pytestmark = pytest.mark.django_db


def test_only_the_administrator_marks_only_a_trader(registry: testing.Registry) -> None:
    reg = registry
    org = orgs.set_acts_for_clients(actor=reg.admin, organisation=reg.buyer_org, acts_for_clients=True)
    assert org.acts_for_clients
    entry = LedgerEntry.objects.filter(kind="organisation.acts_for_clients").latest("seq")
    data = opened_body(entry)["data"]
    assert data["acts_for_clients"] is True and data["organisation"] == str(reg.buyer_org.uid)
    assert check_state() is None
    with pytest.raises(PermissionDenied):
        orgs.set_acts_for_clients(actor=reg.buyer, organisation=reg.buyer_org, acts_for_clients=False)
    with pytest.raises(ValidationFailed) as exc:
        orgs.set_acts_for_clients(actor=reg.admin, organisation=reg.developer_org, acts_for_clients=True)
    assert exc.value.code == "NOT_A_TRADER"
    # Anyone may be told they do not act for clients (nothing to refuse).
    assert not orgs.set_acts_for_clients(actor=reg.admin, organisation=reg.developer_org, acts_for_clients=False).acts_for_clients


def test_a_flag_set_behind_the_ledgers_back_is_named(registry: testing.Registry) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE organisations_organisation SET acts_for_clients = %s", [True])
    found = check_state()
    assert found is not None and "acts_for_clients" in str(found)


def test_over_the_api(registry: testing.Registry, client: Client) -> None:
    reg = registry
    client.force_login(reg.admin)
    path = f"/organisations/{reg.buyer_org.uid}/acts-for-clients"
    response = post(client, path, {"acts_for_clients": True})
    assert response.status_code == 200 and response.json()["acts_for_clients"] is True
    assert Client().get(f"{API}/organisations/{reg.buyer_org.uid}").json()["acts_for_clients"] is True
    assert_problem(post(client, f"/organisations/{reg.developer_org.uid}/acts-for-clients", {"acts_for_clients": True}),
                   422, "NOT_A_TRADER")
