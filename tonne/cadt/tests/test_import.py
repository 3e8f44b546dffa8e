from __future__ import annotations

import copy
import io
import json

import pytest
from django.db import transaction
from openpyxl import Workbook, load_workbook

from tonne import testing
from tonne.cadt import selectors, services
from tonne.cadt.models import ImportBatch, ImportedRecord, ImportedUnitRange
from tonne.cadt.tests.conftest import REFERENCE, cadt_registry
from tonne.core.errors import PermissionDenied, ValidationFailed
from tonne.ledger.models import LedgerEntry

pytestmark = pytest.mark.django_db


def _state() -> tuple[int, int, int, int]:
    return (
        ImportBatch.objects.count(),
        ImportedRecord.objects.count(),
        ImportedUnitRange.objects.count(),
        LedgerEntry.objects.count(),
    )


def _exported_elsewhere(version: str, file_format: str) -> dict[str, bytes]:
    """Files another registry exported: built, exported, then rolled back."""
    files = {}
    with transaction.atomic():
        cadt_registry()
        for v in ("1", "2"):
            for f in ("json", "csv", "xlsx"):
                doc, _ = selectors.export_document(v)
                files[f"{v}.{f}"] = selectors.render(v, f, doc)
        transaction.set_rollback(True)
    return files


@pytest.fixture
def foreign_files(db: None) -> dict[str, bytes]:
    return _exported_elsewhere("2", "json")


@pytest.mark.parametrize("name", ["2.json", "2.csv", "2.xlsx", "1.json", "1.csv", "1.xlsx"])
def test_round_trip_export_import_export_gives_identical_files(foreign_files: dict[str, bytes], name: str) -> None:
    version, file_format = name.split(".")
    reg = testing.build_registry()
    assert ImportedRecord.objects.count() == 0
    report = services.import_file(actor=reg.admin, content=foreign_files[name], filename=f"other.{file_format}")
    assert report.created > 0 and report.updated == 0 and report.version == version
    doc, _ = selectors.export_document(version)
    assert selectors.render(version, file_format, doc) == foreign_files[name]
    # The same file again changes nothing.
    before = _state()
    again = services.import_file(actor=reg.admin, content=foreign_files[name], filename=f"other.{file_format}")
    assert not again.changed and again.unchanged == report.created
    assert _state() == before


def test_imported_records_keep_origin_identifiers_and_are_marked(foreign_files: dict[str, bytes]) -> None:
    reg = testing.build_registry()
    services.import_file(actor=reg.admin, content=foreign_files["2.json"], filename="other.json")
    doc = json.loads(foreign_files["2.json"])
    project = ImportedRecord.objects.get(table="project")
    assert project.record_id == doc["project"][0]["cadTrustProjectId"]
    assert project.org_uid == doc["project"][0]["orgUid"]
    assert project.origin_registry == doc["project"][0]["projectRegistryName"]
    location = ImportedRecord.objects.get(table="location")
    assert location.parent_id == project.record_id and location.origin_registry == project.origin_registry
    batch = ImportBatch.objects.get()
    assert batch.imported_by == reg.admin and batch.model_version == "2"
    entry = LedgerEntry.objects.get(seq=batch.ledger_seq)
    assert entry.kind == "cadt.imported" and batch.sha256 in entry.body
    ranges = list(ImportedUnitRange.objects.all())
    assert len(ranges) == len(doc["unit"]) and all(r.namespace == "tonne:CI" for r in ranges)


def test_reimporting_own_export_changes_nothing(cadt_reg: testing.Registry) -> None:
    for version in ("1", "2"):
        for file_format in ("json", "csv", "xlsx"):
            doc, _ = selectors.export_document(version)
            before = _state()
            report = services.import_file(actor=cadt_reg.admin, content=selectors.render(version, file_format, doc))
            assert not report.changed and report.own > 0
            assert _state() == before


def test_own_record_cannot_be_changed_by_an_import(cadt_reg: testing.Registry) -> None:
    doc, _ = selectors.export_document("2")
    doc["project"][0]["projectName"] = "Renamed elsewhere"
    with pytest.raises(ValidationFailed) as exc:
        services.import_file(actor=cadt_reg.admin, content=json.dumps(doc).encode())
    assert exc.value.details["errors"][0]["code"] == "OWN_RECORD_CONFLICT"


def test_unit_overlapping_units_issued_here_is_refused_naming_both(cadt_reg: testing.Registry) -> None:
    doc, _ = selectors.export_document("2")
    unit = copy.deepcopy(doc["unit"][0])
    unit["cadTrustUnitId"] = "0b0e3f4e-1111-4c1c-9d9d-000000000001"
    before = _state()
    with pytest.raises(ValidationFailed) as exc:
        services.import_file(actor=cadt_reg.admin, content=json.dumps({"unit": [unit]}).encode())
    assert exc.value.code == "CADT_IMPORT_REFUSED"
    (overlap,) = exc.value.details["double_counting"]
    assert overlap["code"] == "SERIAL_RANGE_DOUBLE_COUNTED"
    assert overlap["row"]["record"] == unit["cadTrustUnitId"]
    assert overlap["known"]["source"] == "issued_here"
    assert overlap["known"]["project"] == cadt_reg.extra["project"].project_id
    assert _state() == before


def test_unit_overlapping_an_imported_unit_is_refused(foreign_files: dict[str, bytes]) -> None:
    reg = testing.build_registry()
    services.import_file(actor=reg.admin, content=foreign_files["2.json"])
    doc = json.loads(foreign_files["2.json"])
    unit = copy.deepcopy(doc["unit"][0])
    unit["cadTrustUnitId"] = "0b0e3f4e-1111-4c1c-9d9d-000000000002"
    before = _state()
    with pytest.raises(ValidationFailed) as exc:
        services.import_file(actor=reg.admin, content=json.dumps({"unit": [unit]}).encode())
    (overlap,) = exc.value.details["double_counting"]
    assert overlap["known"]["source"] == "imported"
    assert overlap["known"]["record"] == doc["unit"][0]["cadTrustUnitId"]
    assert overlap["known"]["origin_registry"] == doc["project"][0]["projectRegistryName"]
    assert _state() == before


def test_overlapping_units_in_one_file_are_refused(registry: testing.Registry) -> None:
    wb = _sample_workbook("units_workbook", registry)
    ws = wb["units"]
    ws.append(["NEW-9", "SAMPLE-UNIT1-BLK-4000-4500", "4000", "4500", 501, "Removal - nature", 2024, "Held",
               "Dup", "2024-06-15", None, None, None, None, "tCO2e", None, None, None, None, None,
               ws.cell(row=2, column=21).value])
    with pytest.raises(ValidationFailed) as exc:
        services.import_file(actor=registry.admin, content=_bytes(wb))
    (overlap,) = exc.value.details["double_counting"]
    assert overlap["known"]["source"] == "file" and overlap["known"]["row"] == 2
    assert overlap["row"]["row"] == ws.max_row


@pytest.mark.parametrize("name", ["new-project.json", "update-project.json", "new-unit.json", "update-unit.json"])
def test_v1_reference_payloads_import(registry: testing.Registry, name: str) -> None:
    content = (REFERENCE / name).read_bytes()
    report = services.import_file(actor=registry.admin, content=content, filename=name)
    assert report.version == "1" and report.created == 1
    record = ImportedRecord.objects.get()
    payload = json.loads(content)
    if "unitBlockStart" in payload:
        assert record.table == "units"
        assert record.serial_range.namespace == "AXJJFSLGHSHEJ"
        # The reference unit says 10 units for AXJJ…1000 to …1010: accepted, noted.
        assert report.warnings[0]["field"] == "unitCount"
        assert record.data["issuance"]["verificationBody"] == payload["issuance"]["verificationBody"]
    else:
        assert record.table == "projects"
        assert record.origin_registry == "Singapore National Registry"
        assert len(record.data["projectLocations"]) == len(payload.get("projectLocations", []))
    assert not services.import_file(actor=registry.admin, content=content).changed


def test_v1_project_update_replaces_the_earlier_version(registry: testing.Registry) -> None:
    services.import_file(actor=registry.admin, content=(REFERENCE / "new-project.json").read_bytes())
    report = services.import_file(actor=registry.admin, content=(REFERENCE / "update-project.json").read_bytes())
    assert report.updated == 1 and report.created == 0
    assert ImportedRecord.objects.get().data["projectName"] == "UPDATED"


def _sample_workbook(which: str, reg: testing.Registry) -> Workbook:
    """The CAD Trust sample workbook, its {{...}} placeholders filled with records of the same file."""
    layout = json.loads((REFERENCE / "xlsx_import_layout_and_samples_v2.json").read_text())[which]
    wb = Workbook()
    wb.remove(wb.active)
    for sheet, spec in layout.items():
        if sheet in ("stakeholderProjects", "projectMethodologies", "unitLabels"):
            continue
        ws = wb.create_sheet(sheet)
        header = list(spec["header"])
        ws.append(header)
        for row in spec["rows"]:
            values = list(row)
            for i, value in enumerate(values):
                if isinstance(value, str) and value.startswith("{{"):
                    values[i] = None
            ws.append(values)
    if which == "units_workbook":
        # The sample units point at an issuance created beforehand: give them one in the same file.
        ws = wb.create_sheet("issuances")
        ws.append(["cadTrustIssuanceId", "issuanceId", "issuanceDate", "cadTrustVerificationId",
                   "cadTrustProjectMethodologyId", "cadTrustLocationId"])
        ws.append(["NEW-1", "SAMPLE-ISS-1", "2024-06-01", None, None, None])
        for row in wb["units"].iter_rows(min_row=2):
            row[-1].value = "NEW-1"
    return wb


def _bytes(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_cadt_sample_projects_workbook_imports(registry: testing.Registry) -> None:
    wb = _sample_workbook("projects_workbook", registry)
    report = services.import_file(actor=registry.admin, content=_bytes(wb), filename="sample-projects-import.xlsx")
    assert report.created == 3 + 4 + 5 + 3 + 9 + 3 + 3
    assert ImportedRecord.objects.filter(table="location").count() == 4
    # Placeholders NEW-n become stable ids: the same file again changes nothing.
    assert not services.import_file(actor=registry.admin, content=_bytes(wb)).changed


def test_picklist_violations_name_row_field_and_allowed_values(registry: testing.Registry) -> None:
    wb = _sample_workbook("projects_workbook", registry)
    wb["projects"]["K3"] = "Almost registered"  # projectStatus of the second project
    wb["locations"]["A2"] = "Atlantis"
    wb["projects"]["H2"] = '["Afforestation and reforestation","Space mining"]'
    before = _state()
    with pytest.raises(ValidationFailed) as exc:
        services.import_file(actor=registry.admin, content=_bytes(wb))
    errors = exc.value.details["errors"]
    found = {(e["sheet"], e["row"], e["field"], e["code"]) for e in errors}
    assert ("projects", 3, "projectStatus", "PICKLIST_VALUE_NOT_ALLOWED") in found
    assert ("locations", 2, "locationCountry", "PICKLIST_VALUE_NOT_ALLOWED") in found
    assert ("projects", 2, "projectSector", "PICKLIST_VALUE_NOT_ALLOWED") in found
    status = next(e for e in errors if e["field"] == "projectStatus")
    assert "Almost registered" in status["message"] and "Registered" not in status["message"]
    # The allowed values are named once per field, not on every row.
    assert "Registered" in exc.value.details["allowed_values"]["projectStatus"]
    assert exc.value.message.startswith(f"The file was not imported: {len(errors)} problem(s) in 3 row(s)")
    assert _state() == before


def test_bad_rows_are_all_reported_and_nothing_is_written(registry: testing.Registry) -> None:
    wb = _sample_workbook("projects_workbook", registry)
    wb["projects"]["C2"] = None  # projectId required
    wb["projects"]["L2"] = "15/03/2024"  # projectStatusDate
    wb["estimations"]["C2"] = "lots"
    wb["ratings"]["E2"] = "NEW-77"  # a project not in the file
    before = _state()
    with pytest.raises(ValidationFailed) as exc:
        services.import_file(actor=registry.admin, content=_bytes(wb))
    found = {(e["sheet"], e["row"], e["field"], e["code"]) for e in exc.value.details["errors"]}
    assert {
        ("projects", 2, "projectId", "FIELD_REQUIRED"),
        ("projects", 2, "projectStatusDate", "FIELD_INVALID"),
        ("estimations", 2, "estimationUnitCount", "FIELD_INVALID"),
        ("ratings", 2, "cadTrustProjectId", "REFERENCE_UNKNOWN"),
    } <= found
    assert _state() == before


def test_unit_count_must_match_the_range_in_v2(registry: testing.Registry) -> None:
    wb = _sample_workbook("units_workbook", registry)
    wb["units"]["E2"] = 4000  # 1000..5000 is 4001 units
    with pytest.raises(ValidationFailed) as exc:
        services.import_file(actor=registry.admin, content=_bytes(wb))
    assert exc.value.details["errors"][0]["code"] == "UNIT_COUNT_MISMATCH"


def test_sample_units_workbook_imports_and_unresolved_templates_are_refused(registry: testing.Registry) -> None:
    wb = _sample_workbook("units_workbook", registry)
    report = services.import_file(actor=registry.admin, content=_bytes(wb))
    assert report.created == 1 + len(list(wb["units"].iter_rows(min_row=2)))
    wb["units"]["U2"] = "{{ISSUANCE_ID}}"
    with pytest.raises(ValidationFailed) as exc:
        services.import_file(actor=registry.admin, content=_bytes(wb))
    assert exc.value.details["errors"][0]["code"] == "PLACEHOLDER_UNRESOLVED"


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00\x01\x02garbage", b"PK\x03\x04not really a zip", b"{not json", b"just,some,words\n1,2,3\n",
     b'{"pizza": []}', b"[1, 2, 3]"],
)
def test_garbage_files_get_a_clear_error_and_change_nothing(registry: testing.Registry, content: bytes) -> None:
    before = _state()
    with pytest.raises(ValidationFailed) as exc:
        services.import_file(actor=registry.admin, content=content, filename="upload.bin")
    assert exc.value.code == "CADT_FILE_UNREADABLE"
    assert _state() == before


def test_only_the_registry_administrator_imports(registry: testing.Registry, foreign_files: dict[str, bytes]) -> None:
    with pytest.raises(PermissionDenied):
        services.import_file(actor=registry.developer, content=foreign_files["2.json"])
    assert ImportedRecord.objects.count() == 0


def test_dry_run_checks_without_writing(registry: testing.Registry, foreign_files: dict[str, bytes]) -> None:
    report = services.import_file(actor=registry.admin, content=foreign_files["2.xlsx"], dry_run=True)
    assert report.created > 0 and ImportedRecord.objects.count() == 0


def test_incremental_export_carries_new_imports(registry: testing.Registry, foreign_files: dict[str, bytes]) -> None:
    _, cursor = selectors.export_document("2")
    services.import_file(actor=registry.admin, content=foreign_files["2.json"])
    changed, _ = selectors.export_document("2", since=cursor)
    assert changed["project"] and changed["unit"]
    _, later = selectors.export_document("2")
    nothing, _ = selectors.export_document("2", since=later)
    assert not any(nothing.values())


def test_excel_dates_and_numbers_are_accepted(registry: testing.Registry) -> None:
    import datetime as dt

    wb = _sample_workbook("projects_workbook", registry)
    wb["projects"]["L2"] = dt.datetime(2024, 3, 15)
    report = services.import_file(actor=registry.admin, content=_bytes(wb))
    project = ImportedRecord.objects.get(table="project", data__projectId="SAMPLE-PRJ-2024-001")
    assert project.data["projectStatusDate"] == "2024-03-15" and report.created
    wb2 = load_workbook(io.BytesIO(_bytes(wb)))
    assert wb2["projects"]["L2"].value is not None


def test_zip_that_unpacks_too_far_is_refused(registry: testing.Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    from tonne.cadt import formats

    monkeypatch.setattr(formats, "MAX_UNPACKED_BYTES", 1000)
    doc, _ = selectors.export_document("2")
    with pytest.raises(ValidationFailed) as exc:
        services.import_file(actor=registry.admin, content=selectors.render("2", "xlsx", doc))
    assert exc.value.code == "CADT_FILE_UNREADABLE" and "500 MB" in exc.value.message


def test_a_saved_cadt_api_page_with_nested_records_imports(foreign_files: dict[str, bytes]) -> None:
    """What a CAD Trust node answers (GET /v2/project?page=1&limit=…, associations included,
    columns of its own) imports: nested records become rows of their tables."""
    reg = testing.build_registry()
    doc = json.loads(foreign_files["2.json"])
    project = dict(doc["project"][0])
    pid = project["cadTrustProjectId"]
    project["locations"] = [{k: v for k, v in r.items() if k != "cadTrustProjectId"} for r in doc["location"]]
    project["estimations"] = [r for r in doc["estimation"] if r["cadTrustProjectId"] == pid]
    project["program"] = doc["program"][0]
    project["timeStaged"] = 1700000000  # a column of the node's own
    page = {"page": 1, "pageCount": 1, "data": [project]}
    report = services.import_file(actor=reg.admin, content=json.dumps(page).encode(), filename="page.json")
    assert report.created == 1 + len(doc["location"]) + len(project["estimations"]) + 1
    assert [w["code"] for w in report.warnings] == ["FIELD_IGNORED"] and report.warnings[0]["field"] == "timeStaged"
    location = ImportedRecord.objects.get(table="location")
    assert location.parent_id == pid and location.record_id == doc["location"][0]["cadTrustLocationId"]


def test_own_rows_are_matched_not_rechecked(registry: testing.Registry) -> None:
    """This registry's VVB is not on CAD Trust's list: its own export still re-imports
    as 'own, nothing changed'; the same file elsewhere is refused for that field."""
    project = testing.registered_project(registry)
    testing.issue(registry, project, {2023: 100})
    doc, _ = selectors.export_document("2")
    content = selectors.render("2", "json", doc)
    report = services.import_file(actor=registry.admin, content=content)
    assert not report.changed and report.own > 0
    with transaction.atomic():
        # In another registry (this one without its own records) the VVB name is checked.
        from tonne.projects.models import Project

        ImportedRecord.objects.all().delete()
        Project.objects.filter(pk=project.pk).update(status="draft")  # no longer exported: not "own"
        with pytest.raises(ValidationFailed) as exc:
            services.import_file(actor=registry.admin, content=content)
        fields = {e["field"] for e in exc.value.details["errors"]}
        assert "validationBody" in fields or "verificationBody" in fields
        transaction.set_rollback(True)
