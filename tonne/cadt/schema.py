"""The CAD Trust data models Tonne reads and writes: v2.0.2 tables and v1
documents, loaded from the field lists shipped in schema/ (taken from the
CAD Trust data dictionary), plus the Excel sheet layouts."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
V2 = "2"
V1 = "1"


@dataclass(frozen=True)
class Field:
    name: str  # the CAD Trust API field name (camelCase)
    kind: str  # guid, text, url, date, datetime, year, decimal, int, list, picklist, object, array
    required: bool = False
    picklist: str | None = None
    source: str = "user_input"  # user_input, system, api_generated
    reference: str | None = None  # table a GUID foreign key points at


@dataclass(frozen=True)
class Table:
    name: str  # v2: snake_case table name; v1: camelCase table name
    version: str
    key: str  # the identifier field
    fields: tuple[Field, ...]
    parent: str | None = None  # field naming the parent record (for listing children)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


# v2 GUID foreign keys: field -> table it refers to.
V2_REFERENCES = {
    "cadTrustProgramId": "program",
    "cadTrustProjectId": "project",
    "cadTrustMethodologyId": "methodology",
    "cadTrustValidationId": "validation",
    "cadTrustVerificationId": "verification",
    "cadTrustProjectMethodologyId": "project_methodology",
    "cadTrustLocationId": "location",
    "cadTrustIssuanceId": "issuance",
    "cadTrustUnitId": "unit",
    "cadTrustLabelId": "label",
}
V2_PARENT = {
    "stakeholder": "cadTrustProjectId",
    "project_methodology": "cadTrustProjectId",
    "validation": "cadTrustProjectId",
    "verification": "cadTrustProjectId",
    "location": "cadTrustProjectId",
    "estimation": "cadTrustProjectId",
    "rating": "cadTrustProjectId",
    "co_benefit": "cadTrustProjectId",
    "unit": "cadTrustIssuanceId",
    "unit_label": "cadTrustUnitId",
}
# Columns the CAD Trust units sheet carries beyond the data dictionary.
V2_UNIT_EXTRAS = ("marketplace", "marketplaceLink", "marketplaceIdentifier")

_V2_KINDS = {
    "GUID": "guid",
    "GUID (PK)": "guid",
    "GUID (FK)": "guid",
    "GUID (Composite PK, FK)": "guid",
    "String": "text",
    "Text": "text",
    "URL": "url",
    "Picklist": "picklist",
    "Array[String]": "list",
    "Date (ISO 8601)": "date",
    "Date (Composite PK)": "date",
    "Year": "year",
    "Decimal": "decimal",
    "API": "datetime",
}


@functools.cache
def v2_document() -> dict:
    return json.loads((SCHEMA_DIR / "cadt_v2.json").read_text(encoding="utf-8"))


@functools.cache
def v2_tables() -> dict[str, Table]:
    tables: dict[str, Table] = {}
    for name in v2_document()["insert_order"]:
        raw = v2_document()["tables"][name]
        fields = []
        key = ""
        for f in raw["fields"]:
            api = f["apiField"]
            kind = _V2_KINDS[f["type"]]
            if f["type"] == "Array[String]" and f.get("picklist"):
                kind = "list"
            if api == "orgUid":
                kind = "text"  # a CAD Trust organisation id: 64 hex characters, not a UUID
            if not key and kind == "guid":
                key = api
            fields.append(
                Field(
                    name=api,
                    kind=kind,
                    required=bool(f["required"]),
                    picklist=f.get("picklist"),
                    source=f["source"],
                    reference=V2_REFERENCES.get(api) if api != key else None,
                )
            )
        if name == "unit":
            fields.extend(Field(name=extra, kind="text") for extra in V2_UNIT_EXTRAS)
        tables[name] = Table(name=name, version=V2, key=key, fields=tuple(fields), parent=V2_PARENT.get(name))
    return tables


# -- Excel and CSV layout (v2) ------------------------------------------------------

# Sheet -> table, in the CAD Trust import workbooks, then the reference tables
# CAD Trust creates through its API (Tonne writes them so a file is complete).
V2_SHEETS: dict[str, str] = {
    "programs": "program",
    "methodologies": "methodology",
    "stakeholders": "stakeholder",
    "labels": "label",
    "projects": "project",
    "projectMethodologies": "project_methodology",
    "validations": "validation",
    "verifications": "verification",
    "locations": "location",
    "estimations": "estimation",
    "ratings": "rating",
    "coBenefits": "co_benefit",
    "issuances": "issuance",
    "units": "unit",
    "unitLabels": "unit_label",
}
# Sheet column name -> API field where the two differ.
V2_COLUMN_ALIASES = {("co_benefit", "coBenefitId"): "cobenefit"}


def v2_layout_header(sheet: str) -> list[str]:
    for workbook in v2_document()["xlsx_layout"].values():
        if sheet in workbook:
            return list(workbook[sheet])
    return []


@functools.cache
def v2_sheet_columns(sheet: str) -> tuple[str, ...]:
    """The CAD Trust layout's columns first, then every other field of the table."""
    table = v2_tables()[V2_SHEETS[sheet]]
    header = v2_layout_header(sheet)
    present = {V2_COLUMN_ALIASES.get((table.name, c), c) for c in header}
    return tuple(header) + tuple(n for n in table.names if n not in present)


def v2_column_field(table: str, column: str) -> str:
    return V2_COLUMN_ALIASES.get((table, column), column)


# -- v1 ---------------------------------------------------------------------------

V1_PROJECT_CHILDREN = (
    "projectLocations",
    "labels",
    "issuances",
    "coBenefits",
    "relatedProjects",
    "projectRatings",
    "estimations",
)
# v1 fields the CADT API validates against a picklist (others are free text there).
V1_PICKLISTS = {
    ("projects", "coveredByNDC"): "coveredByNDC",
    ("projects", "projectStatus"): "projectStatusValues",
    ("projects", "unitMetric"): "unitMetric",
    ("projectLocations", "country"): "countries",
    ("labels", "labelType"): "labelType",
    ("projectRatings", "ratingType"): "ratingType",
    ("units", "countryJurisdictionOfOwner"): "countries",
    ("units", "unitType"): "unitType",
    ("units", "unitStatus"): "unitStatus",
    ("units", "correspondingAdjustmentDeclaration"): "correspondingAdjustmentDeclaration",
    ("units", "correspondingAdjustmentStatus"): "correspondingAdjustmentStatus",
}
# Stored by CADT but not part of a record's content.
V1_SYSTEM = ("timeStaged", "orgUid", "createdAt", "updatedAt")


def _v1_kind(raw_type: str) -> str:
    t = raw_type.split(" ")[0]
    if t.startswith("DATE"):
        return "datetime"
    if t == "INTEGER":
        return "int"
    if t in ("object", "array"):
        return t
    return "text"


@functools.cache
def v1_tables() -> dict[str, Table]:
    doc = json.loads((SCHEMA_DIR / "cadt_v1.json").read_text(encoding="utf-8"))
    tables: dict[str, Table] = {}
    for name, raw in doc["tables"].items():
        fields = []
        for f in raw["fields"]:
            if f["field"] == "label_unit":
                continue
            fields.append(
                Field(
                    name=f["field"],
                    kind=_v1_kind(f["type"]),
                    required=bool(f.get("apiRequired")),
                    picklist=V1_PICKLISTS.get((name, f["field"])),
                    source=f.get("source", "user_input"),
                )
            )
        parent = "warehouseProjectId" if name in V1_PROJECT_CHILDREN else None
        tables[name] = Table(name=name, version=V1, key=raw["pk"], fields=tuple(fields), parent=parent)
    return tables


V1_SHEETS = ("projects", *V1_PROJECT_CHILDREN, "units", "label_units")


def v1_columns(table: str) -> tuple[str, ...]:
    """Columns of a v1 sheet: the table's scalar fields (nested ones are sheets of their own)."""
    return tuple(f.name for f in v1_tables()[table].fields if f.kind not in ("object", "array") and f.name != "timeStaged")
