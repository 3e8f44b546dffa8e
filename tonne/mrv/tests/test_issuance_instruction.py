"""Issuance to several accounts and retirement at issuance: the developer's
instruction splits its share of a vintage between its own holding accounts
and retires part of it (pre-sold or CORSIA units) in the issuance's own
transaction; the rest goes to its first holding account; serials tile the
issuance, the ledger replays, and a bad instruction issues nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from tonne import testing
from tonne.core.errors import PermissionDenied, ValidationFailed
from tonne.ledger.models import LedgerEntry
from tonne.ledger.openings import opened_body
from tonne.ledger.state import check_state
from tonne.mrv import services as mrv
from tonne.mrv import verification as mrv_verification
from tonne.organisations import services as orgs
from tonne.units import selectors as unit_selectors
from tonne.units.models import Issuance, Transaction, UnitBlock

pytestmark = pytest.mark.django_db
D = dt.date
CORSIA = {"beneficiary": "Air Lagune", "purpose": "corsia", "compliance_period": "2024-2026",
          "using_entity": "Air Lagune SA", "jurisdiction": "CI"}


def _verified(reg: testing.Registry, quantity: int = 1000):  # noqa: ANN202
    project = testing.registered_project(reg, buffer_basis_points=1000)
    report = mrv.submit_report(actor=reg.developer, project=project, period_start=D(2022, 1, 1), period_end=D(2022, 12, 31),
                               vintages=[{"vintage": 2022, "quantity": quantity}], vvb=str(reg.vvb_org.uid))
    mrv_verification.accept_assignment(actor=reg.vvb, report=report, no_conflict_of_interest=True)
    return project, mrv.verify_report(actor=reg.vvb, report=report, verified=[{"vintage": 2022, "quantity": quantity}])


def _held(account) -> int:  # noqa: ANN001
    return sum(b.quantity for b in UnitBlock.objects.filter(account=account))


def test_split_between_accounts_and_retired_at_issuance(registry: testing.Registry) -> None:
    reg = registry
    second = orgs.open_holding_account(actor=reg.developer, organisation=reg.developer_org, name="Forward sales")
    project, report = _verified(reg)
    mrv.set_issuance_instruction(actor=reg.developer, report=report, lines=[
        {"vintage": 2022, "account": second.identifier, "quantity": 300},
        {"vintage": 2022, "retire": CORSIA, "quantity": 200},
    ])
    [issuance] = mrv.approve_issuance(actor=reg.admin, report=report)
    assert issuance.quantity == 1000 and issuance.buffer_quantity == 100
    assert _held(second) == 300 and _held(reg.developer_account) == 400  # 900 after the buffer: 300 + 400 + 200
    retirement = Transaction.objects.get(kind="retirement", issuance=issuance)
    assert retirement.quantity == 200 and retirement.from_account is None
    assert (retirement.beneficiary, retirement.compliance_period, retirement.using_entity) == (
        "Air Lagune", "2024-2026", "Air Lagune SA")
    assert unit_selectors.issuance_supply(issuance) == {"held": 700, "buffer": 100, "retired": 200, "cancelled": 0, "exported": 0}
    body = opened_body(LedgerEntry.objects.filter(kind="units.issued").latest("seq"))["data"]
    kinds = [(b["kind"], b["end"] - b["start"] + 1) for b in sorted(body["blocks"], key=lambda b: b["start"])]
    assert kinds == [("issuance", 300), ("issuance", 400), ("retirement", 200), ("buffer_contribution", 100)]
    assert check_state() is None
    client = Client()
    certificate = client.get(f"/certificates/{retirement.identifier}/").content.decode()
    assert "Air Lagune SA" in certificate
    supply = client.get(f"/api/v1/issuances/{issuance.uid}").json()["supply"]
    assert supply["retired"] == 200 and supply["held"] == 700
    page = client.get(f"/issuances/{issuance.uid}/").content.decode()
    assert "Where its units are now" in page


@pytest.mark.parametrize(("lines", "code"), [
    ([{"vintage": 2023, "account": "x", "quantity": 1}], "VINTAGE_NOT_CLAIMED"),
    ([{"vintage": 2022, "retire": CORSIA, "quantity": 0}], "QUANTITY_INVALID"),
    ([{"vintage": 2022, "retire": CORSIA, "quantity": 1001}], "ISSUANCE_INSTRUCTION_EXCEEDS_UNITS"),
    ([{"vintage": 2022, "retire": {**CORSIA, "compliance_period": "soon"}, "quantity": 5}], "COMPLIANCE_PERIOD_INVALID"),
    ([{"vintage": 2022, "retire": {**CORSIA, "purpose": "gift"}, "quantity": 5}], "RETIREMENT_PURPOSE_INVALID"),
    ([{"vintage": 2022, "account": "CI-100-0000-00", "quantity": 5}], "ISSUANCE_ACCOUNT_INVALID"),
    ([{"vintage": 2022, "quantity": 5}], "FIELD_INVALID"),
    # A developer is not an exchange acting for clients.
    ([{"vintage": 2022, "retire": {**CORSIA, "on_behalf_of": "Client 3"}, "quantity": 5}], "ON_BEHALF_NOT_PERMITTED"),
])
def test_bad_instructions_are_refused(registry: testing.Registry, lines: list, code: str) -> None:
    _project, report = _verified(registry)
    with pytest.raises(ValidationFailed) as exc:
        mrv.set_issuance_instruction(actor=registry.developer, report=report, lines=lines)
    assert exc.value.code == code
    assert list(report.vintages.values_list("instruction", flat=True)) == [[]]


def test_another_organisations_account_or_a_stranger_is_refused(registry: testing.Registry) -> None:
    reg = registry
    _project, report = _verified(reg)
    with pytest.raises(ValidationFailed) as exc:
        mrv.set_issuance_instruction(actor=reg.developer, report=report, lines=[
            {"vintage": 2022, "account": reg.buyer_account.identifier, "quantity": 5}])
    assert exc.value.code == "ISSUANCE_ACCOUNT_INVALID"
    with pytest.raises(PermissionDenied):
        mrv.set_issuance_instruction(actor=reg.other_developer, report=report, lines=[])


def test_share_after_buffer_is_the_limit_at_issuance(registry: testing.Registry) -> None:
    """The instruction may name up to the verified quantity; at issuance, the
    buffer is taken first, and an instruction above the share issues nothing."""
    reg = registry
    _project, report = _verified(reg)
    mrv.set_issuance_instruction(actor=reg.developer, report=report, lines=[
        {"vintage": 2022, "retire": CORSIA, "quantity": 950}])
    with pytest.raises(ValidationFailed) as exc:
        mrv.approve_issuance(actor=reg.admin, report=report)
    assert exc.value.code == "ISSUANCE_INSTRUCTION_EXCEEDS_UNITS"
    assert not Issuance.objects.exists() and not Transaction.objects.filter(kind="retirement").exists()


def test_instruction_through_the_api(registry: testing.Registry, client: Client) -> None:
    reg = registry
    _project, report = _verified(reg)
    client.force_login(reg.developer)
    url = f"/api/v1/reports/{report.uid}/issuance-instruction"
    response = client.put(url, {"lines": [{"vintage": 2022, "quantity": 10, "retire": CORSIA}]},
                          content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["vintages"][0]["instruction"][0]["retire"]["using_entity"] == "Air Lagune SA"
    # The report as others see it does not name the developer's accounts.
    shown = client.get(f"/api/v1/reports/{report.uid}")
    assert shown.status_code == 200 and "instruction" not in shown.content.decode()
    response = client.put(url, {"lines": [{"vintage": 2022, "quantity": 1.5, "account": "x"}]},
                          content_type="application/json")
    assert response.status_code == 422
