"""In a real browser: an account administrator whose second factor has gone
stale asks to change the account's transfer limits, confirms the second
factor when asked, and comes back to the request made, the numbers typed once."""

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

pytestmark = [pytest.mark.browser, pytest.mark.controls]


def test_limits_request_carries_through_the_step_up(page: Any, world: World) -> None:
    w = world
    clock.freeze(dt.datetime.now(dt.UTC))  # the registry's clock runs with the browser's (sign-in records real time)
    secret = give_totp(w.reg.developer)
    recovery = RecoveryCodes.activate(w.reg.developer).get_unused_codes()[0]
    sign_in(page, w.reg.developer.username, testing.PASSWORD, totp_secret=secret)
    page.goto(f"{page.base_url}/workspace/accounts/{w.reg.developer_account.identifier}/")
    page.fill("#id_per_transfer", "750")
    clock.freeze(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16))  # past the step-up window, not yet idle
    follow(page, page.get_by_role("button", name="Ask to change the limits"))
    page.wait_for_url("**/accounts/2fa/reauthenticate/**")
    assert not Approval.objects.filter(action=Approval.Action.LIMIT_CHANGE).exists()
    clock.freeze(dt.datetime.now(dt.UTC))
    page.fill("input[name=code]", recovery)
    follow(page, page.locator("form button[type=submit]").last)
    page.wait_for_url(f"**/workspace/accounts/{w.reg.developer_account.identifier}/**")
    asked = Approval.objects.get(action=Approval.Action.LIMIT_CHANGE)
    assert asked.payload["per_transfer"] == 750  # typed once
    assert "await approval" in page.locator(".messages").inner_text()
    screenshot(page, "step-up-01-limits-carried-through")


def test_every_refusal_of_a_retirement_beside_its_field_focus_on_the_first(page: Any, world: World) -> None:
    w = world
    clock.freeze(dt.datetime.now(dt.UTC))
    secret = give_totp(w.reg.developer)
    sign_in(page, w.reg.developer.username, testing.PASSWORD, totp_secret=secret)
    page.goto(f"{page.base_url}/workspace/retire/")
    page.fill("#id_quantity", "10")
    page.fill("#id_beneficiary", "Lagoon Ltd")
    page.fill("#id_jurisdiction", "foo")
    page.fill("#id_compliance_period", "someday")
    follow(page, page.get_by_role("button", name="Review"))
    in_error = page.locator(".field.has-error")
    assert in_error.count() == 2
    assert "JURISDICTION_INVALID" in in_error.nth(0).inner_text()
    assert "COMPLIANCE_PERIOD_INVALID" in in_error.nth(1).inner_text()
    assert page.evaluate("document.activeElement.name") == "jurisdiction"  # the first field in error
    screenshot(page, "refusals-01-retirement-every-refusal")
