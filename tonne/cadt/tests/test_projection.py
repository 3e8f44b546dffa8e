"""The read API's rows (CadtRow) follow every change, and the drift check finds a difference."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from tonne import testing
from tonne.cadt import projection
from tonne.cadt.models import CadtCount, CadtProjection, CadtRow
from tonne.ledger.models import LedgerHead
from tonne.units import services as units
from tonne.units.domain import Selection

pytestmark = pytest.mark.django_db


def _units(client: Client, **query: str) -> list[dict]:
    return client.get("/cadt/v1/units", {"page": 1, "limit": 1000, **query}).json()["data"]


def test_a_change_is_read_at_once_and_rows_match_a_fresh_mapping(cadt_reg: testing.Registry, client: Client) -> None:
    retired = len(_units(client, filter="unitStatus:Retired:eq"))
    assert CadtProjection.objects.get().cursor == LedgerHead.objects.get().size
    first = cadt_reg.extra["issuances"][1]
    units.retire(
        actor=cadt_reg.developer, from_account=cadt_reg.developer_account.identifier,
        selection=Selection.build(ranges=[(first.serial_start, first.serial_start + 9)]),
        beneficiary="Lagoon Ferries", purpose="voluntary", reason="2024 crossings", idempotency_key="r-projection",
    )
    assert len(_units(client, filter="unitStatus:Retired:eq")) == retired + 1
    assert len(client.get("/cadt/v2/unit", {"search": "ferries"}).json()) == 1
    assert projection.drift() == {"missing": [], "extra": [], "changed": []}
    call_command("cadt", "check-rows")


def test_drift_is_found_and_rebuilt(cadt_reg: testing.Registry, client: Client) -> None:
    projection.catch_up()
    row = CadtRow.objects.filter(version="1", table="projects").get()
    CadtRow.objects.filter(pk=row.pk).update(data=row.data.replace("Lagoon", "Lake"))
    CadtRow.objects.create(version="2", table="unit", key="stray", org_uid="x", data="{}")
    found = projection.drift()
    assert found["changed"] == [f"1/projects/{row.key}"] and found["extra"] == ["2/unit/stray"]
    with pytest.raises(CommandError):
        call_command("cadt", "check-rows")
    call_command("cadt", "rebuild-rows")
    assert not any(projection.drift().values())
    assert len(_units(client, search="lagoon", includeProjectInfoInSearch="true")) == len(_units(client))


def test_kept_counts_answer_as_the_rows_do(cadt_reg: testing.Registry, client: Client) -> None:
    """Page counts from the kept counts (organisation, status) equal the rows' own count,
    after a change that moves units between statuses and splits a block."""
    first = cadt_reg.extra["issuances"][1]
    units.retire(
        actor=cadt_reg.developer, from_account=cadt_reg.developer_account.identifier,
        selection=Selection.build(ranges=[(first.serial_start, first.serial_start + 4)]),
        beneficiary="Lagoon Ferries", purpose="voluntary", reason="2024 crossings", idempotency_key="r-counts",
    )
    every = _units(client)
    for query, expected in (
        ({}, len(every)),
        ({"orgUid": "me"}, len(every)),
        ({"orgUid": "someone-else"}, 0),
        ({"filter": "unitStatus:Retired:eq"}, sum(u["unitStatus"] == "Retired" for u in every)),
        ({"filter": "unitStatus:Retired:not"}, sum(u["unitStatus"] != "Retired" for u in every)),
        ({"filter": 'unitStatus:["Retired","Held"]:in'}, sum(u["unitStatus"] in ("Retired", "Held") for u in every)),
    ):
        assert client.get("/cadt/v1/units", {"page": 1, "limit": 1, **query}).json()["pageCount"] == expected, query
    assert not any(projection.drift().values())
    CadtCount.objects.update(rows=0)
    assert projection.drift()["counts"]
    projection.recount()
    assert not any(projection.drift().values())


def test_orders_put_null_first_ascending_and_last_descending(cadt_reg: testing.Registry, client: Client) -> None:
    """CAD Trust's SQLite order, on an indexed column and on one read from the record."""
    for field in ("marketplaceIdentifier", "unitStatusReason"):
        up = [u[field] for u in _units(client, order=f"{field}:ASC")]
        down = [u[field] for u in _units(client, order=f"{field}:DESC")]
        assert up == sorted(up, key=lambda v: (v is not None, v or ""))
        assert down == sorted(down, key=lambda v: (v is not None, v or ""), reverse=True)
