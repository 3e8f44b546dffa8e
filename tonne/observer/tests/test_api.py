"""The observer over HTTP: upload (administrator), findings, reconciliation and projects (public)."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tonne.core.tests.test_api_core import API, bearer
from tonne.observer.tests.conftest import DATA
from tonne.organisations.models import ApiToken, User


def _upload(client: Client, relative: str, headers: dict, **extra: str):
    content = (DATA / relative).read_bytes()
    return client.post(f"{API}/observer/imports", {"file": SimpleUploadedFile(relative.split("/")[-1], content), **extra},
                       headers=headers)


def test_upload_find_and_read(root: User, client: Client) -> None:
    admin = bearer(root, scope=ApiToken.Scope.ADMIN)
    assert _upload(client, "verra/projects.csv", {}).status_code == 401
    reader = bearer(root, scope=ApiToken.Scope.READ)
    assert _upload(client, "verra/projects.csv", reader).status_code == 403
    created = _upload(client, "american-carbon-registry/projects.csv", admin, registry="acr")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["format"], body["rows_read"], body["created"]) == ("acr-projects", 20, 20)
    carb = _upload(client, "arb/nc-arboc_issuance_sheet3.csv", admin)
    assert carb.json()["format"] == "carb-issuances"
    wrong = _upload(client, "verra/projects.csv", admin, registry="nowhere")
    assert wrong.status_code == 422 and wrong.json()["code"] == "OBSERVER_REGISTRY_UNKNOWN"
    refused = client.post(f"{API}/observer/imports", {"file": SimpleUploadedFile("x.csv", b"a,b\n1,2\n")}, headers=admin)
    assert refused.status_code == 422 and refused.json()["code"] == "OBSERVER_FORMAT_UNKNOWN"

    report = client.get(f"{API}/observer/imports/{body['uid']}", headers=admin)
    assert report.status_code == 200 and report.json()["sha256"] == body["sha256"]
    assert client.get(f"{API}/observer/imports/{body['uid']}").status_code == 401

    run = client.post(f"{API}/observer/findings/run", data={}, content_type="application/json", headers=admin)
    assert run.status_code == 200 and run.json()["duplicate_project"] >= 1
    findings = client.get(f"{API}/observer/findings", {"kind": "duplicate_project"})
    assert findings.status_code == 200
    assert any(f["evidence"].get("cross_reference") == "acr:ACR1007" for f in findings.json()["items"])
    balances = client.get(f"{API}/observer/reconcile", {"registry": "carb"}).json()
    assert balances and all(b["registry"] == "carb" for b in balances)
    projects = client.get(f"{API}/observer/projects", {"registry": "acr", "limit": 5}).json()
    assert projects["count"] == 20 and projects["items"][0]["registry_name"] == "American Carbon Registry"
