"""CAD Trust files: JSON, CSV (one file per sheet, zipped) and Excel in the
CAD Trust layouts, written byte for byte the same for the same data, and
read back into rows (nothing here touches the database)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

from tonne.cadt import schema
from tonne.cadt.schema import V1, V2
from tonne.core.errors import ValidationFailed
from tonne.core.spreadsheets import safe_row

FORMATS = ("json", "csv", "xlsx")
FIXED_TIME = (2000, 1, 1, 0, 0, 0)  # zip entry times: the same data gives the same bytes
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_UNPACKED_BYTES = 500 * 1024 * 1024  # a zip (Excel or CSVs) may not unpack to more
MAX_ROWS = 500_000
MAX_COLUMNS = 500
MAX_CELLS = 50_000_000  # cells read from a workbook, empty ones included

Row = dict[str, Any]


# -- writing ------------------------------------------------------------------------


def to_json(doc: dict[str, list[Row]]) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _cell(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


def v2_sheets(tables: dict[str, list[Row]]) -> list[tuple[str, tuple[str, ...], list[list[Any]]]]:
    sheets = []
    for sheet, table in schema.V2_SHEETS.items():
        columns = schema.v2_sheet_columns(sheet)
        rows = [[_cell(r.get(schema.v2_column_field(table, c))) for c in columns] for r in tables.get(table, [])]
        sheets.append((sheet, columns, rows))
    return sheets


def v1_sheets(doc: dict[str, list[Row]]) -> list[tuple[str, tuple[str, ...], list[list[Any]]]]:
    """v1 workbook: one sheet per table; nested lists become sheets that join on ids."""
    found: dict[str, dict[str, Row]] = {name: {} for name in schema.V1_SHEETS}
    for project in doc.get("projects", []):
        found["projects"][project["warehouseProjectId"]] = project
        for child in schema.V1_PROJECT_CHILDREN:
            for row in project.get(child) or []:
                found[child].setdefault(row["id"], row)
    for unit in doc.get("units", []):
        found["units"][unit["warehouseUnitId"]] = unit
        if unit.get("issuance"):
            found["issuances"].setdefault(unit["issuance"]["id"], unit["issuance"])
        for label in unit.get("labels") or []:
            found["labels"].setdefault(label["id"], label)
            link = {
                "id": label_unit_id(unit["warehouseUnitId"], label["id"]),
                "orgUid": unit.get("orgUid"),
                "warehouseUnitId": unit["warehouseUnitId"],
                "labelId": label["id"],
                "createdAt": unit.get("createdAt"),
                "updatedAt": unit.get("createdAt"),
            }
            found["label_units"][link["id"]] = link
    sheets = []
    for name in schema.V1_SHEETS:
        columns = schema.v1_columns(name)
        rows = [[_cell(r.get(c)) for c in columns] for _, r in sorted(found[name].items())]
        sheets.append((name, columns, rows))
    return sheets


def label_unit_id(unit: str, label: str) -> str:
    from tonne.cadt.domain import derived_id

    return derived_id("v1", "label_units", unit, label)


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()


def csv_text(columns: tuple[str, ...], rows: list[list[Any]], *, for_people: bool = False) -> bytes:
    """`for_people`: a file people open in a spreadsheet program, so text that
    would be read as a formula is neutralised (OWASP's rule)."""
    guard = safe_row if for_people else list
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(guard(columns))
    for row in rows:
        writer.writerow(guard(["" if v is None else v for v in row]))
    return buffer.getvalue().encode("utf-8")


def to_csv_zip(sheets: list[tuple[str, tuple[str, ...], list[list[Any]]]], *, for_people: bool = False) -> bytes:
    return _zip([(f"{name}.csv", csv_text(columns, rows, for_people=for_people)) for name, columns, rows in sheets])


def to_xlsx(sheets: list[tuple[str, tuple[str, ...], list[list[Any]]]], *, for_people: bool = False) -> bytes:
    """Every text cell is stored as text, never as a formula; `for_people`
    also neutralises text a spreadsheet program would take for one."""
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    moment = dt.datetime(*FIXED_TIME)
    workbook.properties.created = moment
    workbook.properties.modified = moment
    workbook.properties.creator = "Tonne"
    for name, columns, rows in sheets:
        sheet = workbook.create_sheet(title=name[:31])
        guard = safe_row if for_people else list
        sheet.append(guard(columns))
        for row in rows:
            sheet.append(guard(row))
            for cell in sheet[sheet.max_row]:
                if cell.data_type == "f":  # openpyxl reads a leading "=" as a formula
                    cell.data_type = "s"
    raw = io.BytesIO()
    workbook.save(raw)
    # openpyxl stamps the zip entries and the "modified" property with the
    # current time: fix both, so the same data gives the same bytes.
    with zipfile.ZipFile(io.BytesIO(raw.getvalue())) as archive:
        members = [(info.filename, archive.read(info.filename)) for info in archive.infolist()]
    stamp = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")
    members = [
        (name, stamp.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", data) if name == "docProps/core.xml" else data)
        for name, data in members
    ]
    return _zip(members)


# -- reading ------------------------------------------------------------------------


@dataclass
class SourceRow:
    raw: dict[str, Any]
    row: int
    sheet: str | None = None


@dataclass
class Parsed:
    version: str
    file_format: str
    # v2: table -> rows. v1: "projects" / "units" -> documents (children nested).
    tables: dict[str, list[SourceRow]] = field(default_factory=dict)
    # What reading noted without refusing: {"table", "row", "sheet", "field", "code", "message"}.
    notes: list[dict[str, Any]] = field(default_factory=list)


def unreadable(message: str) -> ValidationFailed:
    return ValidationFailed("CADT_FILE_UNREADABLE", message, field="file")


def parse(content: bytes, *, filename: str = "", table: str | None = None) -> Parsed:
    if not content:
        raise unreadable("The file is empty.")
    if len(content) > MAX_FILE_BYTES:
        raise unreadable("The file is larger than 50 MB.")
    if content[:2] == b"PK":
        try:
            archive = zipfile.ZipFile(io.BytesIO(content))
            names = archive.namelist()
            unpacked = sum(info.file_size for info in archive.infolist())
        except (zipfile.BadZipFile, ValueError):
            raise unreadable("The file looks like a zip archive (Excel or zipped CSV) but cannot be opened.") from None
        if unpacked > MAX_UNPACKED_BYTES:
            raise unreadable("The archive unpacks to more than 500 MB.")
        if "[Content_Types].xml" in names:
            return _parse_xlsx(content)
        csvs = [n for n in names if n.lower().endswith(".csv")]
        if not csvs:
            raise unreadable("The zip archive holds no CSV files and is not an Excel workbook.")
        sheets = {}
        for member in csvs:
            title = member.rsplit("/", 1)[-1][:-4]
            sheets[title] = _read_csv(archive.read(member), title)
        return _from_sheets(sheets, "csv")
    text = _decode(content)
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            data = json.loads(stripped)
        except ValueError as exc:
            raise unreadable(f"The file is not valid JSON: {exc}.") from None
        return _from_json(data, table)
    if filename.lower().endswith((".xlsx", ".json", ".zip")):
        raise unreadable(f"{filename} does not hold what its name says.")
    rows = _read_csv(content, table or "")
    sheet: str | None = _sheet_named(table) if table else _guess_sheet(rows[0][1] if rows else [])
    if sheet is None:
        raise unreadable("The file is neither a CAD Trust Excel workbook, JSON, nor a CSV whose header names a CAD Trust table.")
    return _from_sheets({sheet: rows}, "csv")


def _sheet_named(table: str) -> str:
    """A v2 table name (project) or sheet name (projects) as the sheet name."""
    for sheet, name in schema.V2_SHEETS.items():
        if table in (sheet, name):
            return sheet
    raise ValidationFailed(
        "CADT_TABLE_UNKNOWN", f"table must be one of the v2 tables: {', '.join(schema.v2_tables())}.", field="table",
        details={"allowed": list(schema.v2_tables())},
    )


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise unreadable("The file is not UTF-8 text, a JSON document, an Excel workbook or a zip of CSV files.") from None


def _read_csv(content: bytes, sheet: str) -> list[tuple[int, list[str]]]:
    text = _decode(content)
    if "\x00" in text:
        raise unreadable(f"{sheet or 'The file'} is binary, not CSV.")
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise unreadable(f"{sheet or 'The file'} is not readable CSV: {exc}.") from None
    return [(n, r) for n, r in enumerate(rows, start=1)]


def _guess_sheet(header: list[str]) -> str | None:
    names = {h.strip() for h in header if h.strip()}
    if not names:
        return None
    best: tuple[int, str] | None = None
    for sheet in schema.V2_SHEETS:
        columns = set(schema.v2_sheet_columns(sheet))
        if names <= columns and (best is None or len(names & columns) > best[0]):
            best = (len(names & columns), sheet)
    for sheet in schema.V1_SHEETS:
        columns = set(schema.v1_columns(sheet))
        if names <= columns and (best is None or len(names & columns) > best[0]):
            best = (len(names & columns), f"v1:{sheet}")
    return best[1] if best else None


def _parse_xlsx(content: bytes) -> Parsed:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        raise unreadable(f"The Excel workbook cannot be read: {type(exc).__name__}.") from None
    # A damaged sheet can also fail while it is read.
    try:
        sheets = _read_sheets(workbook)
    except ValidationFailed:
        raise
    except Exception as exc:  # noqa: BLE001
        raise unreadable(f"The Excel workbook cannot be read: {type(exc).__name__}.") from None
    return _from_sheets(sheets, "xlsx")


def _read_sheets(workbook: Any) -> dict[str, list[tuple[int, list[Any]]]]:
    """Every sheet's rows, read as the sheet's XML holds them: the declared
    dimensions are ignored (a 1.5 kB file may declare A1:XFD1048576), trailing
    empty cells dropped, and a cap on cells read refuses a file of empty space."""
    sheets: dict[str, list[tuple[int, list[Any]]]] = {}
    cells = 0
    for sheet in workbook.worksheets:
        if hasattr(sheet, "reset_dimensions"):
            sheet.reset_dimensions()
        rows = []
        for n, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if n > MAX_ROWS:
                raise unreadable(f"Sheet {sheet.title!r} has more than {MAX_ROWS} rows.")
            cells += len(values)
            if cells > MAX_CELLS:
                raise unreadable(f"The workbook holds more than {MAX_CELLS} cells.")
            row = list(values)
            while row and row[-1] in (None, ""):
                row.pop()
            if len(row) > MAX_COLUMNS:
                raise unreadable(f"Sheet {sheet.title!r} row {n} has more than {MAX_COLUMNS} columns.")
            rows.append((n, row))
        sheets[sheet.title] = rows
    workbook.close()
    return sheets


V1_MARKERS = {"warehouseProjectId", "warehouseUnitId", "registryOfOrigin", "unitBlockStart", "originProjectId", "labelId"}
V2_MARKERS = {"cadTrustProjectId", "cadTrustUnitId", "projectRegistryName", "unitSerialId", "cadTrustIssuanceId",
              "locationCountry", "cadTrustLabelId", "programName", "methodologyCode", "stakeholderName", "labelName"}


def _sheet_version(sheet: str, header: list[Any]) -> str | None:
    names = {str(h).strip() for h in header if h is not None}
    if sheet.startswith("v1:"):
        return V1
    if names & V1_MARKERS:
        return V1
    if names & V2_MARKERS or sheet in ("coBenefits", "stakeholderProjects") and "cadTrustProjectId" in names:
        return V2
    return None


def _from_sheets(sheets: dict[str, list[tuple[int, list[Any]]]], file_format: str) -> Parsed:
    versions = set()
    readable: dict[str, tuple[list[str], list[tuple[int, list[Any]]]]] = {}
    for sheet, rows in sheets.items():
        rows = [(n, r) for n, r in rows if any(v not in (None, "") for v in r)]
        if not rows:
            continue
        header = ["" if h is None else str(h).strip() for h in rows[0][1]]
        version = _sheet_version(sheet, header)
        if version is None:
            raise unreadable(f"Sheet {sheet!r} is not a CAD Trust sheet (its header names no CAD Trust fields).")
        versions.add(version)
        readable[sheet.removeprefix("v1:")] = (header, rows[1:])
    if not readable:
        raise unreadable("The file holds no rows.")
    if len(versions) > 1:
        raise unreadable("The file mixes CAD Trust v1 and v2 sheets; import them separately.")
    version = versions.pop()
    tables: dict[str, list[SourceRow]] = {}
    # Sheets found by their header when their name is not the layout's (the live node writes "Sheet1").
    named: dict[str, tuple[str, list[str], list[tuple[int, list[Any]]]]] = {}
    for title, (header, rows) in readable.items():
        known = schema.V1_SHEETS if version == V1 else (*schema.V2_SHEETS, "stakeholderProjects")
        name = title if title in known else _sheet_by_content(header, version)
        if name is None or name in named:
            layout = ", ".join(schema.V1_SHEETS if version == V1 else schema.V2_SHEETS)
            raise unreadable(f"Sheet {title!r} is not a sheet of the CAD Trust v{version[0]} layout ({layout}), "
                             "and its header does not say which one it is.")
        named[name] = (title, header, rows)
    for sheet, (title, header, rows) in named.items():
        table = schema.V2_SHEETS.get(sheet, sheet) if version == V2 else sheet
        out = []
        for n, values in rows:
            raw = {}
            for i, column in enumerate(header):
                if not column:
                    continue
                value = values[i] if i < len(values) else None
                key = schema.v2_column_field(table, column) if version == V2 else column
                raw[key] = None if value == "" else value
            out.append(SourceRow(raw=raw, row=n, sheet=title))
        tables[table] = out
    if version == V1:
        notes: list[dict[str, Any]] = []
        return Parsed(version=V1, file_format=file_format, tables=_v1_assemble(tables, notes), notes=notes)
    return Parsed(version=V2, file_format=file_format, tables=tables)


def _sheet_by_content(header: list[str], version: str) -> str | None:
    """The layout sheet sharing most columns with a header (at least half of the header's names)."""
    names = {h for h in header if h}
    if not names:
        return None
    if version == V1:
        candidates = {sheet: set(schema.v1_columns(sheet)) for sheet in schema.V1_SHEETS}
    else:
        candidates = {sheet: set(schema.v2_sheet_columns(sheet)) for sheet in schema.V2_SHEETS}
    scored = sorted(((len(names & columns), sheet) for sheet, columns in candidates.items()), reverse=True)
    best, sheet = scored[0]
    if best * 2 < len(names) or (len(scored) > 1 and scored[1][0] == best):
        return None
    return sheet


def _v1_assemble(tables: dict[str, list[SourceRow]], notes: list[dict[str, Any]]) -> dict[str, list[SourceRow]]:
    """Put v1 child sheets back under their project / unit."""
    projects = tables.get("projects", [])
    by_project: dict[str, SourceRow] = {}
    for p in projects:
        for child in schema.V1_PROJECT_CHILDREN:
            p.raw[child] = []
        by_project[str(p.raw.get("warehouseProjectId") or "")] = p
    rows_by_id: dict[str, dict[str, dict[str, Any]]] = {}
    for child in schema.V1_PROJECT_CHILDREN:
        rows_by_id[child] = {}
        for r in tables.get(child, []):
            rows_by_id[child][str(r.raw.get("id"))] = r.raw
            parent = by_project.get(str(r.raw.get("warehouseProjectId") or ""))
            if parent is not None:
                parent.raw[child].append(r.raw)
            elif child != "issuances" or not r.raw.get("id"):
                notes.append(_note(child, r, "warehouseProjectId", "CHILD_WITHOUT_PARENT",
                                   f"{child} row names project {r.raw.get('warehouseProjectId')!r}, which is not in "
                                   "the file; the row was not imported."))
    links: dict[str, list[str]] = {}
    for link in tables.get("label_units", []):
        links.setdefault(str(link.raw.get("warehouseUnitId")), []).append(str(link.raw.get("labelId")))
    units = tables.get("units", [])
    used_issuances = set()
    for u in units:
        issuance = rows_by_id["issuances"].get(str(u.raw.get("issuanceId")))
        if issuance is not None:
            u.raw["issuance"] = issuance
            used_issuances.add(str(u.raw.get("issuanceId")))
        elif u.raw.get("issuanceId"):
            notes.append(_note("units", u, "issuanceId", "CHILD_WITHOUT_PARENT",
                               f"issuanceId {u.raw.get('issuanceId')!r} is not on the issuances sheet."))
        label_ids = links.get(str(u.raw.get("warehouseUnitId")), [])
        u.raw["labels"] = [rows_by_id["labels"][i] for i in sorted(label_ids) if i in rows_by_id["labels"]]
    for r in tables.get("issuances", []):
        ident = str(r.raw.get("id"))
        if ident not in used_issuances and by_project.get(str(r.raw.get("warehouseProjectId") or "")) is None:
            notes.append(_note("issuances", r, "id", "CHILD_WITHOUT_PARENT",
                               f"issuance {ident} belongs to no project and no unit in the file; it was not imported."))
    return {"projects": projects, "units": units}


def _note(table: str, row: SourceRow, name: str, code: str, message: str) -> dict[str, Any]:
    return {"table": table, "row": row.row, "sheet": row.sheet, "field": name, "code": code, "message": message}


def _v1_shaped(data: Any) -> bool:
    """A v1 document: a project or unit object, or {"projects": [...], "units": [...]} of them."""
    if not isinstance(data, dict):
        return False
    if set(data) & {"registryOfOrigin", "warehouseProjectId", "projectDeveloper", "unitBlockStart", "warehouseUnitId"}:
        return True
    if data and set(data) <= {"projects", "units"}:
        rows = [r for v in data.values() if isinstance(v, list) for r in v]
        return any(isinstance(r, dict) and set(r) & V1_MARKERS for r in rows) or not rows
    return False


# CAD Trust API answers nest associations in a record: these become rows of their own tables.
V2_NESTED = {
    "project": {"locations": "location", "estimations": "estimation", "ratings": "rating", "coBenefits": "co_benefit",
                "validations": "validation", "verifications": "verification",
                "projectMethodologies": "project_methodology", "stakeholders": "stakeholder", "program": "program"},
    "unit": {"unitLabels": "unit_label", "issuance": "issuance"},
}
V2_NESTED_PARENT = {"project": "cadTrustProjectId", "unit": "cadTrustUnitId"}


def _v2_records(name: str, records: list[dict[str, Any]]) -> dict[str, list[SourceRow]]:
    """Rows of one v2 table, with nested associations moved to their own tables (once each)."""
    tables: dict[str, list[SourceRow]] = {name: []}
    seen: set[tuple[str, str]] = set()
    for n, record in enumerate(records, start=1):
        raw = dict(record)
        for key, child_table in V2_NESTED.get(name, {}).items():
            nested = raw.pop(key, None)
            if nested is None:
                continue
            children = nested if isinstance(nested, list) else [nested]
            spec = schema.v2_tables()[child_table]
            for child in children:
                if not isinstance(child, dict):
                    raise unreadable(f"{name} {n}: {key} must hold records.")
                child = dict(child)
                if spec.parent == V2_NESTED_PARENT[name] and not child.get(spec.parent):
                    child[spec.parent] = raw.get(V2_NESTED_PARENT[name])
                ident = (child_table, str(child.get(spec.key)))
                if child.get(spec.key) is not None and ident in seen:
                    continue
                seen.add(ident)
                tables.setdefault(child_table, []).append(SourceRow(raw=child, row=n))
        tables[name].append(SourceRow(raw=raw, row=n))
    return tables


def _from_json(data: Any, table: str | None) -> Parsed:
    if isinstance(data, dict) and set(data) == {"page", "pageCount", "data"} and isinstance(data["data"], list):
        data = data["data"]  # a saved CAD Trust API page
    if isinstance(data, dict) and not _v1_shaped(data) and set(data) & (set(schema.v2_tables()) | set(schema.V2_SHEETS)):
        unknown = set(data) - set(schema.v2_tables()) - set(schema.V2_SHEETS)
        if unknown:
            raise unreadable(f"Unknown CAD Trust v2 tables in the file: {', '.join(sorted(unknown))}.")
        tables: dict[str, list[SourceRow]] = {}
        for key, rows in data.items():
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise unreadable(f"{key} must be a list of records.")
            tables[schema.V2_SHEETS.get(str(key), str(key))] = [SourceRow(raw=dict(r), row=n) for n, r in enumerate(rows, start=1)]
        return Parsed(version=V2, file_format="json", tables=tables)
    if isinstance(data, dict) and set(data) <= {"projects", "units"} and data:
        out: dict[str, list[SourceRow]] = {}
        for key, rows in data.items():
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise unreadable(f"{key} must be a list of records.")
            out[key] = [SourceRow(raw=dict(r), row=n) for n, r in enumerate(rows, start=1)]
        return Parsed(version=V1, file_format="json", tables=out)
    records = data if isinstance(data, list) else [data]
    if not records or not all(isinstance(r, dict) for r in records):
        raise unreadable("The JSON holds no CAD Trust records.")
    keys = set().union(*(r.keys() for r in records))
    if keys & {"registryOfOrigin", "warehouseProjectId", "projectDeveloper"}:
        return Parsed(V1, "json", {"projects": [SourceRow(raw=dict(r), row=n) for n, r in enumerate(records, 1)]})
    if keys & {"unitBlockStart", "warehouseUnitId", "serialNumberBlock"}:
        return Parsed(V1, "json", {"units": [SourceRow(raw=dict(r), row=n) for n, r in enumerate(records, 1)]})
    nested = {k for spec in V2_NESTED.values() for k in spec}
    guess = _sheet_named(table) if table else _guess_sheet(sorted(keys - nested))
    if guess is None and not table:
        # Records with columns of their own: the table whose id field they carry, most fields in common.
        candidates = [(len(keys & set(spec.names)), sheet) for sheet, t in schema.V2_SHEETS.items()
                      for spec in [schema.v2_tables()[t]] if spec.key in keys]
        guess = max(candidates)[1] if candidates else None
    name = schema.V2_SHEETS.get(guess or "")
    if name is None:
        raise unreadable("The JSON records match no CAD Trust table; name the table.")
    return Parsed(V2, "json", _v2_records(name, records))
