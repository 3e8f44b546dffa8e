"""Pure rules for CAD Trust data: field checks of one row, the mapping of
Tonne's statuses to CAD Trust's lists, serial ranges for double counting."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from tonne.cadt.schema import V1, Field, Table
from tonne.core.errors import ValidationFailed
from tonne.projects import picklists

# Identifiers Tonne derives (for rows a file gives without one) live under this namespace.
NAMESPACE = uuid.UUID("6f1c1f62-4f5e-4a36-9a0c-2f7d4c1a9e11")
PLACEHOLDER_RE = re.compile(r"^NEW-\d+$")
TEMPLATE_RE = re.compile(r"^\{\{.*\}\}$")
URL_RE = re.compile(r"^https?://\S+$", re.IGNORECASE)


@dataclass
class Problem:
    """One reason a row is refused (or, for warnings, noted)."""

    table: str
    row: int  # 1-based: the sheet's row number for Excel/CSV, the position for JSON
    field: str | None
    code: str
    message: str
    sheet: str | None = None
    record: str | None = None
    owner: tuple[str, str] | None = None  # (table, id) of the record the row is; not reported

    def as_dict(self) -> dict[str, Any]:
        out = {"table": self.table, "row": self.row, "field": self.field, "code": self.code, "message": self.message}
        if self.sheet:
            out["sheet"] = self.sheet
        if self.record:
            out["record"] = self.record
        return out


@dataclass
class Cleaned:
    data: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def derived_id(*parts: str) -> str:
    """A stable identifier for a row that arrived without one: the same row gives the same id."""
    return str(uuid.uuid5(NAMESPACE, "|".join(parts)))


def content_digest(data: dict[str, Any], *, ignore: tuple[str, ...] = ()) -> str:
    body = {k: v for k, v in data.items() if k not in ignore}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


# -- values ------------------------------------------------------------------------


def iso_date(value: dt.date | dt.datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC).date() if value.tzinfo else value.date()
    return value.isoformat()


def iso_datetime(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError("a text value")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        raise ValueError("a text value")
    return str(value).strip()


# CAD Trust's own timestamps put a space before the offset: 2011-01-18 00:05:45.701 +00:00
_SPACED_OFFSET = re.compile(r"(\d)\s+([+-]\d{2}:?\d{2}|Z)$")


def _iso_text(value: Any) -> str:
    return _SPACED_OFFSET.sub(r"\1\2", _as_text(value))


def _parse_date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return iso_date(value) or ""
    if isinstance(value, dt.date):
        return value.isoformat()
    text = _iso_text(value)
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text).isoformat()
        return iso_date(dt.datetime.fromisoformat(text.replace("Z", "+00:00"))) or ""
    except ValueError:
        raise ValueError("a date (YYYY-MM-DD)") from None


def _parse_datetime(value: Any) -> str:
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return iso_datetime(moment) or ""
    if isinstance(value, dt.date):
        return iso_datetime(dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)) or ""
    text = _iso_text(value)
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return iso_datetime(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)) or ""
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("a date and time (ISO 8601)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return iso_datetime(moment) or ""


def _parse_number(value: Any, *, integer: bool) -> int | float:
    if isinstance(value, bool):
        raise ValueError("a number")
    if isinstance(value, int):
        number: Decimal = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(str(value))
    else:
        try:
            number = Decimal(_as_text(value).replace(",", ""))
        except InvalidOperation:
            raise ValueError("a number") from None
    if not number.is_finite() or number < 0:
        raise ValueError("a number not below zero")
    if number == number.to_integral_value():
        return int(number)
    if integer:
        raise ValueError("a whole number")
    return float(number)


def _parse_list(value: Any) -> list[str]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise ValueError('a list, e.g. ["value one","value two"]') from None
        else:
            value = [text]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError('a list of text values, e.g. ["value one","value two"]')
    return [v.strip() for v in value]


def _parse_guid(value: Any) -> str:
    try:
        return str(uuid.UUID(_as_text(value)))
    except ValueError:
        raise ValueError("an identifier (UUID)") from None


def clean_row(table: Table, raw: dict[str, Any], *, row: int, sheet: str | None = None) -> Cleaned:
    """Check one row of a CAD Trust table; return its normalised form and every problem found."""
    out = Cleaned(data={})
    known = set(table.names)
    for name in raw:
        if name not in known and not (table.version == V1 and name in ("issuance", "labels", "label_unit")):
            # Not refused (nodes add their own columns), but not kept either: say so.
            out.warnings.append(
                Problem(table.name, row, name, "FIELD_IGNORED", f"{name} is not a field of {table.name}; it was ignored.",
                        sheet)
            )
    for f in table.fields:
        if f.kind in ("object", "array") or f.name == "timeStaged":
            continue  # nested records are checked on their own; staging time is the sender's
        value = raw.get(f.name)
        if _blank(value) or (f.kind == "list" and value == []):
            out.data[f.name] = None
            if f.required and f.source == "user_input" and f.kind != "guid":
                out.problems.append(
                    Problem(table.name, row, f.name, "FIELD_REQUIRED", f"{f.name} is required.", sheet)
                )
            continue
        try:
            out.data[f.name] = _clean_value(table, f, value)
        except ValidationFailed as exc:
            out.data[f.name] = None
            out.problems.append(Problem(table.name, row, f.name, exc.code, exc.message, sheet))
        except ValueError as exc:
            out.data[f.name] = None
            out.problems.append(
                Problem(table.name, row, f.name, "FIELD_INVALID", f"{f.name} must be {exc}; got {value!r}.", sheet)
            )
    return out


def _clean_value(table: Table, f: Field, value: Any) -> Any:
    if f.kind == "guid":
        text = _as_text(value)
        if TEMPLATE_RE.match(text):
            raise ValidationFailed(
                "PLACEHOLDER_UNRESOLVED", f"{f.name} is the template placeholder {text}: put the record's id there."
            )
        return text if PLACEHOLDER_RE.match(text) else _parse_guid(text)
    if f.kind == "date":
        return _parse_date(value)
    if f.kind == "datetime":
        return _parse_datetime(value)
    if f.kind == "year":
        year = _parse_number(value, integer=True)
        if not 1900 <= year <= 3000:
            raise ValueError("a year between 1900 and 3000")
        return year
    if f.kind in ("decimal", "int"):
        return _parse_number(value, integer=f.kind == "int")
    if f.kind == "list":
        values = _parse_list(value)
        if f.picklist:
            values = [picklists.check_value(f.name, f.picklist, v, table.version) for v in values]
        return values
    text = _as_text(value)
    if f.kind == "url" and not URL_RE.match(text):
        raise ValueError("a link starting with http:// or https://")
    if f.picklist and _has_picklist(f.picklist, table.version):
        return picklists.check_value(f.name, f.picklist, text, table.version)
    return text


def _has_picklist(name: str, version: str) -> bool:
    return name in picklists.picklists(version)


# -- statuses ------------------------------------------------------------------------

# Where a unit block is tells its CAD Trust status (v2 unit_status picklist).
UNIT_STATUS_V2 = {
    "holding": "Held",
    "sop": "Held",
    "buffer": "Buffer",
    "retirement": "Retired",
    "cancellation": "Cancelled",
    "omge": "Cancelled",
    "export": "Inactive",
}
UNIT_STATUS_V1 = {
    "holding": "Held",
    "sop": "Held",
    "buffer": "Buffer",
    "retirement": "Retired",
    "cancellation": "Cancelled",
    "omge": "Cancelled",
    "export": "Exported",
}
UNIT_STATUS_REASON = {
    "holding": "Held in a holding account",
    "sop": "Share of proceeds for adaptation",
    "buffer": "Buffer pool contribution against reversals",
    "retirement": "Retired",
    "cancellation": "Cancelled",
    "omge": "Cancelled for overall mitigation in global emissions",
    "export": "Transferred to another registry",
}
PROJECT_STATUS_V2 = {
    "submitted": "Listed",
    "approved": "Listed",
    "validated": "Validated",
    "registered": "Registered",
    "completed": "Completed",
    "rejected": "Rejected",
    "withdrawn": "Withdrawn",
    "on_hold": "Inactive",
}
PROJECT_STATUS_V1 = {
    "submitted": "Listed",
    "approved": "Listed",
    "validated": "Listed",
    "registered": "Registered",
    "completed": "Completed",
    "rejected": "Withdrawn",
    "withdrawn": "Withdrawn",
    "on_hold": "Listed",
}
NDC_COVERAGE_V1 = {"inside": "Inside NDC", "outside": "Outside NDC", "unknown": "Unknown"}
# v1 ratings state their scale; v2 does not. The scales of the v2 rating types.
RATING_SCALES = {"CCQI": ("1", "5"), "CDP": ("D-", "A")}
# v2 label types -> the v1 list.
LABEL_TYPE_V1 = {
    "Certification": "Certification",
    "Article 6 - Authorisation": "Letter of Authorization",
    "Article 6 - Endorsement": "Endorsement",
    "Article 6 - Letter of Approvals": "Letter of Approval",
    "Article 6 - Letter of Qualification": "Letter of Qualification",
}


# -- serial ranges --------------------------------------------------------------------

_TRAILING_NUMBER = re.compile(r"^(.*?)(\d+)$")
_TONNE_STEM = re.compile(r"^([A-Z]{2})-[A-Z][A-Z0-9.]{0,9}-\d{1,2}-\d{4,}-\d{4}-\d+$")


@dataclass(frozen=True)
class UnitRange:
    """A unit row's serials as numbers within a namespace of serials."""

    namespace: str
    start: int
    end: int

    def overlaps(self, other: UnitRange) -> bool:
        return self.namespace == other.namespace and self.start <= other.end and other.start <= self.end


def tonne_namespace(host: str) -> str:
    return f"tonne:{host}"


def unit_range(serial_id: str | None, start_block: str | None, end_block: str | None, issuance: str | None) -> UnitRange:
    """Serial blocks end in a number (CADT: '1000', v1 'AXJJ1000'); what comes
    before it, or else the serial id without its range, names the series.
    Tonne serials (CC-TYPE-scope-project-vintage-issuance-start-end) share
    one series per registry."""
    first = _TRAILING_NUMBER.match(start_block or "")
    last = _TRAILING_NUMBER.match(end_block or "")
    if first is None or last is None:
        raise ValidationFailed("UNIT_BLOCK_NOT_NUMERIC", "unitStartBlock and unitEndBlock must end in a serial number.")
    if first.group(1) != last.group(1):
        raise ValidationFailed(
            "UNIT_BLOCK_SERIES_MISMATCH",
            f"unitStartBlock {start_block!r} and unitEndBlock {end_block!r} are not of the same series.",
        )
    start, end = int(first.group(2)), int(last.group(2))
    if end < start:
        raise ValidationFailed("UNIT_BLOCK_REVERSED", f"unitEndBlock {end_block} is before unitStartBlock {start_block}.")
    namespace = first.group(1)
    if not namespace:
        stem = (serial_id or "").strip()
        suffix = f"-{start_block}-{end_block}"
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
        tonne = _TONNE_STEM.match(stem)
        if tonne:
            namespace = tonne_namespace(tonne.group(1))
        else:
            namespace = stem or f"issuance:{issuance or ''}"
    return UnitRange(namespace=namespace, start=start, end=end)


# -- Article 6 in CAD Trust terms ---------------------------------------------------------
# v1 carries the corresponding adjustment on the unit (picklists
# correspondingAdjustmentDeclaration and correspondingAdjustmentStatus); v2
# carries the ITMO identifier (unitItmosReferenceId) and, through a unit
# label, the authorisation ("Article 6 - Authorisation") with the adjustment
# in the label's description. Units without authorisation are mitigation
# contribution units: no corresponding adjustment, and a label that says so.
CA_COMMITTED, CA_NOT_REQUIRED = "Committed", "Not Required"
CA_NOT_STARTED, CA_PENDING, CA_COMPLETED = "Not Started", "Pending", "Completed"
ARTICLE6_LABEL_TYPE = "Article 6 - Authorisation"
MITIGATION_CONTRIBUTION_LABEL = "Mitigation contribution unit"
MITIGATION_CONTRIBUTION_LABEL_TYPE = "Certification"
MITIGATION_CONTRIBUTION_TAG = "Mitigation contribution unit (not authorised under Article 6)"


def corresponding_adjustment(segment: dict[str, Any]) -> tuple[str, str]:
    """(declaration, status) of a range with one Article 6 status: authorised
    units are committed to an adjustment, completed once their first transfer
    recorded it (units received from another Party: by that Party); before
    the first transfer it has not started, or, for units received without a
    first transfer, is pending with the first transferring Party."""
    if segment.get("label") != "authorised":
        return CA_NOT_REQUIRED, CA_NOT_STARTED
    if segment.get("first_transferred"):
        return CA_COMMITTED, CA_COMPLETED
    return CA_COMMITTED, CA_PENDING if segment.get("received_from") else CA_NOT_STARTED


def article6_description(segment: dict[str, Any]) -> str:
    """What a unit label says of a range's Article 6 status."""
    declaration, status = corresponding_adjustment(segment)
    if segment.get("label") != "authorised":
        return f"{MITIGATION_CONTRIBUTION_TAG}; corresponding adjustment: {declaration}"
    return (f"Authorisation {segment['authorisation']}; ITMO {segment['itmo_id']}; "
            f"corresponding adjustment: {declaration}, {status}")
