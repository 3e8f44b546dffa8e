"""Pure rules for projects: field checks and the life cycle."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from tonne.core import iso3166, text
from tonne.core.errors import ValidationFailed
from tonne.projects import picklists

# Who may move a project from one status to another.
DEVELOPER, ADMINISTRATOR, VVB = "developer", "administrator", "vvb"

TRANSITIONS: dict[tuple[str, str], str] = {
    ("draft", "submitted"): DEVELOPER,
    ("submitted", "approved"): ADMINISTRATOR,
    ("submitted", "rejected"): ADMINISTRATOR,
    ("approved", "validated"): VVB,
    ("approved", "rejected"): VVB,
    ("validated", "registered"): ADMINISTRATOR,
    ("validated", "rejected"): ADMINISTRATOR,
    ("registered", "completed"): ADMINISTRATOR,
}
for _status in ("draft", "submitted", "approved", "validated"):
    TRANSITIONS[(_status, "withdrawn")] = DEVELOPER
# A rejected project goes back to draft for its developer to correct and resubmit.
TRANSITIONS[("rejected", "draft")] = DEVELOPER
for _status in ("submitted", "approved", "validated", "registered"):
    TRANSITIONS[(_status, "on_hold")] = ADMINISTRATOR
    # Lifting a hold returns the project to where it was.
    TRANSITIONS[("on_hold", _status)] = ADMINISTRATOR

UNIT_CLASS_RE = re.compile(r"^[A-Z][A-Z0-9.]{0,9}$")
TERMINAL = frozenset({"withdrawn", "completed"})
EDITABLE = frozenset({"draft"})
# Once submitted, a project's developer may still correct these (each change
# logged); every other field is relied upon by validation, issuance, serials,
# the buffer or Article 6 accounting, and is refused.
AMENDABLE = frozenset({"link", "description", "subtype", "grievance_contact", "benefit_sharing_plan",
                       "consent_evidence", "reference_project_id"})
AMENDABLE_CHILDREN = frozenset({"ratings", "co_benefits", "labels", "stakeholders", "related_projects"})
ISSUABLE = frozenset({"registered"})


def party_for_transition(current: str, target: str) -> str:
    party = TRANSITIONS.get((current, target))
    if party is None:
        raise ValidationFailed(
            "PROJECT_TRANSITION_NOT_ALLOWED", f"A project cannot go from {current} to {target}.", field="status",
            details={"status": current, "target": target},
        )
    return party


@dataclass(frozen=True)
class FieldSpec:
    name: str
    required: bool = False
    picklist: str | None = None
    many: bool = False
    kind: str = "text"  # text, date, int, url, party
    # Longest text kept (the column's length); longer is refused, never cut.
    limit: int = 20_000


PROJECT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("name", limit=300, required=True),
    FieldSpec("registry_name", limit=200),
    FieldSpec("crediting_program", limit=200),
    FieldSpec("link", limit=500, kind="url"),
    FieldSpec("description"),
    FieldSpec("sectors", required=True, picklist="project_sector", many=True),
    FieldSpec("types", required=True, picklist="project_type", many=True),
    FieldSpec("subtype", limit=200),
    FieldSpec("unit_metric", picklist="unit_metric"),
    FieldSpec("unit_type", picklist="unit_type"),
    FieldSpec("reference_project_id", limit=200),
    FieldSpec("host_party", kind="party"),
    FieldSpec("sectoral_scope", required=True, kind="int"),
    FieldSpec("ndc_coverage"),
    FieldSpec("article6_status"),
    FieldSpec("unit_class", limit=10),
    FieldSpec("non_permanence_risk"),
    FieldSpec("buffer_basis_points", kind="int"),
    FieldSpec("crediting_period_start", kind="date"),
    FieldSpec("crediting_period_end", kind="date"),
    FieldSpec("benefit_sharing_plan"),
    FieldSpec("consent_evidence"),
    FieldSpec("grievance_contact", limit=300),
)

CHILD_FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "locations": (
        FieldSpec("country", required=True, picklist="location_country"),
        FieldSpec("region", limit=200),
        FieldSpec("gis"),
        FieldSpec("map_type", picklist="location_map_type"),
        FieldSpec("map_file_link", limit=500, kind="url"),
    ),
    "estimations": (
        FieldSpec("start_date", required=True, kind="date"),
        FieldSpec("end_date", required=True, kind="date"),
        FieldSpec("unit_count", required=True, kind="int"),
        FieldSpec("reference_no", limit=100),
    ),
    "ratings": (
        FieldSpec("type", required=True, picklist="rating_type"),
        FieldSpec("name", limit=200, required=True),
        FieldSpec("value", limit=100, required=True),
        FieldSpec("link", limit=500, kind="url"),
    ),
    "co_benefits": (FieldSpec("co_benefit", required=True, picklist="co_benefit_id"),),
    "labels": (
        FieldSpec("name", limit=200, required=True),
        FieldSpec("type", required=True, picklist="label_type"),
        FieldSpec("link", limit=500, kind="url"),
        FieldSpec("date", kind="date"),
    ),
    "stakeholders": (
        FieldSpec("name", limit=200, required=True),
        FieldSpec("type", required=True, picklist="stakeholder_type"),
        FieldSpec("link", limit=500, kind="url"),
    ),
    "related_projects": (
        FieldSpec("related_project_id", limit=200, required=True),
        FieldSpec("relationship", limit=200, required=True),
        FieldSpec("registry", limit=200),
    ),
    "methodologies": (
        FieldSpec("code", required=True),
        FieldSpec("date", kind="date"),
        FieldSpec("description"),
    ),
}

CHOICES = {
    "ndc_coverage": ("inside", "outside", "unknown"),
    "article6_status": ("not_requested", "requested", "authorised", "refused"),
    "non_permanence_risk": ("none", "low", "medium", "high"),
}


def _clean_value(spec: FieldSpec, value: Any, where: str) -> Any:
    field = f"{where}{spec.name}"
    if value is None or value == "" or value == []:
        if spec.required:
            hint = f" Allowed values: {'; '.join(picklists.allowed(spec.picklist))}." if spec.picklist else ""
            raise ValidationFailed("FIELD_REQUIRED", f"{field} is required.{hint}", field=field)
        return None
    if spec.picklist:
        if spec.many:
            return picklists.check_values(field, spec.picklist, value)
        return picklists.check_value(field, spec.picklist, value)
    if spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                value = int(str(value), 10)
            except ValueError:
                raise ValidationFailed("FIELD_INVALID", f"{field} must be a whole number.", field=field) from None
        if value < 0:
            raise ValidationFailed("FIELD_INVALID", f"{field} must not be negative.", field=field)
        return value
    if spec.kind == "date":
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise ValidationFailed("FIELD_INVALID", f"{field} must be a date (YYYY-MM-DD).", field=field) from None
    if not isinstance(value, str):
        raise ValidationFailed("FIELD_INVALID", f"{field} must be text.", field=field)
    if spec.kind == "party":
        return iso3166.country(value, field, code="PARTY_INVALID")
    value = text.bounded(value, field, spec.limit)
    if spec.kind == "url" and value and not value.startswith(("https://", "http://")):
        raise ValidationFailed("FIELD_INVALID", f"{field} must be an http(s) URL.", field=field)
    if spec.name in CHOICES and value not in CHOICES[spec.name]:
        raise ValidationFailed(
            "FIELD_INVALID", f"{field} must be one of: {', '.join(CHOICES[spec.name])}.", field=field
        )
    return value


def clean_project_fields(data: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    known = {s.name for s in PROJECT_FIELDS} | set(CHILD_FIELDS)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValidationFailed("FIELD_UNKNOWN", f"Unknown project field(s): {', '.join(unknown)}.", field=unknown[0], details={"fields": unknown})
    out: dict[str, Any] = {}
    for spec in PROJECT_FIELDS:
        if partial and spec.name not in data:
            continue
        cleaned = _clean_value(spec, data.get(spec.name), "")
        if cleaned is not None:
            out[spec.name] = cleaned
    scope = out.get("sectoral_scope")
    if scope is not None and not 1 <= scope <= 15:
        raise ValidationFailed(
            "SECTORAL_SCOPE_INVALID", "sectoral_scope must be a CDM sectoral scope from 1 to 15.", field="sectoral_scope"
        )
    bp = out.get("buffer_basis_points")
    if bp is not None and bp > 10000:
        raise ValidationFailed(
            "BUFFER_INVALID", "buffer_basis_points is at most 10000 (100 %).", field="buffer_basis_points"
        )
    unit_class = out.get("unit_class")
    if unit_class is not None and not UNIT_CLASS_RE.match(unit_class):
        raise ValidationFailed(
            "UNIT_CLASS_INVALID", "unit_class is a short code of capitals, digits and dots (e.g. VER).", field="unit_class"
        )
    start, end = out.get("crediting_period_start"), out.get("crediting_period_end")
    if start and end and end < start:
        raise ValidationFailed(
            "CREDITING_PERIOD_INVALID", "The crediting period ends before it starts.", field="crediting_period_end"
        )
    for child, specs in CHILD_FIELDS.items():
        if child not in data:
            continue
        rows = data[child]
        if not isinstance(rows, list):
            raise ValidationFailed("FIELD_INVALID", f"{child} must be a list.", field=child)
        cleaned_rows = []
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                raise ValidationFailed("FIELD_INVALID", f"{child}[{i}] must be an object.", field=f"{child}[{i}]")
            extra = sorted(set(row) - {s.name for s in specs})
            if extra:
                raise ValidationFailed(
                    "FIELD_UNKNOWN", f"{child}[{i}]: unknown field(s) {', '.join(extra)}.", field=f"{child}[{i}]",
                    details={"fields": extra},
                )
            cleaned_row = {}
            for spec in specs:
                value = _clean_value(spec, row.get(spec.name), f"{child}[{i}].")
                if value is not None:
                    cleaned_row[spec.name] = value
            if child == "estimations" and cleaned_row["end_date"] < cleaned_row["start_date"]:
                raise ValidationFailed(
                    "ESTIMATION_PERIOD_INVALID", f"{child}[{i}] ends before it starts.", field=f"{child}[{i}].end_date",
                    details={"field": f"{child}[{i}]"},
                )
            cleaned_rows.append(cleaned_row)
        out[child] = cleaned_rows
    return out


def check_amendable(data: dict[str, Any]) -> None:
    """Refuse, by name, the fields accounting relies on."""
    locked = sorted(set(data) - AMENDABLE - AMENDABLE_CHILDREN)
    if locked:
        raise ValidationFailed(
            "PROJECT_FIELD_LOCKED",
            f"After submission {', '.join(locked)} cannot be changed: accounting relies on "
            f"{'it' if len(locked) == 1 else 'them'}. Amendable: {', '.join(sorted(AMENDABLE | AMENDABLE_CHILDREN))}.",
            field=locked[0],
            details={"fields": locked, "amendable": sorted(AMENDABLE | AMENDABLE_CHILDREN)},
        )


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """The fields whose value differs, with both values (the change log's rows)."""
    return [{"field": k, "before": before.get(k), "after": after[k]} for k in sorted(after) if before.get(k) != after[k]]


def buffer_quantity(quantity: int, basis_points: int) -> int:
    """Units withheld for the buffer pool: the share rounded up to a whole unit,
    so the pool never receives less than the project's risk rating requires."""
    return -(-quantity * basis_points // 10000)


@dataclass(frozen=True)
class Upload:
    """A file a person sends with a form, before it becomes a Document."""

    filename: str
    content: bytes
    content_type: str = "application/octet-stream"
