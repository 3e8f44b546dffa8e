"""The administrator's Article 6 pages: authorisations proposed, changed and
revoked through the services with a second administrator's approval in the
inbox, and the AEF report of a year with its checks and downloads (the
same service functions as the API and the CLI)."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest
from django.test import Client
from openpyxl import load_workbook

from tonne import testing
from tonne.access.testing import stepped_up
from tonne.article6 import aef
from tonne.article6.models import Authorisation
from tonne.controls.models import Approval
from tonne.core import clock
from tonne.organisations.models import User

pytestmark = pytest.mark.django_db
W = "/workspace/article6"
T0 = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def site(registry: testing.Registry):
    clock.freeze(T0)
    project = testing.registered_project(registry)
    approver = testing.make_user(registry.government, f"{registry.admin.username}-approver", User.Role.APPROVER,
                                 actor=registry.root)
    return registry, project, approver


def propose(client: Client, project_id: str, **overrides: object):
    data = {
        "identifier": "CI-A6-2026-001", "cooperative_approach": "CI-CH-2024",
        "first_transfer_definition": "issuance", "acquiring_parties": "CH", "purposes": ["ndc"],
        "quantity": "600", "vintage_from": "2024", "vintage_to": "2025", "projects": project_id,
        "authorisation_date": "2026-02-01", "terms": "For Switzerland's NDC",
    }
    data.update(overrides)
    return client.post(W + "/", data)


def approve_in_inbox(approver: User) -> None:
    client = stepped_up(approver)
    (approval,) = Approval.objects.filter(status=Approval.Status.PENDING)
    page = client.get("/workspace/inbox/").content.decode()
    assert approval.request_hash in page
    response = client.post(f"/workspace/inbox/approvals/{approval.uid}/approve/",
                           {"request_hash": approval.request_hash})
    assert response.status_code == 302


def test_only_the_registry_administrator_sees_the_pages(site):
    reg, _, _ = site
    developer = Client()
    developer.force_login(reg.developer)
    for path in (W + "/", W + "/aef/", W + "/aef/2026/xlsx/"):
        assert developer.get(path).status_code == 403
    admin = Client()
    admin.force_login(reg.admin)
    assert admin.get(W + "/").status_code == 200
    assert "/workspace/article6/aef/" in admin.get("/workspace/").content.decode()


def test_authorisation_proposed_approved_in_the_inbox_changed_and_revoked(site):
    reg, project, approver = site
    admin = stepped_up(reg.admin)
    response = propose(admin, project.project_id)
    assert response.status_code == 302
    assert not Authorisation.objects.exists()  # waits for the second administrator
    assert "CI-A6-2026-001" in admin.get(W + "/").content.decode()
    approve_in_inbox(approver)
    authorisation = Authorisation.objects.get()
    assert authorisation.versions.get().acquiring_parties == ["CH"]
    clock.freeze(T0 + dt.timedelta(hours=1))
    testing.issue(reg, project, {2024: 1000})
    admin = stepped_up(reg.admin)  # an hour later: a new session
    page = admin.get(W + "/CI-A6-2026-001/").content.decode()
    assert "600" in page and "Issuance" in page and "CH" in page
    # A change: a larger quantity, approved in the inbox.
    response = admin.post(W + "/CI-A6-2026-001/change/", {
        "change-acquiring_parties": "CH, SE", "change-purposes": ["ndc"],
        "change-quantity": "900", "change-vintage_from": "2024", "change-vintage_to": "2025",
        "change-projects": project.project_id, "change-authorisation_date": "2026-02-01",
    })
    assert response.status_code == 302
    approve_in_inbox(approver)
    assert [v.quantity for v in authorisation.versions.order_by("version")] == [600, 900]
    # The revocation, approved in the inbox.
    response = admin.post(W + "/CI-A6-2026-001/revoke/", {"revoke-reason": "Cooperation ended"})
    assert response.status_code == 302
    approve_in_inbox(approver)
    authorisation.refresh_from_db()
    assert authorisation.status == "revoked" and authorisation.revocation_reason == "Cooperation ended"
    assert "Cooperation ended" in admin.get(W + "/CI-A6-2026-001/").content.decode()


def test_a_refusal_shows_the_service_code_and_changes_nothing(site):
    reg, _, _ = site
    admin = stepped_up(reg.admin)
    response = propose(admin, "NO-SUCH-PROJECT")
    assert response.status_code == 422
    assert "PROJECT_NOT_FOUND" in response.content.decode()
    assert not Approval.objects.exists()
    response = propose(admin, "X", purposes=["oimp"])
    assert "OIMP_PURPOSES_REQUIRED" in response.content.decode()


def test_the_aef_page_shows_the_checks_and_downloads_what_the_service_renders(site):
    reg, project, approver = site
    admin = stepped_up(reg.admin)
    propose(admin, project.project_id)
    approve_in_inbox(approver)
    clock.freeze(T0 + dt.timedelta(hours=1))
    testing.issue(reg, project, {2024: 1000})
    admin = stepped_up(reg.admin)  # an hour later: a new session
    page = admin.get(W + "/aef/?year=2026").content.decode()
    assert "Consistency checks" in page and "FAILED" not in page
    assert page.count("passed") == len(aef.build(2026)["checks"])
    assert "First Transfer" in page
    expected = aef.build(2026)
    body = json.loads(admin.get(W + "/aef/2026/json/").content)
    assert body["tables"]["actions"] == expected["tables"]["actions"]
    book = load_workbook(io.BytesIO(admin.get(W + "/aef/2026/xlsx/").content))
    assert book["actions"].max_row == 3 and "aef_t3_actions" in book.sheetnames
    archive = zipfile.ZipFile(io.BytesIO(admin.get(W + "/aef/2026/csv/").content))
    assert "holdings.csv" in archive.namelist()
    response = admin.get(W + "/aef/2026/cadt/")
    assert response["Content-Disposition"] == 'attachment; filename="aef-2026.cadt.json"'
    cadt = json.loads(response.content)
    assert sorted(cadt) == ["aef_t1_submission", "aef_t2_authorizations", "aef_t3_actions", "aef_t4_holdings",
                            "aef_t5_authorized_entities"]
    assert cadt["aef_t2_authorizations"][0]["aefT2AuthorizationsId"] == "CI-A6-2026-001"
    assert admin.get(W + "/aef/2026/pdf/").status_code == 404


def test_each_purpose_gets_its_own_first_transfer_definition(site):
    reg, project, approver = site
    admin = stepped_up(reg.admin)
    # NDC and OIMP (CORSIA): first transferred at the first international transfer for the NDC,
    # at use or cancellation for OIMP, as the authorising Party decided.
    response = propose(admin, project.project_id, purposes=["ndc", "oimp"], oimp_purposes="CORSIA",
                       first_transfer_definition="first_international_transfer",
                       first_transfer_definition_oimp="use_or_cancellation")
    assert response.status_code == 302, response.content.decode()[:2000]
    approve_in_inbox(approver)
    a = Authorisation.objects.get(identifier="CI-A6-2026-001")
    assert a.definitions == {"ndc": "first_international_transfer", "oimp": "use_or_cancellation"}
    page = admin.get(f"{W}/{a.identifier}/").content.decode()
    assert "First transfer (Use towards an NDC)" in page and "Use or cancellation" in page
    # One definition given serves every purpose; none at all is refused, with nothing proposed.
    none = propose(admin, project.project_id, identifier="CI-A6-2026-002", first_transfer_definition="")
    assert none.status_code != 302 and "FIRST_TRANSFER_DEFINITION_INVALID" in none.content.decode()
