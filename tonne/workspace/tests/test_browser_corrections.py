"""In a real browser: a developer corrects a monitoring report and then
withdraws it; an approver whose second factor has gone stale rejects a
transfer from the inbox with a reason, confirms the second factor when asked
(the password is not offered: it would loop), and comes back to the decision
taken, the reason typed once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

from tonne import testing
from tonne.access.testing import give_totp
from tonne.browser import follow, screenshot, sign_in
from tonne.controls.models import Approval
from tonne.controls.tests.conftest import World
from tonne.core import clock
from tonne.mrv import services as mrv
from tonne.mrv.models import MonitoringReport
from tonne.units import services as units
from tonne.units.domain import Selection

pytestmark = [pytest.mark.browser]


def test_developer_corrects_then_withdraws_a_report(page: Any, registry: testing.Registry) -> None:
    reg = registry
    secret = give_totp(reg.developer)
    project = testing.registered_project(reg)
    report = mrv.submit_report(actor=reg.developer, project=project, period_start="2022-01-01", period_end="2022-12-31",
                               vintages=[{"vintage": 2022, "quantity": 700}], vvb=str(reg.vvb_org.uid))
    sign_in(page, reg.developer.username, testing.PASSWORD, totp_secret=secret)
    page.goto(f"{page.base_url}/workspace/reports/{report.uid}/")
    follow(page, page.get_by_role("link", name="Correct the report"))
    page.fill("#id_vintages-0-quantity", "650")
    page.fill("#id_reason", "One meter double counted")
    follow(page, page.get_by_role("button", name="Save the correction").last)
    assert "corrected; it awaits verification" in page.locator(".messages").inner_text()
    assert list(report.vintages.values_list("claimed", flat=True)) == [650]
    screenshot(page, "corrections-01-report-corrected")
    page.fill("#withdraw-reason", "Wrong meter")
    page.check("input[name=confirm]")
    follow(page, page.get_by_role("button", name="Withdraw the report"))
    report.refresh_from_db()
    assert report.status == MonitoringReport.Status.WITHDRAWN and report.status_reason == "Wrong meter"
    assert "Correct the report" not in page.content()


@pytest.mark.controls
def test_inbox_decision_carries_through_the_step_up(page: Any, world: World) -> None:
    w = world
    # The registry's clock runs with the browser's from here (sign-in records real time).
    clock.freeze(dt.datetime.now(dt.UTC))
    txn = units.transfer(actor=w.reg.developer, from_account=w.reg.developer_account.identifier,
                         to_account=w.reg.buyer_account.identifier, selection=Selection.build(quantity=40),
                         idempotency_key="browser-step-up")
    approval = Approval.objects.get(transaction=txn)
    secret = give_totp(w.dev_approver)
    recovery = RecoveryCodes.activate(w.dev_approver).get_unused_codes()[0]
    sign_in(page, w.dev_approver.username, testing.PASSWORD, totp_secret=secret)
    page.goto(f"{page.base_url}/workspace/inbox/")
    item = page.locator(f"#item-approvals-{approval.uid}")
    item.locator("textarea[name=reason]").first.fill("Wrong buyer account")
    # The second factor confirmed at sign-in is now older than the step-up
    # window (15 minutes), the session not yet idle (30).
    clock.freeze(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16))
    follow(page, item.get_by_role("button", name="Reject"))
    page.wait_for_url("**/accounts/2fa/reauthenticate/**")
    assert "Use your password" not in page.content()  # it would loop back here
    screenshot(page, "corrections-02-step-up")
    clock.freeze(dt.datetime.now(dt.UTC))
    page.fill("input[name=code]", recovery)
    follow(page, page.locator("form button[type=submit]").last)
    page.wait_for_url("**/workspace/inbox/**")
    approval.refresh_from_db()
    assert approval.status == "rejected" and approval.reason == "Wrong buyer account"  # typed once
    assert "Rejected" in page.locator(".messages").inner_text()
    screenshot(page, "corrections-03-decided-after-step-up")
