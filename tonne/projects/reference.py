"""Reference data the registry administrator keeps for projects: the
methodologies (and their versions) the registry accepts, and its own lists
of sectors, project types, sectoral scopes and unit classes. Every change is
one transaction with its ledger entry; what a project already holds stays."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction

from tonne.core import clock
from tonne.core.errors import Conflict, NotFound, ValidationFailed
from tonne.core.text import fits
from tonne.ledger.services import append_entry
from tonne.organisations.models import User
from tonne.organisations.services import require_registry_administrator
from tonne.projects import domain, picklists
from tonne.projects.models import Methodology, MethodologyVersion, ReferenceValue

# Lists whose values CAD Trust has too: an added value is exported as one of CAD Trust's.
CADT_LISTS = ("project_sector", "project_type")


def _date(value: object, field: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise ValidationFailed("FIELD_INVALID", f"{field} is a date written as YYYY-MM-DD.", field=field) from None


def _today() -> dt.date:
    return clock.now().date()


# -- methodologies ------------------------------------------------------------------------------


def add_methodology(*, actor: User, code: str, name: str, type: str = "", version: str = "", link: str = "",
                    valid_from: object = None) -> Methodology:
    """Accept a methodology version for new projects and reports from a day
    (with no start unless named); the methodology is listed with its first version."""
    require_registry_administrator(actor)
    code, name = fits(Methodology, "code", code or ""), fits(Methodology, "name", name or "")
    if not code or not name:
        raise ValidationFailed("FIELD_REQUIRED", "A methodology needs a code and a name.", field="code" if not code else "name")
    version = fits(MethodologyVersion, "version", version or "") or "1"
    start = None if valid_from in (None, "") else _date(valid_from, "valid_from")
    if type:
        type = picklists.check_value("type", "methodology_type", type)
    if link and not link.startswith(("https://", "http://")):
        raise ValidationFailed("FIELD_INVALID", "link must be an http(s) URL.", field="link")
    now = clock.now()
    with transaction.atomic():
        methodology, created = Methodology.objects.select_for_update().get_or_create(
            code=code,
            defaults={"uid": uuid.uuid4(), "name": name, "type": type, "version": version, "link": fits(Methodology, "link", link),
                      "date": start, "created_at": now, "updated_at": now},
        )
        if not created and methodology.versions.filter(version=version).exists():
            return methodology  # asked again: nothing changes
        MethodologyVersion.objects.create(methodology=methodology, version=version, valid_from=start, added_by=actor,
                                          added_at=now)
        if not created and (start or dt.date.min, version) >= (methodology.date or dt.date.min, methodology.version):
            # The methodology row shows its latest version (CAD Trust exports one).
            methodology.version, methodology.date, methodology.updated_at = version, start, now
            methodology.save(update_fields=["version", "date", "updated_at"])
        append_entry(kind="reference.methodology_version_added", actor=actor,
                     data={"code": code, "name": methodology.name, "version": version,
                           "valid_from": start.isoformat() if start else None})
    return methodology


@transaction.atomic
def supersede_methodology_version(*, actor: User, code: str, version: str, superseded_from: object) -> MethodologyVersion:
    """From a day on, a version is refused for new projects and reports (those on it keep it)."""
    require_registry_administrator(actor)
    row = MethodologyVersion.objects.select_for_update().select_related("methodology").filter(
        methodology__code=code, version=version).first()
    if row is None:
        raise NotFound("METHODOLOGY_VERSION_NOT_FOUND", f"The registry lists no version {version} of {code}.", field="version")
    if row.superseded_from is not None:
        raise Conflict("METHODOLOGY_VERSION_SUPERSEDED",
                       f"{code} version {version} is superseded from {row.superseded_from.isoformat()}.", field="version")
    when = _date(superseded_from, "superseded_from")
    if row.valid_from is not None and when <= row.valid_from:
        raise ValidationFailed("FIELD_INVALID", f"A version is superseded after it starts ({row.valid_from.isoformat()}).",
                               field="superseded_from")
    row.superseded_from = when
    row.save(update_fields=["superseded_from"])
    append_entry(kind="reference.methodology_version_superseded", actor=actor,
                 data={"code": code, "version": version, "superseded_from": when.isoformat()})
    return row


def versions_of(methodology_ids: Iterable[int]) -> dict[int, list[tuple[str, dt.date | None, dt.date | None]]]:
    out: dict[int, list[tuple[str, dt.date | None, dt.date | None]]] = {}
    for mid, version, start, end in MethodologyVersion.objects.filter(methodology_id__in=list(methodology_ids)).values_list(
            "methodology_id", "version", "valid_from", "superseded_from"):
        out.setdefault(mid, []).append((version, start, end))
    return out


def accepted_methodologies(on: dt.date | None = None) -> list[tuple[Methodology, str]]:
    """The methodologies a new project may follow on a day, each with its version in force."""
    on = on or _today()
    every = list(Methodology.objects.order_by("code"))
    versions = versions_of(m.pk for m in every)
    return [(m, v) for m in every if (v := domain.version_in_force(versions.get(m.pk, []), on)) is not None]


def version_for_new(methodology: Methodology, field: str = "methodologies") -> str:
    """The version a new project takes today, or the refusal naming why there is none."""
    versions = versions_of([methodology.pk]).get(methodology.pk, [])
    version = domain.version_in_force(versions, _today())
    if version is not None:
        return version
    if versions and all(end is not None and end <= _today() for _, _, end in versions):
        raise ValidationFailed("METHODOLOGY_VERSION_SUPERSEDED",
                               f"Every version of {methodology.code} the registry accepted is superseded.", field=field)
    raise ValidationFailed("METHODOLOGY_NOT_ACCEPTED",
                           f"The registry does not accept {methodology.code} for new projects yet.", field=field)


def check_for_new_report(code: str, version: str, field: str = "version") -> None:
    """A report is not computed with a version the registry superseded (reports already made keep theirs)."""
    superseded = MethodologyVersion.objects.filter(methodology__code=code, version=version).values_list(
        "superseded_from", flat=True).first()
    if superseded is not None and superseded <= _today():
        raise ValidationFailed("METHODOLOGY_VERSION_SUPERSEDED",
                               f"{code} version {version} is superseded from {superseded.isoformat()}.", field=field)


# -- the registry's lists --------------------------------------------------------------------


def _base(name: str) -> tuple[str, ...]:
    if name == "sectoral_scope":
        return domain.SECTORAL_SCOPES
    if name == "unit_class":
        return domain.UNIT_CLASSES
    return tuple(picklists.allowed(name))


def registry_lists(on: dt.date | None = None) -> domain.RegistryLists:
    on = on or _today()
    rows = list(ReferenceValue.objects.values_list("list", "value", "retired_from"))
    active: dict[str, tuple[str, ...]] = {}
    retired: dict[str, frozenset[str]] = {}
    for name in ReferenceValue.List.values:
        base = _base(name)
        gone = {v for n, v, until in rows if n == name and until is not None and until <= on}
        added = sorted({v for n, v, _ in rows if n == name} - set(base))
        active[name] = tuple(v for v in (*base, *added) if v not in gone)
        retired[name] = frozenset(gone)
    return domain.RegistryLists(active=active, retired=retired)


def keeping(lists: domain.RegistryLists, held: dict[str, Iterable[Any]]) -> domain.RegistryLists:
    """The lists as a record already holding `held` sees them: its own values stay allowed."""
    active = dict(lists.active)
    for name, values in held.items():
        active[name] = active[name] + tuple(str(v) for v in values if v not in (None, "") and str(v) not in active[name])
    return domain.RegistryLists(active=active, retired=lists.retired)


def choices(name: str) -> list[str]:
    """The values a new record may take, in the list's order (CAD Trust's, then the registry's own)."""
    return list(registry_lists().active[name])


def _list_name(name: str) -> str:
    if name not in ReferenceValue.List.values:
        raise ValidationFailed("FIELD_INVALID", f"list is one of {', '.join(ReferenceValue.List.values)}.", field="list")
    return name


@transaction.atomic
def add_value(*, actor: User, list: str, value: str, cadt_value: str = "") -> ReferenceValue:
    """Extend a list. A sector or project type names the CAD Trust value it is exported as."""
    require_registry_administrator(actor)
    name = _list_name(list)
    value = fits(ReferenceValue, "value", " ".join((value or "").split()))
    if not value:
        raise ValidationFailed("FIELD_REQUIRED", "Name the value.", field="value")
    if name == "sectoral_scope":
        raise ValidationFailed("SECTORAL_SCOPE_INVALID", "Sectoral scopes are the CDM's 1 to 15: retire one, add none.",
                               field="list")
    if name == "unit_class" and not domain.UNIT_CLASS_RE.match(value):
        raise ValidationFailed("UNIT_CLASS_INVALID", "A unit class is a short code of capitals, digits and dots (e.g. VER).",
                               field="value")
    if value in _base(name) or ReferenceValue.objects.filter(list=name, value=value).exists():
        raise Conflict("REFERENCE_VALUE_EXISTS", f"{value} is already in the list.", field="value")
    if name in CADT_LISTS:
        if not cadt_value:
            raise ValidationFailed("REFERENCE_CADT_VALUE_REQUIRED",
                                   f"{value} needs the CAD Trust value it is exported as.", field="cadt_value")
        cadt_value = picklists.check_value("cadt_value", name, cadt_value)
    else:
        cadt_value = ""
    try:
        with transaction.atomic():
            row = ReferenceValue.objects.create(list=name, value=value, cadt_value=cadt_value, added_by=actor,
                                                added_at=clock.now())
    except IntegrityError:
        raise Conflict("REFERENCE_VALUE_EXISTS", f"{value} is already in the list.", field="value") from None
    append_entry(kind="reference.value_added", actor=actor, data={"list": name, "value": value, "cadt_value": cadt_value})
    return row


@transaction.atomic
def retire_value(*, actor: User, list: str, value: str) -> ReferenceValue:
    """From today, new records cannot take the value; those holding it keep it."""
    require_registry_administrator(actor)
    name = _list_name(list)
    row = ReferenceValue.objects.select_for_update().filter(list=name, value=value).first()
    if row is None and value not in _base(name):
        raise NotFound("REFERENCE_VALUE_NOT_FOUND", f"{value} is not in the list.", field="value")
    if row is not None and row.retired_from is not None:
        raise Conflict("REFERENCE_VALUE_RETIRED", f"{value} is already retired.", field="value")
    today = _today()
    if row is None:
        row = ReferenceValue.objects.create(list=name, value=value, retired_from=today, added_by=actor, added_at=clock.now())
    else:
        row.retired_from = today
        row.save(update_fields=["retired_from"])
    append_entry(kind="reference.value_retired", actor=actor, data={"list": name, "value": value,
                                                                    "retired_from": today.isoformat()})
    return row


@transaction.atomic
def reinstate_value(*, actor: User, list: str, value: str) -> None:
    """A retired value may be taken again by new records."""
    require_registry_administrator(actor)
    name = _list_name(list)
    row = ReferenceValue.objects.select_for_update().filter(list=name, value=value, retired_from__isnull=False).first()
    if row is None:
        raise NotFound("REFERENCE_VALUE_NOT_FOUND", f"{value} is not a retired value of the list.", field="value")
    if row.value in _base(name):
        row.delete()  # back to CAD Trust's own value: no row needed
    else:
        row.retired_from = None
        row.save(update_fields=["retired_from"])
    append_entry(kind="reference.value_reinstated", actor=actor, data={"list": name, "value": value})


def cadt_mapping() -> dict[tuple[str, str], str]:
    """(list, the registry's own value) -> the CAD Trust value it is exported as: read once per export."""
    return {(n, v): c for n, v, c in ReferenceValue.objects.exclude(cadt_value="").values_list("list", "value", "cadt_value")}


def cadt_values(mapping: dict[tuple[str, str], str], name: str, values: Iterable[str]) -> list[str]:
    """The CAD Trust values a record's values are exported as (the registry's own mapped, each once)."""
    out: list[str] = []
    for value in values:
        cadt = mapping.get((name, value), value)
        if cadt not in out:
            out.append(cadt)
    return out
