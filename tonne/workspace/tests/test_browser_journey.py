"""The whole journey in a real browser, each role signing in through the real
login page: a developer registers a project → the administrator approves →
the VVB validates → the administrator registers → the developer submits a
monitoring report → the VVB verifies → the administrator approves issuance →
the developer transfers to a buyer (the confirmation shows the serial
ranges) → the buyer retires them → the buyer checks the retirement's ledger
proof. Plus phone-sized and axe-core checks of the main pages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import Resolver404, resolve

from tonne import testing
from tonne.browser import assert_accessible, follow, screenshot
from tonne.browser import sign_in as browser_sign_in
from tonne.ledger import keys
from tonne.ledger.proofs import verify_bundle
from tonne.ledger.services import make_checkpoint
from tonne.organisations.models import User
from tonne.projects.models import Project
from tonne.units import selectors as unit_selectors
from tonne.units.models import Transaction, UnitBlock

pytestmark = [pytest.mark.browser]


def sign_in(page: Any, user: User, password: str = testing.PASSWORD) -> None:
    """Sign in through the real login page. The ONE place the journey signs in
    (the waits and the second factor live in `tonne.browser.sign_in`)."""
    browser_sign_in(page, user.username, password)


def fits(page: Any, width: int = 360) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} is {scroll}px wide on a {width}px screen"


def refused_nothing(page: Any) -> None:
    assert page.locator("#refusal").count() == 0, page.locator("#refusal").inner_text()


def open_certificate_page(page: Any, identifier: str) -> bool:
    """THE CERTIFICATE SPOT: the public portal serves the retirement
    certificate at /certificates/<identifier>/. Once that page is merged this
    opens it; until then the proof is checked through /api/v1 (below)."""
    try:
        resolve(f"/certificates/{identifier}/")
    except Resolver404:
        return False
    page.goto(page.base_url + f"/certificates/{identifier}/")
    assert identifier in page.content()
    screenshot(page, "journey-12-certificate")
    return True


def test_whole_journey(page: Any, registry: testing.Registry) -> None:
    reg = registry
    base = page.base_url

    # 1. The developer registers a project, with child records, and a document.
    sign_in(page, reg.developer)
    follow(page, page.get_by_role("link", name="Register a project").first)
    page.fill("#id_name", "Korhogo cookstoves")
    page.fill("#id_description", "Efficient cookstoves for households around Korhogo.")
    page.check("input[name=sectors][value='Energy demand']")  # checkboxes, not a Ctrl-click list
    page.check("input[name=types][value='Energy Efficiency households']")
    page.select_option("#id_sectoral_scope", "3")
    page.select_option("#id_unit_type", "Reduction - technical")
    page.fill("#id_buffer_basis_points", "1000")
    for child in ("Locations", "Estimations", "Co-benefits"):  # the optional records are folded away
        page.locator("details.children-block > summary", has_text=child).click()
    page.select_option("#id_locations-0-country", "Cote d'Ivoire")
    page.fill("#id_locations-0-region", "Savanes")
    page.fill("#id_estimations-0-start_date", "2024-01-01")
    page.fill("#id_estimations-0-end_date", "2024-12-31")
    page.fill("#id_estimations-0-unit_count", "20000")
    page.select_option("#id_co_benefits-0-co_benefit", "SDG 7 - Affordable and clean energy")
    page.select_option("#id_vvb", str(reg.vvb_org.uid))
    screenshot(page, "journey-01-register-project")
    follow(page, page.get_by_role("button", name="Register the project"))
    refused_nothing(page)
    project = Project.objects.get(name="Korhogo cookstoves")
    assert page.url.endswith(f"/workspace/projects/{project.project_id}/")
    assert project.locations.get().region == "Savanes"
    page.set_input_files("#id_file", files=[{"name": "pdd.pdf", "mimeType": "application/pdf", "buffer": b"%PDF design"}])
    page.select_option("#id_kind", "design")
    follow(page, page.get_by_role("button", name="Upload", exact=True))
    sha256 = project.documents.get().sha256
    assert sha256 in page.content()
    assert_accessible(page)
    screenshot(page, "journey-02-project-draft")
    follow(page, page.get_by_role("button", name="Submit for approval"))
    assert page.locator(".status").inner_text() == "submitted"

    # 2. The administrator approves it from the inbox.
    sign_in(page, reg.admin)
    follow(page, page.get_by_role("link", name="Inbox").first)
    assert_accessible(page)
    screenshot(page, "journey-03-inbox")
    follow(page, page.locator(f"#item-project-submissions-{project.project_id}").get_by_role("button", name="Approve"))
    refused_nothing(page)
    project.refresh_from_db()
    assert project.status == "approved"

    # 3. The VVB validates it, with its report.
    sign_in(page, reg.vvb)
    follow(page, page.get_by_role("link", name="Assignments", exact=True))
    follow(page, page.get_by_role("link", name=f"Validate {project.project_id}"))
    page.set_input_files("#id_report_file", files=[{"name": "validation.pdf", "mimeType": "application/pdf", "buffer": b"%PDF validation"}])
    page.fill("#id_crediting_period_start", "2024-01-01")
    page.fill("#id_crediting_period_end", "2033-12-31")
    assert_accessible(page)
    follow(page, page.get_by_role("button", name="Record the validation"))
    refused_nothing(page)
    project.refresh_from_db()
    assert project.status == "validated" and project.validations.get().report is not None

    # 4. The administrator registers it.
    sign_in(page, reg.admin)
    page.goto(base + "/workspace/inbox/")
    follow(page, page.locator(f"#item-project-registrations-{project.project_id}").get_by_role("button", name="Register"))
    project.refresh_from_db()
    assert project.status == "registered"

    # 5. The developer submits a monitoring report.
    sign_in(page, reg.developer)
    page.goto(base + f"/workspace/projects/{project.project_id}/")
    follow(page, page.get_by_role("link", name="Submit a monitoring report"))
    page.fill("#id_period_start", "2024-01-01")
    page.fill("#id_period_end", "2024-12-31")
    page.fill("#id_vintages-0-vintage", "2024")
    page.fill("#id_vintages-0-quantity", "1000")
    page.set_input_files("#id_document", files=[{"name": "monitoring.pdf", "mimeType": "application/pdf", "buffer": b"%PDF monitoring"}])
    assert_accessible(page)
    screenshot(page, "journey-04-monitoring-report")
    follow(page, page.get_by_role("button", name="Submit the report").last)
    refused_nothing(page)
    report = project.monitoring_reports.get()
    assert report.document is not None and report.document.sha256 in page.content()

    # 6. The VVB accepts the assignment, declaring no conflict of interest, then
    # verifies it, per vintage, with the verification report.
    sign_in(page, reg.vvb)
    follow(page, page.get_by_role("link", name="Assignments", exact=True))
    follow(page, page.get_by_role("link", name=f"Verify report 1 of {project.project_id}"))
    page.check("#id_no_conflict_of_interest")
    follow(page, page.get_by_role("button", name="Accept the assignment"))
    refused_nothing(page)
    page.fill("#id_verified_2024", "900")
    page.set_input_files("#id_document", files=[{"name": "verification.pdf", "mimeType": "application/pdf", "buffer": b"%PDF verification"}])
    assert_accessible(page)
    screenshot(page, "journey-05-verify")
    follow(page, page.get_by_role("button", name="Sign the verification"))
    refused_nothing(page)
    report.refresh_from_db()
    assert report.status == "verified"

    # 7. The administrator approves issuance: 900 units, 10 % to the buffer pool.
    sign_in(page, reg.admin)
    page.goto(base + "/workspace/inbox/")
    follow(page, page.locator(f"#item-issuances-{report.uid}").get_by_role("button", name="Approve issuance"))
    refused_nothing(page)
    report.refresh_from_db()
    assert report.status == "issued"
    assert sum(b.quantity for b in UnitBlock.objects.filter(account=reg.developer_account)) == 810

    # 8. The developer transfers 300 to the buyer; the confirmation shows the serial ranges.
    sign_in(page, reg.developer)
    page.goto(base + f"/workspace/accounts/{reg.developer_account.identifier}/")
    assert_accessible(page)
    screenshot(page, "journey-06-holdings")
    follow(page, page.get_by_role("link", name="Transfer units").first)
    page.fill("#id_to_account", reg.buyer_account.identifier)
    page.fill("#id_quantity", "300")
    follow(page, page.get_by_role("button", name="Review"))
    block = UnitBlock.objects.get(account=reg.developer_account)
    expected = unit_selectors.serial_text(block.issuance, block.serial_start, block.serial_start + 299)
    assert page.locator("#confirm-ranges tbody tr").count() == 1
    assert page.locator("#confirm-ranges code").inner_text() == expected
    assert reg.buyer_account.identifier in page.locator("#confirm-to").inner_text()
    assert_accessible(page)
    screenshot(page, "journey-07-transfer-confirmation")
    # Keep what the confirmation form sends, to send it a second time below.
    sent = page.evaluate(
        """() => { const f = document.querySelector('form[method=post]:has(button[value=confirm])');
                  const d = new URLSearchParams(new FormData(f)); d.set('step', 'confirm'); return d.toString(); }"""
    )
    follow(page, page.get_by_role("button", name="Confirm the transfer"))
    refused_nothing(page)
    transfer = Transaction.objects.get(kind="transfer")
    assert [b["serial"] for b in unit_selectors.transaction_blocks(transfer)] == [expected]
    # The same confirmation sent again (a double submit) moves nothing more.
    again = page.evaluate(
        """async (body) => { const r = await fetch('/workspace/transfer/', {method: 'POST', body,
              headers: {'Content-Type': 'application/x-www-form-urlencoded'}}); return [r.url, await r.text()]; }""",
        sent,
    )
    assert again[0].endswith(f"/workspace/transactions/{transfer.identifier}/")
    assert "already carried out" in again[1]
    assert Transaction.objects.filter(kind="transfer").count() == 1

    # 9. The buyer retires 100 of them.
    sign_in(page, reg.buyer)
    follow(page, page.get_by_role("link", name="Retire units").first)
    page.fill("#id_quantity", "100")
    page.fill("#id_beneficiary", "Korhogo municipal council")
    page.select_option("#id_purpose", "voluntary")
    page.fill("#id_jurisdiction", "CI")
    follow(page, page.get_by_role("button", name="Review"))
    retired_serial = page.locator("#confirm-ranges code").inner_text()
    assert retired_serial == unit_selectors.serial_text(block.issuance, block.serial_start, block.serial_start + 99)
    screenshot(page, "journey-08-retirement-confirmation")
    follow(page, page.get_by_role("button", name="Confirm the retirement"))
    refused_nothing(page)
    retirement = Transaction.objects.get(kind="retirement")
    assert retirement.identifier in page.content()
    assert page.locator("#certificate-link").get_attribute("href") == f"/certificates/{retirement.identifier}/"
    screenshot(page, "journey-09-retirement")

    # 10. The retirement's ledger proof: the worker signs a checkpoint; the
    # buyer's browser fetches the inclusion proof, which verifies offline
    # against the registry's public key.
    make_checkpoint(force=True)
    seq = int(page.locator("#ledger-entry").get_attribute("data-seq"))
    bundle = page.evaluate(
        "async (seq) => { const r = await fetch(`/api/v1/ledger/proofs/inclusion/${seq}`); return r.json(); }", seq
    )
    proved = verify_bundle(bundle, keys.verifier_key_text())
    assert proved["proved"] == "inclusion" and proved["seq"] == seq
    assert proved["entry"]["transaction"] == retirement.identifier or retirement.identifier in bundle["entry"]
    assert re.search(rf'"ranges":\[\[{block.serial_start},{block.serial_start + 99}\]\]', bundle["entry"])
    open_certificate_page(page, retirement.identifier)


def test_main_pages_fit_a_phone_and_are_accessible(phone_page: Any, registry: testing.Registry) -> None:
    reg = registry
    project = testing.registered_project(reg)
    testing.issue(reg, project, {2022: 500})
    page = phone_page
    sign_in(page, reg.developer)
    for name, path in (
        ("home", "/workspace/"),
        ("projects", "/workspace/projects/"),
        ("project", f"/workspace/projects/{project.project_id}/"),
        ("register", "/workspace/projects/new/"),
        ("accounts", "/workspace/accounts/"),
        ("account", f"/workspace/accounts/{reg.developer_account.identifier}/"),
        ("transfer", "/workspace/transfer/"),
    ):
        page.goto(page.base_url + path)
        fits(page)
        assert_accessible(page)
        screenshot(page, f"phone-developer-{name}")
    page.fill("#id_to_account", reg.buyer_account.identifier)
    page.fill("#id_quantity", "5")
    follow(page, page.get_by_role("button", name="Review"))
    fits(page)
    assert_accessible(page)
    screenshot(page, "phone-developer-transfer-confirmation")
    # A refusal is shown with its code, beside the form.
    follow(page, page.get_by_role("button", name="Change the request"))
    page.fill("#id_quantity", "999999")
    follow(page, page.get_by_role("button", name="Review"))
    assert "INSUFFICIENT_UNITS" in page.locator("#refusal").inner_text()
    fits(page)
    assert_accessible(page)
    screenshot(page, "phone-developer-transfer-refused")

    sign_in(page, reg.admin)
    for name, path in (
        ("inbox", "/workspace/inbox/"),
        ("overview", "/workspace/overview/"),
        ("organisations", "/workspace/organisations/"),
        ("organisation", f"/workspace/organisations/{reg.buyer_org.uid}/"),
        ("transactions", "/workspace/transactions/"),
    ):
        page.goto(page.base_url + path)
        fits(page)
        assert_accessible(page)
        screenshot(page, f"phone-admin-{name}")

    sign_in(page, reg.vvb)
    page.goto(page.base_url + "/workspace/assignments/")
    fits(page)
    assert_accessible(page)
    screenshot(page, "phone-vvb-assignments")


def test_keyboard_only_and_french(page: Any, registry: testing.Registry) -> None:
    """A form filled and sent with the keyboard alone, and the workspace in French."""
    sign_in(page, registry.buyer)
    page.goto(page.base_url + "/workspace/organisation/")
    page.locator("#id_name").focus()
    page.keyboard.type("Forward trading")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused.strip() == "Open the account"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # visible focus
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Forward trading" in page.content()
    page.select_option("#language-select", "fr")
    follow(page, page.get_by_role("button", name="Change language"))
    assert page.locator("html").get_attribute("lang") == "fr"
    assert "Ouvrir un compte de détention" in page.content()
    assert_accessible(page)
    screenshot(page, "french-organisation")
