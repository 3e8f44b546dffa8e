"""The workspace's corrections: correct or withdraw a monitoring report,
reopen a rejected project, correct a submitted project's contact (change
log), remove a mistaken upload; refusals show the service's code and change nothing."""

from __future__ import annotations

import io

import pytest
from django.test import Client

from tonne import testing
from tonne.ledger.models import LedgerHead
from tonne.mrv import services as mrv
from tonne.mrv.models import MonitoringReport
from tonne.projects import services as projects
from tonne.projects.models import Document, Project, ProjectChange

pytestmark = pytest.mark.django_db
W = "/workspace"


def _client(user) -> Client:  # noqa: ANN001
    client = Client()
    client.force_login(user)
    return client


def _size() -> int:
    return LedgerHead.objects.get(pk=1).size


def test_developer_corrects_then_withdraws_a_report(registry: testing.Registry) -> None:
    reg = registry
    project = testing.registered_project(reg)
    report = mrv.submit_report(actor=reg.developer, project=project, period_start="2022-01-01", period_end="2022-12-31",
                               vintages=[{"vintage": 2022, "quantity": 700}], vvb=str(reg.vvb_org.uid))
    dev = _client(reg.developer)
    body = dev.get(f"{W}/reports/{report.uid}/").content.decode()
    assert "Correct the report" in body and "Withdraw the report" in body
    assert "Correct the report" not in _client(reg.vvb).get(f"{W}/reports/{report.uid}/").content.decode()
    edit = f"{W}/reports/{report.uid}/edit/"
    form = dev.get(edit).content.decode()
    assert 'value="700"' in form and 'value="2022-01-01"' in form
    data = {"period_start": "2022-01-01", "period_end": "2022-06-30", "vvb": str(reg.vvb_org.uid),
            "reason": "Half a year", "vintages-TOTAL_FORMS": "1", "vintages-INITIAL_FORMS": "0",
            "vintages-0-vintage": "2023", "vintages-0-quantity": "300"}
    size = _size()
    response = dev.post(edit, data)
    assert response.status_code == 422 and "VINTAGE_OUTSIDE_PERIOD" in response.content.decode()
    assert _size() == size
    data["vintages-0-vintage"] = "2022"
    assert dev.post(edit, data).status_code == 302
    report.refresh_from_db()
    assert report.period_end.isoformat() == "2022-06-30"
    assert list(report.vintages.values_list("claimed", flat=True)) == [300]
    assert _client(reg.other_developer).get(edit).status_code in (403, 404)
    response = dev.post(f"{W}/reports/{report.uid}/withdraw/", {"reason": "Wrong meter", "confirm": "on"})
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == MonitoringReport.Status.WITHDRAWN
    assert dev.get(edit).status_code == 404
    response = dev.post(f"{W}/reports/{report.uid}/withdraw/", {"reason": "again"})
    assert response.status_code == 422 and "REPORT_NOT_PENDING" in response.content.decode()


def test_rejected_project_reopens_and_submitted_project_corrects_its_contact(registry: testing.Registry) -> None:
    reg = registry
    project = projects.register_project(actor=reg.developer, data=testing.project_fields(), vvb=str(reg.vvb_org.uid))
    project = projects.change_project_status(actor=reg.developer, project=project, status="submitted")
    project = projects.change_project_status(actor=reg.admin, project=project, status="rejected", reason="Resubmit with a baseline.")
    dev = _client(reg.developer)
    page = dev.get(f"{W}/projects/{project.project_id}/").content.decode()
    assert "Reopen as a draft to correct and resubmit" in page
    assert dev.post(f"{W}/projects/{project.project_id}/status/", {"status": "draft"}).status_code == 302
    assert Project.objects.get(pk=project.pk).status == "draft"
    assert dev.post(f"{W}/projects/{project.project_id}/status/", {"status": "submitted"}).status_code == 302

    amend = f"{W}/projects/{project.project_id}/amend/"
    assert "Correct contact and description" in dev.get(f"{W}/projects/{project.project_id}/").content.decode()
    response = dev.post(amend, {"link": project.link, "description": project.description,
                                "grievance_contact": "contact@example.org", "change_reason": "New desk"})
    assert response.status_code == 302
    assert ProjectChange.objects.get().changes == [{"field": "grievance_contact", "before": "", "after": "contact@example.org"}]
    page = dev.get(f"{W}/projects/{project.project_id}/").content.decode()
    assert "Change log" in page and "contact@example.org" in page and "New desk" in page
    response = dev.post(amend, {"link": project.link, "description": project.description,
                                "grievance_contact": "contact@example.org"})
    assert response.status_code == 422 and "NOTHING_CHANGED" in response.content.decode()
    assert _client(reg.other_developer).get(amend).status_code in (403, 404)


def test_uploader_removes_a_mistaken_upload(registry: testing.Registry, settings, tmp_path) -> None:  # noqa: ANN001
    settings.TONNE_DOCUMENTS_DIR = tmp_path
    reg = registry
    project = testing.registered_project(reg)
    dev = _client(reg.developer)
    upload = io.BytesIO(b"%PDF-1.4 wrong map")
    upload.name = "map.pdf"
    dev.post(f"{W}/projects/{project.project_id}/documents/", {"file": upload, "kind": "other", "title": "Wrong map",
                                                                "is_public": "on"})
    doc = Document.objects.get()
    assert "Remove (uploaded by mistake)" in dev.get(f"{W}/projects/{project.project_id}/").content.decode()
    assert "Remove (uploaded by mistake)" not in _client(reg.admin).get(f"{W}/projects/{project.project_id}/").content.decode()
    url = f"{W}/projects/{project.project_id}/documents/{doc.uid}/removal/"
    response = dev.post(url, {"reason": ""})
    assert response.status_code == 422 and "REASON_REQUIRED" in response.content.decode()
    response = _client(reg.admin).post(url, {"reason": "tidy"})
    assert response.status_code == 403 and "NOT_THE_UPLOADER" in response.content.decode()
    assert dev.post(url, {"reason": "Uploaded the wrong map."}).status_code == 302
    page = dev.get(f"{W}/projects/{project.project_id}/").content.decode()
    assert "Removed documents" in page and "Uploaded the wrong map." in page and doc.sha256 in page
    assert "Wrong map" not in Client().get(f"/projects/{project.project_id}/").content.decode()


def test_developer_instructs_where_units_go_at_issuance(registry: testing.Registry) -> None:
    reg = registry
    project = testing.registered_project(reg)
    report = mrv.submit_report(actor=reg.developer, project=project, period_start="2022-01-01", period_end="2022-12-31",
                               vintages=[{"vintage": 2022, "quantity": 700}], vvb=str(reg.vvb_org.uid))
    dev = _client(reg.developer)
    assert "Where your units go at issuance" in dev.get(f"{W}/reports/{report.uid}/").content.decode()
    assert "Where your units go at issuance" not in _client(reg.vvb).get(f"{W}/reports/{report.uid}/").content.decode()
    url = f"{W}/reports/{report.uid}/instruction/"
    line = {"vintage": "2022", "destination": "retire", "quantity": "50", "beneficiary": "Air Lagune", "purpose": "corsia",
            "compliance_period": "2024-2026", "using_entity": "Air Lagune SA"}
    response = dev.post(url, {**line, "compliance_period": "soon"})
    assert response.status_code == 422 and "COMPLIANCE_PERIOD_INVALID" in response.content.decode()
    assert dev.post(url, line).status_code == 302
    assert dev.post(url, {**line, "destination": reg.developer_account.identifier, "quantity": "100"}).status_code == 302
    page = dev.get(f"{W}/reports/{report.uid}/").content.decode()
    assert "Air Lagune SA" in page and reg.developer_account.identifier in page
    assert [len(v) for v in report.vintages.values_list("instruction", flat=True)] == [2]
    assert dev.post(url, {"clear": "1"}).status_code == 302
    assert list(report.vintages.values_list("instruction", flat=True)) == [[]]
