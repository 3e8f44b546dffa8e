"""Transfer and retire in one request: an exchange moves units to its
client's account and retires them there; one request, one transaction,
idempotent; if either step is refused nothing is done; with four-eyes, one
approval covers both steps."""

from __future__ import annotations

import pytest
from django.test import Client

from tonne import testing
from tonne.controls import services as controls
from tonne.controls.models import Approval
from tonne.core.errors import RegistryError
from tonne.core.tests.test_api_core import API, assert_problem, post, state
from tonne.ledger.models import LedgerEntry
from tonne.ledger.state import check_state
from tonne.organisations import services as orgs
from tonne.organisations.models import User
from tonne.units import onward
from tonne.units import services as units
from tonne.units.domain import Selection
from tonne.units.models import Transaction, UnitBlock

pytestmark = pytest.mark.django_db


@pytest.fixture
def exchange(registry: testing.Registry, settings) -> testing.Registry:  # noqa: ANN001
    """The buyer is an exchange acting for clients and holds 100 units; its
    client is the other developer, with an account in the registry. The
    controls tests then turn on the control they show."""
    settings.TONNE_FOUR_EYES = frozenset()
    settings.TONNE_DELAY_NON_TRUSTED = settings.TONNE_KYC_REQUIRED = settings.TONNE_MFA_REQUIRED = False
    settings.TONNE_MIN_REPRESENTATIVES = 0
    project = testing.registered_project(registry)
    testing.issue(registry, project, {2022: 1000})
    units.transfer(actor=registry.developer, from_account=registry.developer_account.identifier,
                   to_account=registry.buyer_account.identifier, selection=Selection.build(quantity=100),
                   idempotency_key="stock")
    orgs.set_acts_for_clients(actor=registry.admin, organisation=registry.buyer_org, acts_for_clients=True)
    return registry


def _request(reg: testing.Registry, key: str = "tr-1", **kw: object) -> tuple[Transaction, Transaction | None]:
    args: dict = {"actor": reg.buyer, "from_account": reg.buyer_account.identifier,
                  "to_account": reg.other_developer_account.identifier, "selection": Selection.build(quantity=30),
                  "beneficiary": "Société Lagune", "purpose": "voluntary", "idempotency_key": key, **kw}
    return onward.transfer_and_retire(**args)


def _held(account) -> int:  # noqa: ANN001
    return sum(b.quantity for b in UnitBlock.objects.filter(account=account))


def test_transfer_and_retire_in_one_request(exchange: testing.Registry) -> None:
    reg = exchange
    moved, retired = _request(reg)
    assert moved.status == retired.status == Transaction.Status.COMPLETED
    assert (moved.kind, moved.to_account.identifier) == ("transfer", reg.other_developer_account.identifier)
    assert (retired.kind, retired.from_account.identifier, retired.quantity) == (
        "retirement", reg.other_developer_account.identifier, 30)
    assert (retired.beneficiary, retired.on_behalf_of) == ("Société Lagune", reg.other_developer_org.name)
    assert sorted(retired.blocks.values_list("serial_start", "serial_end")) == sorted(
        moved.blocks.values_list("serial_start", "serial_end"))
    assert _held(reg.buyer_account) == 70 and _held(reg.other_developer_account) == 0
    kinds = list(LedgerEntry.objects.order_by("-seq").values_list("kind", flat=True)[:2])
    assert kinds == ["units.retirement", "units.transfer"]
    assert check_state() is None
    # A retry answers with the first result and moves nothing twice.
    before = state()
    again, again_retired = _request(reg)
    assert again.replayed and (again.identifier, again_retired.identifier) == (moved.identifier, retired.identifier)
    assert state() == before
    certificate = Client().get(f"/certificates/{retired.identifier}/").content.decode()
    assert "Société Lagune" in certificate and reg.other_developer_org.name in certificate


def test_nothing_is_done_if_either_step_is_refused(exchange: testing.Registry) -> None:
    reg = exchange
    before = state()
    # The retirement is refused (the client's account is frozen): the transfer is undone with it.
    controls.freeze(actor=reg.admin, scope="account", reason="Court order", account=reg.other_developer_account.identifier)
    with pytest.raises(RegistryError) as refused:
        _request(reg, "frozen")
    assert refused.value.code == "ACCOUNT_FROZEN"
    # The transfer is refused (more than the exchange holds).
    with pytest.raises(RegistryError) as short:
        _request(reg, "short", selection=Selection.build(quantity=101))
    assert short.value.code == "INSUFFICIENT_UNITS"
    # Only an exchange or broker acting for clients does this.
    orgs.set_acts_for_clients(actor=reg.admin, organisation=reg.buyer_org, acts_for_clients=False)
    frozen_state = state()
    with pytest.raises(RegistryError) as not_exchange:
        _request(reg, "not-exchange")
    assert not_exchange.value.code == "ON_BEHALF_NOT_PERMITTED"
    assert state() == frozen_state and frozen_state[0] == before[0]


def test_over_the_api(exchange: testing.Registry, client: Client) -> None:
    reg = exchange
    client.force_login(reg.buyer)
    body = {"from_account": reg.buyer_account.identifier, "to_account": reg.other_developer_account.identifier,
            "quantity": 5, "beneficiary": "Ville de Grand-Bassam", "purpose": "voluntary", "jurisdiction": "CI"}
    first = post(client, "/transfer-and-retire", body, headers={"Idempotency-Key": "api-1"})
    assert first.status_code == 201, first.content
    out = first.json()
    assert out["transfer"]["status"] == "completed" and out["retirement"]["beneficiary"] == "Ville de Grand-Bassam"
    again = post(client, "/transfer-and-retire", body, headers={"Idempotency-Key": "api-1"})
    assert again.status_code == 200 and again.json()["retirement"]["identifier"] == out["retirement"]["identifier"]
    assert_problem(post(client, "/transfer-and-retire", {**body, "jurisdiction": "foo"},
                        headers={"Idempotency-Key": "api-2"}), 422, "JURISDICTION_INVALID")
    assert Client().get(f"{API}/retirements/{out['retirement']['identifier']}").status_code == 200


@pytest.mark.controls
def test_one_approval_covers_both_steps(exchange: testing.Registry, settings) -> None:  # noqa: ANN001
    reg = exchange
    settings.TONNE_FOUR_EYES = frozenset({"transfer", "retirement"})
    approver = testing.make_user(reg.buyer_org, f"{reg.buyer.username}-approver", User.Role.APPROVER, actor=reg.admin)
    moved, retired = _request(reg, "waits")
    assert moved.status == Transaction.Status.AWAITING_APPROVAL and retired is None
    assert _held(reg.buyer_account) == 100
    approval = Approval.objects.get(transaction_id=moved.pk, status=Approval.Status.PENDING)
    controls.approve(actor=approver, uid=approval.uid, request_hash=approval.request_hash)
    moved.refresh_from_db()
    retired = onward.onward_retirement(moved)
    assert moved.status == Transaction.Status.COMPLETED and retired is not None
    assert retired.status == Transaction.Status.COMPLETED and retired.quantity == 30
    assert _held(reg.buyer_account) == 70 and _held(reg.other_developer_account) == 0
    assert check_state() is None


@pytest.mark.controls
def test_a_waiting_transfer_that_can_no_longer_retire_fails_whole(exchange: testing.Registry, settings) -> None:  # noqa: ANN001
    reg = exchange
    settings.TONNE_FOUR_EYES = frozenset({"transfer"})
    approver = testing.make_user(reg.buyer_org, f"{reg.buyer.username}-approver", User.Role.APPROVER, actor=reg.admin)
    moved, _ = _request(reg, "waits-then-frozen")
    controls.freeze(actor=reg.admin, scope="account", reason="Court order", account=reg.other_developer_account.identifier)
    approval = Approval.objects.get(transaction_id=moved.pk, status=Approval.Status.PENDING)
    controls.approve(actor=approver, uid=approval.uid, request_hash=approval.request_hash)
    moved.refresh_from_db()
    assert (moved.status, moved.failure_code) == (Transaction.Status.FAILED, "ACCOUNT_FROZEN")
    assert onward.onward_retirement(moved) is None
    assert _held(reg.buyer_account) == 100 and _held(reg.other_developer_account) == 0
    assert check_state() is None
