"""Moving units (DESIGN §2, §5): transfers, retirements, cancellations and
reversals; partial moves split blocks at the boundary and keep every other
attribute; selection by ranges or by criteria (oldest acquisition first, then
lowest serial); every refused request leaves blocks, transactions and the
ledger exactly as they were."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db import IntegrityError, transaction

from tonne import testing
from tonne.core import clock
from tonne.core.errors import NotFound, PermissionDenied, ValidationFailed
from tonne.ledger.models import LedgerEntry, LedgerHead
from tonne.ledger.openings import opened_body
from tonne.organisations import domain as org_domain
from tonne.organisations import services as orgs
from tonne.organisations.models import Account, User
from tonne.units import services as units
from tonne.units.domain import Selection
from tonne.units.models import Issuance, Transaction, TransactionBlock, UnitBlock

pytestmark = pytest.mark.django_db

T1 = dt.datetime(2025, 1, 10, 8, 0, tzinfo=dt.UTC)
T2 = T1 + dt.timedelta(days=1)
T3 = T1 + dt.timedelta(days=2)
T4 = T1 + dt.timedelta(days=3)
T5 = T1 + dt.timedelta(days=4)

_keys = iter(range(10**9))


def key() -> str:
    return f"key-{next(_keys)}"


# --- helpers --------------------------------------------------------------------


def snapshot() -> dict:
    """Everything a refused request must leave untouched."""
    return {
        "blocks": list(
            UnitBlock.objects.order_by("serial_start").values_list(
                "id", "serial_start", "serial_end", "account_id", "issuance_id", "project_id", "vintage", "unit_class", "acquired_at"
            )
        ),
        "transactions": list(Transaction.objects.order_by("id").values_list("id", "status", "quantity")),
        "transaction_blocks": TransactionBlock.objects.count(),
        "ledger": LedgerHead.objects.values_list("size", "last_hash").get(pk=1),
        "entries": LedgerEntry.objects.count(),
    }


def refused(exc_type, code: str, fn, **kwargs):  # noqa: ANN001, ANN201
    before = snapshot()
    with pytest.raises(exc_type) as exc:
        fn(**kwargs)
    assert exc.value.code == code, exc.value
    assert snapshot() == before
    return exc.value


def blocks(account: Account) -> list[tuple[int, int]]:
    return list(UnitBlock.objects.filter(account=account).order_by("serial_start").values_list("serial_start", "serial_end"))


def held(account: Account) -> int:
    return sum(b.quantity for b in UnitBlock.objects.filter(account=account))


def fresh(user: User) -> User:
    return User.objects.select_related("organisation").get(pk=user.pk)


def transfer(reg, *, actor=None, source=None, target=None, ranges=None, quantity=None, k=None, **criteria):  # noqa: ANN001, ANN201
    return units.transfer(
        actor=actor or reg.developer,
        from_account=(source or reg.developer_account).identifier,
        to_account=(target or reg.buyer_account).identifier if not isinstance(target, str) else target,
        selection=Selection.build(ranges=ranges, quantity=quantity, **criteria),
        idempotency_key=k or key(),
    )


def assert_invariants() -> None:
    """Blocks are disjoint and each issuance is covered exactly once."""
    rows = list(UnitBlock.objects.order_by("serial_start"))
    for a, b in zip(rows, rows[1:], strict=False):
        assert a.serial_end < b.serial_start
    for issuance in Issuance.objects.all():
        mine = [r for r in rows if r.issuance_id == issuance.pk]
        assert sum(r.quantity for r in mine) == issuance.quantity
        assert mine[0].serial_start == issuance.serial_start and mine[-1].serial_end == issuance.serial_end
        for r in mine:
            assert (r.project_id, r.vintage, r.unit_class) == (issuance.project_id, issuance.vintage, issuance.unit_class)


@pytest.fixture
def funded(registry):
    """The developer holds one block of 1000 units of vintage 2022."""
    clock.freeze(T1)
    project = testing.registered_project(registry)
    _, (issuance,) = testing.issue(registry, project, {2022: 1000})
    registry.extra.update(project=project, issuance=issuance, s=issuance.serial_start)
    clock.freeze(None)
    return registry


# --- splitting ---------------------------------------------------------------------


def test_partial_transfer_splits_block_keeping_attributes(funded) -> None:
    reg, s = funded, funded.extra["s"]
    original = UnitBlock.objects.get(account=reg.developer_account)
    clock.freeze(T2)
    txn = transfer(reg, ranges=[(s + 100, s + 199)])
    assert txn.status == Transaction.Status.COMPLETED
    assert txn.kind == "transfer"
    assert txn.quantity == 100
    assert txn.completed_at == T2
    assert txn.project_id == reg.extra["project"].pk
    assert blocks(reg.developer_account) == [(s, s + 99), (s + 200, s + 999)]
    assert blocks(reg.buyer_account) == [(s + 100, s + 199)]
    for block in UnitBlock.objects.all():
        assert block.issuance_id == original.issuance_id
        assert block.project_id == original.project_id
        assert block.vintage == original.vintage == 2022
        assert block.unit_class == original.unit_class == "VER"
        # The remainders keep their acquisition time; the moved piece is new.
        assert block.acquired_at == (T2 if block.account_id == reg.buyer_account.pk else T1)
    assert list(TransactionBlock.objects.filter(transaction=txn).values_list("serial_start", "serial_end", "issuance_id")) == [
        (s + 100, s + 199, original.issuance_id)
    ]
    entry = LedgerEntry.objects.get(seq=txn.ledger_seq)
    assert entry.kind == "units.transfer"
    assert entry.transaction_ref == txn.identifier
    data = opened_body(entry)["data"]
    assert data == {
        "op": "move",
        "kind": "transfer",
        "from": reg.developer_account.identifier,
        "to": reg.buyer_account.identifier,
        "quantity": 100,
        "ranges": [[s + 100, s + 199]],
    }
    assert_invariants()


@pytest.mark.parametrize(
    ("offset", "length", "left", "right"),
    [(0, 1, None, (1, 999)), (0, 999, None, (999, 999)), (999, 1, (0, 998), None), (1, 998, (0, 0), (999, 999)), (0, 1000, None, None)],
)
def test_split_at_edges(funded, offset: int, length: int, left, right) -> None:  # noqa: ANN001
    reg, s = funded, funded.extra["s"]
    transfer(reg, ranges=[(s + offset, s + offset + length - 1)])
    expected = [(s + p[0], s + p[1]) for p in (left, right) if p is not None]
    assert blocks(reg.developer_account) == expected
    assert blocks(reg.buyer_account) == [(s + offset, s + offset + length - 1)]
    assert_invariants()


def test_quantity_takes_lowest_serials(funded) -> None:
    reg, s = funded, funded.extra["s"]
    transfer(reg, quantity=300)
    assert blocks(reg.buyer_account) == [(s, s + 299)]
    assert blocks(reg.developer_account) == [(s + 300, s + 999)]


def test_several_ranges_in_one_block(funded) -> None:
    """Regression: the second range used to be cut from the stale block row."""
    reg, s = funded, funded.extra["s"]
    txn = transfer(reg, ranges=[(s + 20, s + 29), (s, s + 9), (s + 500, s + 500)])
    assert txn.quantity == 21
    assert blocks(reg.buyer_account) == [(s, s + 9), (s + 20, s + 29), (s + 500, s + 500)]
    assert blocks(reg.developer_account) == [(s + 10, s + 19), (s + 30, s + 499), (s + 501, s + 999)]
    assert TransactionBlock.objects.filter(transaction=txn).count() == 3
    assert_invariants()


def test_ranges_spanning_two_adjacent_blocks(registry) -> None:
    reg = registry
    clock.freeze(T1)
    project = testing.registered_project(reg)
    _, (a, b) = testing.issue(reg, project, {2022: 1000, 2023: 500})
    assert b.serial_start == a.serial_end + 1
    s = a.serial_start
    clock.freeze(T2)
    txn = transfer(reg, ranges=[(s + 900, s + 1099)])
    assert txn.quantity == 200
    got = list(UnitBlock.objects.filter(account=reg.buyer_account).order_by("serial_start").values_list("serial_start", "serial_end", "issuance_id", "vintage"))
    assert got == [(s + 900, s + 999, a.pk, 2022), (s + 1000, s + 1099, b.pk, 2023)]
    assert blocks(reg.developer_account) == [(s, s + 899), (s + 1100, s + 1499)]
    assert list(TransactionBlock.objects.filter(transaction=txn).order_by("serial_start").values_list("serial_start", "serial_end", "issuance_id")) == [
        (s + 900, s + 999, a.pk),
        (s + 1000, s + 1099, b.pk),
    ]
    assert txn.project_id == project.pk
    assert opened_body(LedgerEntry.objects.get(seq=txn.ledger_seq))["data"]["ranges"] == [[s + 900, s + 999], [s + 1000, s + 1099]]
    assert_invariants()


def test_range_with_a_gap_refused(funded) -> None:
    reg, s = funded, funded.extra["s"]
    transfer(reg, ranges=[(s + 500, s + 500)])
    exc = refused(
        ValidationFailed,
        "SERIAL_RANGE_NOT_HELD",
        transfer,
        reg=reg,
        ranges=[(s + 490, s + 510)],
    )
    assert exc.details.items() >= {"first_missing_serial": s + 500}.items()
    assert exc.field == "ranges"


@pytest.mark.parametrize(("start", "end", "missing"), [(999, 1000, 1000), (1000, 1005, 1000)])
def test_range_beyond_holding_refused(funded, start: int, end: int, missing: int) -> None:
    reg, s = funded, funded.extra["s"]
    exc = refused(ValidationFailed, "SERIAL_RANGE_NOT_HELD", transfer, reg=reg, ranges=[(s + start, s + end)])
    assert exc.details["first_missing_serial"] == s + missing


def test_units_held_elsewhere_cannot_be_moved(funded) -> None:
    reg, s = funded, funded.extra["s"]
    transfer(reg, ranges=[(s, s + 9)])
    refused(ValidationFailed, "SERIAL_RANGE_NOT_HELD", transfer, reg=reg, ranges=[(s, s + 9)])


def test_insufficient_units_by_criteria(funded) -> None:
    reg = funded
    exc = refused(ValidationFailed, "INSUFFICIENT_UNITS", transfer, reg=reg, quantity=1001)
    assert exc.details.items() >= {"available": 1000, "requested": 1001}.items()
    exc = refused(ValidationFailed, "INSUFFICIENT_UNITS", transfer, reg=reg, quantity=1, vintage=2023)
    assert exc.details["available"] == 0
    refused(NotFound, "PROJECT_NOT_FOUND", transfer, reg=reg, quantity=1, project="CI-9999")  # missing, not short
    refused(ValidationFailed, "INSUFFICIENT_UNITS", transfer, reg=reg, quantity=1, unit_class="VCU")


# --- selection order ------------------------------------------------------------------


def test_selection_oldest_acquisition_first_then_lowest_serial(registry) -> None:
    reg = registry
    clock.freeze(T1)
    project = testing.registered_project(reg)
    _, (low,) = testing.issue(reg, project, {2021: 100})
    clock.freeze(T2)
    _, (high,) = testing.issue(reg, project, {2022: 100}, period=(dt.date(2022, 1, 1), dt.date(2022, 12, 31)))
    assert high.serial_start > low.serial_end
    # The buyer receives high serials first (T3), then low serials (T4).
    clock.freeze(T3)
    transfer(reg, ranges=[(high.serial_start, high.serial_start + 19)])
    clock.freeze(T4)
    transfer(reg, ranges=[(low.serial_start, low.serial_start + 19)])
    # Criteria selection from the buyer takes the oldest acquisition first,
    # even though its serials are higher.
    clock.freeze(T5)
    first = transfer(reg, actor=reg.buyer, source=reg.buyer_account, target=reg.other_developer_account, quantity=25)
    moved = list(TransactionBlock.objects.filter(transaction=first).order_by("serial_start").values_list("serial_start", "serial_end"))
    assert moved == [(low.serial_start, low.serial_start + 4), (high.serial_start, high.serial_start + 19)]
    assert blocks(reg.buyer_account) == [(low.serial_start + 5, low.serial_start + 19)]


def test_selection_same_acquisition_time_lowest_serial_first(registry) -> None:
    reg = registry
    clock.freeze(T1)
    project = testing.registered_project(reg)
    _, (a, b) = testing.issue(reg, project, {2021: 50, 2022: 50})
    clock.freeze(T2)
    # One transfer of two separate ranges: both pieces acquired at T2.
    transfer(reg, ranges=[(b.serial_start + 10, b.serial_start + 19), (a.serial_start + 30, a.serial_start + 39)])
    clock.freeze(T3)
    txn = transfer(reg, actor=reg.buyer, source=reg.buyer_account, target=reg.other_developer_account, quantity=12)
    moved = list(TransactionBlock.objects.filter(transaction=txn).order_by("serial_start").values_list("serial_start", "serial_end"))
    assert moved == [(a.serial_start + 30, a.serial_start + 39), (b.serial_start + 10, b.serial_start + 11)]


def test_remainders_keep_their_place_in_the_order(registry) -> None:
    """A split remainder keeps its old acquisition time, so it still goes first."""
    reg = registry
    clock.freeze(T1)
    project = testing.registered_project(reg)
    _, (a,) = testing.issue(reg, project, {2021: 100})
    clock.freeze(T2)
    transfer(reg, target=reg.other_developer_account, ranges=[(a.serial_start, a.serial_start + 49)])
    clock.freeze(T3)
    transfer(reg, actor=reg.other_developer, source=reg.other_developer_account, target=reg.developer_account, ranges=[(a.serial_start, a.serial_start + 9)])
    # Developer now holds [s+50, s+99] acquired T1 and [s, s+9] acquired T3.
    clock.freeze(T4)
    txn = transfer(reg, quantity=55)
    moved = list(TransactionBlock.objects.filter(transaction=txn).order_by("serial_start").values_list("serial_start", "serial_end"))
    assert moved == [(a.serial_start, a.serial_start + 4), (a.serial_start + 50, a.serial_start + 99)]


def test_criteria_filters(registry) -> None:
    reg = registry
    p1 = testing.registered_project(reg)
    p2 = testing.registered_project(reg, name="Solar", unit_class="CER")
    _, (a, b) = testing.issue(reg, p1, {2021: 10, 2022: 10})
    _, (c,) = testing.issue(reg, p2, {2022: 10})
    txn = transfer(reg, quantity=10, vintage=2022, project=p1.project_id)
    assert list(TransactionBlock.objects.filter(transaction=txn).values_list("issuance_id", flat=True)) == [b.pk]
    txn = transfer(reg, quantity=5, unit_class="CER")
    assert list(TransactionBlock.objects.filter(transaction=txn).values_list("issuance_id", flat=True)) == [c.pk]
    assert txn.project_id == p2.pk
    txn = transfer(reg, quantity=15)
    assert set(TransactionBlock.objects.filter(transaction=txn).values_list("issuance_id", flat=True)) == {a.pk, c.pk}
    assert txn.project_id is None  # more than one project
    assert held(reg.developer_account) == 0


# --- retirement, cancellation, reversal -------------------------------------------------


def retire(reg, *, beneficiary="Acme Airlines", purpose="voluntary", quantity=10, actor=None, source=None, **extra):  # noqa: ANN001, ANN201
    return units.retire(
        actor=actor or reg.developer,
        from_account=(source or reg.developer_account).identifier,
        selection=Selection.build(quantity=quantity),
        beneficiary=beneficiary,
        purpose=purpose,
        idempotency_key=extra.pop("k", None) or key(),
        **extra,
    )


def test_retirement(funded) -> None:
    reg, s = funded, funded.extra["s"]
    txn = retire(reg, quantity=40, beneficiary="  Acme Airlines 2024 flights ", purpose="corsia", jurisdiction="CI", reason="offsetting")
    retirement = orgs.system_account(Account.Type.RETIREMENT)
    assert txn.kind == "retirement"
    assert txn.to_account_id == retirement.pk
    assert (txn.beneficiary, txn.purpose, txn.jurisdiction, txn.reason) == ("Acme Airlines 2024 flights", "corsia", "CI", "offsetting")
    assert blocks(retirement) == [(s, s + 39)]
    data = opened_body(LedgerEntry.objects.get(seq=txn.ledger_seq))["data"]
    assert data["beneficiary"] == "Acme Airlines 2024 flights"
    assert data["purpose"] == "corsia"
    assert data["kind"] == "retirement"
    assert data["to"] == retirement.identifier


@pytest.mark.parametrize("beneficiary", ["", "   ", None])
def test_retirement_needs_beneficiary(funded, beneficiary) -> None:  # noqa: ANN001
    exc = refused(ValidationFailed, "RETIREMENT_BENEFICIARY_REQUIRED", retire, reg=funded, beneficiary=beneficiary)
    assert exc.field == "beneficiary"


@pytest.mark.parametrize("purpose", ["", "fun", "VOLUNTARY", None])
def test_retirement_needs_valid_purpose(funded, purpose) -> None:  # noqa: ANN001
    exc = refused(ValidationFailed, "RETIREMENT_PURPOSE_INVALID", retire, reg=funded, purpose=purpose)
    assert exc.field == "purpose"


@pytest.mark.parametrize("purpose", ["voluntary", "ndc", "corsia", "other_compliance", "other"])
def test_every_retirement_purpose(funded, purpose: str) -> None:
    assert retire(funded, purpose=purpose).purpose == purpose


def cancel(reg, *, reason="double counted", quantity=10, actor=None, source=None, k=None):  # noqa: ANN001, ANN201
    return units.cancel(
        actor=actor or reg.developer,
        from_account=(source or reg.developer_account).identifier,
        selection=Selection.build(quantity=quantity),
        reason=reason,
        idempotency_key=k or key(),
    )


def test_cancellation(funded) -> None:
    reg, s = funded, funded.extra["s"]
    txn = cancel(reg, reason=" voluntary cancellation ", quantity=7)
    cancellation = orgs.system_account(Account.Type.CANCELLATION)
    assert txn.kind == "cancellation"
    assert txn.reason == "voluntary cancellation"
    assert blocks(cancellation) == [(s, s + 6)]
    assert opened_body(LedgerEntry.objects.get(seq=txn.ledger_seq))["data"]["reason"] == "voluntary cancellation"


@pytest.mark.parametrize("reason", ["", "  ", None])
def test_cancellation_needs_reason(funded, reason) -> None:  # noqa: ANN001
    exc = refused(ValidationFailed, "CANCELLATION_REASON_REQUIRED", cancel, reg=funded, reason=reason)
    assert exc.field == "reason"


@pytest.fixture
def buffered(registry):
    """Two projects with units in the buffer pool: A 100 (of 1000), B 50 (of 500)."""
    reg = registry
    a = testing.registered_project(reg, buffer_basis_points=1000)
    b = testing.registered_project(reg, name="Second", buffer_basis_points=1000)
    testing.issue(reg, a, {2022: 1000})
    testing.issue(reg, b, {2022: 500})
    reg.extra.update(a=a, b=b, pool=orgs.system_account(Account.Type.BUFFER))
    return reg


def reverse(reg, project, quantity, *, actor=None, reason="fire in 2024", k=None):  # noqa: ANN001, ANN201
    return units.reverse(
        actor=actor or reg.admin, project=project.project_id if hasattr(project, "project_id") else project,
        quantity=quantity, reason=reason, idempotency_key=k or key(),
    )


def test_reversal_cancels_from_buffer_for_that_project(buffered) -> None:
    reg = buffered
    a, b, pool = reg.extra["a"], reg.extra["b"], reg.extra["pool"]
    assert held(pool) == 150
    txn = reverse(reg, b, 30)
    assert txn.kind == "reversal"
    assert txn.from_account_id == pool.pk
    assert txn.project_id == b.pk
    cancelled = UnitBlock.objects.filter(account__type=Account.Type.CANCELLATION)
    assert {blk.project_id for blk in cancelled} == {b.pk}
    assert sum(blk.quantity for blk in cancelled) == 30
    assert sum(blk.quantity for blk in UnitBlock.objects.filter(account=pool, project=a)) == 100
    assert sum(blk.quantity for blk in UnitBlock.objects.filter(account=pool, project=b)) == 20
    # B has 20 left in the pool: 21 is refused although A's 100 are there.
    exc = refused(ValidationFailed, "INSUFFICIENT_UNITS", reverse, reg=reg, project=b, quantity=21)
    assert exc.details.items() >= {"available": 20, "requested": 21}.items()
    assert_invariants()


def test_reversal_never_touches_holdings(buffered) -> None:
    reg = buffered
    holding_before = held(reg.developer_account)
    reverse(reg, reg.extra["a"], 100)
    assert held(reg.developer_account) == holding_before
    refused(ValidationFailed, "INSUFFICIENT_UNITS", reverse, reg=reg, project=reg.extra["a"], quantity=1)


@pytest.mark.parametrize("who", ["developer", "buyer", "vvb"])
def test_reversal_only_by_administrator(buffered, who: str) -> None:
    refused(PermissionDenied, "NOT_REGISTRY_ADMINISTRATOR", reverse, reg=buffered, project=buffered.extra["a"], quantity=1, actor=getattr(buffered, who))


def test_reversal_rules(buffered) -> None:
    reg = buffered
    refused(ValidationFailed, "REVERSAL_REASON_REQUIRED", reverse, reg=reg, project=reg.extra["a"], quantity=1, reason=" ")
    refused(ValidationFailed, "PROJECT_NOT_FOUND", reverse, reg=reg, project="CI-9999", quantity=1)
    refused(ValidationFailed, "QUANTITY_NOT_POSITIVE", reverse, reg=reg, project=reg.extra["a"], quantity=0)
    assert reverse(reg, reg.extra["a"], 1, actor=reg.root).status == "completed"


def test_buffer_pool_units_cannot_be_transferred_or_cancelled(buffered) -> None:
    reg = buffered
    pool = reg.extra["pool"]
    refused(PermissionDenied, "NOT_REGISTRY_ADMINISTRATOR", transfer, reg=reg, source=pool, quantity=1)
    refused(ValidationFailed, "TRANSFERRING_ACCOUNT_TYPE_NOT_ALLOWED", transfer, reg=reg, actor=reg.admin, source=pool, quantity=1)
    refused(ValidationFailed, "TRANSFERRING_ACCOUNT_TYPE_NOT_ALLOWED", cancel, reg=reg, actor=reg.admin, source=pool, quantity=1)


# --- refusals ------------------------------------------------------------------------


@pytest.mark.parametrize("account_type", ["retirement", "cancellation", "buffer", "omge", "export", "sop"])
def test_transfer_only_to_holding_accounts(funded, account_type: str) -> None:
    target = orgs.system_account(account_type)
    exc = refused(ValidationFailed, "ACQUIRING_ACCOUNT_TYPE_NOT_ALLOWED", transfer, reg=funded, target=target, quantity=1)
    assert exc.field == "to_account"


def test_same_account_refused(funded) -> None:
    exc = refused(ValidationFailed, "SAME_ACCOUNT", transfer, reg=funded, target=funded.developer_account, quantity=1)
    assert exc.field == "to_account"


@pytest.mark.parametrize("account_type", ["retirement", "cancellation"])
def test_units_in_terminal_accounts_never_move(funded, account_type: str) -> None:
    reg = funded
    if account_type == "retirement":
        retire(reg, quantity=10)
    else:
        cancel(reg, quantity=10)
    terminal = orgs.system_account(account_type)
    for actor in (reg.admin, reg.root):
        for fn, kwargs in (
            (transfer, {"reg": reg, "actor": actor, "source": terminal, "quantity": 1}),
            (retire, {"reg": reg, "actor": actor, "source": terminal, "quantity": 1}),
            (cancel, {"reg": reg, "actor": actor, "source": terminal, "quantity": 1}),
        ):
            exc = refused(ValidationFailed, "TRANSFERRING_ACCOUNT_TERMINAL", fn, **kwargs)
            assert exc.field == "from_account"
    refused(PermissionDenied, "NOT_REGISTRY_ADMINISTRATOR", transfer, reg=reg, source=terminal, quantity=1)
    # And the database refuses it too, whatever the code does.
    block = UnitBlock.objects.get(account=terminal)
    with pytest.raises(IntegrityError), transaction.atomic():
        UnitBlock.objects.filter(pk=block.pk).update(account=reg.developer_account)
    with pytest.raises(IntegrityError), transaction.atomic():
        UnitBlock.objects.filter(pk=block.pk).update(serial_end=block.serial_end - 1)
    assert UnitBlock.objects.get(pk=block.pk).account_id == terminal.pk


def test_blocks_are_never_deleted(funded) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        UnitBlock.objects.filter(account=funded.developer_account).delete()
    assert held(funded.developer_account) == 1000


def test_overlapping_block_refused_by_database(funded) -> None:
    reg, s = funded, funded.extra["s"]
    original = UnitBlock.objects.get(account=reg.developer_account)
    with pytest.raises(IntegrityError), transaction.atomic():
        UnitBlock.objects.create(
            issuance=original.issuance, project=original.project, vintage=2022, unit_class="VER",
            serial_start=s + 999, serial_end=s + 1100, account=reg.buyer_account, acquired_at=clock.now(),
        )


def test_other_organisations_account(funded) -> None:
    reg = funded
    exc = refused(
        PermissionDenied, "ACCOUNT_NOT_OPERATED_BY_USER", transfer, reg=reg, actor=reg.buyer, target=reg.buyer_account.identifier, quantity=1
    )
    assert exc.status == 403
    refused(PermissionDenied, "ACCOUNT_NOT_OPERATED_BY_USER", retire, reg=reg, actor=reg.other_developer)
    refused(PermissionDenied, "ACCOUNT_NOT_OPERATED_BY_USER", cancel, reg=reg, actor=reg.other_developer)
    # Even the registry administrator does not operate an organisation's account.
    refused(PermissionDenied, "ACCOUNT_NOT_OPERATED_BY_USER", transfer, reg=reg, actor=reg.admin, quantity=1)


@pytest.mark.parametrize("role", [User.Role.VIEWER, User.Role.APPROVER])
def test_roles_that_may_not_move_units(funded, role: str) -> None:
    reg = funded
    member = testing.make_user(reg.developer_org, f"dev-{role}", role, actor=reg.admin)
    refused(PermissionDenied, "ROLE_NOT_ALLOWED", transfer, reg=reg, actor=member, quantity=1)
    refused(PermissionDenied, "ROLE_NOT_ALLOWED", retire, reg=reg, actor=member)
    refused(PermissionDenied, "ROLE_NOT_ALLOWED", cancel, reg=reg, actor=member)


def test_initiator_may_move_units(funded) -> None:
    reg = funded
    member = testing.make_user(reg.developer_org, "dev-initiator", User.Role.INITIATOR, actor=reg.admin)
    assert transfer(reg, actor=member, quantity=1).initiated_by_id == member.pk


def test_suspended_and_closed_accounts(funded) -> None:
    reg = funded
    orgs.set_account_status(actor=reg.admin, account=reg.buyer_account, status="suspended", reason="audit")
    exc = refused(ValidationFailed, "ACQUIRING_ACCOUNT_NOT_OPEN", transfer, reg=reg, quantity=1)
    assert exc.field == "to_account"
    orgs.set_account_status(actor=reg.admin, account=reg.buyer_account, status="closed", reason="closed")
    refused(ValidationFailed, "ACQUIRING_ACCOUNT_NOT_OPEN", transfer, reg=reg, quantity=1)
    refused(ValidationFailed, "TRANSFERRING_ACCOUNT_CLOSED", transfer, reg=reg, actor=reg.buyer, source=reg.buyer_account, target=reg.developer_account, quantity=1)
    orgs.set_account_status(actor=reg.admin, account=reg.developer_account, status="suspended", reason="audit")
    for fn, kwargs in (
        (transfer, {"reg": reg, "target": reg.other_developer_account, "quantity": 1}),
        (retire, {"reg": reg}),
        (cancel, {"reg": reg}),
    ):
        exc = refused(ValidationFailed, "TRANSFERRING_ACCOUNT_SUSPENDED", fn, **kwargs)
        assert exc.field == "from_account"
    orgs.set_account_status(actor=reg.admin, account=reg.developer_account, status="open", reason="cleared")
    assert transfer(reg, target=reg.other_developer_account, quantity=1).status == "completed"


def test_unknown_or_mistyped_acquiring_account(funded) -> None:
    reg = funded
    good = reg.buyer_account.identifier
    typo = good[:-2] + f"{(int(good[-2:]) + 1) % 100:02d}"
    refused(ValidationFailed, "ACCOUNT_CHECK_DIGITS", transfer, reg=reg, target=typo, quantity=1)
    # A transposition of two digits of the number is caught too.
    parts = good.split("-")
    number = parts[2]
    swapped_number = number[:-2] + number[-1] + number[-2]
    if swapped_number != number:
        refused(ValidationFailed, "ACCOUNT_CHECK_DIGITS", transfer, reg=reg, target="-".join([parts[0], parts[1], swapped_number, parts[3]]), quantity=1)
    refused(NotFound, "ACCOUNT_NOT_FOUND", transfer, reg=reg, target=org_domain.make_account_identifier("CI", "holding", 9999999), quantity=1)
    refused(ValidationFailed, "ACCOUNT_IDENTIFIER_MALFORMED", transfer, reg=reg, target="buyer", quantity=1)


@pytest.mark.parametrize("k", ["", "   "])
def test_idempotency_key_required(funded, k: str) -> None:
    reg = funded
    before = snapshot()
    with pytest.raises(ValidationFailed) as exc:
        units.transfer(
            actor=reg.developer,
            from_account=reg.developer_account.identifier,
            to_account=reg.buyer_account.identifier,
            selection=Selection.build(quantity=1),
            idempotency_key=k,
        )
    assert exc.value.code == "IDEMPOTENCY_KEY_REQUIRED"
    assert snapshot() == before


def test_suspended_holder_cannot_move_or_receive(funded) -> None:
    reg = funded
    orgs.decide_organisation(actor=reg.admin, organisation=reg.buyer_org, status="suspended", reason="AML")
    refused(ValidationFailed, "ACQUIRING_ORGANISATION_NOT_APPROVED", transfer, reg=reg, actor=fresh(reg.developer), quantity=1)
    orgs.decide_organisation(actor=reg.admin, organisation=reg.developer_org, status="suspended", reason="AML")
    refused(PermissionDenied, "ORGANISATION_NOT_APPROVED", transfer, reg=reg, actor=fresh(reg.developer), target=reg.other_developer_account, quantity=1)


# --- many moves ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_moves_conserve_units(registry, seed: int) -> None:
    reg = registry
    rng = random.Random(seed)  # noqa: S311
    project = testing.registered_project(reg, buffer_basis_points=500)
    _, issuances = testing.issue(reg, project, {2021: 300, 2022: 200})
    accounts = {
        reg.developer_account.pk: (reg.developer, reg.developer_account),
        reg.buyer_account.pk: (reg.buyer, reg.buyer_account),
        reg.other_developer_account.pk: (reg.other_developer, reg.other_developer_account),
    }
    total = sum(i.quantity for i in issuances)
    done = 0
    for step in range(25):
        clock.freeze(T1 + dt.timedelta(hours=step))
        holders = [pk for pk in accounts if held(accounts[pk][1])]
        if not holders:
            break
        source_pk = rng.choice(holders)
        actor, source = accounts[source_pk]
        own = blocks(source)
        op = rng.choice(["range", "ranges", "quantity", "retire"])
        if op in ("range", "ranges"):
            picks = rng.sample(own, k=min(len(own), 1 if op == "range" else 2))
            ranges = []
            for start, end in picks:
                a = rng.randint(start, end)
                ranges.append((a, rng.randint(a, end)))
            sel = {"ranges": ranges}
        else:
            sel = {"quantity": rng.randint(1, held(source))}
        if op == "retire":
            units.retire(actor=actor, from_account=source.identifier, selection=Selection.build(**sel),
                         beneficiary="b", purpose="voluntary", idempotency_key=key())
        else:
            target = accounts[rng.choice([pk for pk in accounts if pk != source_pk])][1]
            transfer(reg, actor=actor, source=source, target=target, **sel)
        done += 1
        assert_invariants()
    assert done >= 5
    assert sum(b.quantity for b in UnitBlock.objects.all()) == total
    completed = Transaction.objects.filter(status="completed", kind__in=["transfer", "retirement"]).count()
    assert completed == done
    assert LedgerEntry.objects.filter(kind__in=["units.transfer", "units.retirement"]).count() == done
