"""With the registry's controls on, in a real browser: a developer signs in
with password and a real TOTP code and initiates a transfer, which waits; a
second person of the organisation approves it in the inbox (after confirming
the request shown); once the settlement delay has passed and the worker
settled it, the buyer sees the units."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tonne import testing
from tonne.access.testing import give_totp
from tonne.browser import assert_accessible, follow, screenshot, sign_in
from tonne.controls import services as controls
from tonne.controls.models import Approval, PendingMove
from tonne.controls.tests.conftest import World
from tonne.core import clock
from tonne.organisations.models import User
from tonne.units.models import Transaction

pytestmark = [pytest.mark.browser, pytest.mark.controls]


def sign_in_with_totp(page: Any, user: User, secret: str) -> None:
    """The real login page, then allauth's second-factor page with a real code."""
    sign_in(page, user.username, testing.PASSWORD, totp_secret=secret)


def test_transfer_with_four_eyes_and_delayed_settlement(page: Any, world: World) -> None:
    w = world
    base = page.base_url
    secrets = {u.username: give_totp(u) for u in (w.reg.developer, w.dev_approver, w.reg.buyer)}

    # 1. The developer initiates: the transfer waits for a second person.
    sign_in_with_totp(page, w.reg.developer, secrets[w.reg.developer.username])
    page.goto(base + f"/workspace/accounts/{w.reg.developer_account.identifier}/")
    screenshot(page, "controls-01-account-controls")
    follow(page, page.get_by_role("link", name="Transfer units").first)
    page.fill("#id_to_account", w.reg.buyer_account.identifier)
    page.fill("#id_quantity", "120")
    follow(page, page.get_by_role("button", name="Review"))
    follow(page, page.get_by_role("button", name="Confirm the transfer"))
    txn = Transaction.objects.get(kind="transfer")
    assert txn.status == "awaiting_approval"
    assert "awaits approval by a second person" in page.locator(".messages").inner_text()
    assert page.locator("#cancel-transaction").count() == 1
    screenshot(page, "controls-02-awaits-approval")

    # 2. Another person of the organisation approves the request shown.
    sign_in_with_totp(page, w.dev_approver, secrets[w.dev_approver.username])
    follow(page, page.get_by_role("link", name="Inbox").first)
    approval = Approval.objects.get(transaction=txn)
    item = page.locator(f"#item-approvals-{approval.uid}")
    assert approval.request_hash in item.locator(".request-hash").inner_text()
    assert w.reg.buyer_account.identifier in item.inner_text()
    assert_accessible(page)
    screenshot(page, "controls-03-inbox")
    follow(page, item.get_by_role("button", name="Approve"))
    txn.refresh_from_db()
    assert txn.status == "delayed"
    page.goto(base + f"/workspace/transactions/{txn.identifier}/")
    assert "unless the transaction is cancelled" in page.locator("#settles-at").inner_text()
    screenshot(page, "controls-04-delayed")

    # 3. The settlement time comes; the worker settles; the buyer sees the units.
    execute_at = PendingMove.objects.get(transaction=txn).execute_at
    assert execute_at is not None
    clock.freeze(execute_at + dt.timedelta(minutes=1))
    assert [t.identifier for t in controls.run_due()] == [txn.identifier]
    sign_in_with_totp(page, w.reg.buyer, secrets[w.reg.buyer.username])
    page.goto(base + f"/workspace/accounts/{w.reg.buyer_account.identifier}/")
    assert "120 units held" in page.content()
    assert txn.identifier in page.content()
    screenshot(page, "controls-05-buyer-holds")


def test_limits_and_trusted_list_with_four_eyes(page: Any, world: World) -> None:
    """The holder's administrator asks for new limits and a trusted account on
    the account page; both wait, visibly, until a second person approves."""
    w = world
    base = page.base_url
    account = w.reg.developer_account.identifier
    secrets = {u.username: give_totp(u) for u in (w.reg.developer, w.dev_approver)}

    sign_in_with_totp(page, w.reg.developer, secrets[w.reg.developer.username])
    page.goto(base + f"/workspace/accounts/{account}/")
    page.fill("#id_per_transfer", "500")
    page.fill("#id_per_day", "2000")
    follow(page, page.get_by_role("button", name="Ask to change the limits"))
    assert "await approval by a second person" in page.locator(".messages").inner_text()
    page.fill("#id_trusted", w.reg.buyer_account.identifier)
    follow(page, page.get_by_role("button", name="Ask to trust this account"))
    pending = page.locator("ul.pending-changes").inner_text()
    assert "500 per transfer, 2000 per 24 hours" in pending and w.reg.buyer_account.identifier in pending
    assert page.locator("#limit-per-transfer").inner_text() == "none"  # not yet in force
    assert_accessible(page)
    screenshot(page, "controls-06-limits-waiting")

    sign_in_with_totp(page, w.dev_approver, secrets[w.dev_approver.username])
    follow(page, page.get_by_role("link", name="Inbox").first)
    limit_change = Approval.objects.get(action=Approval.Action.LIMIT_CHANGE)
    follow(page, page.locator(f"#item-approvals-{limit_change.uid}").get_by_role("button", name="Approve"))
    page.goto(base + f"/workspace/accounts/{account}/")
    assert page.locator("#limit-per-transfer").inner_text() == "500"
    assert page.locator("#limit-per-day").inner_text() == "2,000"
    assert "Limits:" not in page.locator("ul.pending-changes").inner_text()
    assert "Ask to change the limits" not in page.content()  # an approver does not set limits
    screenshot(page, "controls-07-limits-in-force")
