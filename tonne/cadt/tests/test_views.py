from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tonne import testing
from tonne.cadt import sync
from tonne.cadt.models import ImportedRecord
from tonne.cadt.tests.conftest import REFERENCE

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_outbound")]


def test_upload_page_imports_and_reports(registry: testing.Registry, client: Client) -> None:
    assert client.get("/interop/cadt/").status_code == 302  # sign in first
    client.force_login(registry.developer)
    assert client.get("/interop/cadt/").status_code == 403
    client.force_login(registry.admin)
    sync.add_destination(actor=registry.admin, name="main", url="http://127.0.0.1:9")
    page = client.get("/interop/cadt/")
    assert page.status_code == 200 and b"main" in page.content
    content = (REFERENCE / "new-project.json").read_bytes()
    ok = client.post("/interop/cadt/", {"file": SimpleUploadedFile("p.json", content)})
    assert ok.status_code == 200 and b"1 new" in ok.content
    bad = content.replace(b'"Inside NDC"', b'"Perhaps"')
    refused = client.post("/interop/cadt/", {"file": SimpleUploadedFile("p.json", bad.replace(b"Sungei", b"Other"))})
    assert refused.status_code == 422 and b"PICKLIST_VALUE_NOT_ALLOWED" in refused.content
    assert b"coveredByNDC" in refused.content and ImportedRecord.objects.count() == 1


def test_admin_pages_show_sync_state_without_secrets(cadt_reg: testing.Registry, client: Client) -> None:
    sync.add_destination(actor=cadt_reg.admin, name="main", url="http://127.0.0.1:9", api_key="top-secret-key")
    client.force_login(cadt_reg.root)
    page = client.get("/admin/cadt/syncdestination/")
    assert page.status_code == 200 and b"main" in page.content
    dest_id = page.context["cl"].result_list[0].pk
    detail = client.get(f"/admin/cadt/syncdestination/{dest_id}/change/")
    assert detail.status_code == 200 and b"top-secret-key" not in detail.content
