"""CAD Trust files as the live node writes them: sheets named Sheet1, its
picklist values and timestamps, retired units without a reason, and child
rows that cannot be attached reported, never dropped silently."""

from __future__ import annotations

import io
import json

from django.core.management import call_command
from openpyxl import Workbook

from tonne import testing
from tonne.cadt import services
from tonne.cadt.models import ImportedRecord
from tonne.projects import picklists

UNIT = {
    "warehouseUnitId": "5c5b8e2c-8b8a-4b6e-9c55-0f1d1e7a0001", "unitOwner": "Rwanda Environment Management Authority",
    "countryJurisdictionOfOwner": "Nigeria", "serialNumberBlock": "RW-5-1459975-2-2-0-7014 - RW-5-1460107-2-2-0-7014",
    "unitBlockStart": "1459975", "unitBlockEnd": "1460107", "unitCount": 133, "vintageYear": 2015,
    "unitType": "Not Determined", "unitStatus": "Retired", "unitStatusReason": None,
    "unitRegistryLink": "https://cdm.unfccc.int/Registry/index.html", "correspondingAdjustmentDeclaration": "Not Applicable",
    "correspondingAdjustmentStatus": "Not Applicable", "issuanceId": "9a1d0c1e-0000-4000-8000-00000000dead",
    "createdAt": "2011-01-18 00:05:45.701 +00:00", "updatedAt": "2011-01-18 00:05:45.701 +00:00",
}


def _workbook() -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    sheet.append(list(UNIT))
    sheet.append(list(UNIT.values()))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_units_file_as_the_live_node_writes_it_imports(registry: testing.Registry) -> None:
    report = services.import_file(actor=registry.admin, content=_workbook(), filename="retired-units.xlsx")
    assert (report.version, report.created) == ("1", 1)
    record = ImportedRecord.objects.get()
    assert record.data["unitStatus"] == "Retired" and record.data["unitType"] == "Not Determined"
    assert record.data["createdAt"] == "2011-01-18T00:05:45.701Z"
    noted = {(w["field"], w["code"]) for w in report.warnings}
    assert ("unitStatusReason", "FIELD_MISSING") in noted
    # The unit names an issuance the file does not hold: said, not dropped silently.
    assert ("issuanceId", "CHILD_WITHOUT_PARENT") in noted
    assert all(w.get("sheet") in (None, "Sheet1") for w in report.warnings)


def test_picklists_refresh_from_a_file(registry: testing.Registry, tmp_path, settings) -> None:
    settings.DATA_DIR = tmp_path
    picklists.picklist_file.cache_clear()
    lists = dict(picklists.picklists("1"))
    assert {"Validated", "Authorized"} <= set(lists["projectStatusValues"])
    lists["unitStatus"] = [*lists["unitStatus"], "Pending Retirement"]
    saved = tmp_path / "governance-picklist.json"
    saved.write_text(json.dumps(lists))
    try:
        call_command("cadt", "picklists", "--from", str(saved), "--model", "1", stdout=io.StringIO())
        assert "Pending Retirement" in picklists.allowed("unitStatus", "1")
    finally:
        picklists.picklist_file.cache_clear()


def test_refusal_names_the_allowed_values_once(registry: testing.Registry, client) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    units = [dict(UNIT, warehouseUnitId=f"5c5b8e2c-8b8a-4b6e-9c55-0f1d1e7a000{n}", unitType="Sorted",
                  unitBlockStart=str(n * 1000), unitBlockEnd=str(n * 1000 + 132), serialNumberBlock=None)
             for n in range(1, 4)]
    content = json.dumps({"units": units}).encode()
    client.force_login(registry.admin)
    page = client.post("/interop/cadt/", {"file": SimpleUploadedFile("units.json", content)})
    html = page.content.decode()
    assert page.status_code == 422 and "3 problem(s) in 3 row(s)" in html
    assert html.count("Removal - nature") == 1  # the list of allowed unit types, once
