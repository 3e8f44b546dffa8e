"""Reads for CAD Trust: the export (own records mapped, plus records imported
from other registries), the change set since a ledger cursor, and files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tonne.cadt import formats, mapping, sources
from tonne.cadt.mapping import Scope
from tonne.cadt.models import ImportedRecord
from tonne.cadt.schema import V1, V1_PROJECT_CHILDREN, V2, V2_SHEETS, v1_tables, v2_tables
from tonne.core.errors import ValidationFailed
from tonne.ledger import selectors as ledger_selectors
from tonne.ledger.models import LedgerEntry, LedgerHead
from tonne.projects.models import Project
from tonne.units.domain import SerialRange
from tonne.units.models import Issuance

VERSIONS = (V1, V2)
CONTENT_TYPES = {
    "json": "application/json",
    "csv": "application/zip",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def check_version(version: str) -> str:
    version = str(version).removeprefix("v")
    if version not in VERSIONS:
        raise ValidationFailed("CADT_VERSION_UNKNOWN", "version must be 1 or 2.", field="version")
    return version


def check_format(file_format: str) -> str:
    if file_format not in formats.FORMATS:
        raise ValidationFailed(
            "CADT_FORMAT_UNKNOWN", f"format must be one of: {', '.join(formats.FORMATS)}.", field="format",
            details={"allowed": list(formats.FORMATS)},
        )
    return file_format


# Ledger entries of an authorisation's terms (its units' Article 6 status follows them).
AUTHORISATION_KINDS = frozenset({"article6.authorised", "article6.changed", "article6.revoked"})


def ledger_cursor() -> int:
    """The ledger's size now: the cursor an export or a delivery resumes from."""
    return LedgerHead.objects.get(pk=1).size


@dataclass(frozen=True)
class Changes:
    scope: Scope
    batches_from: int  # imported records of batches written at or after this ledger seq
    cursor: int  # where the next incremental read starts


def changes_since(since: int, until: int | None = None) -> Changes:
    """What the ledger entries [since, until) touched: projects (with their
    child records), issuances and serial ranges."""
    if since < 0:
        raise ValidationFailed("CADT_CURSOR_INVALID", "since must be a ledger position (0 or more).", field="since")
    end = ledger_cursor() if until is None else until
    project_ids: set[str] = set()
    issuance_uids: set[str] = set()
    ranges: list[SerialRange] = []
    authorisations: set[str] = set()
    for kind, body in LedgerEntry.objects.filter(seq__gte=since, seq__lt=end).values_list("kind", "body").iterator():
        if kind in AUTHORISATION_KINDS:
            # A change or revocation of an authorisation changes what its units
            # say (ITMO, adjustment, label) without moving any of them.
            authorisations.add(json.loads(body)["data"]["authorisation"])
            continue
        if not kind.startswith(("project.", "mrv.", "units.")):
            continue
        data = json.loads(body)["data"]
        if isinstance(data.get("project"), str):
            project_ids.add(data["project"])
        issuance = data.get("issuance")
        if isinstance(issuance, dict):
            issuance_uids.add(issuance["uid"])
            project_ids.add(issuance["project"])
        for block in data.get("blocks") or []:
            ranges.append(SerialRange(block["start"], block["end"]))
        for start, stop in data.get("ranges") or []:
            ranges.append(SerialRange(start, stop))
    if authorisations:
        from tonne.article6.models import AuthorisedRange

        for start, stop in AuthorisedRange.objects.filter(
            authorisation__identifier__in=authorisations
        ).values_list("serial_start", "serial_end"):
            ranges.append(SerialRange(start, stop))
    scope = Scope(
        projects=frozenset(Project.objects.filter(project_id__in=project_ids).values_list("pk", flat=True)),
        ranges=tuple(ranges),
        issuances=frozenset(Issuance.objects.filter(uid__in=issuance_uids).values_list("pk", flat=True)),
    )
    return Changes(scope=scope, batches_from=since, cursor=end)


def _imported(version: str, batches_from: int | None) -> list[ImportedRecord]:
    qs = ImportedRecord.objects.filter(model_version=version)
    if batches_from is not None:
        qs = qs.filter(batch__ledger_seq__gte=batches_from)
    return list(qs.order_by("table", "record_id"))


def export_document(version: str, *, since: int | None = None) -> tuple[dict[str, list[dict[str, Any]]], int]:
    """The CAD Trust document of this registry (full, or the changes since a
    ledger cursor) and the cursor to continue from."""
    version = check_version(version)
    if since is None:
        scope, batches_from, cursor = mapping.FULL, None, ledger_cursor()
    else:
        changes = changes_since(since)
        scope, batches_from, cursor = changes.scope, changes.batches_from, changes.cursor
    if version == V2:
        doc = mapping.v2_rows(scope) if not scope.empty else {name: [] for name in v2_tables()}
        for record in _imported(V2, batches_from):
            doc[record.table].append(ordered(V2, record.table, record.data))
        if since is None:  # other registries' records, on an observer installation
            sources.extend(V2, doc)
        for name, rows in doc.items():
            key = v2_tables()[name].key
            rows.sort(key=lambda r, k=key: r[k])  # type: ignore[misc]
        return doc, cursor
    doc1 = mapping.v1_rows(scope) if not scope.empty else {"projects": [], "units": []}
    for record in _imported(V1, batches_from):
        doc1[record.table].append(ordered(V1, record.table, record.data))
    if since is None:
        sources.extend(V1, doc1)
    doc1["projects"].sort(key=lambda r: r["warehouseProjectId"])
    doc1["units"].sort(key=lambda r: r["warehouseUnitId"])
    return doc1, cursor


def ordered(version: str, table: str, data: dict[str, Any]) -> dict[str, Any]:
    """A stored record in the field order of its table (a database may keep JSON keys in its own order)."""
    if version == V2:
        return {name: data.get(name) for name in v2_tables()[table].names}
    spec = v1_tables()[table]
    out = {f.name: data.get(f.name) for f in spec.fields if f.kind not in ("object", "array") and f.name != "timeStaged"}
    children = V1_PROJECT_CHILDREN if table == "projects" else ("issuance", "labels")
    for child in children:
        if child not in data:
            continue
        value = data[child]
        if child == "issuance":
            out[child] = ordered(V1, "issuances", value) if value else value
        else:
            out[child] = [ordered(V1, child, r) for r in value]
    return out


def render(version: str, file_format: str, doc: dict[str, list[dict[str, Any]]], *, table: str | None = None) -> bytes:
    """The document as a file: JSON, CSV (a zip of one CSV per sheet, or one
    CSV for one table) or an Excel workbook in the CAD Trust layout."""
    file_format = check_format(file_format)
    if table is not None:
        if version != V2 or table not in doc:
            raise ValidationFailed(
                "CADT_TABLE_UNKNOWN", f"table must be one of the v2 tables: {', '.join(v2_tables())}.", field="table",
                details={"allowed": list(v2_tables())},
            )
        doc = {table: doc[table]}
    if file_format == "json":
        return formats.to_json(doc)
    sheets = formats.v2_sheets(doc) if version == V2 else formats.v1_sheets(doc)
    if table is not None:
        sheets = [s for s in sheets if V2_SHEETS[s[0]] == table]
    if file_format == "csv":
        if table is not None:
            return formats.csv_text(sheets[0][1], sheets[0][2], for_people=True)
        return formats.to_csv_zip(sheets, for_people=True)
    return formats.to_xlsx(sheets, for_people=True)


def export_filename(version: str, file_format: str, table: str | None = None) -> str:
    ext = {"json": "json", "csv": "zip", "xlsx": "xlsx"}[file_format]
    if table is not None and file_format == "csv":
        ext = "csv"
    return f"cadt-v{version}{'-' + table if table else ''}.{ext}"


# -- the CAD Trust-compatible read API -------------------------------------------------


def organizations() -> dict[str, dict[str, Any]]:
    """CAD Trust's organisation map: this registry (home) and each registry records were imported from."""
    from django.conf import settings

    home = mapping.home_org_uid()
    orgs = {
        home: {"orgUid": home, "name": settings.TONNE_REGISTRY_NAME, "icon": "", "isHome": True, "subscribed": True,
               "registryId": home, "synced": True},
    }
    for org_uid, registry in (
        ImportedRecord.objects.exclude(org_uid="").values_list("org_uid", "origin_registry").distinct().order_by("org_uid")
    ):
        entry = orgs.setdefault(org_uid, {"orgUid": org_uid, "name": registry or org_uid, "icon": "", "isHome": False,
                                          "subscribed": False, "registryId": org_uid, "synced": True})
        if registry and entry["name"] == org_uid:
            entry["name"] = registry
    return orgs


AUDIT_TABLES = {"project": "project", "mrv": "verification", "units": "unit", "cadt": "import",
                "organisation": "organization", "document": "fileStore"}


def audit(org_uid: str | None, *, offset: int = 0, limit: int | None = None,
          newest_first: bool = False) -> tuple[list[dict[str, Any]], int]:
    """A page of this registry's change history in CAD Trust's audit shape, from
    the ledger (each entry's leaf hash stands where CAD Trust has a DataLayer
    root hash), and how many entries there are."""
    home = mapping.home_org_uid()
    if org_uid not in (None, "", home):
        return [], 0
    total = ledger_cursor()
    entries = LedgerEntry.objects.order_by("-seq" if newest_first else "seq")
    entries = entries[offset : offset + limit] if limit is not None else entries[offset:]
    out = []
    for entry in entries.iterator():
        body = json.loads(ledger_selectors.public_body(entry))  # private fields committed to, as published
        out.append(
            {
                "id": entry.seq + 1,
                "orgUid": home,
                "registryId": home,
                "rootHash": entry.leaf_hash,
                "type": "INSERT",
                "table": AUDIT_TABLES.get(entry.kind.split(".")[0], entry.kind.split(".")[0]),
                "change": json.dumps(body.get("data"), sort_keys=True),
                "onchainConfirmationTimeStamp": str(int(entry.created_at.timestamp())),  # CAD Trust: text
                "author": body.get("actor"),
                "comment": entry.kind,
                "generation": entry.seq,
                "createdAt": mapping.domain.iso_datetime(entry.created_at),
                "updatedAt": mapping.domain.iso_datetime(entry.created_at),
            }
        )
    return out, total


def v2_picklists() -> dict[str, list[str]]:
    """The v2 picklists under CAD Trust's v2 API names (camelCase)."""
    from tonne.projects import picklists

    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.capitalize() for part in rest)

    return {camel(name): values for name, values in picklists.picklists("2").items()}
