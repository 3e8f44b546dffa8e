"""Push sync to a CAD Trust node (a stand-in HTTP server that records what it receives)."""

from __future__ import annotations

import datetime as dt

import pytest

from tonne import testing
from tonne.cadt import mapping, sync
from tonne.cadt.models import SyncDelivery, SyncDestination
from tonne.cadt.standin import StandInNode
from tonne.core import clock, faults
from tonne.core.errors import PermissionDenied, ValidationFailed
from tonne.ops.worker import run_once
from tonne.units import services as units
from tonne.units.domain import Selection

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_outbound")]


@pytest.fixture
def node():
    with StandInNode(api_key="node-secret") as stand_in:
        yield stand_in


def _expected(table: str) -> dict[str, dict]:
    key = {"unit": "cadTrustUnitId", "project": "cadTrustProjectId", "issuance": "cadTrustIssuanceId"}[table]
    return {row[key]: row for row in mapping.v2_rows()[table]}


def _same(received: dict[str, dict], expected: dict[str, dict]) -> bool:
    """What the node holds equals this registry's rows (values as the workbook carries them)."""
    import json

    def norm(row: dict) -> dict:
        return {k: (json.dumps(v, separators=(",", ":"), ensure_ascii=False) if isinstance(v, list) else v)
                for k, v in row.items() if v is not None}

    return {k: norm(v) for k, v in received.items()} == {
        k: {c: (str(x) if c in ("unitStartBlock", "unitEndBlock") else x) for c, x in norm(v).items()}
        for k, v in expected.items()
    }


def test_full_sync_stages_then_commits(cadt_reg: testing.Registry, node: StandInNode) -> None:
    dest = sync.add_destination(actor=cadt_reg.admin, name="cadt-main", url=node.url, api_key="node-secret",
                                from_start=True)
    outcomes = sync.deliver_due()
    assert [o.delivered for o in outcomes] == [True], outcomes
    assert [(c.method, c.path) for c in node.calls] == [
        ("PUT", "/v2/project/xlsx"), ("PUT", "/v2/unit/xlsx"), ("POST", "/v2/staging/commit")]
    assert all(c.api_key == "node-secret" and c.status == 200 for c in node.calls)
    assert node.calls[0].rows["project"] == 1 and node.calls[1].rows["unit"] == len(_expected("unit"))
    assert _same(node.rows("unit"), _expected("unit"))
    assert _same(node.rows("project"), _expected("project"))
    dest.refresh_from_db()
    assert dest.cursor == outcomes[0].to_seq and dest.pending_upto is None and dest.attempts == 0
    # Nothing new: nothing sent.
    assert sync.deliver_due() == [] and len(node.calls) == 3


def test_changes_are_delivered_in_order_and_only_what_changed(cadt_reg: testing.Registry, node: StandInNode) -> None:
    sync.add_destination(actor=cadt_reg.admin, name="n", url=node.url, api_key="node-secret", from_start=True)
    sync.deliver_due()
    issuance = cadt_reg.extra["issuances"][1]
    for n in range(2):
        units.transfer(
            actor=cadt_reg.developer, from_account=cadt_reg.developer_account.identifier,
            to_account=cadt_reg.buyer_account.identifier,
            selection=Selection.build(ranges=[(issuance.serial_start + n * 10, issuance.serial_start + n * 10 + 9)]),
            idempotency_key=f"order-{n}",
        )
        run_once(lambda _: None)  # tonne worker's round delivers it
    assert len(node.commits) == 3
    second, third = node.commits[1], node.commits[2]
    # Only the moved units (with their issuance and labels, the Article 6 one among them), not the whole registry.
    assert {t for t, _ in second.records} == {"issuance", "unit", "unit_label", "label"}
    assert len(second.records) <= 12 < len(node.commits[0].records)
    assert _same(node.rows("unit"), _expected("unit"))
    froms = [d.from_seq for d in SyncDelivery.objects.order_by("started_at", "id")]
    assert froms == sorted(froms) and len(set(froms)) == 3
    assert third.at > second.at


def test_failures_retry_with_backoff_and_are_visible(cadt_reg: testing.Registry, node: StandInNode) -> None:
    sync.add_destination(actor=cadt_reg.admin, name="n", url=node.url, api_key="node-secret", from_start=True)
    node.fail_next = [503, 503]
    start = clock.now()
    clock.freeze(start)
    (first,) = sync.deliver_due()
    assert not first.delivered and "503" in first.error
    dest = SyncDestination.objects.get()
    assert dest.attempts == 1 and dest.next_attempt_at == start + dt.timedelta(seconds=1)
    assert sync.deliver_due() == []  # not due yet
    clock.freeze(start + dt.timedelta(seconds=1))
    (second,) = sync.deliver_due()
    assert not second.delivered
    dest.refresh_from_db()
    assert dest.attempts == 2 and dest.next_attempt_at == start + dt.timedelta(seconds=3)
    status = sync.status()[0]
    assert status["attempts"] == 2 and "503" in status["last_error"] and status["pending_entries"] > 0
    assert [d["status"] for d in status["recent"]] == ["failed", "failed"]
    clock.freeze(start + dt.timedelta(seconds=3))
    (third,) = sync.deliver_due()
    assert third.delivered
    status = sync.status()[0]
    assert status["pending_entries"] == 0 and status["attempts"] == 0 and status["last_error"] == ""
    assert _same(node.rows("unit"), _expected("unit"))
    assert sync.backoff(30) == dt.timedelta(seconds=300)


@pytest.mark.parametrize("point", ["cadt.sync.staged", "cadt.sync.committed"])
def test_a_worker_killed_mid_delivery_loses_and_duplicates_nothing(
    cadt_reg: testing.Registry, node: StandInNode, point: str
) -> None:
    sync.add_destination(actor=cadt_reg.admin, name="n", url=node.url, api_key="node-secret", from_start=True)
    sync.deliver_due()
    issuance = cadt_reg.extra["issuances"][1]
    units.transfer(
        actor=cadt_reg.developer, from_account=cadt_reg.developer_account.identifier,
        to_account=cadt_reg.buyer_account.identifier,
        selection=Selection.build(ranges=[(issuance.serial_start, issuance.serial_start + 4)]), idempotency_key="k",
    )
    before = SyncDestination.objects.get()

    def die() -> None:
        raise SystemExit("worker killed")

    faults.install(point, die)
    try:
        with pytest.raises(SystemExit):
            sync.deliver_due()
    finally:
        faults.install(point, None)
    dest = SyncDestination.objects.get()
    assert dest.cursor == before.cursor and dest.pending_upto is not None  # nothing marked delivered
    # A new worker takes over once the dead one's lease has run out.
    assert sync.deliver_due() == []
    clock.freeze(clock.now() + sync.LEASE + dt.timedelta(seconds=1))
    (outcome,) = sync.deliver_due()
    assert outcome.delivered and outcome.from_seq == before.cursor
    dest.refresh_from_db()
    assert dest.pending_upto is None and dest.cursor == outcome.to_seq
    # Every unit once, in its latest state: the repeated batch updated, it did not duplicate.
    assert _same(node.rows("unit"), _expected("unit"))
    assert len(node.rows("unit")) == len(_expected("unit"))


def test_destination_rules(cadt_reg: testing.Registry) -> None:
    with pytest.raises(PermissionDenied):
        sync.add_destination(actor=cadt_reg.developer, name="x", url="http://127.0.0.1:1")
    with pytest.raises(ValidationFailed) as exc:
        sync.add_destination(actor=cadt_reg.admin, name="x", url="ftp://node")
    assert exc.value.code == "CADT_NODE_URL_INVALID"
    sync.add_destination(actor=cadt_reg.admin, name="x", url="http://127.0.0.1:1")
    with pytest.raises(ValidationFailed) as exc:
        sync.add_destination(actor=cadt_reg.admin, name="x", url="http://127.0.0.1:2")
    assert exc.value.code == "CADT_NODE_EXISTS"
    # Added without from_start: only later changes are due.
    assert SyncDestination.objects.get().cursor > 0


def test_unreachable_node_is_a_failure_not_a_crash(cadt_reg: testing.Registry) -> None:
    sync.add_destination(actor=cadt_reg.admin, name="gone", url="http://127.0.0.1:9", from_start=True)
    (outcome,) = sync.deliver_due()
    assert not outcome.delivered and SyncDestination.objects.get().last_error


def test_lease_is_renewed_while_a_delivery_runs(monkeypatch) -> None:
    """A short lease, kept alive by a heartbeat: a live worker keeps its
    batch however slow the node, a dead one loses it within seconds."""
    import threading

    renewed = threading.Event()

    class Rows:
        def update(self, **fields):  # noqa: ANN003, ANN202
            assert set(fields) == {"lease_until"}
            renewed.set()
            return 1

    class Manager:
        def filter(self, **lookup):  # noqa: ANN003, ANN202
            assert lookup == {"pk": 7, "pending_upto": 42}
            return Rows()

    monkeypatch.setattr(sync, "LEASE", dt.timedelta(seconds=0.03))
    monkeypatch.setattr(sync.SyncDestination, "objects", Manager())
    with sync._heartbeat(7, 42):
        assert renewed.wait(60)
