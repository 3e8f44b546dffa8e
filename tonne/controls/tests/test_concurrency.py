"""PostgreSQL: two approvers racing on one request approve it once; the
worker and a cancellation racing on one delayed transfer do one thing."""

from __future__ import annotations

import datetime as dt

import pytest

from tonne import testing
from tonne.controls import services as controls
from tonne.controls.models import Approval
from tonne.core import clock
from tonne.organisations.models import User
from tonne.units import services as units
from tonne.units.domain import Selection
from tonne.units.models import Transaction, UnitBlock
from tonne.units.tests.test_concurrency import codes, storm

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.controls]


def test_two_approvals_of_one_request_move_units_once(settings) -> None:  # noqa: ANN001
    settings.TONNE_DELAY_NON_TRUSTED = False
    settings.TONNE_FOUR_EYES = settings.TONNE_FOUR_EYES - {"issuance"}
    settings.TONNE_KYC_REQUIRED = False
    reg = testing.build_registry("race")
    project = testing.registered_project(reg)
    testing.issue(reg, project, {2024: 1000})
    approvers = [
        testing.make_user(reg.developer_org, f"race-approver-{i}", User.Role.APPROVER, actor=reg.admin) for i in range(2)
    ]
    txn = units.transfer(
        actor=reg.developer, from_account=reg.developer_account.identifier, to_account=reg.buyer_account.identifier,
        selection=Selection.build(quantity=100), idempotency_key="race-1",
    )
    approval = Approval.objects.get(transaction=txn)
    results = storm(2, lambda i: controls.approve(actor=approvers[i], uid=approval.uid, request_hash=approval.request_hash))
    assert codes(results) == {"ok": 1, "APPROVAL_NOT_PENDING": 1}
    txn.refresh_from_db()
    assert txn.status == Transaction.Status.COMPLETED
    assert sum(b.quantity for b in UnitBlock.objects.filter(account=reg.buyer_account)) == 100
    assert Transaction.objects.filter(pk=txn.pk).values_list("ledger_seq", flat=True).get() is not None


def test_worker_and_cancellation_race(settings) -> None:  # noqa: ANN001
    settings.TONNE_FOUR_EYES = frozenset()
    settings.TONNE_KYC_REQUIRED = False
    settings.TONNE_MIN_REPRESENTATIVES = 0
    reg = testing.build_registry("race2")
    project = testing.registered_project(reg)
    testing.issue(reg, project, {2024: 1000})
    start = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)
    clock.freeze(start)
    txn = units.transfer(
        actor=reg.developer, from_account=reg.developer_account.identifier, to_account=reg.buyer_account.identifier,
        selection=Selection.build(quantity=100), idempotency_key="race-2",
    )
    assert txn.status == Transaction.Status.DELAYED
    clock.freeze(start + dt.timedelta(days=1, hours=3))
    storm(2, lambda i: controls.run_due() if i == 0 else controls.cancel_waiting(actor=reg.developer, identifier=txn.identifier))
    txn.refresh_from_db()
    moved = sum(b.quantity for b in UnitBlock.objects.filter(account=reg.buyer_account))
    assert (txn.status, moved) in {(Transaction.Status.COMPLETED, 100), (Transaction.Status.CANCELLED, 0)}
