"""The public portal in a real browser: every page, axe-core WCAG A/AA
checks, a phone-sized window, French and Spanish, downloads."""

from __future__ import annotations

from typing import Any

import pytest

from tonne.browser import assert_accessible, screenshot
from tonne.portal.tests.conftest import Portal

pytestmark = [pytest.mark.browser]


@pytest.fixture
def data(db: None) -> Portal:
    from django.core.cache import cache

    from tonne.portal.tests.conftest import build_portal

    cache.clear()
    return build_portal()


def fits(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide"


def test_home(page: Any, data: Portal) -> None:
    page.goto(page.base_url + "/")
    assert page.locator("h1").inner_text() == "National carbon registry"
    assert "17,000" in page.locator(".figures").inner_text()
    assert_accessible(page)
    screenshot(page, "portal-home")
    # The registry map zooms in the page (plain script served by the registry).
    whole = page.locator("#registry-map").get_attribute("viewBox")
    page.get_by_role("button", name="Zoom in").click()
    assert page.locator("#registry-map").get_attribute("viewBox") != whole
    page.get_by_role("button", name="Whole country").click()
    assert page.locator("#registry-map").get_attribute("viewBox") == whole
    page.fill("#home-q", "lagoon")
    page.get_by_role("button", name="Search projects").click()
    page.wait_for_url("**/projects/?q=lagoon")
    assert page.locator(".results-table tbody tr").count() == 1


def test_search_with_facets_and_export(page: Any, data: Portal) -> None:
    page.goto(page.base_url + "/projects/")
    assert page.locator(".results-table tbody tr").count() == 2
    assert_accessible(page)
    screenshot(page, "portal-search")
    # Keyboard and no script: open a facet, tick a value, apply.
    page.locator("summary", has_text="Article 6 status").click()
    page.get_by_label("Authorised").check()
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_load_state()
    assert "article6=authorised" in page.url
    assert page.locator(".results-table tbody tr").count() == 1
    assert "Korhogo solar park" in page.locator(".results-table").inner_text()
    assert_accessible(page)
    screenshot(page, "portal-search-filtered")
    with page.expect_download() as info:
        page.get_by_role("link", name="CSV").click()
    content = open(info.value.path(), encoding="utf-8-sig").read()
    assert "Korhogo solar park" in content and "Ebrié" not in content
    with page.expect_download() as info:
        page.get_by_role("link", name="Excel").click()
    assert info.value.suggested_filename == "projects.xlsx"
    page.select_option("#sort", "-name")
    page.get_by_role("button", name="Sort", exact=True).click()
    page.wait_for_load_state()
    assert "sort=-name" in page.url


def test_project_page_with_map(page: Any, data: Portal) -> None:
    page.goto(page.base_url + f"/projects/{data.mangrove.project_id}/")
    assert page.locator("h1").inner_text() == "Ebrié lagoon mangroves"
    assert page.locator("svg.map path.area").count() == 1
    assert page.locator("svg.map > title").text_content() == "Map of the project's location"
    # The host country's outline is drawn whole beneath the site, its neighbours around it.
    assert page.locator("svg.map g.country.host > title").text_content() == "Côte d'Ivoire"
    assert page.locator("svg.map g.country > title", has_text="Ghana").count() == 1
    assert "Abidjan Airways" in page.locator("body").inner_text()
    assert_accessible(page)
    screenshot(page, "portal-project")


def test_serial_lookup(page: Any, data: Portal) -> None:
    from tonne.units.models import Issuance

    first = Issuance.objects.filter(project=data.mangrove).order_by("serial_start").first()
    assert first is not None
    page.goto(page.base_url + "/serials/")
    page.fill("#serial", f"{first.serial_start}-{first.serial_start + 10}")
    page.get_by_role("button", name="Look up").click()
    page.wait_for_load_state()
    assert page.locator("article.block").count() >= 1
    assert "Retired" in page.locator("article.block").first.inner_text()
    assert_accessible(page)
    screenshot(page, "portal-serials")
    page.fill("#serial", "not a serial")
    page.get_by_role("button", name="Look up").click()
    page.wait_for_load_state()
    assert "SERIAL_MALFORMED" in page.locator("[role=alert]").inner_text()
    assert_accessible(page)


def test_certificate_and_its_proof(page: Any, data: Portal) -> None:
    certificate = f"/certificates/{data.retirement.identifier}/"
    page.goto(page.base_url + certificate)
    assert "Verified" in page.locator(".verified").inner_text()
    # The reader's browser checks the proof itself (hash, signature, inclusion), and says so in words.
    page.wait_for_selector("#browser-proof[data-state=verified]")
    said = page.locator("#browser-proof [data-result]").inner_text()
    assert f"entry {data.retirement.ledger_seq} is in the ledger" in said
    assert page.locator(".qr svg").count() == 1
    assert_accessible(page)
    screenshot(page, "portal-certificate")
    # The QR code's link: this very page, which names the units and checks their proof.
    assert page.get_by_role("link", name=certificate).count() == 1
    page.get_by_role("link", name=str(data.retirement.ledger_seq), exact=True).click()
    page.wait_for_selector("#browser-proof[data-state=verified]")
    assert "Verified" in page.locator(".verified").inner_text()
    page.locator("summary", has_text="check it yourself").click()
    assert "tonne ledger proof verify" in page.locator("details").inner_text()
    assert_accessible(page)
    screenshot(page, "portal-ledger-entry")
    response = page.request.get(page.base_url + f"/certificates/{data.retirement.identifier}.pdf")
    assert response.ok and response.body().startswith(b"%PDF")


def answer(body: str, content_type: str) -> Any:
    return lambda route: route.fulfill(status=200, content_type=content_type, body=body)


def test_a_forged_proof_fails_in_the_browser(page: Any, data: Portal) -> None:
    """A server that lies about the entry, the proof or the key is caught by the reader's browser."""
    import json

    seq = data.retirement.ledger_seq
    bundle = json.loads(page.request.get(page.base_url + f"/ledger/entries/{seq}/proof.json").text())
    assert not bundle.get("entry_redacted")  # a version-2 entry: its text is what is hashed
    forged_entry = bundle["entry"].replace('"seq":', '"forged":true,"seq":', 1)
    other_key = "tonne-other+00000000+" + "A" * 44
    cases = [
        ({**bundle, "entry": forged_entry}, None, "ENTRY_HASH_MISMATCH"),
        ({**bundle, "proof": ["00" * 32, *bundle["proof"][1:]] if bundle["proof"] else ["00" * 32]}, None,
         "INCLUSION_PROOF_INVALID"),
        (bundle, other_key, "KEY_MALFORMED"),
    ]
    for forged, key, code in cases:
        page.unroute("**/*")
        page.route(f"**/ledger/entries/{seq}/proof.json", answer(json.dumps(forged), "application/json"))
        if key is not None:
            page.route("**/ledger/verifier-key.txt", answer(key, "text/plain"))
        page.goto(page.base_url + f"/certificates/{data.retirement.identifier}/")
        page.wait_for_selector("#browser-proof[data-state=failed]")
        assert code in page.locator("#browser-proof [data-result]").inner_text(), code


def test_dashboard(page: Any, data: Portal) -> None:
    page.goto(page.base_url + "/dashboard/")
    assert page.locator("svg.chart").count() == 8
    assert page.locator(".chart-table table").count() == 8
    assert_accessible(page)
    screenshot(page, "portal-dashboard")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download the data (CSV): Units issued by region").click()
    assert "Lagunes" in open(info.value.path(), encoding="utf-8-sig").read()


def test_ledger_page(page: Any, data: Portal) -> None:
    page.goto(page.base_url + "/ledger/")
    assert page.locator("pre").first.inner_text().startswith("tonne.registry/")
    assert_accessible(page)
    screenshot(page, "portal-ledger")


@pytest.mark.parametrize(("lang", "heading", "number"), [("fr", "Registre national carbone", "17\xa0000"),
                                                        ("es", "Registro nacional de carbono", "17\xa0000")])
def test_language_switching(page: Any, data: Portal, lang: str, heading: str, number: str) -> None:
    page.goto(page.base_url + "/projects/")
    page.select_option("#language-select", lang)
    page.get_by_role("button", name="Change language").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == lang
    assert page.url.endswith("/projects/")
    screenshot(page, f"portal-search-{lang}")
    page.goto(page.base_url + "/")
    assert page.locator("h1").inner_text() == heading
    assert number in page.locator(".figures").inner_text()
    assert_accessible(page)
    screenshot(page, f"portal-home-{lang}")
    page.goto(page.base_url + "/dashboard/")
    assert_accessible(page)
    screenshot(page, f"portal-dashboard-{lang}")


@pytest.mark.parametrize(
    "path", ["/", "/projects/", "/project", "/serials/?serial=1-5", "/certificate", "/dashboard/", "/ledger/"]
)
def test_phone(phone_page: Any, data: Portal, path: str) -> None:
    if path == "/project":
        path = f"/projects/{data.mangrove.project_id}/"
    elif path == "/certificate":
        path = f"/certificates/{data.retirement.identifier}/"
    phone_page.goto(phone_page.base_url + path)
    fits(phone_page)
    assert_accessible(phone_page)
    screenshot(phone_page, "portal-phone" + path.replace("/", "-").split("?")[0])
