"""The shared page layout in a real browser: landmarks, keyboard skip link,
language switcher, phone width, and axe-core's WCAG A/AA rules."""

from __future__ import annotations

from typing import Any

import pytest

from tonne.browser import assert_accessible, screenshot

pytestmark = [pytest.mark.browser]


def test_home_page_is_accessible_and_switches_language(page: Any) -> None:
    page.goto(page.base_url + "/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").count() == 1
    assert_accessible(page)
    screenshot(page, "layout-home-en")

    # Keyboard only: the first Tab reaches the skip link, which moves focus to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    page.select_option("#language-select", "fr")
    page.get_by_role("button", name="Change language").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "fr"
    screenshot(page, "layout-home-fr")


def test_home_page_fits_a_phone(phone_page: Any) -> None:
    phone_page.goto(phone_page.base_url + "/")
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"page is {width}px wide on a 360px screen"
    assert_accessible(phone_page)
    screenshot(phone_page, "layout-home-phone")
