"""Every workspace page and form, through Django's test client, on both
databases: who may see what, what the forms change, and that a refusal shows
the service's code and changes nothing."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.test import Client

from tonne import testing
from tonne.ledger.models import LedgerHead
from tonne.mrv import verification as mrv_verification
from tonne.mrv.models import MonitoringReport
from tonne.organisations.models import Account, Organisation, User
from tonne.projects.models import Document, Project
from tonne.units import selectors as unit_selectors
from tonne.units.models import Transaction, UnitBlock

W = "/workspace"


def signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def page(client: Client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.content.decode()


def ledger_size() -> int:
    return LedgerHead.objects.get(pk=1).size


def balance(account: Account) -> int:
    return sum(b.quantity for b in UnitBlock.objects.filter(account=account))


def project_post(**overrides: object) -> dict:
    """A filled project form: all formsets with one row each."""
    data: dict = {
        "name": "Savanna cookstoves",
        "description": "Efficient cookstoves for 5,000 households.",
        "sectors": ["Energy demand"],
        "types": ["Energy Efficiency households"],
        "sectoral_scope": "3",
        "unit_metric": "tCO2e",
        "unit_type": "Reduction - technical",
        "ndc_coverage": "inside",
        "article6_status": "not_requested",
        "non_permanence_risk": "low",
        "unit_class": "VER",
        "buffer_basis_points": "500",
        "crediting_period_start": "2021-01-01",
        "crediting_period_end": "2030-12-31",
        "grievance_contact": "grievances@example.org",
    }
    for child in (
        "locations", "estimations", "ratings", "co_benefits", "labels", "stakeholders", "related_projects", "methodologies",
    ):
        data[f"{child}-TOTAL_FORMS"] = "1"
        data[f"{child}-INITIAL_FORMS"] = "0"
    data.update(
        {
            "locations-0-country": "Cote d'Ivoire",
            "locations-0-region": "Savanes",
            "locations-0-gis": "9.45,-5.63",
            "estimations-0-start_date": "2022-01-01",
            "estimations-0-end_date": "2022-12-31",
            "estimations-0-unit_count": "12000",
            "co_benefits-0-co_benefit": "SDG 7 - Affordable and clean energy",
            "labels-0-name": "Gold label",
            "labels-0-type": "Certification",
            "stakeholders-0-name": "Savanna Stoves SARL",
            "stakeholders-0-type": "Developer",
        }
    )
    data.update(overrides)
    return data


@pytest.fixture
def issued(registry):
    project = testing.registered_project(registry)
    report, issuances = testing.issue(registry, project, {2022: 1000})
    return project, report


# -- sign-in and roles ------------------------------------------------------------------------

ANY_ROLE = [
    "/", "/inbox/", "/overview/", "/organisations/", "/projects/", "/projects/new/", "/assignments/", "/reports/",
    "/accounts/", "/transfer/", "/retire/", "/transactions/",
]


@pytest.mark.parametrize("path", ANY_ROLE)
def test_pages_need_sign_in(client: Client, registry, path: str) -> None:
    response = client.get(W + path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/workspace")


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("vvb", "/inbox/"),  # holders' administrators and approvers have their four-eyes inbox
        ("vvb", "/overview/"),
        ("developer", "/organisations/"),
        ("buyer", "/projects/"),
        ("buyer", "/projects/new/"),
        ("vvb", "/projects/new/"),
        ("admin", "/projects/new/"),
        ("developer", "/assignments/"),
        ("vvb", "/accounts/"),
        ("vvb", "/transfer/"),
        ("vvb", "/retire/"),
        ("admin", "/transfer/"),
        ("vvb", "/transactions/"),
    ],
)
def test_wrong_role_is_forbidden(client: Client, registry, who: str, path: str) -> None:
    page(signed_in(client, getattr(registry, who)), W + path, 403)


def test_navigation_shows_links_by_role(client: Client, registry) -> None:
    admin_nav = page(signed_in(client, registry.admin), W + "/")
    assert 'href="/workspace/inbox/"' in admin_nav and 'href="/workspace/organisations/"' in admin_nav
    client.logout()
    buyer_nav = page(signed_in(client, registry.buyer), W + "/")
    # A holder's administrator has an inbox of its organisation's four-eyes approvals, not the registry's.
    assert 'href="/workspace/accounts/"' in buyer_nav and 'href="/workspace/organisations/"' not in buyer_nav
    assert 'href="/workspace/projects/"' not in buyer_nav
    client.logout()
    vvb_nav = page(signed_in(client, registry.vvb), W + "/")
    assert 'href="/workspace/assignments/"' in vvb_nav and 'href="/workspace/accounts/"' not in vvb_nav


# -- developer: projects ---------------------------------------------------------------------------


def test_register_project_with_children(client: Client, registry) -> None:
    signed_in(client, registry.developer)
    assert "CAD Trust" in page(client, W + "/projects/new/")
    response = client.post(W + "/projects/new/", project_post(vvb=str(registry.vvb_org.uid)))
    assert response.status_code == 302
    project = Project.objects.get(name="Savanna cookstoves")
    assert response["Location"] == f"{W}/projects/{project.project_id}/"
    assert project.status == "draft" and project.developer == registry.developer_org and project.vvb == registry.vvb_org
    assert project.buffer_basis_points == 500 and project.sectors == ["Energy demand"]
    assert project.locations.get().region == "Savanes"
    assert project.estimations.get().unit_count == 12000
    assert project.labels.get().type == "Certification"
    assert project.stakeholders.get().name == "Savanna Stoves SARL"
    assert project.co_benefits.count() == 1 and project.ratings.count() == 0
    detail = page(client, response["Location"])
    assert "Savanes" in detail and "Submit for approval" in detail and "Edit the draft" in detail


def test_project_form_shows_inline_errors_and_changes_nothing(client: Client, registry) -> None:
    signed_in(client, registry.developer)
    before = ledger_size()
    # Shape errors (a missing required field, a value outside the picklist) come from the form.
    response = client.post(W + "/projects/new/", project_post(sectors=[], unit_type="Teleportation"))
    body = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'id="id_sectors_error"', body) and re.search(r'id="id_unit_type_error"', body)
    # A rule of the registry (an estimation ending before it starts) comes from the service, with its code,
    # beside the row and field it names.
    response = client.post(W + "/projects/new/", project_post(**{"estimations-0-end_date": "2021-01-01"}))
    body = response.content.decode()
    assert response.status_code == 422
    assert "ESTIMATION_PERIOD_INVALID" in body and 'id="refusal"' in body
    assert 'id="id_estimations-0-end_date_error"' in body
    response = client.post(W + "/projects/new/", project_post(sectoral_scope="16"))
    assert "SECTORAL_SCOPE_INVALID" in response.content.decode()
    assert 'id="id_sectoral_scope_error"' in response.content.decode()
    assert Project.objects.count() == 0 and ledger_size() == before


def test_add_a_row_without_javascript(client: Client, registry) -> None:
    signed_in(client, registry.developer)
    response = client.post(W + "/projects/new/", project_post(add_row="locations"))
    body = response.content.decode()
    assert response.status_code == 200 and Project.objects.count() == 0
    assert 'name="locations-1-country"' in body and 'name="locations-TOTAL_FORMS" value="2"' in body
    assert 'value="Savanes"' in body  # what was typed is kept


def test_edit_draft_and_submit(client: Client, registry) -> None:
    signed_in(client, registry.developer)
    client.post(W + "/projects/new/", project_post())
    project = Project.objects.get()
    edit = page(client, f"{W}/projects/{project.project_id}/edit/")
    assert 'value="Savanes"' in edit and 'name="locations-1-country"' in edit  # existing row plus an empty one
    data = project_post(name="Savanna cookstoves II", **{"locations-0-region": "Zanzan", "labels-0-name": "", "labels-0-type": ""})
    response = client.post(f"{W}/projects/{project.project_id}/edit/", data)
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.name == "Savanna cookstoves II" and project.locations.get().region == "Zanzan"
    assert project.labels.count() == 0
    response = client.post(f"{W}/projects/{project.project_id}/status/", {"status": "submitted"})
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.status == "submitted"
    # Submitted projects are no longer edited freely: the fields accounting relies on are refused, with the code.
    response = client.post(f"{W}/projects/{project.project_id}/edit/", data)
    assert response.status_code == 422 and "PROJECT_FIELD_LOCKED" in response.content.decode()


def test_upload_document_shows_its_hash(client: Client, registry) -> None:
    import hashlib

    signed_in(client, registry.developer)
    client.post(W + "/projects/new/", project_post())
    project = Project.objects.get()
    content = b"%PDF-1.4 project design document"
    upload = io.BytesIO(content)
    upload.name = "pdd.pdf"
    response = client.post(
        f"{W}/projects/{project.project_id}/documents/",
        {"file": upload, "kind": "design", "title": "PDD", "is_public": "on"},
    )
    assert response.status_code == 302
    digest = hashlib.sha256(content).hexdigest()
    assert Document.objects.get().sha256 == digest
    assert digest in page(client, response["Location"])
    # An empty file is refused by the service, shown with its code; nothing is stored.
    empty = io.BytesIO(b"")
    empty.name = "empty.pdf"
    response = client.post(f"{W}/projects/{project.project_id}/documents/", {"file": empty, "kind": "design"})
    assert response.status_code in (200, 422)
    assert Document.objects.count() == 1


def test_projects_of_others_are_not_shown(client: Client, registry) -> None:
    other = testing.projects.register_project(actor=registry.other_developer, data=testing.project_fields(name="Theirs"))
    signed_in(client, registry.developer)
    assert "Theirs" not in page(client, W + "/projects/")
    page(client, f"{W}/projects/{other.project_id}/", 404)
    page(client, f"{W}/projects/{other.project_id}/edit/", 404)
    page(client, f"{W}/projects/{other.project_id}/reports/new/", 404)
    # Even a public (registered) project of another developer is not in this workspace.
    theirs = testing.registered_project(registry, name="Public one")
    theirs.developer = registry.other_developer_org
    Project.objects.filter(pk=theirs.pk).update(developer=registry.other_developer_org)
    page(client, f"{W}/projects/{theirs.project_id}/", 404)


# -- administrator: inbox, organisations, overview ----------------------------------------------------


def test_inbox_lists_everything_awaiting_and_decides(client: Client, registry) -> None:
    applicant = testing.orgs.apply_for_organisation(actor=None, name="Green Traders", kind="trader", country="CI")
    submitted = testing.projects.register_project(
        actor=registry.developer, data=testing.project_fields(name="Awaiting approval"), vvb=str(registry.vvb_org.uid)
    )
    submitted = testing.projects.change_project_status(actor=registry.developer, project=submitted, status="submitted")
    project = testing.registered_project(registry)
    report = testing.mrv.submit_report(
        actor=registry.developer, project=project, period_start="2022-01-01", period_end="2022-12-31",
        vintages=[{"vintage": 2022, "quantity": 500}], vvb=str(registry.vvb_org.uid),
    )
    mrv_verification.accept_assignment(actor=registry.vvb, report=report, no_conflict_of_interest=True)
    testing.mrv.verify_report(actor=registry.vvb, report=report, verified=[{"vintage": 2022, "quantity": 400}])
    signed_in(client, registry.admin)
    body = page(client, W + "/inbox/")
    assert "Green Traders" in body and "Awaiting approval" in body and f"{project.project_id} · monitoring report 1" in body
    assert "3 requests await your decision" in body

    # Rejecting without a reason: the service refuses, the page says why (with the code), nothing changes.
    before = ledger_size()
    response = client.post(f"{W}/inbox/project-submissions/{submitted.project_id}/reject/", {"reason": ""})
    assert response.status_code == 422 and "REASON_REQUIRED" in response.content.decode()
    submitted.refresh_from_db()
    assert submitted.status == "submitted" and ledger_size() == before

    client.post(f"{W}/inbox/project-submissions/{submitted.project_id}/approve/", {})
    submitted.refresh_from_db()
    assert submitted.status == "approved"
    client.post(f"{W}/inbox/organisations/{applicant.uid}/approve/", {"reason": "KYC checked"})
    applicant.refresh_from_db()
    assert applicant.status == "approved" and applicant.status_reason == "KYC checked"
    client.post(f"{W}/inbox/issuances/{report.uid}/approve/", {})
    report.refresh_from_db()
    assert report.status == "issued"
    assert "0 requests await your decision" in page(client, W + "/inbox/")
    page(client, f"{W}/inbox/nonsense/x/", 302)  # GET goes back to the inbox
    assert client.post(f"{W}/inbox/nonsense/x/approve/", {}).status_code == 404


def test_inbox_registers_validated_projects_and_rejects_reports(client: Client, registry) -> None:
    project = testing.projects.register_project(actor=registry.developer, data=testing.project_fields(), vvb=str(registry.vvb_org.uid))
    for who, status in (("developer", "submitted"), ("admin", "approved"), ("vvb", "validated")):
        project = testing.projects.change_project_status(actor=getattr(registry, who), project=project, status=status)
    signed_in(client, registry.admin)
    assert "Validated projects awaiting registration" in page(client, W + "/inbox/")
    client.post(f"{W}/inbox/project-registrations/{project.project_id}/approve/", {})
    project.refresh_from_db()
    assert project.status == "registered"
    report = testing.mrv.submit_report(
        actor=registry.developer, project=project, period_start="2022-01-01", period_end="2022-12-31",
        vintages=[{"vintage": 2022, "quantity": 500}], vvb=str(registry.vvb_org.uid),
    )
    mrv_verification.accept_assignment(actor=registry.vvb, report=report, no_conflict_of_interest=True)
    testing.mrv.verify_report(actor=registry.vvb, report=report, verified=[{"vintage": 2022, "quantity": 400}])
    client.post(f"{W}/inbox/issuances/{report.uid}/reject/", {"reason": "Sampling errors"})
    report.refresh_from_db()
    assert report.status == "rejected" and report.status_reason == "Sampling errors"


def test_organisation_management(client: Client, registry) -> None:
    signed_in(client, registry.admin)
    body = page(client, W + "/organisations/")
    assert registry.buyer_org.name in body and registry.vvb_org.name in body
    url = f"{W}/organisations/{registry.buyer_org.uid}/"
    assert registry.buyer_account.identifier in page(client, url)
    # Suspend, with a reason; then a refusal (no reason) changes nothing.
    client.post(url + "status/", {"status": "suspended", "reason": "KYC expired"})
    registry.buyer_org.refresh_from_db()
    assert registry.buyer_org.status == "suspended"
    response = client.post(url + "status/", {"status": "approved", "reason": ""})
    assert response.status_code == 422 and "REASON_REQUIRED" in response.content.decode()
    registry.buyer_org.refresh_from_db()
    assert registry.buyer_org.status == "suspended"
    # Accreditation of a VVB.
    vvb_url = f"{W}/organisations/{registry.vvb_org.uid}/"
    client.post(vvb_url + "accreditation/", {})
    registry.vvb_org.refresh_from_db()
    assert registry.vvb_org.accredited is False
    # Users.
    client.post(url + "users/", {"username": "trader-2", "email": "t2@example.org", "password": testing.PASSWORD, "role": "initiator"})
    assert User.objects.get(username="trader-2").organisation == registry.buyer_org
    response = client.post(url + "users/", {"username": "trader-3", "email": "t3@example.org", "password": "short", "role": "viewer"})
    assert "PASSWORD_TOO_WEAK" in response.content.decode() and not User.objects.filter(username="trader-3").exists()
    assert "Registry overview" in page(client, W + "/overview/")


def test_organisation_admin_manages_own_people_and_accounts_only(client: Client, registry) -> None:
    signed_in(client, registry.developer)
    page(client, f"{W}/organisation/", 302)
    url = f"{W}/organisations/{registry.developer_org.uid}/"
    assert registry.developer_account.identifier in page(client, url)
    client.post(url + "accounts/", {"name": "Forward sales"})
    assert Account.objects.filter(organisation=registry.developer_org, name="Forward sales").exists()
    client.post(url + "users/", {"username": "mangrove-2", "email": "m2@example.org", "password": testing.PASSWORD, "role": "viewer"})
    assert User.objects.get(username="mangrove-2").organisation == registry.developer_org
    # Not the administrator's decisions, and not another organisation.
    assert client.post(url + "status/", {"status": "closed", "reason": "x"}).status_code == 403
    page(client, f"{W}/organisations/{registry.buyer_org.uid}/", 404)


def test_apply_to_join(client: Client, registry) -> None:
    assert "Apply to join" in page(client, W + "/apply/")
    response = client.post(W + "/apply/", {"name": "Lagoon Carbon", "kind": "developer", "country": "CI"})
    assert response.status_code == 200 and Organisation.objects.get(name="Lagoon Carbon").status == "applied"
    response = client.post(W + "/apply/", {"name": "Lagoon Carbon", "kind": "developer", "country": "CI"})
    assert response.status_code == 422 and "ORGANISATION_EXISTS" in response.content.decode()


# -- VVB and monitoring -----------------------------------------------------------------------------------


def test_vvb_validates_with_report(client: Client, registry) -> None:
    project = testing.projects.register_project(actor=registry.developer, data=testing.project_fields(), vvb=str(registry.vvb_org.uid))
    project = testing.projects.change_project_status(actor=registry.developer, project=project, status="submitted")
    signed_in(client, registry.vvb)
    page(client, f"{W}/projects/{project.project_id}/validate/")
    project = testing.projects.change_project_status(actor=registry.admin, project=project, status="approved")
    assert project.project_id in page(client, W + "/assignments/")
    report = io.BytesIO(b"validation report")
    report.name = "validation.pdf"
    response = client.post(
        f"{W}/projects/{project.project_id}/validate/",
        {"type": "Validation of Project Design Document", "report_file": report, "crediting_period_start": "2021-01-01",
         "crediting_period_end": "2030-12-31"},
    )
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.status == "validated"
    record = project.validations.get()
    assert record.report is not None and record.report.kind == "validation_report"
    # A second validation is refused; the upload of that attempt is rolled back with it.
    again = io.BytesIO(b"another report")
    again.name = "again.pdf"
    response = client.post(f"{W}/projects/{project.project_id}/validate/", {"type": "Validation of Project Design Document", "report_file": again})
    assert response.status_code == 422 and "PROJECT_TRANSITION_NOT_ALLOWED" in response.content.decode()
    assert Document.objects.filter(project=project).count() == 1


def test_monitoring_report_verification_and_issuance(client: Client, registry) -> None:
    project = testing.registered_project(registry)
    dev = Client()
    signed_in(dev, registry.developer)
    url = f"{W}/projects/{project.project_id}/reports/new/"
    assert "Claimed units per vintage" in page(dev, url)
    form = {
        "period_start": "2021-01-01", "period_end": "2022-12-31", "vvb": str(registry.vvb_org.uid),
        "vintages-TOTAL_FORMS": "2", "vintages-INITIAL_FORMS": "0",
        "vintages-0-vintage": "2021", "vintages-0-quantity": "700",
        "vintages-1-vintage": "2023", "vintages-1-quantity": "100",
    }
    response = dev.post(url, form)
    assert response.status_code == 422 and "VINTAGE_OUTSIDE_PERIOD" in response.content.decode()
    assert MonitoringReport.objects.count() == 0
    form["vintages-1-vintage"] = "2022"
    document = io.BytesIO(b"monitoring report")
    document.name = "mr.pdf"
    response = dev.post(url, {**form, "document": document})
    assert response.status_code == 302
    report = MonitoringReport.objects.get()
    assert report.document is not None and [(v.vintage, v.claimed) for v in report.vintages.all()] == [(2021, 700), (2022, 100)]

    vvb = Client()
    signed_in(vvb, registry.vvb)
    body = page(vvb, f"{W}/reports/{report.uid}/")
    assert "Your assignment" in body and "Record the verified quantities" not in body
    vvb.post(f"{W}/reports/{report.uid}/assignment/", {"decision": "accepted", "no_conflict_of_interest": "on"})
    body = page(vvb, f"{W}/reports/{report.uid}/")
    assert "Record the verified quantities" in body and report.document.sha256 in body
    response = vvb.post(f"{W}/reports/{report.uid}/verify/", {"verified_2021": "800", "verified_2022": "100"})
    assert response.status_code == 422 and "VERIFIED_EXCEEDS_CLAIMED" in response.content.decode()
    verification = io.BytesIO(b"verification report")
    verification.name = "vr.pdf"
    response = vvb.post(
        f"{W}/reports/{report.uid}/verify/",
        {"verified_2021": "650", "verified_2022": "100", "document": verification},
    )
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == "verified" and report.verification_document.kind == "verification_report"
    # The developer may not approve issuance (no button, and the service refuses).
    assert "Approve issuance" not in page(dev, f"{W}/reports/{report.uid}/")
    response = dev.post(f"{W}/reports/{report.uid}/issue/", {})
    assert response.status_code == 403 and "NOT_REGISTRY_ADMINISTRATOR" in response.content.decode()

    admin = Client()
    signed_in(admin, registry.admin)
    response = admin.post(f"{W}/reports/{report.uid}/issue/", {})
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == "issued"
    assert f"{project.host_party}-VER-14-0001-2021-1-" in page(admin, f"{W}/reports/{report.uid}/")
    assert "Monitoring reports" in page(dev, W + "/reports/")


def test_reports_of_others_are_not_shown(client: Client, registry, issued) -> None:
    project, report = issued
    signed_in(client, registry.other_developer)
    page(client, f"{W}/reports/{report.uid}/", 404)  # issued reports are public, but not in another's workspace
    page(client, f"{W}/reports/not-a-uuid/", 404)


# -- holdings, transfers, retirements ---------------------------------------------------------------------


def move_form(reg, **overrides: str) -> dict:
    data = {
        "from_account": reg.developer_account.identifier,
        "to_account": reg.buyer_account.identifier,
        "quantity": "250",
        "project": "",
        "vintage": "",
        "ranges": "",
        "idempotency_key": "web-key-1",
        "step": "preview",
    }
    data.update(overrides)
    return data


def test_accounts_show_holdings_as_serial_blocks(client: Client, registry, issued) -> None:
    signed_in(client, registry.developer)
    body = page(client, W + "/accounts/")
    assert registry.developer_account.identifier in body and registry.buyer_account.identifier not in body
    body = page(client, f"{W}/accounts/{registry.developer_account.identifier}/")
    block = UnitBlock.objects.get(account=registry.developer_account)
    assert unit_selectors.serial_text(block.issuance, block.serial_start, block.serial_end) in body
    # Another organisation's account does not exist for this user.
    page(client, f"{W}/accounts/{registry.buyer_account.identifier}/", 404)
    page(client, f"{W}/accounts/{registry.other_developer_account.identifier}/", 404)
    client.logout()
    signed_in(client, registry.admin)
    assert registry.buyer_account.identifier in page(client, W + "/accounts/")


def test_transfer_confirms_exact_ranges_and_moves_once(client: Client, registry, issued) -> None:
    signed_in(client, registry.developer)
    form = page(client, f"{W}/transfer/?from={registry.developer_account.identifier}")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form).group(1)
    assert len(key) == 36
    before = ledger_size()
    response = client.post(W + "/transfer/", move_form(registry, idempotency_key=key))
    body = response.content.decode()
    assert response.status_code == 200 and "Confirm the transfer" in body
    shown = re.findall(r'name="confirmed_range" value="(\d+)-(\d+)"', body)
    block = UnitBlock.objects.get(account=registry.developer_account)
    assert shown == [(str(block.serial_start), str(block.serial_start + 249))]
    assert unit_selectors.serial_text(block.issuance, block.serial_start, block.serial_start + 249) in body
    assert ledger_size() == before  # the confirmation step changes nothing

    confirm = {**move_form(registry, idempotency_key=key, step="confirm"), "confirmed_range": [f"{a}-{b}" for a, b in shown]}
    first = client.post(W + "/transfer/", confirm)
    assert first.status_code == 302
    second = client.post(W + "/transfer/", confirm)  # the double submit
    assert second["Location"] == first["Location"]
    assert Transaction.objects.filter(kind="transfer").count() == 1
    txn = Transaction.objects.get(kind="transfer")
    assert [(str(b["serial_start"]), str(b["serial_end"])) for b in unit_selectors.transaction_blocks(txn)] == shown
    assert balance(registry.buyer_account) == 250
    assert "already carried out" in page(client, second["Location"])
    assert txn.identifier in page(client, W + "/transactions/")


def test_transfer_by_serial_range_and_refusals(client: Client, registry, issued) -> None:
    signed_in(client, registry.developer)
    block = UnitBlock.objects.get(account=registry.developer_account)
    serial = unit_selectors.serial_text(block.issuance, block.serial_start + 10, block.serial_start + 19)
    response = client.post(W + "/transfer/", move_form(registry, quantity="", ranges=serial))
    assert re.findall(r'name="confirmed_range" value="([\d-]+)"', response.content.decode()) == [
        f"{block.serial_start + 10}-{block.serial_start + 19}"
    ]
    before = ledger_size()
    bad_account = registry.buyer_account.identifier[:-2] + ("00" if not registry.buyer_account.identifier.endswith("00") else "01")
    for overrides, code in (
        ({"to_account": bad_account}, "ACCOUNT_CHECK_DIGITS"),
        ({"quantity": "999999"}, "INSUFFICIENT_UNITS"),
        ({"to_account": registry.developer_account.identifier}, "SAME_ACCOUNT"),
        ({"quantity": "", "ranges": "1-2-3"}, "SERIAL_MALFORMED"),
        ({"quantity": ""}, "SELECTION_EMPTY"),
        # A pasted serial whose prefix names other units is refused, as the public lookup does.
        ({"quantity": "", "ranges": serial.replace("-VER-", "-VCU-")}, "SERIAL_PREFIX_MISMATCH"),
    ):
        response = client.post(W + "/transfer/", move_form(registry, **overrides))
        assert code in response.content.decode(), code
    # A confirmation for serials not held is refused by the service; nothing moves.
    response = client.post(
        W + "/transfer/",
        {**move_form(registry, step="confirm"), "confirmed_range": [f"{block.serial_end + 1}-{block.serial_end + 5}"]},
    )
    assert "SERIAL_RANGE_NOT_HELD" in response.content.decode()
    # Someone else's account cannot be chosen as the source.
    response = client.post(W + "/transfer/", move_form(registry, from_account=registry.other_developer_account.identifier))
    assert "Select a valid choice" in response.content.decode()
    assert ledger_size() == before and balance(registry.buyer_account) == 0


def test_retirement_and_certificate_link(client: Client, registry, issued) -> None:
    signed_in(client, registry.developer)
    form = move_form(registry, quantity="40", beneficiary="Abidjan city council", purpose="voluntary", jurisdiction="CI", reason="2024 footprint")
    form.pop("to_account")
    response = client.post(W + "/retire/", form)
    body = response.content.decode()
    assert "Confirm the retirement" in body and "Abidjan city council" in body
    shown = re.findall(r'name="confirmed_range" value="([\d-]+)"', body)
    response = client.post(W + "/retire/", {**form, "step": "confirm", "confirmed_range": shown})
    txn = Transaction.objects.get(kind="retirement")
    assert response["Location"] == f"{W}/transactions/{txn.identifier}/"
    assert txn.beneficiary == "Abidjan city council" and txn.quantity == 40
    body = page(client, response["Location"])
    assert f'href="/certificates/{txn.identifier}/"' in body
    # A jurisdiction that is no ISO 3166 code, and an over-long beneficiary, are refused before the confirmation.
    for overrides, code in (({"jurisdiction": "foo"}, "JURISDICTION_INVALID"), ({"beneficiary": "B" * 301}, "TEXT_TOO_LONG")):
        body = client.post(W + "/retire/", {**form, **overrides}).content.decode()
        assert code in body and "Confirm the retirement" not in body, code
    # Missing beneficiary: the form asks for it.
    response = client.post(W + "/retire/", {**form, "beneficiary": ""})
    assert 'id="id_beneficiary_error"' in response.content.decode()


def test_transactions_of_others_are_not_shown(client: Client, registry, issued) -> None:
    from tonne.units import services as units
    from tonne.units.domain import Selection

    txn = units.transfer(
        actor=registry.developer, from_account=registry.developer_account.identifier,
        to_account=registry.buyer_account.identifier, selection=Selection.build(quantity=5), idempotency_key="x",
    )
    signed_in(client, registry.buyer)
    assert txn.identifier in page(client, W + "/transactions/")
    page(client, f"{W}/transactions/{txn.identifier}/")
    client.logout()
    signed_in(client, registry.other_developer)
    assert txn.identifier not in page(client, W + "/transactions/")
    page(client, f"{W}/transactions/{txn.identifier}/", 404)


def test_home_pages(client: Client, registry, issued) -> None:
    for who, expected in (
        ("admin", "requests await your decision"),
        ("developer", "My projects"),
        ("vvb", "monitoring reports await your verification"),
        ("buyer", "My accounts"),
    ):
        client.logout()
        assert expected in page(signed_in(client, getattr(registry, who)), W + "/")


def test_period_dates_in_future_are_refused(client: Client, registry) -> None:
    project = testing.registered_project(registry)
    signed_in(client, registry.developer)
    tomorrow = dt.date.today() + dt.timedelta(days=400)
    response = client.post(
        f"{W}/projects/{project.project_id}/reports/new/",
        {"period_start": "2022-01-01", "period_end": tomorrow.isoformat(), "vvb": str(registry.vvb_org.uid),
         "vintages-TOTAL_FORMS": "1", "vintages-INITIAL_FORMS": "0", "vintages-0-vintage": "2022", "vintages-0-quantity": "5"},
    )
    body = response.content.decode()
    assert "PERIOD_IN_FUTURE" in body and 'id="id_period_end_error"' in body


def test_administrator_suspends_an_account(client: Client, registry, issued) -> None:
    url = f"{W}/accounts/{registry.buyer_account.identifier}/"
    signed_in(client, registry.buyer)
    assert "Change the account" not in page(client, url)
    assert client.post(url, {"status": "suspended", "reason": "x"}).status_code == 403
    client.logout()
    signed_in(client, registry.admin)
    client.post(url, {"status": "suspended", "reason": "Court order"})
    registry.buyer_account.refresh_from_db()
    assert registry.buyer_account.status == "suspended"
    dev_url = f"{W}/accounts/{registry.developer_account.identifier}/"
    response = client.post(dev_url, {"status": "closed", "reason": "Holder asked"})
    assert response.status_code == 422 and "ACCOUNT_NOT_EMPTY" in response.content.decode()
    registry.developer_account.refresh_from_db()
    assert registry.developer_account.status == "open"


def test_a_new_kind_of_approval_plugs_into_the_inbox(client: Client, registry, monkeypatch) -> None:
    from tonne.core.errors import ValidationFailed
    from tonne.workspace import inbox

    decided: list[tuple[str, str, str]] = []

    class TrustedAccountAdditions(inbox.InboxSource):
        name = "trusted-accounts"
        heading = "Trusted account additions"

        def items(self, user):
            return [inbox.InboxItem(self.name, "T1", "Add CI-100-1000009-98", "by Mangrove", None, "/workspace/")]

        def approve(self, user, key, reason):
            decided.append(("approve", key, reason))

        def reject(self, user, key, reason):
            raise ValidationFailed("REASON_REQUIRED", "A rejection needs a reason.", field="reason")

    monkeypatch.setattr(inbox, "SOURCES", [*inbox.SOURCES, TrustedAccountAdditions()])
    signed_in(client, registry.admin)
    body = page(client, W + "/inbox/")
    assert "Trusted account additions" in body and "Add CI-100-1000009-98" in body
    client.post(f"{W}/inbox/trusted-accounts/T1/approve/", {"reason": "Checked"})
    assert decided == [("approve", "T1", "Checked")]
    response = client.post(f"{W}/inbox/trusted-accounts/T1/reject/", {})
    assert response.status_code == 422 and "REASON_REQUIRED" in response.content.decode()


@pytest.mark.parametrize(
    ("who", "path", "data"),
    [
        ("buyer", "/inbox/organisations/00000000-0000-0000-0000-000000000000/approve/", {}),
        ("developer", "/inbox/project-submissions/CI-0001/approve/", {}),
        ("vvb", "/transfer/", {"step": "confirm"}),
        ("buyer", "/projects/new/", {}),
    ],
)
def test_wrong_role_cannot_post(client: Client, registry, who: str, path: str, data: dict) -> None:
    before = ledger_size()
    assert signed_in(client, getattr(registry, who)).post(W + path, data).status_code == 403
    assert ledger_size() == before
