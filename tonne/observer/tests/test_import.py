"""Importing the registries' real exports as they are published."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from tonne import testing
from tonne.core.errors import PermissionDenied, ValidationFailed
from tonne.ledger.models import LedgerEntry
from tonne.observer import services
from tonne.observer.models import ObservedImport, ObservedProject, ObservedUnits
from tonne.observer.tests.conftest import DATA, load
from tonne.organisations.models import Organisation, User

SAMPLES = [
    ("cdm-registry-issuance-report.sample.xlsx", "cdm-issuance-report", 200, 0),
    ("cdm-registry-cancellation-report.sample.xlsx", "cdm-cancellation-report", 200, 0),
    ("cdm-issuance-list.sample.xlsx", "cdm-issuance-list", 200, 0),
    ("verra/projects.csv", "verra-projects", 20, 0),
    ("verra/transactions.csv", "verra-vcus", 20, 0),
    ("gold-standard/projects.csv", "gs-projects", 10, 0),
    ("gold-standard/issuances.csv", "gs-issuances", 18, 0),
    ("gold-standard/retirements.csv", "gs-retirements", 20, 0),
    ("american-carbon-registry/projects.csv", "acr-projects", 20, 0),
    ("american-carbon-registry/issuances.csv", "acr-issuances", 20, 0),
    ("american-carbon-registry/retirements.csv", "acr-retirements", 20, 0),
    ("american-carbon-registry/cancellations.csv", "acr-cancellations", 20, 0),
    ("climate-action-reserve/projects.csv", "car-projects", 20, 0),
    ("climate-action-reserve/issuances.csv", "car-issuances", 20, 0),
    ("climate-action-reserve/retirements.csv", "car-retirements", 20, 0),
    ("climate-action-reserve/cancellations.csv", "car-cancellations", 20, 0),
    ("art-trees/projects.csv", "art-projects", 20, 0),
    ("art-trees/issuances.csv", "art-issuances", 11, 0),
    ("art-trees/retirements.csv", "art-retirements", 8, 0),
    ("art-trees/cancellations.csv", "art-cancellations", 3, 0),
    ("arb/nc-arboc_issuance_sheet3.csv", "carb-issuances", 20, 0),
    ("cercarbono/projects.csv", "cercarbono-projects", 5, 0),
    ("cercarbono/issuances.csv", "cercarbono-issuances", 20, 0),
    ("cercarbono/retirements.csv", "cercarbono-retirements", 20, 0),
    ("isometric/projects.csv", "isometric-projects", 20, 0),
    ("isometric/issuances.csv", "isometric-issuances", 20, 0),
    ("isometric/retirements.csv", "isometric-retirements", 20, 0),
]


def test_every_sample_format_is_recognised_and_mapped(root: User) -> None:
    for path, fmt, rows, skipped in SAMPLES:
        report = load(root, path)
        assert (report.file_format, report.rows_read, report.skipped) == (fmt, rows, skipped), path
        assert report.mapped == rows and report.created > 0, path
        assert ObservedImport.objects.get(uid=report.uid).ledger_seq == report.ledger_seq
        assert LedgerEntry.objects.filter(kind="observer.imported", seq=report.ledger_seq).exists()


def test_harmonised_records_keep_every_unmapped_column(root: User) -> None:
    load(root, "verra/transactions.csv")
    retired = ObservedUnits.objects.filter(registry="verra", kind="retirement").order_by("pk").first()
    held = ObservedUnits.objects.filter(registry="verra", kind="holding").first()
    assert retired is not None and held is not None
    assert retired.series == "verra:VCU" and retired.serial_end - retired.serial_start + 1 == retired.quantity
    assert "Methodology" in retired.raw and "Serial Number" not in retired.raw
    load(root, "gold-standard/retirements.csv")
    gs = ObservedUnits.objects.filter(registry="gold-standard", kind="retirement").first()
    assert gs is not None and gs.beneficiary and gs.project_id.startswith("GS")


def test_reimport_changes_only_what_changed(root: User) -> None:
    first = load(root, "verra/projects.csv")
    again = load(root, "verra/projects.csv")
    assert (again.created, again.updated, again.unchanged) == (0, 0, first.created)
    lines = (DATA / "verra/projects.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = lines[1].replace("Under validation", "Registered", 1)
    edited = io.BytesIO("".join(lines).encode("utf-8"))
    newer = services.import_file(actor=root, stream=edited, filename="projects.csv")
    assert (newer.created, newer.updated, newer.unchanged) == (0, 1, first.created - 1)
    assert ObservedProject.objects.get(registry="verra", project_id="5962").status == "Registered"


def test_no_registry_replaces_another_registrys_record(root: User) -> None:
    csv_a = b"Program ID,Sovereign Program Developer,Program Name,Status\nART1,Gov,Same id,Listed\n"
    csv_b = b"Project ID,Voluntary Status,Project Developer,Project Name\nART1,Registered,Dev,Same id elsewhere\n"
    services.import_file(actor=root, stream=io.BytesIO(csv_a), filename="a.csv", registry="art")
    services.import_file(actor=root, stream=io.BytesIO(csv_b), filename="b.csv", registry="acr")
    assert sorted(ObservedProject.objects.values_list("registry", "name")) == [
        ("acr", "Same id elsewhere"), ("art", "Same id")]


def test_cdm_blocks_of_two_parties_with_the_same_numbers_are_both_kept(root: User) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    sheet.append(["CDM Registry Issuance Report"])
    sheet.append([])
    sheet.append(["Completion date", "Transaction type", "Status", "SERIAL RANGE", "Unit Type", "CP", "PARTY CODE",
                  "Project number", "Total"])
    sheet.append(["2007-11-09", "Issuance (1)", "4 - Completed", "1 - 100", "CER", "1", "XX", "9", 100])
    sheet.append(["2007-11-09", "Issuance (1)", "4 - Completed", "1 - 100", "CER", "1", "YY", "10", "100"])
    sheet.append(["2007-11-09", "Issuance (1)", "4 - Completed", "1 - 100", "CER", "1", "ZZ", "11", "99"])
    sheet.append(["Total", None, None, None, None, None, None, None, None])
    raw = io.BytesIO()
    book.save(raw)
    raw.seek(0)
    report = services.import_file(actor=root, stream=raw, filename="cdm.xlsx", registry="cdm")
    assert (report.rows_read, report.mapped, report.skipped) == (4, 2, 2)
    assert set(report.skip_reasons) == {"Total 99 is not the size of the range (100)",
                                        "a total or note row (one value in the first column)"}
    assert sorted(ObservedUnits.objects.values_list("series", flat=True)) == ["kyoto:XX", "kyoto:YY"]


def test_refusals(root: User, db: None) -> None:
    with pytest.raises(ValidationFailed) as unknown:
        services.import_file(actor=root, stream=io.BytesIO(b"a,b\n1,2\n"), filename="x.csv")
    assert unknown.value.code == "OBSERVER_FORMAT_UNKNOWN"
    with pytest.raises(ValidationFailed) as wrong:
        load(root, "verra/projects.csv", registry="gold-standard")
    assert wrong.value.code == "OBSERVER_FORMAT_UNKNOWN"
    with pytest.raises(ValidationFailed) as broken:
        services.import_file(actor=root, stream=io.BytesIO(b"PK\x03\x04broken"), filename="x.xlsx")
    assert broken.value.code == "OBSERVER_FILE_UNREADABLE"
    assert not ObservedImport.objects.exists()
    developer_org = testing.make_org(root, "Mangrove Futures", Organisation.Kind.DEVELOPER)
    nobody = testing.make_user(developer_org, "developer", actor=root)
    with pytest.raises(PermissionDenied):
        load(nobody, "verra/projects.csv")


def _edited(relative: str, line: int, old: str, new: str) -> io.BytesIO:
    lines = (DATA / relative).read_text(encoding="utf-8").splitlines(keepends=True)
    assert old in lines[line]
    lines[line] = lines[line].replace(old, new, 1)
    return io.BytesIO("".join(lines).encode("utf-8"))


def test_carb_and_isometric_records_are_their_published_ids(root: User) -> None:
    """CARB and Isometric publish no serials in these exports: an issuance is its CARB Issuance ID
    (CAOD1007-A), an Isometric event its iss_/ret_ id, so a corrected quantity updates the record."""
    load(root, "arb/nc-arboc_issuance_sheet3.csv")
    keys = set(ObservedUnits.objects.filter(registry="carb", kind="issuance").values_list("source_key", flat=True))
    # One project, two issuances under two offset project registries' ids (ACR1009 and CAR2111).
    assert {"issuance|CAMM1009-A", "issuance|CAMM1009-B"} <= keys and len(keys) == 20
    newer = services.import_file(actor=root, filename="carb.csv", stream=_edited(
        "arb/nc-arboc_issuance_sheet3.csv", 1, "2024.0,79565.0,", "2024.0,79566.0,"))
    assert (newer.created, newer.updated) == (0, 1)
    assert ObservedUnits.objects.get(registry="carb", source_key="issuance|CAOD1007-A").quantity == 79566
    for path, ident, old, new in (("isometric/issuances.csv", "iss_1KP6EDZ8K1S036PY", ",2765.37,", ",2765.38,"),
                                  ("isometric/retirements.csv", "ret_1KNSQMD6Z1S0TB50", ",531.0,", ",530.0,")):
        first = load(root, path)
        again = services.import_file(actor=root, filename=path.split("/")[-1], stream=_edited(path, 1, old, new))
        assert (again.created, again.updated, again.unchanged) == (0, 1, first.created - 1), path
        unit = ObservedUnits.objects.get(registry="isometric", source_key__endswith=f"|{ident}")
        assert unit.quantity == Decimal(new.strip(","))
