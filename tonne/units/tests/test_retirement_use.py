"""Retirement for compliance and on behalf of a client: the compliance
period or reporting year, the using entity and the client an exchange
retires for are checked, kept on the transaction and in its ledger entry,
and shown on the certificate and the public lists; bad values refuse the
whole retirement."""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from tonne import testing
from tonne.core.errors import ValidationFailed
from tonne.core.tests.test_api_core import API, assert_problem, post, state
from tonne.ledger.models import LedgerEntry
from tonne.ledger.openings import opened_body
from tonne.ledger.state import check_state
from tonne.organisations import services as orgs
from tonne.units import batches
from tonne.units import services as units
from tonne.units.domain import Selection, compliance_period_text, retirement_details
from tonne.units.models import Transaction

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("given_text", "kept"), [
    ("2025", "2025"), (" 2024-2026 ", "2024-2026"), ("2024 – 2026", "2024-2026"), ("2024/2024", "2024"), ("", ""),
])
def test_compliance_period_is_a_year_or_a_period(given_text: str, kept: str) -> None:
    assert compliance_period_text(given_text) == kept


@pytest.mark.parametrize("bad", ["foo", "25", "2026-2024", "1989", "2101", "2024-20255", "2024-"])
def test_bad_compliance_periods_are_refused(bad: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        compliance_period_text(bad)
    assert exc.value.code == "COMPLIANCE_PERIOD_INVALID"


@given(st.text(max_size=12))
def test_compliance_period_is_refused_or_canonical(said: str) -> None:
    """Whatever is typed: refused, or a canonical text that reads back the same."""
    try:
        kept = compliance_period_text(said)
    except ValidationFailed:
        return
    assert compliance_period_text(kept) == kept and len(kept) <= 9


def test_optional_fields_are_left_out_when_empty() -> None:
    assert set(retirement_details("Ada", "voluntary", "", "")) == {"beneficiary", "purpose", "jurisdiction", "reason"}
    with pytest.raises(ValidationFailed) as exc:
        retirement_details("Ada", "corsia", "", "", using_entity="A" * 301)
    assert exc.value.code == "TEXT_TOO_LONG" and exc.value.field == "using_entity"


@pytest.fixture
def issued(registry: testing.Registry):  # noqa: ANN201
    """Units held by the buyer, an exchange the administrator lets act for clients."""
    project = testing.registered_project(registry)
    issued = testing.issue(registry, project, {2022: 1000})
    units.transfer(actor=registry.developer, from_account=registry.developer_account.identifier,
                   to_account=registry.buyer_account.identifier, selection=Selection.build(quantity=100),
                   idempotency_key="to-exchange")
    orgs.set_acts_for_clients(actor=registry.admin, organisation=registry.buyer_org, acts_for_clients=True)
    return issued


def _body(reg: testing.Registry, **kw: object) -> dict:
    return {"from_account": reg.buyer_account.identifier, "quantity": 10, "beneficiary": "Air Lagune",
            "purpose": "corsia", "compliance_period": "2024-2026", "using_entity": "Air Lagune SA",
            "on_behalf_of": "Client 42 of the exchange", **kw}


def test_retirement_for_compliance_on_behalf_of_a_client(registry: testing.Registry, issued, client: Client) -> None:  # noqa: ANN001
    client.force_login(registry.buyer)
    response = post(client, "/retirements", _body(registry), headers={"Idempotency-Key": "use-1"})
    assert response.status_code == 201, response.content
    identifier = response.json()["identifier"]
    txn = Transaction.objects.get(identifier=identifier)
    assert (txn.compliance_period, txn.using_entity, txn.on_behalf_of) == (
        "2024-2026", "Air Lagune SA", "Client 42 of the exchange")
    data = opened_body(LedgerEntry.objects.get(seq=txn.ledger_seq))["data"]
    assert data["compliance_period"] == "2024-2026" and data["on_behalf_of"] == "Client 42 of the exchange"
    assert check_state() is None  # the live row agrees with the ledger
    public = Client().get(f"{API}/retirements/{identifier}").json()
    assert public["using_entity"] == "Air Lagune SA" and public["compliance_period"] == "2024-2026"
    certificate = Client().get(f"/certificates/{identifier}/").content.decode()
    assert "Air Lagune SA" in certificate and "2024-2026" in certificate and "Client 42 of the exchange" in certificate
    pdf = Client().get(f"/certificates/{identifier}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    listed = Client().get("/retirements/", {"q": "Client 42"}).content.decode()
    assert identifier in listed and "Air Lagune SA" in listed


@pytest.mark.parametrize(("change", "code"), [
    ({"compliance_period": "next year"}, "COMPLIANCE_PERIOD_INVALID"),
    ({"using_entity": "U" * 301}, "TEXT_TOO_LONG"),
    ({"on_behalf_of": "O" * 301}, "TEXT_TOO_LONG"),
])
def test_bad_use_fields_refuse_the_whole_retirement(registry: testing.Registry, issued, client: Client, change, code) -> None:  # noqa: ANN001
    client.force_login(registry.buyer)
    before = state()
    response = post(client, "/retirements", _body(registry, **change), headers={"Idempotency-Key": f"bad-{code}"})
    assert_problem(response, 422, code)
    assert state() == before


def test_only_an_exchange_acting_for_clients_retires_on_behalf_of_someone(
    registry: testing.Registry, issued, client: Client,  # noqa: ANN001
) -> None:
    """At every door: the API, a batch, an issuance instruction (mrv tests), the workspace (its tests)."""
    reg = registry
    client.force_login(reg.developer)
    before = state()
    response = post(client, "/retirements", _body(reg, from_account=reg.developer_account.identifier),
                    headers={"Idempotency-Key": "not-an-exchange"})
    assert_problem(response, 422, "ON_BEHALF_NOT_PERMITTED")
    item = batches.BatchItem(idempotency_key="b-1", from_account=reg.developer_account.identifier,
                             selection={"quantity": 5}, retirement={"beneficiary": "A", "purpose": "voluntary",
                                                                    "on_behalf_of": "Client 7"})
    result = batches.move_batch(actor=reg.developer, kind=batches.RETIREMENT, items=[item], all_or_nothing=True)
    assert result.outcomes[0].refusal is not None and result.outcomes[0].refusal.code == "ON_BEHALF_NOT_PERMITTED"
    assert state() == before
    # The administrator stops the exchange acting for clients: its next retirement on behalf is refused.
    orgs.set_acts_for_clients(actor=reg.admin, organisation=reg.buyer_org, acts_for_clients=False)
    client.force_login(reg.buyer)
    assert_problem(post(client, "/retirements", _body(reg), headers={"Idempotency-Key": "stopped"}),
                   422, "ON_BEHALF_NOT_PERMITTED")
    # Without on_behalf_of, the exchange retires as any holder does.
    assert post(client, "/retirements", _body(reg, on_behalf_of=""), headers={"Idempotency-Key": "own"}).status_code == 201
    assert check_state() is None
