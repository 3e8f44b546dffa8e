"""The administrator's Article 6 pages in a real browser: the list of
authorisations, one authorisation with its units and adjustments, and the
AEF report of a year with its checks and downloads; axe-core checks each."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from tonne import testing
from tonne.article6 import aef
from tonne.article6 import services as a6
from tonne.browser import assert_accessible, follow, screenshot
from tonne.controls import services as controls
from tonne.core import clock
from tonne.organisations.models import User
from tonne.workspace.tests.test_browser_journey import sign_in

pytestmark = [pytest.mark.browser]


def test_administrator_reads_authorisations_and_downloads_the_aef(page: Any, registry: testing.Registry) -> None:
    reg = registry
    clock.freeze(dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC))
    project = testing.registered_project(reg)
    approver = testing.make_user(reg.government, f"{reg.admin.username}-approver", User.Role.APPROVER, actor=reg.root)
    approval = a6.request_authorisation(actor=reg.admin, data={
        "identifier": "CI-A6-2026-001", "cooperative_approach": "CI-CH-2024", "first_transfer_definition": "issuance",
        "acquiring_parties": ["CH"], "purposes": ["ndc"], "quantity": 600, "vintage_from": 2024, "vintage_to": 2025,
        "projects": [project.project_id], "entities": [str(reg.developer_org.uid)], "authorisation_date": "2026-02-01",
    })
    controls.approve(actor=approver, uid=approval.uid, request_hash=approval.request_hash)
    clock.freeze(dt.datetime(2026, 3, 3, 10, 0, tzinfo=dt.UTC))
    testing.issue(reg, project, {2024: 1000})
    base = page.base_url

    sign_in(page, reg.admin)
    page.locator(".site-nav summary").get_by_text("Registry", exact=True).click()  # the administrator's grouped pages
    follow(page, page.get_by_role("link", name="Article 6").first)
    page.wait_for_url("**/workspace/article6/")
    assert page.get_by_role("link", name="CI-A6-2026-001").is_visible()
    screenshot(page, "article6-01-authorisations")
    assert_accessible(page)

    follow(page, page.get_by_role("link", name="CI-A6-2026-001"))
    page.wait_for_url("**/workspace/article6/CI-A6-2026-001/")
    figures = page.locator(".figures").inner_text()
    assert "600" in figures and "first transferred" in figures
    # First transferred at issuance: no Party acquired them yet (the adjustment follows the acquisition).
    assert "—" in page.locator("table").first.inner_text()
    assert "CH" in page.locator("main").inner_text()  # the acquiring Party the authorisation names
    screenshot(page, "article6-02-authorisation")
    assert_accessible(page)

    page.goto(base + "/workspace/article6/aef/")
    page.fill("#id_year", "2026")
    follow(page, page.get_by_role("button", name="Show"))
    page.wait_for_url("**/workspace/article6/aef/?year=2026")
    checks = page.locator("#checks").inner_text()
    assert "FAILED" not in checks and checks.count("passed") == len(aef.build(2026)["checks"])
    assert "First Transfer" in page.locator("table").nth(1).inner_text()
    screenshot(page, "article6-03-aef")
    assert_accessible(page)
    with page.expect_download() as caught:
        page.get_by_role("link", name="CAD Trust v2 AEF tables T1–T5 (JSON)").click()
    download = caught.value
    assert download.suggested_filename == "aef-2026.cadt.json"
    tables = json.loads(open(download.path(), encoding="utf-8").read())
    assert [r["aefT3ActionsType"] for r in tables["aef_t3_actions"]] == ["Authorization", "First Transfer"]
    with page.expect_download() as caught:
        page.get_by_role("link", name="Excel (one sheet per table)").click()
    assert caught.value.suggested_filename == "aef-2026.xlsx"
