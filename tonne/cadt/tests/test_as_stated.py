"""What this registry tells CAD Trust about a retirement or a cancellation
(its read API, its export files, push sync) is held to the ledger entry of
the move (units.as_stated): a row edited behind the ledger (plain UPDATE
rights) refuses the whole document with TRANSACTION_NOT_AS_STATED. A unit
left out would read as deleted to CAD Trust, and the rest would be copied
onward where nothing says why."""

from __future__ import annotations

import json

import pytest

from tonne import testing
from tonne.cadt import mapping, projection, sync
from tonne.cadt.standin import StandInNode
from tonne.core.errors import Conflict
from tonne.ledger.tests.test_tamper import sql
from tonne.units.models import Transaction

pytestmark = pytest.mark.django_db
FORGED = "Forged Airline SA"
API = "/api/v1"
READS = ("/cadt/v2/unit", "/cadt/v1/units?page=1&limit=10", f"{API}/cadt/export?model=2", f"{API}/cadt/export?model=1",
         f"{API}/cadt/export?model=2&format=xlsx")


def _forge() -> None:
    retirement = Transaction.objects.get(kind=Transaction.Kind.RETIREMENT)
    assert sql("UPDATE units_transaction SET beneficiary = %s WHERE id = %s", [FORGED, retirement.pk]) == 1


def test_an_honest_retirement_reaches_cad_trust(cadt_reg: testing.Registry, client) -> None:
    units = mapping.v2_rows()["unit"]
    assert [u["unitRetirementBeneficiary"] for u in units if u["unitRetirementBeneficiary"]] == ["Acme Airlines"]
    for path in READS:
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize("statement", [
    f"UPDATE units_transaction SET beneficiary = '{FORGED}' WHERE kind = 'retirement'",
    f"UPDATE units_transaction SET reason = '{FORGED}' WHERE kind = 'cancellation'",
])
def test_a_forged_move_refuses_every_cad_trust_answer(cadt_reg: testing.Registry, client, statement) -> None:
    assert sql(statement) == 1
    for build in (mapping.v2_rows, mapping.v1_rows):
        with pytest.raises(Conflict) as refused:
            build()
        assert refused.value.code == "TRANSACTION_NOT_AS_STATED"
    for path in READS:
        response = client.get(path)
        assert response.status_code == 409, path
        assert "TRANSACTION_NOT_AS_STATED" in response.content.decode() and FORGED not in response.content.decode()


def test_rows_stated_before_the_forgery_are_kept_and_a_rebuild_is_refused(cadt_reg: testing.Registry,
                                                                          client) -> None:
    projection.catch_up()
    _forge()
    units = client.get("/cadt/v2/unit").json()
    assert "Acme Airlines" in json.dumps(units) and FORGED not in json.dumps(units)
    with pytest.raises(Conflict):
        projection.rebuild()
    assert FORGED not in client.get("/cadt/v2/unit").content.decode()


@pytest.mark.usefixtures("loopback_outbound")
def test_push_sync_does_not_send_a_forged_move(cadt_reg: testing.Registry) -> None:
    _forge()
    with StandInNode(api_key="k") as node:
        sync.add_destination(actor=cadt_reg.admin, name="cadt-main", url=node.url, api_key="k", from_start=True)
        outcomes = sync.deliver_due(max_batches=1)
        assert [o.delivered for o in outcomes] == [False]
        assert outcomes[0].error.startswith("TRANSACTION_NOT_AS_STATED")
        assert node.calls == []
