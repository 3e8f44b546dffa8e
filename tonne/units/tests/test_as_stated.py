"""A retirement's certificate (page and PDF), its ledger entry page and the
API's answers state a transaction only as its ledger entry states it: a row
edited behind the ledger (plain UPDATE rights, every trigger in place) is
refused with TRANSACTION_NOT_AS_STATED, and the forged value is shown
nowhere."""

# ruff: noqa: F811  (the `world` fixture is shared with the ledger's tamper tests)
from __future__ import annotations

import datetime as dt

import pytest

from tonne.core.tests.test_api_core import assert_problem, get, post
from tonne.ledger.tests.test_tamper import sql, world  # noqa: F401 - the fixture
from tonne.organisations import services as orgs
from tonne.units import as_stated
from tonne.units.models import Transaction

pytestmark = pytest.mark.django_db
FORGED = "Forged Airline SA"


def _pages(world) -> dict[str, str]:
    retirement = world.extra["txns"]["retirement"]
    return {"certificate": f"/certificates/{retirement.identifier}/",
            "pdf": f"/certificates/{retirement.identifier}.pdf",
            "entry": f"/ledger/entries/{retirement.ledger_seq}/"}


def test_an_honest_retirement_is_shown_everywhere(world, client):
    retirement = world.extra["txns"]["retirement"]
    assert as_stated.divergences(list(Transaction.objects.all())) == {}
    for path in [*_pages(world).values(), "/retirements/", f"/projects/{world.extra['forest'].project_id}/"]:
        assert client.get(path).status_code == 200, path
    assert get(client, f"/retirements/{retirement.identifier}").json()["beneficiary"] == "Acme Airways"
    assert get(client, "/retirements").status_code == 200
    client.force_login(world.admin)
    assert get(client, f"/transactions/{retirement.identifier}").status_code == 200
    assert get(client, "/transactions", limit=100).status_code == 200


def test_a_forged_beneficiary_is_shown_nowhere(world, client):
    retirement = world.extra["txns"]["retirement"]
    sql("UPDATE units_transaction SET beneficiary = %s WHERE identifier = %s", [FORGED, retirement.identifier])
    for name, path in _pages(world).items():
        response = client.get(path)
        assert response.status_code == 409, name
        assert response["Content-Type"].startswith("text/html"), name  # the PDF too: a page that says why
        text = response.content.decode()
        assert FORGED not in text and "TRANSACTION_NOT_AS_STATED" in text, name
    assert FORGED not in client.get("/retirements/").content.decode()  # the public register
    for project in (world.extra["forest"], world.extra["solar"]):
        page = client.get(f"/projects/{project.project_id}/")
        assert page.status_code == 200 and FORGED not in page.content.decode()
    assert "TRANSACTION_NOT_AS_STATED" in client.get("/retirements/").content.decode()
    for path in (f"/retirements/{retirement.identifier}", "/retirements"):
        body = assert_problem(get(client, path), 409, "TRANSACTION_NOT_AS_STATED")
        assert FORGED not in str(body) and body["details"]["field"] == "beneficiary"
    client.force_login(world.admin)
    assert_problem(get(client, f"/transactions/{retirement.identifier}"), 409, "TRANSACTION_NOT_AS_STATED")


@pytest.mark.parametrize(
    ("statement", "field"),
    [
        ("UPDATE units_transaction SET purpose = 'compliance', jurisdiction = 'FR' WHERE identifier = %s", "purpose"),
        ("UPDATE units_transaction SET quantity = quantity + 1 WHERE identifier = %s", "quantity"),
        ("UPDATE units_transaction SET ledger_seq = NULL WHERE identifier = %s", "no ledger entry"),
        ("UPDATE units_transaction SET ledger_seq = ledger_seq - 1 WHERE identifier = %s", "ledger_seq"),
        ("UPDATE units_transactionblock SET serial_end = serial_end - 1 "
         "WHERE transaction_id = (SELECT id FROM units_transaction WHERE identifier = %s)", "serials"),
        ("UPDATE units_issuance SET vintage = 2019 WHERE id IN (SELECT issuance_id FROM units_transactionblock "
         "WHERE transaction_id = (SELECT id FROM units_transaction WHERE identifier = %s))", "issuance vintage"),
    ],
)
def test_each_stated_field_edited_is_named(world, statement, field):
    retirement = world.extra["txns"]["retirement"]
    sql(statement, [retirement.identifier])
    found = as_stated.divergences(list(Transaction.objects.filter(identifier=retirement.identifier)))
    assert found == {retirement.identifier: field}


def test_a_moved_retirement_date_is_named(world):
    retirement = world.extra["txns"]["retirement"]
    Transaction.objects.filter(pk=retirement.pk).update(completed_at=retirement.completed_at - dt.timedelta(days=400))
    assert as_stated.divergences([Transaction.objects.get(pk=retirement.pk)]) == {retirement.identifier: "completed_at"}


def test_every_completed_move_of_the_world_is_as_stated(world):
    """Issuances, buffer contributions, transfers, cancellations, reversals: none is refused when honest."""
    txns = list(Transaction.objects.filter(status=Transaction.Status.COMPLETED))
    assert {t.kind for t in txns} >= {"issuance", "transfer", "retirement", "cancellation"}
    assert as_stated.divergences(txns) == {}


@pytest.mark.parametrize("path", ["/retirements", "/retirements/batch", "/transfer-and-retire"])
def test_a_replay_states_a_forged_row_nowhere(world, client, path):
    """A request sent again with its Idempotency-Key is answered from the stored row: held to its entry."""
    reg = world
    if path == "/transfer-and-retire":
        orgs.set_acts_for_clients(actor=reg.admin, organisation=reg.buyer_org, acts_for_clients=True)
    client.force_login(reg.buyer)
    one = {"from_account": reg.buyer_account.identifier, "quantity": 2, "beneficiary": "Acme Airways",
           "purpose": "voluntary", "jurisdiction": "CI"}
    body = {"items": [{**one, "idempotency_key": "again"}]} if path.endswith("batch") else one
    if path == "/transfer-and-retire":
        body = {**one, "to_account": reg.other_developer_account.identifier}
    first = post(client, path, body, headers={"Idempotency-Key": "again"})
    assert first.status_code in (200, 201), first.content
    assert post(client, path, body, headers={"Idempotency-Key": "again"}).status_code == 200
    newest = Transaction.objects.filter(kind="retirement").latest("pk")
    assert newest.beneficiary == "Acme Airways" and newest.identifier not in _pages(world)["certificate"]
    sql("UPDATE units_transaction SET beneficiary = %s WHERE id = %s", [FORGED, newest.pk])
    refused = assert_problem(post(client, path, body, headers={"Idempotency-Key": "again"}), 409,
                             "TRANSACTION_NOT_AS_STATED")
    assert FORGED not in str(refused)


def test_the_serial_lookup_states_a_forged_history_nowhere(world, client, django_assert_max_num_queries):
    retirement = world.extra["txns"]["retirement"]
    block = retirement.blocks.order_by("serial_start").first()
    serials = f"{block.serial_start}-{block.serial_end}"
    assert client.get("/serials/", {"serial": serials}).status_code == 200
    with django_assert_max_num_queries(12):  # a few for the whole history, none per line
        assert get(client, f"/serials/{serials}").status_code == 200
    sql("UPDATE units_transactionblock SET serial_end = serial_end - 1 WHERE id = %s", [block.pk])
    page = client.get("/serials/", {"serial": serials})
    assert page.status_code == 409 and "TRANSACTION_NOT_AS_STATED" in page.content.decode()
    for path in (f"/serials/{serials}", f"/serials?q={serials}"):
        body = assert_problem(get(client, path), 409, "TRANSACTION_NOT_AS_STATED")
        assert body["details"] == {"transaction": retirement.identifier, "field": "serials"}
