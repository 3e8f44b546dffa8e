"""The VVB's journey in a real browser, signing in with a real TOTP code: a
notification in the menu leads it to the report assigned to it; it cannot
accept without declaring no conflict of interest, accepts, gives a positive
opinion with comments; the registry, which approves verifications itself,
approves, then issues; the developer reads what happened in its
notifications and marks them read."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tonne import testing
from tonne.access.testing import give_totp
from tonne.browser import assert_accessible, follow, screenshot, sign_in
from tonne.mrv import services as mrv
from tonne.mrv.models import MonitoringReport
from tonne.notifications import services as notifications

pytestmark = [pytest.mark.browser]


def test_vvb_accepts_declares_gives_its_opinion_and_the_registry_approves(
    page: Any, registry: testing.Registry, settings: Any
) -> None:
    settings.TONNE_VERIFICATION_APPROVAL = True
    reg = registry
    project = testing.registered_project(reg)
    report = mrv.submit_report(actor=reg.developer, project=project, period_start=dt.date(2024, 1, 1),
                               period_end=dt.date(2024, 12, 31), vintages=[{"vintage": 2024, "quantity": 800}],
                               vvb=str(reg.vvb_org.uid))
    notifications.deliver()
    secret = give_totp(reg.vvb)

    # The menu counts what is new; the notification opens the report.
    sign_in(page, reg.vvb.username, testing.PASSWORD, totp_secret=secret)
    follow(page, page.get_by_role("link", name="Notifications (", exact=False))
    assert_accessible(page)
    follow(page, page.get_by_role("button", name=f"monitoring report of project {project.project_id} is assigned"))
    assert f"/workspace/reports/{report.uid}/" in page.url

    # No acceptance without the declaration: the refusal is shown, nothing changes.
    follow(page, page.get_by_role("button", name="Accept the assignment"))
    assert "CONFLICT_OF_INTEREST_NOT_DECLARED" in page.locator("#refusal").inner_text()
    assert MonitoringReport.objects.get(pk=report.pk).assignment == "pending"
    page.check("#id_no_conflict_of_interest")
    follow(page, page.get_by_role("button", name="Accept the assignment"))
    assert "No conflict of interest declared" in page.content()

    # A positive opinion, with comments.
    page.fill("#id_verified_2024", "750")
    page.fill("#id_comments", "Two stoves out of service excluded")
    screenshot(page, "vvb-opinion")
    follow(page, page.get_by_role("button", name="Sign the verification"))
    report.refresh_from_db()
    assert (report.status, report.opinion, report.opinion_comments) == (
        "verified", "positive", "Two stoves out of service excluded")

    # The registry approves the verification, then issues.
    sign_in(page, reg.admin.username, testing.PASSWORD)
    page.goto(f"{page.base_url}/workspace/reports/{report.uid}/")
    follow(page, page.get_by_role("button", name="Approve issuance"))
    assert "VERIFICATION_NOT_APPROVED" in page.locator("#refusal").inner_text()
    follow(page, page.get_by_role("button", name="Approve the verification"))
    follow(page, page.get_by_role("button", name="Approve issuance"))
    report.refresh_from_db()
    assert report.status == "issued"

    # The developer reads it all in its notifications, and marks them read.
    notifications.deliver()
    sign_in(page, reg.developer.username, testing.PASSWORD)
    follow(page, page.get_by_role("link", name="Notifications (", exact=False))
    content = page.content()
    assert "accepted to verify a monitoring report" in content and "was verified" in content
    follow(page, page.get_by_role("button", name="Mark all read"))
    assert page.get_by_role("link", name="Notifications", exact=True).count() == 1
