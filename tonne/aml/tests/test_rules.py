"""Each monitoring rule with a scenario that must raise its alert, quiet
trading that must not, and a hold that keeps units in place until review."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from tonne import testing
from tonne.aml import services as aml
from tonne.aml.models import AmlAlert
from tonne.core import clock
from tonne.core.errors import ValidationFailed
from tonne.core.tests.test_api_core import assert_problem, get, post
from tonne.projects import services as projects
from tonne.units import services as units
from tonne.units.domain import Selection, SerialRange
from tonne.units.models import Transaction, UnitBlock

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)
_keys = itertools.count()


@pytest.fixture
def reg(db, settings):  # noqa: ANN001, ANN201
    settings.TONNE_AML_HOLD_RULES = frozenset({"change_then_drain", "new_account_velocity"})  # the defaults
    clock.freeze(T0 - dt.timedelta(days=10))  # people and accounts exist for a while
    registry = testing.build_registry()
    project = testing.registered_project(registry)
    testing.issue(registry, project, {2022: 10_000})
    registry.extra["project"] = project
    clock.freeze(T0)
    aml.scan()  # the history so far is seen
    return registry


def move(reg, source, target, quantity: int, actor=None, ranges=None) -> Transaction:  # noqa: ANN001
    owner = {reg.developer_account.pk: reg.developer, reg.buyer_account.pk: reg.buyer,
             reg.other_developer_account.pk: reg.other_developer}
    selection = Selection.build(ranges=ranges) if ranges else Selection.build(quantity=quantity)
    return units.transfer(actor=actor or owner[source.pk], from_account=source.identifier,
                          to_account=target.identifier, selection=selection, idempotency_key=f"aml-{next(_keys)}")


def later(minutes: int) -> None:
    clock.freeze(clock.now() + dt.timedelta(minutes=minutes))


def rules_raised() -> list[str]:
    return sorted(a.rule for a in aml.scan())


def test_quiet_trading_raises_nothing(reg) -> None:  # noqa: ANN001
    move(reg, reg.developer_account, reg.buyer_account, 300)
    later(60)
    move(reg, reg.buyer_account, reg.other_developer_account, 100)
    assert rules_raised() == []


def test_pass_through(reg) -> None:  # noqa: ANN001
    move(reg, reg.developer_account, reg.buyer_account, 2000)
    later(90)
    move(reg, reg.buyer_account, reg.other_developer_account, 1900)
    assert rules_raised() == ["pass_through"]
    alert = AmlAlert.objects.get()
    assert alert.account == reg.buyer_account and alert.detail["received"] == 2000 and not alert.hold


def test_circular_trading(reg) -> None:  # noqa: ANN001
    out = move(reg, reg.developer_account, reg.buyer_account, 100)
    block = out.blocks.get()
    later(60 * 24)
    move(reg, reg.buyer_account, reg.developer_account, 0, ranges=[SerialRange(block.serial_start, block.serial_end)])
    assert rules_raised() == ["circular_trading"]
    assert AmlAlert.objects.get().detail == {"left_in": out.identifier}


def test_new_account_velocity_places_a_hold(reg) -> None:  # noqa: ANN001
    for _ in range(5):
        move(reg, reg.developer_account, reg.buyer_account, 10)
        later(30)
    assert rules_raised() == ["new_account_velocity"]
    alert = AmlAlert.objects.get()
    assert alert.hold and alert.account == reg.developer_account
    with pytest.raises(ValidationFailed) as exc:
        move(reg, reg.developer_account, reg.buyer_account, 10)
    assert exc.value.code == "AML_HOLD"
    aml.decide(actor=reg.admin, alert_id=alert.pk, status="dismissed", note="Known customer, onboarding sales")
    assert move(reg, reg.developer_account, reg.buyer_account, 10).status == "completed"


def test_change_then_drain(reg, settings) -> None:  # noqa: ANN001
    from tonne.controls import services as controls

    settings.TONNE_FOUR_EYES = frozenset()
    controls.request_trusted_addition(actor=reg.developer, account=reg.developer_account.identifier,
                                      trusted=reg.other_developer_account.identifier)
    later(120)
    held = sum(b.quantity for b in UnitBlock.objects.filter(account=reg.developer_account))
    move(reg, reg.developer_account, reg.other_developer_account, held * 9 // 10)
    assert rules_raised() == ["change_then_drain"]
    alert = AmlAlert.objects.get()
    assert alert.hold and alert.detail["changes"] == ["trusted_list"]


def test_structuring_under_the_limit(reg, settings) -> None:  # noqa: ANN001
    settings.TONNE_MAX_TRANSFER_QUANTITY = 100
    for _ in range(3):
        move(reg, reg.developer_account, reg.buyer_account, 95)
        later(45)
    assert rules_raised() == ["structuring"]


def test_issuance_anomalies(reg) -> None:  # noqa: ANN001
    project = reg.extra["project"]  # 10,000 issued for 2022; estimated 50,000 for 2022 only
    clock.freeze(T0 + dt.timedelta(days=40))
    testing.issue(reg, project, {2023: 1000}, period=(dt.date(2023, 1, 1), dt.date(2023, 12, 31)))
    testing.issue(reg, project, {2024: 30_000}, period=(dt.date(2024, 1, 1), dt.date(2024, 12, 31)))
    alerts = aml.scan()
    assert [a.rule for a in alerts] == ["issuance_anomaly"]
    assert alerts[0].issuance.vintage == 2024 and alerts[0].detail["factor"] == 2.0
    other = testing.registered_project(reg, name="Inflated estimate check")
    testing.issue(reg, other, {2022: 150_000}, period=(dt.date(2022, 1, 1), dt.date(2022, 6, 30)))
    [alert] = aml.scan()
    assert alert.detail["estimated"] > 0 and alert.detail["quantity"] == 150_000


def test_status_conflict(reg) -> None:  # noqa: ANN001
    project = reg.extra["project"]
    projects.change_project_status(actor=reg.admin, project=project, status="on_hold", reason="Land dispute")
    move(reg, reg.developer_account, reg.buyer_account, 10)
    assert rules_raised() == ["status_conflict"]
    assert "on_hold" in AmlAlert.objects.get().detail["conflicts"][0]


def test_the_worker_runs_the_monitor_and_the_queue_is_for_the_administrator(reg) -> None:  # noqa: ANN001
    from django.test import Client

    from tonne.ops.worker import run_once

    move(reg, reg.developer_account, reg.buyer_account, 2000)
    later(10)
    move(reg, reg.buyer_account, reg.other_developer_account, 2000)
    said: list[str] = []
    run_once(said.append)
    assert any("pass_through" in s for s in said)
    admin = Client()
    admin.force_login(reg.admin)
    page = get(admin, "/aml/alerts", status="open").json()
    assert page["count"] == 1 and page["items"][0]["rule"] == "pass_through"
    alert_id = page["items"][0]["id"]
    dev = Client()
    dev.force_login(reg.buyer)
    assert_problem(get(dev, "/aml/alerts"), 403, "NOT_REGISTRY_ADMINISTRATOR")
    assert_problem(post(dev, f"/aml/alerts/{alert_id}/decide", {"status": "dismissed", "note": "x"}), 403,
                   "NOT_REGISTRY_ADMINISTRATOR")
    done = post(admin, f"/aml/alerts/{alert_id}/decide", {"status": "confirmed", "note": "Reported to the FIU"})
    assert done.status_code == 200 and done.json()["status"] == "confirmed"
    assert_problem(post(admin, f"/aml/alerts/{alert_id}/decide", {"status": "dismissed", "note": "x"}), 409,
                   "ALERT_DECIDED")


def test_scan_works_in_small_transactions(reg, monkeypatch) -> None:  # noqa: ANN001
    """A round of many transfers is scanned a few at a time, each step
    committed on its own, and nothing is scanned twice."""
    from tonne.aml.models import AmlCursor

    steps: list[int] = []
    real_step = aml._scan_step

    def counted(size: int):  # noqa: ANN202
        steps.append(size)
        return real_step(size)

    monkeypatch.setattr(aml, "STEP", 2)
    monkeypatch.setattr(aml, "_scan_step", counted)
    made = [move(reg, reg.developer_account, reg.buyer_account, 10) for _ in range(5)]
    first = aml.scan()
    assert len(steps) == 3 and AmlCursor.objects.get(pk=1).last_transaction_id == made[-1].pk
    assert aml.scan() == [] and len(steps) == 4  # nothing scanned twice
    assert AmlAlert.objects.count() == len(first)


def test_a_step_takes_the_ledger_head_only_after_every_rule_was_checked(reg, monkeypatch) -> None:  # noqa: ANN001
    """Each alert is a ledger entry, and the head's row lock, once taken, is
    held to the step's COMMIT: every move waits on it. So the rules (reads)
    all run before the first alert is written."""
    from tonne.aml import rules
    from tonne.ledger.models import LedgerHead

    seen: list[int] = []

    def always(txn: Transaction) -> dict:
        seen.append(LedgerHead.objects.get(pk=1).size)  # the head as each check finds it
        return {"reason": "test"}

    made = [move(reg, reg.developer_account, reg.buyer_account, 10) for _ in range(3)]
    before = LedgerHead.objects.get(pk=1).size
    monkeypatch.setattr(rules, "TRANSACTION_RULES", {"pass_through": always})
    raised = aml.scan()
    assert len(raised) == len(made) and seen == [before] * len(made)
    assert LedgerHead.objects.get(pk=1).size == before + len(made)  # then one entry per alert
