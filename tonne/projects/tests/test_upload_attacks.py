"""Hostile uploads: programs, HTML, SVG and script are refused by their
content, whatever their name or declared type; what is accepted is served as
a download that no browser runs (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tonne import testing
from tonne.core import uploads
from tonne.core.errors import ValidationFailed
from tonne.core.tests.test_api_core import API, assert_problem
from tonne.kyc import services as kyc

pytestmark = pytest.mark.django_db


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


HOSTILE = {
    "setup.exe": b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(64),
    "page.html": b"<!DOCTYPE html><html><script>fetch('/api/v1/tokens')</script></html>",
    "pdd.pdf": b"  <html><body onload=alert(1)>",  # a PDF by name only
    "map.svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    "data.xml": b'<?xml version="1.0"?><x/>',
    "report.docm": _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>",
                         "word/vbaProject.bin": b"macro"}),
    "fake.docx": _zip({"[Content_Types].xml": b"<Types/>"}),
    "broken.zip": b"PK\x03\x04 not really a zip",
    "binary.bin": bytes(range(256)),
}


def _upload(client: Client, pid: str, name: str, content: bytes, declared: str):  # noqa: ANN202
    return client.post(f"{API}/projects/{pid}/documents",
                       {"file": SimpleUploadedFile(name, content, content_type=declared), "kind": "other"})


def test_hostile_uploads_are_refused_by_content(registry: testing.Registry, settings, tmp_path) -> None:  # noqa: ANN001
    settings.TONNE_DOCUMENTS_DIR = tmp_path
    pid = testing.registered_project(registry).project_id
    client = Client()
    client.force_login(registry.developer)
    for name, content in HOSTILE.items():
        assert_problem(_upload(client, pid, name, content, "application/pdf"), 422, "DOCUMENT_TYPE_NOT_ALLOWED")
    with pytest.raises(ValidationFailed) as exc:
        kyc.upload_document(actor=registry.developer, organisation=registry.developer_org, kind="other",
                            filename="id.html", content=HOSTILE["page.html"], content_type="application/pdf")
    assert exc.value.code == "DOCUMENT_TYPE_NOT_ALLOWED"
    settings.TONNE_MAX_DOCUMENT_BYTES = 10
    assert_problem(_upload(client, pid, "big.pdf", b"%PDF-1.7 " + b"x" * 10, "application/pdf"), 422,
                   "DOCUMENT_TOO_LARGE")


def test_script_declared_as_javascript_is_served_as_a_download(registry: testing.Registry, settings,  # noqa: ANN001
                                                              tmp_path) -> None:
    settings.TONNE_DOCUMENTS_DIR = tmp_path
    pid = testing.registered_project(registry).project_id
    client = Client()
    client.force_login(registry.developer)
    response = _upload(client, pid, "app.js", b"alert(document.cookie)", "application/javascript")
    assert response.status_code == 201, response.content
    doc = response.json()
    assert doc["content_type"] == "text/plain"
    download = Client().get(doc["download"])
    assert download.status_code == 200
    assert download["Content-Type"] == "text/plain; charset=utf-8"
    assert download["Content-Disposition"].startswith("attachment")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download["Content-Security-Policy"]


def test_allowed_types_are_found_in_the_content() -> None:
    geojson = json.dumps({"type": "FeatureCollection", "features": []}).encode()
    found = {
        b"%PDF-1.7\n": uploads.PDF,
        b"\x89PNG\r\n\x1a\n" + bytes(8): uploads.PNG,
        b"\xff\xd8\xff\xe0" + bytes(8): uploads.JPEG,
        b"GIF89a" + bytes(8): uploads.GIF,
        b"RIFF\x00\x00\x00\x00WEBPVP8 ": uploads.WEBP,
        _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"}): uploads.DOCX,
        _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<w/>"}): uploads.XLSX,
        _zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"}): uploads.ODF[0],
        _zip({"plots/a.csv": b"1,2"}): uploads.ZIP,
        geojson: uploads.GEOJSON,
        "Rapport de surveillance, été 2024\n".encode(): uploads.TEXT,
        b'{"not": "geo"}': uploads.TEXT,
    }
    for content, kind in found.items():
        assert uploads.check(content) == kind, content[:20]


def test_random_bytes_named_pdf_are_refused_at_every_door(registry: testing.Registry, settings, tmp_path) -> None:  # noqa: ANN001
    """The project page's upload, the monitoring-report form and the API all
    decide by content: random bytes named .pdf, an .exe and an .html are
    refused with one code, and nothing is stored or published."""
    import random

    from tonne.projects.models import Document

    settings.TONNE_DOCUMENTS_DIR = tmp_path
    project = testing.registered_project(registry)
    noise = random.Random(20).randbytes(4096)
    client = Client()
    client.force_login(registry.developer)
    for name, content in (("report.pdf", noise), ("setup.exe", HOSTILE["setup.exe"]), ("page.html", HOSTILE["page.html"])):
        upload = io.BytesIO(content)
        upload.name = name
        response = client.post(f"/workspace/projects/{project.project_id}/documents/", {"file": upload, "kind": "design"})
        assert response.status_code == 422 and "DOCUMENT_TYPE_NOT_ALLOWED" in response.content.decode(), name
        upload = io.BytesIO(content)
        upload.name = name
        response = client.post(f"/workspace/projects/{project.project_id}/reports/new/", {
            "period_start": "2022-01-01", "period_end": "2022-12-31", "vvb": str(registry.vvb_org.uid),
            "vintages-TOTAL_FORMS": "1", "vintages-INITIAL_FORMS": "0", "vintages-0-vintage": "2022",
            "vintages-0-quantity": "10", "document": upload})
        assert response.status_code == 422 and "DOCUMENT_TYPE_NOT_ALLOWED" in response.content.decode(), name
        assert_problem(_upload(client, project.project_id, name, content, "application/pdf"), 422, "DOCUMENT_TYPE_NOT_ALLOWED")
    assert not Document.objects.exists()
    assert "report.pdf" not in Client().get(f"/projects/{project.project_id}/").content.decode()
