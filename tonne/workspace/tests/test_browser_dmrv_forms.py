"""In a real browser: a developer registers a meter from the project's
measurements page (a mistyped key refused beside its field first), adds its
calibration certificate, then writes a benefit-sharing plan. Every step waits
for the page it leads to, never for a time."""

from __future__ import annotations

from typing import Any

import pytest

from tonne import testing
from tonne.browser import assert_accessible, screenshot
from tonne.mrv.models import Calibration, DataSource
from tonne.projects import services as projects
from tonne.projects.models import BenefitShare
from tonne.workspace.tests.test_browser_journey import sign_in

pytestmark = [pytest.mark.browser]

KEY = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"


def test_developer_registers_a_meter_its_calibration_and_a_plan(page: Any, registry: testing.Registry) -> None:
    reg = registry
    project = testing.registered_project(reg)
    projects.upload_document(actor=reg.developer, project=project, kind="other", title="Meter calibration 2024",
                             filename="calibration.pdf", content=b"calibration certificate")
    sign_in(page, reg.developer)
    page.goto(page.base_url + f"/workspace/projects/{project.project_id}/")
    page.get_by_role("link", name="Measurements: data sources, readings, anomalies, computed reports").click()
    page.wait_for_url(f"**/workspace/projects/{project.project_id}/data/")
    page.get_by_role("link", name="Register a data source").click()
    page.wait_for_url("**/data/sources/new/")

    page.fill("#id_identifier", "METER-A-01")
    page.select_option("#id_kind", "meter")
    page.select_option("#id_measurement", "electricity_export")
    page.fill("#id_unit", "MWh")
    page.fill("#id_public_key", KEY[:-1] + "z")
    page.get_by_role("button", name="Register the source").click()
    error = page.locator(".has-error", has_text="A public key is 64 hexadecimal characters")
    error.wait_for()
    assert not DataSource.objects.exists()
    screenshot(page, "dmrv-01-source-refused")
    assert_accessible(page)

    page.fill("#id_public_key", KEY)
    page.get_by_role("button", name="Register the source").click()
    page.wait_for_url("**/calibrations/")
    page.select_option("#id_document", label=page.locator("#id_document option").nth(1).inner_text())
    page.fill("#id_valid_from", "2024-01-01")
    page.fill("#id_valid_until", "2024-12-31")
    page.get_by_role("button", name="Record the calibration").click()
    page.wait_for_url(f"**/workspace/projects/{project.project_id}/data/")
    page.get_by_text("Meter calibration 2024").first.wait_for()
    assert Calibration.objects.get().source.identifier == "METER-A-01"
    screenshot(page, "dmrv-02-source-calibrated")

    page.goto(page.base_url + f"/workspace/projects/{project.project_id}/benefits/")
    page.fill("#id_share-0-beneficiary", "Lagoon villages")
    page.select_option("#id_share-0-basis", "units")
    page.fill("#id_share-0-percent", "5")
    page.fill("#id_share-0-account", reg.buyer_account.identifier)
    page.get_by_role("button", name="Save the plan").click()
    page.locator("#figures", has_text="Lagoon villages").wait_for()
    assert BenefitShare.objects.get(active=True).share_basis_points == 500
    screenshot(page, "dmrv-03-benefit-plan")
    assert_accessible(page)
