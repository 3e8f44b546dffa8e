"""The public findings page and the administrator's upload page."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tonne import testing
from tonne.observer import services
from tonne.observer.tests.conftest import DATA, load
from tonne.organisations.models import Organisation, User


def test_findings_page_shows_each_finding_with_its_evidence(root: User, client: Client) -> None:
    load(root, "american-carbon-registry/projects.csv")
    load(root, "arb/nc-arboc_issuance_sheet3.csv")
    services.find_double_counting(actor=root)
    page = client.get("/observer/", {"kind": "duplicate_project"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "American Carbon Registry" in html and "CAOD1007" in html
    assert "<dt>Cross-reference</dt><dd>acr:ACR1007</dd>" in html
    assert client.get("/observer/", {"kind": "<script>", "page": "x"}).status_code == 200


def test_upload_page(root: User, client: Client) -> None:
    developer_org = testing.make_org(root, "Mangrove Futures", Organisation.Kind.DEVELOPER)
    developer = testing.make_user(developer_org, "developer", actor=root)
    client.force_login(developer)
    assert client.get("/observer/upload/").status_code == 403
    client.force_login(root)
    content = (DATA / "verra/projects.csv").read_bytes()
    done = client.post("/observer/upload/", {"file": SimpleUploadedFile("projects.csv", content), "registry": "verra"})
    assert done.status_code == 200
    assert "20 rows read, 20 mapped, 0 skipped" in done.content.decode()
    refused = client.post("/observer/upload/", {"file": SimpleUploadedFile("x.csv", b"a,b\n")})
    assert refused.status_code == 422 and "OBSERVER_FORMAT_UNKNOWN" in refused.content.decode()


def test_projects_page_shows_origin_and_totals(root: User, client: Client) -> None:
    load(root, "art-trees/projects.csv")
    load(root, "art-trees/issuances.csv")
    page = client.get("/observer/projects/", {"registry": "art", "q": "Guyana"})
    html = page.content.decode()
    assert page.status_code == 200 and "ART TREES" in html and "ART102" in html


def test_observer_mode_is_read_only(root: User, client: Client, settings) -> None:
    settings.TONNE_MODE = "observer"
    client.force_login(root)
    home = client.get("/")  # the observed registries' figures, not this installation's own
    assert home.status_code == 200 and "Carbon registries observed" in home.content.decode()
    refused = client.post("/api/v1/units/transfer", data={}, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["code"] == "OBSERVER_MODE_READ_ONLY"
    page = client.post("/workspace/projects/new/", {"name": "x"})
    assert page.status_code == 403 and "OBSERVER_MODE_READ_ONLY" in page.content.decode()
    content = (DATA / "verra/projects.csv").read_bytes()
    assert client.post("/observer/upload/", {"file": SimpleUploadedFile("p.csv", content)}).status_code == 200
