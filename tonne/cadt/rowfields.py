"""The record fields CAD Trust clients filter and order by, kept in indexed
columns of the projection (CadtRow) beside the record's JSON, so that a
filter, an order or a special filter is an index range whatever the
registry's size. Other fields are read from the JSON (same answers, slower).

A column holds the field's value as the JSON has it (JSON null: SQL NULL);
`year` is a number. Orders follow CAD Trust's SQLite: NULL first when
ascending, last when descending."""

from __future__ import annotations

from typing import Any

from tonne.cadt.schema import V1, V2

TEXT_COLUMNS = ("name", "status", "serial", "parent", "marketplace_id", "marketplace")
NUMBER_COLUMNS = ("year",)

# (version, table) -> {CAD Trust field (a dotted path into the record): column}
COLUMNS: dict[tuple[str, str], dict[str, str]] = {
    (V1, "projects"): {"projectName": "name", "projectStatus": "status", "projectId": "serial"},
    (V1, "units"): {
        "unitOwner": "name", "unitStatus": "status", "serialNumberBlock": "serial", "vintageYear": "year",
        "issuance.warehouseProjectId": "parent", "marketplaceIdentifier": "marketplace_id",
        "marketplace": "marketplace",
    },
    (V2, "project"): {"projectName": "name", "projectStatus": "status", "projectId": "serial"},
    (V2, "unit"): {
        "unitCurrentOwner": "name", "unitStatus": "status", "unitSerialId": "serial", "unitVintageYear": "year",
        "cadTrustIssuanceId": "parent",
    },
}


def column(version: str, table: str, field: str) -> str | None:
    """The column holding `field` of this table's records, or None (read from the JSON)."""
    return COLUMNS.get((version, table), {}).get(field)


def _at(row: dict[str, Any], path: str) -> Any:
    value: Any = row
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def values(version: str, table: str, row: dict[str, Any]) -> dict[str, Any]:
    """The indexed columns of a record (every column: None where the table has no such field)."""
    out: dict[str, Any] = dict.fromkeys((*TEXT_COLUMNS, *NUMBER_COLUMNS))
    for field, name in COLUMNS.get((version, table), {}).items():
        value = _at(row, field)
        if name in NUMBER_COLUMNS:
            out[name] = _number(value)
        elif value is not None and not isinstance(value, (dict, list)):
            out[name] = value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
    return out
