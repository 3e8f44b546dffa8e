"""The evidence trail, the methodologies page and the project page's
measurements and benefit sharing in a real browser, with axe-core checks."""

from __future__ import annotations

from typing import Any

import pytest

from tonne import testing
from tonne.browser import assert_accessible, screenshot
from tonne.methodologies import selectors as methodology_catalogue
from tonne.mrv.demo_data import load_dmrv_demo
from tonne.units.models import Issuance
from tonne.units.selectors import serial_text

pytestmark = [pytest.mark.browser]


def test_trail_methodologies_and_project(page: Any, db: None) -> None:
    reg = testing.build_registry()
    loaded = load_dmrv_demo(admin=reg.admin, admin_approver=None, solar_developer=reg.other_developer,
                            mangrove_developer=reg.developer, vvb=reg.vvb, say=lambda _: None)
    issuance = Issuance.objects.get(project=loaded["mangroves"])
    page.goto(page.base_url + f"/projects/{loaded['mangroves'].project_id}/")
    assert "Benefit sharing and safeguards" in page.locator("body").inner_text()
    assert_accessible(page)
    page.get_by_role("link", name="follow the trail from its units to the readings").click()
    page.wait_for_url(f"**/serials/{serial_text(issuance, issuance.serial_start, issuance.serial_start)}/trail/")
    assert "AR-MANGROVE" in page.locator("body").inner_text()
    assert_accessible(page)
    screenshot(page, "portal-trail")
    page.goto(page.base_url + "/methodologies/")
    assert page.locator("h2").count() == len(methodology_catalogue.every())  # one section per methodology shipped
    assert_accessible(page)
