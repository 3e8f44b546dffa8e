from __future__ import annotations

import io
import json
import zipfile

import pytest
from openpyxl import load_workbook

from tonne import testing
from tonne.cadt import domain, formats, mapping, selectors
from tonne.cadt.schema import V2_SHEETS, v1_tables, v2_sheet_columns, v2_tables
from tonne.core.errors import ValidationFailed
from tonne.projects import picklists
from tonne.units.models import Issuance, UnitBlock

pytestmark = pytest.mark.django_db


def test_every_v2_table_is_mapped_with_cadt_field_names(cadt_reg: testing.Registry) -> None:
    doc = mapping.v2_rows()
    assert list(doc) == list(v2_tables())
    for name, rows in doc.items():
        spec = v2_tables()[name]
        assert rows, f"{name} has no rows"
        for row in rows:
            assert list(row) == list(spec.names)
            for f in spec.fields:
                if f.required and f.source == "user_input" and f.kind != "guid":
                    assert row[f.name] not in (None, "", []), (name, f.name)


def test_own_export_passes_the_cadt_field_and_picklist_checks(cadt_reg: testing.Registry) -> None:
    for name, rows in mapping.v2_rows().items():
        for n, row in enumerate(rows, start=1):
            assert domain.clean_row(v2_tables()[name], row, row=n).problems == []
    doc = mapping.v1_rows()
    for project in doc["projects"]:
        scalar = {k: v for k, v in project.items() if not isinstance(v, list)}
        assert domain.clean_row(v1_tables()["projects"], scalar, row=1).problems == []
    for unit in doc["units"]:
        scalar = {k: v for k, v in unit.items() if k not in ("issuance", "labels")}
        assert domain.clean_row(v1_tables()["units"], scalar, row=1).problems == []


def test_unit_blocks_map_one_to_one_with_serial_ranges_and_status(cadt_reg: testing.Registry) -> None:
    rows = mapping.v2_rows()["unit"]
    blocks = list(UnitBlock.objects.select_related("account").order_by("serial_start"))
    assert len(rows) == len(blocks)
    by_start = {int(r["unitStartBlock"]): r for r in rows}
    for block in blocks:
        row = by_start[block.serial_start]
        assert int(row["unitEndBlock"]) == block.serial_end
        assert row["unitCount"] == block.quantity
        assert row["unitStatus"] == domain.UNIT_STATUS_V2[block.account.type]
        assert row["unitStatus"] in picklists.allowed("unit_status")
        assert row["unitVintageYear"] == block.vintage
        assert row["unitSerialId"].endswith(f"-{block.serial_start}-{block.serial_end}")
    statuses = {r["unitStatus"] for r in rows}
    assert statuses == {"Held", "Buffer", "Retired", "Cancelled"}
    retired = [r for r in rows if r["unitStatus"] == "Retired"]
    assert retired[0]["unitRetirementBeneficiary"] == "Acme Airlines"
    assert retired[0]["unitStatusReason"] == "Offsetting 2023 flights"
    # Every unit names an issuance that is exported, every issuance its verification.
    issuances = {r["cadTrustIssuanceId"]: r for r in mapping.v2_rows()["issuance"]}
    assert {r["cadTrustIssuanceId"] for r in rows} == set(issuances)
    assert set(issuances) == {str(i.uid) for i in Issuance.objects.all()}


def test_unit_ids_are_stable_across_a_split(cadt_reg: testing.Registry) -> None:
    issuance = cadt_reg.extra["issuances"][1]
    before = {r["unitStartBlock"]: r["cadTrustUnitId"] for r in mapping.v2_rows()["unit"]}
    from tonne.units import services as units
    from tonne.units.domain import Selection

    units.transfer(
        actor=cadt_reg.developer, from_account=cadt_reg.developer_account.identifier,
        to_account=cadt_reg.buyer_account.identifier,
        selection=Selection.build(ranges=[(issuance.serial_start + 10, issuance.serial_start + 19)]),
        idempotency_key="split",
    )
    after = {r["unitStartBlock"]: r["cadTrustUnitId"] for r in mapping.v2_rows()["unit"]}
    assert after[str(issuance.serial_start)] == before[str(issuance.serial_start)]
    assert len(after) == len(before) + 2


def test_drafts_are_not_exported(cadt_reg: testing.Registry) -> None:
    from tonne.projects import services as projects

    draft = projects.register_project(actor=cadt_reg.developer, data=testing.project_fields(name="Secret"))
    assert str(draft.uid) not in {r["cadTrustProjectId"] for r in mapping.v2_rows()["project"]}


def test_v1_projects_carry_child_tables_and_units_their_issuance_and_labels(cadt_reg: testing.Registry) -> None:
    doc = mapping.v1_rows()
    (project,) = doc["projects"]
    assert project["projectStatus"] == "Registered"
    assert project["coveredByNDC"] in picklists.allowed("coveredByNDC", "1")
    for child in ("projectLocations", "labels", "issuances", "coBenefits", "projectRatings", "estimations"):
        assert project[child], child
        assert all(c["warehouseProjectId"] == project["warehouseProjectId"] for c in project[child])
    assert len(project["issuances"]) == 2
    unit = doc["units"][0]
    assert unit["issuance"]["id"] == unit["issuanceId"]
    assert unit["labels"][0]["label"] == "CORSIA eligible"
    assert {u["unitStatus"] for u in doc["units"]} <= set(picklists.allowed("unitStatus", "1"))


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("file_format", ["json", "csv", "xlsx"])
def test_export_is_byte_for_byte_repeatable(cadt_reg: testing.Registry, version: str, file_format: str) -> None:
    doc, _ = selectors.export_document(version)
    first = selectors.render(version, file_format, doc)
    doc2, _ = selectors.export_document(version)
    assert selectors.render(version, file_format, doc2) == first


def test_xlsx_follows_the_cadt_layout(cadt_reg: testing.Registry) -> None:
    doc, _ = selectors.export_document("2")
    workbook = load_workbook(io.BytesIO(selectors.render("2", "xlsx", doc)))
    assert workbook.sheetnames == list(V2_SHEETS)
    layout = json.loads((formats_dir() / "xlsx_import_layout_and_samples_v2.json").read_text())
    for sheets in (layout["projects_workbook"], layout["units_workbook"]):
        for sheet, spec in sheets.items():
            if sheet == "stakeholderProjects":
                continue
            header = [c.value for c in workbook[sheet][1]]
            assert header[: len(spec["header"])] == spec["header"], sheet
    projects = list(workbook["projects"].iter_rows(values_only=True))
    assert json.loads(projects[1][7]) == ["Afforestation and reforestation"]  # arrays are JSON in a cell
    assert len(list(workbook["units"].iter_rows())) == len(doc["unit"]) + 1


def test_csv_is_a_zip_of_one_file_per_sheet(cadt_reg: testing.Registry) -> None:
    doc, _ = selectors.export_document("2")
    archive = zipfile.ZipFile(io.BytesIO(selectors.render("2", "csv", doc)))
    assert archive.namelist() == [f"{s}.csv" for s in V2_SHEETS]
    header = archive.read("units.csv").decode().splitlines()[0].split(",")
    assert tuple(header) == v2_sheet_columns("units")
    single = selectors.render("2", "csv", doc, table="unit").decode()
    assert single.splitlines()[0].split(",") == header
    with pytest.raises(ValidationFailed) as exc:
        selectors.render("2", "csv", doc, table="nonsense")
    assert exc.value.code == "CADT_TABLE_UNKNOWN"


def test_incremental_export_holds_only_what_changed(cadt_reg: testing.Registry) -> None:
    _, cursor = selectors.export_document("2")
    nothing, same = selectors.export_document("2", since=cursor)
    assert same == cursor and all(rows == [] for rows in nothing.values())
    issuance = cadt_reg.extra["issuances"][1]
    from tonne.units import services as units
    from tonne.units.domain import Selection

    units.transfer(
        actor=cadt_reg.developer, from_account=cadt_reg.developer_account.identifier,
        to_account=cadt_reg.buyer_account.identifier,
        selection=Selection.build(ranges=[(issuance.serial_start, issuance.serial_start + 4)]),
        idempotency_key="inc",
    )
    changed, after = selectors.export_document("2", since=cursor)
    assert after == cursor + 1
    starts = {r["unitStartBlock"] for r in changed["unit"]}
    # The moved piece, the rest of the split block, and at most the block just before.
    assert {str(issuance.serial_start), str(issuance.serial_start + 5)} <= starts and len(starts) <= 3
    assert changed["project"] == []
    # Issuances come along with their units, so references resolve.
    assert {i["cadTrustIssuanceId"] for i in changed["issuance"]} == {u["cadTrustIssuanceId"] for u in changed["unit"]}
    with pytest.raises(ValidationFailed):
        selectors.export_document("2", since=-1)


def formats_dir():
    from tonne.cadt.tests.conftest import REFERENCE

    return REFERENCE


def test_unknown_version_and_format_are_refused(cadt_reg: testing.Registry) -> None:
    with pytest.raises(ValidationFailed) as exc:
        selectors.export_document("3")
    assert exc.value.code == "CADT_VERSION_UNKNOWN"
    with pytest.raises(ValidationFailed) as exc:
        selectors.render("2", "pdf", {})
    assert exc.value.code == "CADT_FORMAT_UNKNOWN"
    assert formats.FORMATS == ("json", "csv", "xlsx")
