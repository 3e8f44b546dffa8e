"""The public registers' pages and downloads (CSV, Excel) state a
transaction only as its ledger entry states it: a row edited behind the
ledger (plain UPDATE rights) refuses the whole answer with
TRANSACTION_NOT_AS_STATED, before a byte of the file is sent."""

# ruff: noqa: F811  (the `world` fixture is shared with the ledger's tamper tests)
from __future__ import annotations

import pytest

from tonne.ledger.tests.test_tamper import sql, world  # noqa: F401 - the fixture
from tonne.portal import registers

pytestmark = pytest.mark.django_db
FORGED = "Forged Airline SA"
ANSWERS = ("/{name}/", "/{name}/export.csv", "/{name}/export.xlsx")


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _each(client, name: str) -> list[tuple[str, int, bytes]]:
    return [(path, (r := client.get(path.format(name=name))).status_code, _body(r)) for path in ANSWERS]


def test_honest_registers_are_downloaded(world, client):
    for name in registers.REGISTERS:
        for path, status, _content in _each(client, name):
            assert status == 200, (name, path)
    assert b"Acme Airways" in _body(client.get("/retirements/export.csv"))


@pytest.mark.parametrize(
    ("name", "statement"),
    [
        ("retirements", "UPDATE units_transaction SET beneficiary = 'Forged Airline SA' WHERE identifier = %s"),
        ("cancellations", "UPDATE units_transaction SET reason = 'Forged Airline SA' "
                          "WHERE kind = 'cancellation' AND %s <> ''"),
        ("issuances", "UPDATE units_issuance SET vintage = 2019 WHERE id IN (SELECT issuance_id FROM "
                      "units_transactionblock WHERE transaction_id = (SELECT id FROM units_transaction "
                      "WHERE identifier = %s))"),
    ],
)
def test_a_forged_row_refuses_the_register_and_its_downloads(world, client, name, statement):
    assert sql(statement, [world.extra["txns"]["retirement"].identifier]) >= 1
    for path, status, content in _each(client, name):
        assert status == 409, path
        assert b"TRANSACTION_NOT_AS_STATED" in content and FORGED.encode() not in content, path
    # A move's own fields forged: the other moves' register states none of them, and is still answered.
    for other in {"retirements", "cancellations"} - {name} if name != "issuances" else ():
        assert all(status == 200 for _p, status, _c in _each(client, other)), other


def test_a_download_is_checked_in_batches(world, client, monkeypatch, django_assert_max_num_queries):
    """A few queries per batch of transactions, none per row."""
    monkeypatch.setattr("tonne.units.as_stated.CHUNK", 1)
    with django_assert_max_num_queries(200) as one_by_one:
        assert client.get("/issuances/export.xlsx").status_code == 200
    monkeypatch.undo()
    with django_assert_max_num_queries(40) as batched:
        assert client.get("/issuances/export.xlsx").status_code == 200
    assert len(batched.captured_queries) < len(one_by_one.captured_queries)
