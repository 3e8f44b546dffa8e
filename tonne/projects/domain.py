"""Pure rules for projects: field checks and the life cycle."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tonne.core import iso3166, text
from tonne.core.errors import RuleChecks, ValidationFailed
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


def _clean_value(spec: FieldSpec, value: Any, where: str, lists: RegistryLists | None = None) -> Any:
    field = f"{where}{spec.name}"
    if value is None or value == "" or value == []:
        if spec.required:
            hint = f" Allowed values: {'; '.join(picklists.allowed(spec.picklist))}." if spec.picklist else ""
            raise ValidationFailed("FIELD_REQUIRED", f"{field} is required.{hint}", field=field)
        return None
    if spec.picklist and lists is not None and spec.picklist in lists.active:
        # The registry's list (CAD Trust's values, its own added, less those retired) decides.
        if spec.many:
            if not isinstance(value, list):
                raise ValidationFailed("FIELD_INVALID", f"{field} must be a list of values.", field=field)
            return [check_listed(field, spec.picklist, v, lists) for v in value]
        return check_listed(field, spec.picklist, value, lists)
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


def clean_project_fields(data: dict[str, Any], *, partial: bool = False, lists: RegistryLists | None = None) -> dict[str, Any]:
    """The project's fields, checked and typed; every broken rule refused at once."""
    checks = RuleChecks()
    known = {s.name for s in PROJECT_FIELDS} | set(CHILD_FIELDS)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValidationFailed("FIELD_UNKNOWN", f"Unknown project field(s): {', '.join(unknown)}.", field=unknown[0], details={"fields": unknown})
    out: dict[str, Any] = {}
    for spec in PROJECT_FIELDS:
        if partial and spec.name not in data:
            continue
        with checks.rule():
            cleaned = _clean_value(spec, data.get(spec.name), "", lists)
            if cleaned is not None:
                out[spec.name] = cleaned
    scope = out.get("sectoral_scope")
    with checks.rule():
        if scope is not None and not 1 <= scope <= 15:
            raise ValidationFailed(
                "SECTORAL_SCOPE_INVALID", "sectoral_scope must be a CDM sectoral scope from 1 to 15.", field="sectoral_scope"
            )
        if scope is not None and lists is not None:
            check_listed("sectoral_scope", "sectoral_scope", scope, lists)
    with checks.rule():
        bp = out.get("buffer_basis_points")
        if bp is not None and bp > 10000:
            raise ValidationFailed(
                "BUFFER_INVALID", "buffer_basis_points is at most 10000 (100 %).", field="buffer_basis_points"
            )
    unit_class = out.get("unit_class")
    with checks.rule():
        if unit_class is not None and not UNIT_CLASS_RE.match(unit_class):
            raise ValidationFailed(
                "UNIT_CLASS_INVALID", "unit_class is a short code of capitals, digits and dots (e.g. VER).", field="unit_class"
            )
        if unit_class is not None and lists is not None:
            out["unit_class"] = check_listed("unit_class", "unit_class", unit_class, lists)
    start, end = out.get("crediting_period_start"), out.get("crediting_period_end")
    with checks.rule():
        if start and end and end < start:
            raise ValidationFailed(
                "CREDITING_PERIOD_INVALID", "The crediting period ends before it starts.", field="crediting_period_end"
            )
    for child, specs in CHILD_FIELDS.items():
        if child not in data:
            continue
        with checks.rule():
            out[child] = _clean_rows(child, specs, data[child], checks)
    checks.done()
    return out


def _clean_rows(child: str, specs: Sequence[FieldSpec], rows: Any, checks: RuleChecks) -> list[dict[str, Any]]:
    """One child list (stakeholders, estimations…): each row's broken rules are collected."""
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
            with checks.rule():
                value = _clean_value(spec, row.get(spec.name), f"{child}[{i}].")
                if value is not None:
                    cleaned_row[spec.name] = value
        with checks.rule():
            if child == "estimations" and "start_date" in cleaned_row and "end_date" in cleaned_row \
                    and cleaned_row["end_date"] < cleaned_row["start_date"]:
                raise ValidationFailed(
                    "ESTIMATION_PERIOD_INVALID", f"{child}[{i}] ends before it starts.", field=f"{child}[{i}].end_date",
                    details={"field": f"{child}[{i}]"},
                )
        cleaned_rows.append(cleaned_row)
    return cleaned_rows


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


# -- the country's eligibility rules --------------------------------------------------------

# The code each fact refuses with: the refusal names the rule as well.
ELIGIBILITY_CODES = {
    "host_party": "NOT_ELIGIBLE_HOST_PARTY",
    "programme": "NOT_ELIGIBLE_PROGRAMME",
    "methodology": "NOT_ELIGIBLE_METHODOLOGY",
    "vintage": "NOT_ELIGIBLE_VINTAGE",
}


@dataclass(frozen=True)
class Eligibility:
    """One declared rule: on which fact, which values (a vintage: first and last year, either open)."""

    name: str
    fact: str
    accepted: tuple[Any, ...]


def fold(value: str) -> str:
    """A programme's name as rules and approvals compare it: case and spacing aside."""
    return " ".join(str(value).split()).casefold()


def _accepts(rule: Eligibility, value: Any) -> bool:
    if rule.fact == "vintage":
        first, last = rule.accepted
        return isinstance(value, int) and (first is None or value >= first) and (last is None or value <= last)
    if rule.fact == "programme":
        return fold(value) in {fold(v) for v in rule.accepted}
    if rule.fact == "host_party":
        return str(value).upper() in {str(v).upper() for v in rule.accepted}
    return value in rule.accepted


def check_eligibility(rules: Sequence[Eligibility], *, facts: dict[str, Any], complete: bool = True) -> None:
    """Refuse what a rule does not accept. `facts` maps each fact to its
    values (a project may follow several methodologies: each must be
    accepted); a fact a rule needs and the subject does not state is refused
    too (eligibility is shown, not presumed), unless the subject is not
    `complete` yet (a draft)."""
    for rule in rules:
        values = facts.get(rule.fact)
        if values is None or values == []:
            if not complete:
                continue
            raise ValidationFailed(
                ELIGIBILITY_CODES[rule.fact],
                f"The country's rule {rule.name} accepts only stated {rule.fact.replace('_', ' ')}s; none is stated.",
                field=rule.fact, details={"rule": rule.name},
            )
        for value in values if isinstance(values, list) else [values]:
            if not _accepts(rule, value):
                raise ValidationFailed(
                    ELIGIBILITY_CODES[rule.fact],
                    f"The country's rule {rule.name} does not accept {rule.fact.replace('_', ' ')} {value}.",
                    field=rule.fact, details={"rule": rule.name, "value": str(value)},
                )


# -- the registry's own lists -----------------------------------------------------------------

# CDM sectoral scopes: the registry may retire some, not add any (serial numbers and reports name 1 to 15).
SECTORAL_SCOPES = tuple(str(n) for n in range(1, 16))
# Unit classes a registry starts with (the codes of its serial numbers); it may add and retire.
UNIT_CLASSES = ("VER", "VCU", "CER", "ERU", "A6.4ER")


@dataclass(frozen=True)
class RegistryLists:
    """The values of the registry's lists a new record may take (in the list's order), and those retired."""

    active: dict[str, tuple[str, ...]]
    retired: dict[str, frozenset[str]]


def check_listed(field: str, name: str, value: Any, lists: RegistryLists) -> Any:
    """The value as the list spells it (case aside), or the refusal."""
    active = lists.active.get(name, (str(value),))
    if str(value) in active:
        return value
    folded = {v.casefold(): v for v in active}
    if isinstance(value, str) and value.casefold() in folded:
        return folded[value.casefold()]
    if str(value) in lists.retired.get(name, frozenset()):
        raise ValidationFailed("REFERENCE_VALUE_RETIRED", f"{field}: {value} is retired; new records cannot take it.",
                               field=field, details={"list": name, "value": value})
    raise ValidationFailed("PICKLIST_VALUE_NOT_ALLOWED",
                           f"{field}: {value!r} is not an allowed value. Allowed values: {'; '.join(active)}.",
                           field=field, details={"picklist": name, "allowed": list(active)})


def version_in_force(versions: Sequence[tuple[str, dt.date | None, dt.date | None]], on: dt.date) -> str | None:
    """The methodology version a new project or report takes on a day: the
    latest that started (no start: always), unless superseded by then."""
    live = [(start or dt.date.min, version_order(version), version) for version, start, superseded in versions
            if (start is None or start <= on) and (superseded is None or on < superseded)]
    return max(live)[2] if live else None


def version_order(version: str) -> tuple[tuple[int, int | str], ...]:
    """Versions compare part by part, numbers as numbers: 13.0 comes after 9.0."""
    parts = re.split(r"[.\-_ ]+", version.strip())
    return tuple((0, int(p)) if p.isdigit() else (1, p.casefold()) for p in parts if p)
