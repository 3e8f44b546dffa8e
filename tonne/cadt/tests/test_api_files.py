"""CAD Trust export and import over HTTP."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tonne import testing
from tonne.cadt.models import ImportedRecord
from tonne.cadt.tests.conftest import REFERENCE
from tonne.core.tests.test_api_core import API, assert_problem, bearer
from tonne.organisations.models import ApiToken

pytestmark = pytest.mark.django_db


def test_export_in_every_format_with_a_cursor(cadt_reg: testing.Registry, client: Client) -> None:
    response = client.get(f"{API}/cadt/export")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    doc = json.loads(response.content)
    assert doc["project"][0]["projectName"] == cadt_reg.extra["project"].name
    cursor = int(response["X-Tonne-Cursor"])
    again = client.get(f"{API}/cadt/export", {"since": cursor})
    assert not any(json.loads(again.content).values())
    xlsx = client.get(f"{API}/cadt/export", {"format": "xlsx", "model": "1"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert 'filename="cadt-v1.xlsx"' in xlsx["Content-Disposition"]
    csv = client.get(f"{API}/cadt/export", {"format": "csv", "table": "unit"})
    assert csv["Content-Type"].startswith("text/csv") and csv.content.startswith(b"cadTrustUnitId,")


def test_export_refusals(cadt_reg: testing.Registry, client: Client) -> None:
    assert_problem(client.get(f"{API}/cadt/export", {"format": "pdf"}), 422, "REQUEST_INVALID")
    assert_problem(client.get(f"{API}/cadt/export", {"since": -3}), 422, "REQUEST_INVALID")
    assert_problem(client.get(f"{API}/cadt/export", {"table": "pizza"}), 422, "CADT_TABLE_UNKNOWN")


def _upload(client: Client, content: bytes, name: str = "file.json", headers: dict | None = None, **extra):
    return client.post(
        f"{API}/cadt/import", {"file": SimpleUploadedFile(name, content), **extra}, headers=headers or {}
    )


def test_import_over_http(registry: testing.Registry, client: Client) -> None:
    content = (REFERENCE / "new-project.json").read_bytes()
    headers = bearer(registry.admin, scope=ApiToken.Scope.ADMIN)
    first = _upload(client, content, "new-project.json", headers)
    assert first.status_code == 201, first.content
    assert first.json()["created"] == 1 and first.json()["version"] == "1"
    again = _upload(client, content, "new-project.json", headers)
    assert again.status_code == 200 and again.json()["unchanged"] == 1


def test_import_refusals_change_nothing(registry: testing.Registry, client: Client) -> None:
    content = (REFERENCE / "new-project.json").read_bytes()
    assert_problem(_upload(client, content), 401, "NOT_AUTHENTICATED")
    session = Client()
    session.force_login(registry.developer)
    assert_problem(_upload(session, content), 403, "NOT_REGISTRY_ADMINISTRATOR")
    read_only = bearer(registry.admin, scope=ApiToken.Scope.READ)
    assert_problem(_upload(client, content, headers=read_only), 403, "TOKEN_SCOPE_INSUFFICIENT")
    trade = bearer(registry.admin, scope=ApiToken.Scope.TRADE)
    assert_problem(_upload(client, content, headers=trade), 403, "TOKEN_SCOPE_INSUFFICIENT")
    admin = bearer(registry.admin, scope=ApiToken.Scope.ADMIN)
    assert_problem(_upload(client, b"\x00garbage", "x.bin", admin), 422, "CADT_FILE_UNREADABLE")
    bad = json.loads(content)
    bad["coveredByNDC"] = "Maybe"
    body = assert_problem(_upload(client, json.dumps(bad).encode(), "p.json", admin), 422, "CADT_IMPORT_REFUSED")
    (error,) = body["details"]["errors"]
    assert error["field"] == "coveredByNDC" and error["code"] == "PICKLIST_VALUE_NOT_ALLOWED"
    assert "'Maybe'" in error["message"] and "Inside NDC" in body["details"]["allowed_values"]["coveredByNDC"]
    assert ImportedRecord.objects.count() == 0


def test_export_and_import_are_in_the_openapi(client: Client) -> None:
    paths = client.get(f"{API}/openapi.json").json()["paths"]
    assert "get" in paths["/api/v1/cadt/export"] and "post" in paths["/api/v1/cadt/import"]
