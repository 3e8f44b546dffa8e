"""Concurrency on PostgreSQL (DESIGN §5): storms of simultaneous requests
never over-spend, never move a retried request twice, never issue twice and
never accept overlapping monitoring periods.

Each test commits real transactions (transactional test case) and runs its
requests from many threads, each on its own database connection, released
at the end of the thread. A fault hook widens the window between reading the
holdings and writing the move, where a missing lock would show."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from tonne import testing
from tonne.core import faults, pgpipeline
from tonne.core.errors import RegistryError
from tonne.ledger.models import LedgerEntry, LedgerHead
from tonne.ledger.verify import verify_ledger
from tonne.mrv import services as mrv
from tonne.mrv import verification as mrv_verification
from tonne.mrv.models import MonitoringReport
from tonne.organisations.domain import make_account_identifier
from tonne.units import services as units
from tonne.units import store
from tonne.units.domain import Selection
from tonne.units.models import Issuance, Transaction, UnitBlock

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def storm(n: int, request: Callable[[int], Any]) -> list[Any]:
    """Run request(0..n-1) from n threads released at the same moment; each
    result is the return value or the RegistryError raised."""
    barrier = threading.Barrier(n)

    def one(i: int) -> Any:
        try:
            barrier.wait(timeout=30)
            return request(i)
        except RegistryError as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def codes(results: list[Any]) -> Counter:
    return Counter(r.code if isinstance(r, RegistryError) else "ok" for r in results)


@pytest.fixture
def slow_moves():
    faults.install("move.after_read", lambda: time.sleep(0.05))
    yield
    faults.install("move.after_read", None)


def held(account) -> int:
    return sum(b.quantity for b in UnitBlock.objects.filter(account=account))


def assert_no_overlap() -> None:
    previous = 0
    for start, end in UnitBlock.objects.order_by("serial_start").values_list(
        "serial_start", "serial_end"
    ):
        assert end >= start and start > previous
        previous = end
    for issuance in Issuance.objects.all():
        assert sum(b.quantity for b in issuance.blocks.all()) == issuance.quantity


@pytest.fixture
def hundred(registry):
    """The developer's account holds exactly 100 units (two issuances, so the
    storm also crosses blocks)."""
    project = testing.registered_project(registry)
    testing.issue(registry, project, {2021: 60})
    testing.issue(registry, project, {2022: 40})
    assert held(registry.developer_account) == 100
    registry.extra["project"] = project
    return registry


def test_transfer_storm_never_over_spends(hundred, slow_moves):
    reg = hundred
    size = LedgerHead.objects.get(pk=1).size

    def request(i: int) -> Transaction:
        return units.transfer(
            actor=reg.developer,
            from_account=reg.developer_account.identifier,
            to_account=reg.buyer_account.identifier,
            selection=Selection.build(quantity=10),
            idempotency_key=f"storm-{i}",
        )

    results = storm(50, request)
    assert codes(results) == Counter({"ok": 10, "INSUFFICIENT_UNITS": 40})
    done = [r for r in results if isinstance(r, Transaction)]
    assert len({t.identifier for t in done}) == 10
    assert held(reg.developer_account) == 0
    assert held(reg.buyer_account) == 100
    assert Transaction.objects.filter(kind=Transaction.Kind.TRANSFER).count() == 10
    assert not Transaction.objects.exclude(status=Transaction.Status.COMPLETED).exists()
    assert LedgerHead.objects.get(pk=1).size == size + 10
    assert sorted(t.ledger_seq for t in done) == list(range(size, size + 10))
    # every serial moved exactly once
    moved = sorted(
        s for t in done for b in t.blocks.all() for s in range(b.serial_start, b.serial_end + 1)
    )
    assert len(moved) == len(set(moved)) == 100
    assert_no_overlap()
    result = verify_ledger()
    assert result.ok, result.divergences


def test_mixed_storm_of_transfers_retirements_and_cancellations(hundred, slow_moves):
    reg = hundred

    def request(i: int) -> Transaction:
        common = dict(
            actor=reg.developer,
            from_account=reg.developer_account.identifier,
            selection=Selection.build(quantity=7),
            idempotency_key=f"mixed-{i}",
        )
        if i % 3 == 0:
            return units.transfer(to_account=reg.other_developer_account.identifier, **common)
        if i % 3 == 1:
            return units.retire(beneficiary="Acme", purpose="voluntary", **common)
        return units.cancel(reason="Correction", **common)

    results = storm(30, request)
    assert codes(results) == Counter({"ok": 14, "INSUFFICIENT_UNITS": 16})
    assert held(reg.developer_account) == 100 - 14 * 7
    assert (
        sum(held(a) for a in (reg.other_developer_account,))
        + sum(b.quantity for b in UnitBlock.objects.filter(account__is_terminal=True))
        == 14 * 7
    )
    assert_no_overlap()
    assert verify_ledger().ok


def test_storm_on_the_same_serial_range_moves_it_once(hundred, slow_moves):
    reg = hundred
    first = Issuance.objects.order_by("serial_start").first()
    wanted = (first.serial_start + 10, first.serial_start + 29)

    def request(i: int) -> Transaction:
        return units.transfer(
            actor=reg.developer,
            from_account=reg.developer_account.identifier,
            to_account=(reg.buyer_account if i % 2 else reg.other_developer_account).identifier,
            selection=Selection.build(ranges=[wanted]),
            idempotency_key=f"range-{i}",
        )

    results = storm(20, request)
    assert codes(results) == Counter({"ok": 1, "SERIAL_RANGE_NOT_HELD": 19})
    assert held(reg.developer_account) == 80
    assert held(reg.buyer_account) + held(reg.other_developer_account) == 20
    assert_no_overlap()
    assert verify_ledger().ok


def test_ping_pong_storm_between_two_accounts(registry, slow_moves):
    reg = registry
    project = testing.registered_project(reg)
    testing.issue(reg, project, {2021: 100})
    units.transfer(
        actor=reg.developer,
        from_account=reg.developer_account.identifier,
        to_account=reg.buyer_account.identifier,
        selection=Selection.build(quantity=50),
        idempotency_key="seed",
    )

    def request(i: int) -> Transaction:
        if i % 2:
            actor, src, dst = reg.developer, reg.developer_account, reg.buyer_account
        else:
            actor, src, dst = reg.buyer, reg.buyer_account, reg.developer_account
        return units.transfer(
            actor=actor,
            from_account=src.identifier,
            to_account=dst.identifier,
            selection=Selection.build(quantity=3),
            idempotency_key=f"pp-{i}",
        )

    results = storm(40, request)
    assert codes(results) == Counter({"ok": 40})
    assert held(reg.developer_account) == 50
    assert held(reg.buyer_account) == 50
    assert_no_overlap()
    assert verify_ledger().ok


def test_opposite_transfers_do_not_deadlock(registry, slow_moves):
    """Minimal case of the ping-pong storm: A→B and B→A at the same moment.
    Each move locks its source account FOR UPDATE; the moved blocks' foreign
    key to the *other* account is checked at commit with FOR KEY SHARE, which
    FOR UPDATE blocks: each transaction waits for the other (deadlock)."""
    reg = registry
    project = testing.registered_project(reg)
    testing.issue(reg, project, {2021: 20})
    units.transfer(
        actor=reg.developer,
        from_account=reg.developer_account.identifier,
        to_account=reg.buyer_account.identifier,
        selection=Selection.build(quantity=10),
        idempotency_key="seed",
    )
    directions = [
        (reg.developer, reg.developer_account, reg.buyer_account),
        (reg.buyer, reg.buyer_account, reg.developer_account),
    ]
    for round_ in range(3):
        results = storm(
            2,
            lambda i, round_=round_: units.transfer(
                actor=directions[i][0],
                from_account=directions[i][1].identifier,
                to_account=directions[i][2].identifier,
                selection=Selection.build(quantity=1),
                idempotency_key=f"opposite-{round_}-{i}",
            ),
        )
        assert codes(results) == Counter({"ok": 2})
    assert held(reg.developer_account) == held(reg.buyer_account) == 10
    assert verify_ledger().ok


def test_same_idempotency_key_from_twenty_threads_moves_once(hundred, slow_moves):
    reg = hundred
    size = LedgerHead.objects.get(pk=1).size

    def request(i: int) -> Transaction:
        return units.transfer(
            actor=reg.developer,
            from_account=reg.developer_account.identifier,
            to_account=reg.buyer_account.identifier,
            selection=Selection.build(quantity=15),
            idempotency_key="the-one-key",
        )

    results = storm(20, request)
    assert codes(results) == Counter({"ok": 20}), [
        r for r in results if isinstance(r, RegistryError)
    ]
    assert len({t.identifier for t in results}) == 1
    assert Transaction.objects.filter(idempotency_key="the-one-key").count() == 1
    assert LedgerHead.objects.get(pk=1).size == size + 1
    assert held(reg.buyer_account) == 15
    assert held(reg.developer_account) == 85
    assert verify_ledger().ok


def test_same_key_with_different_requests_from_many_threads(hundred, slow_moves):
    """Racing requests under one key that differ: one moves, the others are
    told the key was used for something else; nothing moves twice."""
    reg = hundred

    def request(i: int) -> Transaction:
        return units.transfer(
            actor=reg.developer,
            from_account=reg.developer_account.identifier,
            to_account=reg.buyer_account.identifier,
            selection=Selection.build(quantity=1 + i),
            idempotency_key="contested",
        )

    results = storm(10, request)
    assert codes(results) == Counter({"ok": 1, "IDEMPOTENCY_KEY_REUSED": 9})
    winner = next(r for r in results if isinstance(r, Transaction))
    assert held(reg.buyer_account) == winner.quantity
    assert verify_ledger().ok


def _verified_report(reg, project, year: int, quantity: int = 100) -> MonitoringReport:
    report = mrv.submit_report(
        actor=reg.developer,
        project=project,
        period_start=dt.date(year, 1, 1),
        period_end=dt.date(year, 12, 31),
        vintages=[{"vintage": year, "quantity": quantity}],
        vvb=str(reg.vvb_org.uid),
    )
    mrv_verification.accept_assignment(actor=reg.vvb, report=report, no_conflict_of_interest=True)
    return mrv.verify_report(
        actor=reg.vvb, report=report, verified=[{"vintage": year, "quantity": quantity}]
    )


def test_concurrent_approvals_issue_once(registry):
    reg = registry
    project = testing.registered_project(reg, buffer_basis_points=1000)
    report = _verified_report(reg, project, 2020)

    results = storm(2, lambda i: mrv.approve_issuance(actor=reg.admin, report=report))
    assert codes(results) == Counter({"ok": 1, "ISSUANCE_ALREADY_DONE": 1})
    assert Issuance.objects.filter(report=report).count() == 1
    assert held(reg.developer_account) == 90
    assert MonitoringReport.objects.get(pk=report.pk).status == MonitoringReport.Status.ISSUED
    assert verify_ledger().ok


def test_approval_storm_issues_once(registry):
    reg = registry
    project = testing.registered_project(reg)
    report = _verified_report(reg, project, 2020)
    results = storm(10, lambda i: mrv.approve_issuance(actor=reg.admin, report=report))
    assert codes(results) == Counter({"ok": 1, "ISSUANCE_ALREADY_DONE": 9})
    assert Issuance.objects.count() == 1
    assert held(reg.developer_account) == 100
    assert verify_ledger().ok


def test_concurrent_issuances_of_many_reports_get_disjoint_serials(registry):
    reg = registry
    projects = [testing.registered_project(reg, name=f"Project {i}") for i in range(3)]
    reports = [_verified_report(reg, projects[i % 3], 2000 + i, quantity=10 + i) for i in range(12)]
    results = storm(12, lambda i: mrv.approve_issuance(actor=reg.admin, report=reports[i]))
    assert codes(results) == Counter({"ok": 12})
    issuances = list(Issuance.objects.order_by("serial_start"))
    assert len(issuances) == 12
    cursor = 1
    for issuance in issuances:  # one monotonic sequence: no gap, no overlap
        assert issuance.serial_start == cursor
        cursor = issuance.serial_end + 1
    for project in projects:
        numbers = sorted(Issuance.objects.filter(project=project).values_list("number", flat=True))
        assert numbers == [1, 2, 3, 4]
    assert_no_overlap()
    assert verify_ledger().ok


def test_concurrent_overlapping_monitoring_reports_accept_one(registry):
    reg = registry
    project = testing.registered_project(reg)
    periods = [
        (dt.date(2020, 1, 1), dt.date(2020, 12, 31)),
        (dt.date(2020, 6, 1), dt.date(2021, 5, 31)),
    ]

    def request(i: int) -> MonitoringReport:
        start, end = periods[i]
        return mrv.submit_report(
            actor=reg.developer,
            project=project,
            period_start=start,
            period_end=end,
            vintages=[{"vintage": 2020, "quantity": 10}],
            vvb=str(reg.vvb_org.uid),
        )

    results = storm(2, request)
    assert codes(results) == Counter({"ok": 1, "MONITORING_PERIOD_OVERLAP": 1})
    assert MonitoringReport.objects.filter(project=project).count() == 1
    assert verify_ledger().ok


def test_monitoring_report_storm(registry):
    """Ten overlapping submissions accept one; five disjoint ones all pass with
    distinct numbers."""
    reg = registry
    project = testing.registered_project(reg)

    def submit(start: dt.date, end: dt.date, vintage: int) -> MonitoringReport:
        return mrv.submit_report(
            actor=reg.developer,
            project=project,
            period_start=start,
            period_end=end,
            vintages=[{"vintage": vintage, "quantity": 5}],
            vvb=str(reg.vvb_org.uid),
        )

    results = storm(10, lambda i: submit(dt.date(2010, 1 + i, 1), dt.date(2010, 12, 31), 2010))
    assert codes(results) == Counter({"ok": 1, "MONITORING_PERIOD_OVERLAP": 9})
    results = storm(
        5, lambda i: submit(dt.date(2011 + i, 1, 1), dt.date(2011 + i, 12, 31), 2011 + i)
    )
    assert codes(results) == Counter({"ok": 5})
    assert sorted(
        MonitoringReport.objects.filter(project=project).values_list("number", flat=True)
    ) == [1, 2, 3, 4, 5, 6]
    assert LedgerEntry.objects.filter(kind="mrv.report_submitted").count() == 6
    assert verify_ledger().ok


# -- the pipelined path (a move outside any transaction, on PostgreSQL) ----------------


def test_moves_outside_a_transaction_take_the_pipelined_path_and_keep_every_rule(hundred):
    reg = hundred
    dev, buyer = reg.developer_account, reg.buyer_account
    assert store.pipelined_transaction_possible()
    first = Issuance.objects.order_by("serial_start").first()
    size = LedgerHead.objects.get(pk=1).size
    by_range = units.transfer(
        actor=reg.developer,
        from_account=dev.identifier,
        to_account=buyer.identifier,
        selection=Selection.build(ranges=[(first.serial_start + 10, first.serial_start + 19)]),
        idempotency_key="pipe-range",
    )
    by_criteria = units.transfer(
        actor=reg.developer,
        from_account=dev.identifier,
        to_account=buyer.identifier,
        selection=Selection.build(quantity=25, vintage=2021),
        idempotency_key="pipe-criteria",
    )
    retired = units.retire(
        actor=reg.buyer,
        from_account=buyer.identifier,
        selection=Selection.build(quantity=5),
        beneficiary="Acme",
        purpose="voluntary",
        idempotency_key="pipe-retire",
    )
    assert [t.ledger_seq for t in (by_range, by_criteria, retired)] == [size, size + 1, size + 2]
    assert Transaction.objects.get(pk=by_criteria.pk).ledger_seq == size + 1
    assert held(dev) == 65 and held(buyer) == 30
    # a replay answers with the first result, and moves nothing
    again = units.transfer(
        actor=reg.developer,
        from_account=dev.identifier,
        to_account=buyer.identifier,
        selection=Selection.build(quantity=25, vintage=2021),
        idempotency_key="pipe-criteria",
    )
    assert again.pk == by_criteria.pk and held(dev) == 65
    # refused requests leave nothing behind, and the connection is usable
    for selection in (Selection.build(quantity=1000), Selection.build(ranges=[(1, 5)])):
        with pytest.raises(RegistryError):
            units.transfer(
                actor=reg.developer,
                from_account=dev.identifier,
                to_account=buyer.identifier,
                selection=selection,
                idempotency_key=f"pipe-refused-{selection.describe()}",
            )
        assert not connection.in_atomic_block
        assert connection.connection.pgconn.transaction_status == 0  # idle: nothing left open
    with pytest.raises(RegistryError) as missing:
        units.transfer(
            actor=reg.developer,
            from_account=make_account_identifier("CI", "holding", 9999999),
            to_account=buyer.identifier,
            selection=Selection.build(quantity=1),
            idempotency_key="pipe-no-account",
        )
    assert missing.value.code == "ACCOUNT_NOT_FOUND"
    assert LedgerHead.objects.get(pk=1).size == size + 3
    assert held(dev) == 65 and held(buyer) == 30
    assert_no_overlap()
    result = verify_ledger()
    assert result.ok, result.divergences


def test_a_pipelined_move_that_must_wait_is_kept_and_settles_once_approved(hundred, settings):
    """Outside any transaction on PostgreSQL a move takes the pipelined path;
    when four-eyes approval or delayed settlement makes it wait, the waiting
    request is committed (not rolled back with the pipeline), and a refused
    one leaves nothing behind."""
    from tonne.controls import services as controls
    from tonne.controls.models import Approval
    from tonne.organisations.models import User

    settings.TONNE_FOUR_EYES = frozenset({"transfer"})  # the other controls stay off (conftest)
    reg = hundred
    dev, buyer = reg.developer_account, reg.buyer_account
    assert store.pipelined_transaction_possible()
    size = LedgerHead.objects.get(pk=1).size
    waiting = units.transfer(
        actor=reg.developer,
        from_account=dev.identifier,
        to_account=buyer.identifier,
        selection=Selection.build(quantity=7),
        idempotency_key="pipe-wait",
    )
    assert connection.connection.pgconn.transaction_status == 0  # idle: committed, nothing left open
    assert Transaction.objects.get(pk=waiting.pk).status == Transaction.Status.AWAITING_APPROVAL
    assert held(dev) == 100 and held(buyer) == 0
    # The ledger states the request only (committed with it), bound to its transaction.
    assert LedgerHead.objects.get(pk=1).size == size + 1
    assert LedgerEntry.objects.get(seq=size).kind == "control.approval_requested"
    approval = Approval.objects.get(transaction_id=waiting.pk)
    approver = testing.make_user(reg.developer_org, "pipe-approver", User.Role.APPROVER, actor=reg.root)
    controls.approve(actor=approver, uid=approval.uid, request_hash=approval.request_hash)
    assert Transaction.objects.get(pk=waiting.pk).status == Transaction.Status.COMPLETED
    assert held(dev) == 93 and held(buyer) == 7
    assert LedgerEntry.objects.filter(kind="units.transfer", transaction_ref=waiting.identifier).count() == 1
    # a frozen account refuses in the pipeline: rolled back, connection usable
    controls.set_transfers_suspended(actor=reg.admin, suspended=True, reason="test")
    with pytest.raises(RegistryError):
        units.transfer(
            actor=reg.developer,
            from_account=dev.identifier,
            to_account=buyer.identifier,
            selection=Selection.build(quantity=1),
            idempotency_key="pipe-suspended",
        )
    assert connection.connection.pgconn.transaction_status == 0
    assert held(dev) == 93
    result = verify_ledger()
    assert result.ok, result.divergences


def test_a_pipelined_move_answers_only_after_a_synchronous_commit_and_prepares_its_statements(hundred, monkeypatch):
    """The move commits without holding the ledger head through the disk
    flush (asynchronous commit), then a synchronous commit queued behind it
    flushes the WAL past the move before the caller hears "completed"; the
    session's own setting is untouched, the statements are prepared, and
    the whole move is two round trips."""
    reg = hundred
    sent: list[str] = []
    batches: list[int] = []
    send, run = pgpipeline.Pipeline.send, pgpipeline.Pipeline.run

    def recording_send(self: Any, sql: str, params: Any = None, **kwargs: Any) -> Any:
        sent.append(sql)
        return send(self, sql, params, **kwargs)

    def recording_run(self: Any) -> None:
        if self.queue:
            batches.append(len(sent))
        run(self)

    monkeypatch.setattr(pgpipeline.Pipeline, "send", recording_send)
    monkeypatch.setattr(pgpipeline.Pipeline, "run", recording_run)
    before = units.transfer(
        actor=reg.developer,
        from_account=reg.developer_account.identifier,
        to_account=reg.buyer_account.identifier,
        selection=Selection.build(quantity=3),
        idempotency_key="durable-1",
    )
    # BEGIN, the locking read, controls flags and first blocks; then the
    # writes (block updates included), the ledger append, COMMIT and the barrier.
    assert sent[0] == "BEGIN"
    assert sent[-2:] == ["COMMIT", store.DURABILITY_BARRIER]
    assert batches == [4, len(sent)]
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'tonne_%%'")
        assert cursor.fetchone()[0] >= 6  # lock, flags, blocks, writes, append, barrier
    assert Transaction.objects.get(pk=before.pk).status == Transaction.Status.COMPLETED
    assert held(reg.buyer_account) == 3


def test_a_move_after_the_server_forgot_its_prepared_statements_is_sent_again(hundred):
    """DEALLOCATE ALL (by an administrator, a pooler) between two moves: the
    second is refused by the server before it changes anything, prepared
    afresh and carried out once."""
    reg = hundred

    def move(key: str) -> Transaction:
        return units.transfer(
            actor=reg.developer,
            from_account=reg.developer_account.identifier,
            to_account=reg.buyer_account.identifier,
            selection=Selection.build(quantity=2),
            idempotency_key=key,
        )

    move("before-deallocate")
    connection.connection.execute("DEALLOCATE ALL")
    after = move("after-deallocate")
    assert after.status == Transaction.Status.COMPLETED
    assert held(reg.buyer_account) == 4
    assert Transaction.objects.filter(idempotency_key="after-deallocate").count() == 1
    assert verify_ledger().ok
