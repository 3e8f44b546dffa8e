"""Corrections to projects: a rejected project is reopened and resubmitted;
after submission its developer corrects the fields accounting does not rely
on (each change in the change log and the ledger) and nothing else; a
mistaken upload is taken back by its uploader while nothing cites it, and
the registry keeps that it existed."""

from __future__ import annotations

import pytest
from django.test import Client

from tonne import testing
from tonne.core.errors import PermissionDenied, ValidationFailed
from tonne.ledger.models import LedgerEntry, LedgerHead
from tonne.projects import selectors
from tonne.projects import services as projects
from tonne.projects.models import Document, Project, ProjectChange

pytestmark = pytest.mark.django_db
API = "/api/v1"


def _size() -> int:
    return LedgerHead.objects.get(pk=1).size


def test_rejected_project_is_reopened_corrected_and_resubmitted(registry: testing.Registry) -> None:
    reg = registry
    project = projects.register_project(actor=reg.developer, data=testing.project_fields(), vvb=str(reg.vvb_org.uid))
    project = projects.change_project_status(actor=reg.developer, project=project, status="submitted")
    project = projects.change_project_status(actor=reg.admin, project=project, status="rejected",
                                             reason="Estimates lack a baseline; correct and resubmit.")
    with pytest.raises(ValidationFailed) as exc:  # corrected only once reopened
        projects.update_project(actor=reg.developer, project=project, data={"description": "x"})
    assert exc.value.code == "PROJECT_NOT_EDITABLE"
    with pytest.raises(PermissionDenied):
        projects.change_project_status(actor=reg.other_developer, project=project, status="draft")
    with pytest.raises(PermissionDenied):
        projects.change_project_status(actor=reg.admin, project=project, status="draft")
    project = projects.change_project_status(actor=reg.developer, project=project, status="draft")
    project = projects.update_project(actor=reg.developer, project=project, data={
        "estimations": [{"start_date": "2022-01-01", "end_date": "2022-12-31", "unit_count": 40000}]})
    project = projects.change_project_status(actor=reg.developer, project=project, status="submitted")
    assert list(project.status_history.values_list("to_status", flat=True)) == ["submitted", "rejected", "draft", "submitted"]
    assert projects.change_project_status(actor=reg.admin, project=project, status="approved").status == "approved"


def test_withdrawn_and_completed_projects_stay_closed(registry: testing.Registry) -> None:
    reg = registry
    project = projects.register_project(actor=reg.developer, data=testing.project_fields(), vvb=str(reg.vvb_org.uid))
    project = projects.change_project_status(actor=reg.developer, project=project, status="withdrawn")
    with pytest.raises(ValidationFailed) as exc:
        projects.change_project_status(actor=reg.developer, project=project, status="draft")
    assert exc.value.code == "PROJECT_TRANSITION_NOT_ALLOWED"


def test_registered_project_corrects_its_contact_with_a_change_log(registry: testing.Registry) -> None:
    reg = registry
    project = testing.registered_project(reg, grievance_contact="old@example.org")
    size = _size()
    project = projects.update_project(actor=reg.developer, project=project,
                                      data={"grievance_contact": "new@example.org", "description": "Now 40 ha."},
                                      reason="The office moved.")
    assert project.grievance_contact == "new@example.org"
    [change] = ProjectChange.objects.filter(project=project)
    assert change.changes == [
        {"field": "description", "before": "Restoring mangroves along the lagoon.", "after": "Now 40 ha."},
        {"field": "grievance_contact", "before": "old@example.org", "after": "new@example.org"},
    ]
    assert change.reason == "The office moved." and change.actor == reg.developer
    assert _size() == size + 1
    entry = LedgerEntry.objects.filter(kind="project.amended").get()
    assert entry.seq == size  # numbered from zero
    # Children that accounting does not rely on may change too, and are logged.
    projects.update_project(actor=reg.developer, project=project,
                            data={"stakeholders": [{"name": "Village council", "type": "Owner"}]})
    assert ProjectChange.objects.filter(project=project).count() == 2


@pytest.mark.parametrize("field,value", [
    ("unit_class", "XYZ"), ("buffer_basis_points", 100), ("host_party", "SN"), ("sectoral_scope", 3),
    ("crediting_period_end", "2040-12-31"), ("name", "Another name"),
    ("estimations", [{"start_date": "2022-01-01", "end_date": "2022-12-31", "unit_count": 9}]),
    ("methodologies", []),
])
def test_fields_accounting_relies_on_are_refused(registry: testing.Registry, field: str, value: object) -> None:
    reg = registry
    project = testing.registered_project(reg)
    size = _size()
    with pytest.raises(ValidationFailed) as exc:
        projects.update_project(actor=reg.developer, project=project, data={"description": "ok", field: value})
    assert exc.value.code == "PROJECT_FIELD_LOCKED" and exc.value.field == field
    assert _size() == size and not ProjectChange.objects.exists()
    assert Project.objects.get(pk=project.pk).description == project.description


def test_correction_refusals(registry: testing.Registry) -> None:
    reg = registry
    project = testing.registered_project(reg)
    with pytest.raises(PermissionDenied):
        projects.update_project(actor=reg.other_developer, project=project, data={"description": "mine"})
    with pytest.raises(ValidationFailed) as exc:
        projects.update_project(actor=reg.developer, project=project, data={"description": project.description})
    assert exc.value.code == "NOTHING_CHANGED"
    with pytest.raises(ValidationFailed) as exc:
        projects.update_project(actor=reg.developer, project=project, data={"grievance_contact": "x" * 301})
    assert exc.value.code == "TEXT_TOO_LONG"
    assert not ProjectChange.objects.exists()


def _upload(reg: testing.Registry, project: Project, content: bytes = b"a mistaken file") -> Document:
    return projects.upload_document(actor=reg.developer, project=project, kind="other", title="Wrong map",
                                    filename="map.txt", content=content, content_type="text/plain")


def test_uploader_removes_a_mistaken_upload_which_the_ledger_keeps(registry: testing.Registry, settings, tmp_path) -> None:  # noqa: ANN001
    settings.TONNE_DOCUMENTS_DIR = tmp_path
    reg = registry
    project = testing.registered_project(reg)
    doc = _upload(reg, project)
    with pytest.raises(ValidationFailed) as exc:
        projects.remove_document(actor=reg.developer, document=doc, reason="  ")
    assert exc.value.code == "REASON_REQUIRED"
    with pytest.raises(PermissionDenied) as denied:  # not its uploader
        projects.remove_document(actor=reg.admin, document=doc, reason="tidy")
    assert denied.value.code == "NOT_THE_UPLOADER"
    projects.remove_document(actor=reg.developer, document=doc, reason="Uploaded the wrong map.")
    doc.refresh_from_db()
    assert doc.removed_by == reg.developer and doc.removal_reason == "Uploaded the wrong map."
    entry = LedgerEntry.objects.filter(kind="document.removed").get()
    assert LedgerEntry.objects.filter(kind="document.uploaded", seq__lt=entry.seq).exists()  # history kept
    assert not selectors.documents_for(None, project).filter(pk=doc.pk).exists()
    assert not selectors.documents_for(reg.developer, project).filter(pk=doc.pk).exists()
    assert list(selectors.removed_documents(reg.developer, project)) == [doc]
    assert not selectors.removed_documents(None, project).exists()
    with pytest.raises(ValidationFailed) as exc:
        projects.remove_document(actor=reg.developer, document=doc, reason="again")
    assert exc.value.code == "DOCUMENT_ALREADY_REMOVED"
    client = Client()
    assert client.get(f"{API}/documents/{doc.uid}/content").status_code == 404
    assert client.get(f"{API}/projects/{project.project_id}/documents").json() == []


def test_a_document_relied_upon_cannot_be_removed(registry: testing.Registry, settings, tmp_path) -> None:  # noqa: ANN001
    settings.TONNE_DOCUMENTS_DIR = tmp_path
    reg = registry
    project = projects.register_project(actor=reg.developer, data=testing.project_fields(), vvb=str(reg.vvb_org.uid))
    project = projects.change_project_status(actor=reg.developer, project=project, status="submitted")
    project = projects.change_project_status(actor=reg.admin, project=project, status="approved")
    report = projects.upload_document(actor=reg.vvb, project=project, kind="validation_report", title="VR",
                                      filename="vr.txt", content=b"validation", content_type="text/plain")
    projects.change_project_status(actor=reg.vvb, project=project, status="validated",
                                   validation={"report": str(report.uid)})
    size = _size()
    with pytest.raises(ValidationFailed) as exc:
        projects.remove_document(actor=reg.vvb, document=report, reason="oops")
    assert exc.value.code == "DOCUMENT_RELIED_UPON"
    assert _size() == size and Document.objects.get(pk=report.pk).removed_at is None


def test_removal_through_the_api(client: Client, registry: testing.Registry, settings, tmp_path) -> None:  # noqa: ANN001
    settings.TONNE_DOCUMENTS_DIR = tmp_path
    reg = registry
    project = testing.registered_project(reg)
    doc = _upload(reg, project)
    client.force_login(reg.other_developer)
    url = f"{API}/documents/{doc.uid}/removal"
    assert client.post(url, {"reason": "x"}, content_type="application/json").status_code in (403, 404)
    client.force_login(reg.developer)
    response = client.post(url, {"reason": "wrong file"}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert client.post(url, {"reason": "again"}, content_type="application/json").status_code == 404
    response = client.patch(f"{API}/projects/{project.project_id}", {"link": "https://example.org/new",
                                                                      "change_reason": "new site"},
                            content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["changes"][0]["reason"] == "new site"
    response = client.patch(f"{API}/projects/{project.project_id}", {"unit_class": "ABC"}, content_type="application/json")
    assert response.status_code == 422 and response.json()["code"] == "PROJECT_FIELD_LOCKED"
