"""Idempotency of the requests that move units (DESIGN §5): a retry with the
same Idempotency-Key returns the first result and moves nothing twice; a key
reused for a different request is refused; keys are scoped per user; a request
refused by validation leaves nothing behind, so its key stays usable; an
issuance is approved once."""

from __future__ import annotations

import datetime as dt

import pytest

from tonne import testing
from tonne.core.errors import Conflict, ValidationFailed
from tonne.ledger.models import LedgerEntry, LedgerHead
from tonne.ledger.verify import verify_ledger
from tonne.mrv import services as mrv
from tonne.mrv import verification as mrv_verification
from tonne.mrv.models import MonitoringReport
from tonne.organisations.models import User
from tonne.units import services as units
from tonne.units.domain import Selection
from tonne.units.models import Issuance, Transaction, TransactionBlock, UnitBlock

pytestmark = pytest.mark.django_db


def held(account) -> int:
    return sum(b.quantity for b in UnitBlock.objects.filter(account=account))


def ledger_size() -> int:
    return LedgerHead.objects.get(pk=1).size


def moves(key: str) -> int:
    return Transaction.objects.filter(idempotency_key=key).count()


@pytest.fixture
def funded(registry):
    project = testing.registered_project(registry)
    testing.issue(registry, project, {2021: 100})
    registry.extra["project"] = project
    return registry


def transfer(reg, quantity: int, key: str, *, actor=None, to=None, **criteria):
    return units.transfer(
        actor=actor or reg.developer,
        from_account=reg.developer_account.identifier,
        to_account=(to or reg.buyer_account).identifier,
        selection=Selection.build(quantity=quantity, **criteria),
        idempotency_key=key,
    )


def test_same_key_twenty_times_moves_once(funded):
    reg = funded
    size_before = ledger_size()
    first = transfer(reg, 30, "order-1")
    results = [transfer(reg, 30, "order-1") for _ in range(19)]

    assert {r.pk for r in results} == {first.pk}
    assert {r.identifier for r in results} == {first.identifier}
    assert all(r.status == Transaction.Status.COMPLETED for r in results)
    assert all(r.ledger_seq == first.ledger_seq for r in results)
    assert moves("order-1") == 1
    assert TransactionBlock.objects.filter(transaction=first).count() == 1
    assert ledger_size() == size_before + 1
    assert LedgerEntry.objects.filter(transaction_ref=first.identifier).count() == 1
    assert held(reg.developer_account) == 70
    assert held(reg.buyer_account) == 30
    assert verify_ledger().ok


def test_retry_with_whitespace_around_the_key_is_the_same_key(funded):
    reg = funded
    first = transfer(reg, 10, "order-2")
    again = transfer(reg, 10, "  order-2 \n")
    assert again.pk == first.pk
    assert held(reg.buyer_account) == 10


def test_same_key_for_retirement_and_cancellation_is_idempotent(funded):
    reg = funded
    size = ledger_size()
    args = dict(
        actor=reg.developer,
        from_account=reg.developer_account.identifier,
        selection=Selection.build(quantity=5),
        beneficiary="Acme SA",
        purpose="voluntary",
        idempotency_key="ret-1",
    )
    first = units.retire(**args)
    assert units.retire(**args).pk == first.pk
    cancel_args = dict(
        actor=reg.developer,
        from_account=reg.developer_account.identifier,
        selection=Selection.build(quantity=7),
        reason="Double counting found",
        idempotency_key="can-1",
    )
    c1 = units.cancel(**cancel_args)
    assert units.cancel(**cancel_args).pk == c1.pk
    assert ledger_size() == size + 2
    assert held(reg.developer_account) == 88
    assert verify_ledger().ok


@pytest.mark.parametrize(
    "change",
    [
        {"quantity": 31},
        {"to": "other"},
        {"vintage": 2021},
        {"project": "same"},
        {"ranges": True},
    ],
    ids=["quantity", "destination", "vintage", "project", "ranges"],
)
def test_same_key_different_request_is_refused(funded, change):
    reg = funded
    first = transfer(reg, 30, "order-3")
    size = ledger_size()
    kwargs: dict = {}
    quantity = change.get("quantity", 30)
    to = reg.other_developer_account if change.get("to") else None
    if "vintage" in change:
        kwargs["vintage"] = change["vintage"]
    if "project" in change:
        kwargs["project"] = reg.extra["project"].project_id
    with pytest.raises(Conflict) as info:
        if change.get("ranges"):
            block = UnitBlock.objects.filter(account=reg.developer_account).first()
            units.transfer(
                actor=reg.developer,
                from_account=reg.developer_account.identifier,
                to_account=reg.buyer_account.identifier,
                selection=Selection.build(ranges=[(block.serial_start, block.serial_start + 29)]),
                idempotency_key="order-3",
            )
        else:
            transfer(reg, quantity, "order-3", to=to, **kwargs)
    assert info.value.code == "IDEMPOTENCY_KEY_REUSED"
    assert info.value.status == 409
    assert first.identifier in info.value.message
    assert ledger_size() == size
    assert moves("order-3") == 1
    assert held(reg.buyer_account) == 30
    assert held(reg.other_developer_account) == 0


def test_same_key_for_a_different_kind_of_request_is_refused(funded):
    reg = funded
    transfer(reg, 5, "order-4")
    with pytest.raises(Conflict) as info:
        units.retire(
            actor=reg.developer,
            from_account=reg.developer_account.identifier,
            selection=Selection.build(quantity=5),
            beneficiary="Acme",
            purpose="voluntary",
            idempotency_key="order-4",
        )
    assert info.value.code == "IDEMPOTENCY_KEY_REUSED"
    assert held(reg.buyer_account) == 5
    assert held(reg.developer_account) == 95


def test_the_same_key_of_two_users_is_independent(funded):
    reg = funded
    colleague = testing.make_user(
        reg.developer_org, "colleague", User.Role.INITIATOR, actor=reg.admin
    )
    a = transfer(reg, 10, "shared-key")
    b = transfer(reg, 10, "shared-key", actor=colleague)
    assert a.pk != b.pk
    assert b.initiated_by_id == colleague.pk
    assert held(reg.buyer_account) == 20

    # and a third user, of another organisation, from its own account
    c = units.transfer(
        actor=reg.buyer,
        from_account=reg.buyer_account.identifier,
        to_account=reg.other_developer_account.identifier,
        selection=Selection.build(quantity=3),
        idempotency_key="shared-key",
    )
    assert c.pk not in {a.pk, b.pk}
    assert held(reg.other_developer_account) == 3
    # each user's retry still answers with that user's own first result
    assert transfer(reg, 10, "shared-key").pk == a.pk
    assert transfer(reg, 10, "shared-key", actor=colleague).pk == b.pk
    assert held(reg.buyer_account) == 17
    assert verify_ledger().ok


def test_a_refused_request_leaves_nothing_and_its_key_can_be_retried(registry):
    reg = registry
    project = testing.registered_project(reg)
    testing.issue(reg, project, {2020: 40})
    size = ledger_size()
    blocks = list(UnitBlock.objects.values_list("serial_start", "serial_end", "account_id"))
    tx_count = Transaction.objects.count()

    with pytest.raises(ValidationFailed) as info:
        transfer(reg, 50, "big-order")
    assert info.value.code == "INSUFFICIENT_UNITS"
    assert info.value.details.items() >= {"available": 40, "requested": 50}.items()
    # nothing was written: no transaction (not even a failed one), no entry, no block change
    assert Transaction.objects.count() == tx_count
    assert not Transaction.objects.filter(idempotency_key="big-order").exists()
    assert ledger_size() == size
    assert list(UnitBlock.objects.values_list("serial_start", "serial_end", "account_id")) == blocks

    # a retry before funds arrive fails the same way, and still leaves nothing
    with pytest.raises(ValidationFailed):
        transfer(reg, 50, "big-order")
    assert ledger_size() == size

    # funds arrive; the very same request with the same key now succeeds once
    testing.issue(reg, project, {2021: 20})
    done = transfer(reg, 50, "big-order")
    assert done.status == Transaction.Status.COMPLETED
    assert transfer(reg, 50, "big-order").pk == done.pk
    assert held(reg.buyer_account) == 50
    assert held(reg.developer_account) == 10
    assert verify_ledger().ok


def test_a_refused_ranges_request_leaves_nothing(funded):
    reg = funded
    size = ledger_size()
    issuance = Issuance.objects.get()
    with pytest.raises(ValidationFailed) as info:
        units.transfer(
            actor=reg.developer,
            from_account=reg.developer_account.identifier,
            to_account=reg.buyer_account.identifier,
            selection=Selection.build(ranges=[(issuance.serial_end - 4, issuance.serial_end + 5)]),
            idempotency_key="ranges-1",
        )
    assert info.value.code == "SERIAL_RANGE_NOT_HELD"
    assert info.value.details.items() >= {"first_missing_serial": issuance.serial_end + 1}.items()
    assert ledger_size() == size
    assert not Transaction.objects.filter(idempotency_key="ranges-1").exists()
    # the key is free: a corrected request under it goes through
    ok = units.transfer(
        actor=reg.developer,
        from_account=reg.developer_account.identifier,
        to_account=reg.buyer_account.identifier,
        selection=Selection.build(ranges=[(issuance.serial_end - 4, issuance.serial_end)]),
        idempotency_key="ranges-1",
    )
    assert ok.quantity == 5
    assert held(reg.buyer_account) == 5


def test_a_key_is_required_and_bounded(funded):
    reg = funded
    for key, code in [
        ("", "IDEMPOTENCY_KEY_REQUIRED"),
        ("   ", "IDEMPOTENCY_KEY_REQUIRED"),
        ("k" * 201, "IDEMPOTENCY_KEY_INVALID"),
    ]:
        with pytest.raises(ValidationFailed) as info:
            transfer(reg, 1, key)
        assert info.value.code == code
    assert transfer(reg, 1, "k" * 200).quantity == 1


def test_approve_issuance_twice_issues_once(registry):
    reg = registry
    project = testing.registered_project(reg, buffer_basis_points=1000)
    report = mrv.submit_report(
        actor=reg.developer,
        project=project,
        period_start=dt.date(2019, 1, 1),
        period_end=dt.date(2020, 12, 31),
        vintages=[{"vintage": 2019, "quantity": 60}, {"vintage": 2020, "quantity": 40}],
        vvb=str(reg.vvb_org.uid),
    )
    mrv_verification.accept_assignment(actor=reg.vvb, report=report, no_conflict_of_interest=True)
    report = mrv.verify_report(
        actor=reg.vvb,
        report=report,
        verified=[{"vintage": 2019, "quantity": 50}, {"vintage": 2020, "quantity": 40}],
    )
    issued = mrv.approve_issuance(actor=reg.admin, report=report)
    assert sorted(i.quantity for i in issued) == [40, 50]
    size = ledger_size()
    counter = units.SerialCounter.objects.get(pk=1).next_serial

    for stale in (report, MonitoringReport.objects.get(pk=report.pk)):
        with pytest.raises(ValidationFailed) as info:
            mrv.approve_issuance(actor=reg.admin, report=stale)
        assert info.value.code == "ISSUANCE_ALREADY_DONE"

    assert Issuance.objects.filter(report=report).count() == 2
    assert ledger_size() == size
    assert units.SerialCounter.objects.get(pk=1).next_serial == counter
    assert held(reg.developer_account) == 45 + 36
    assert sum(r.issued for r in report.vintages.all()) == 90
    assert verify_ledger().ok
