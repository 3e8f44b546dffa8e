"""Reads of what the observer holds. Everything observed is public data
(other registries' published exports), so reads need no permission; the
import reports name the administrator who imported and are for the
registry administrator only."""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import ExtractYear

from tonne.observer.domain import matching
from tonne.observer.domain import serials as sn
from tonne.observer.domain.records import REGISTRIES
from tonne.observer.models import Finding, ObservedImport, ObservedProject, ObservedUnits
from tonne.organisations.models import User
from tonne.organisations.services import require_registry_administrator


def findings(*, kind: str | None = None, registry: str | None = None) -> QuerySet[Finding]:
    qs = Finding.objects.all()
    if kind:
        qs = qs.filter(kind=kind)
    if registry:
        qs = qs.filter(registry_a=registry) | qs.filter(registry_b=registry)
    return qs.order_by("kind", "-score", "-quantity", "registry_a", "record_a", "pk")


def finding_counts() -> dict[str, int]:
    return {row["kind"]: row["n"] for row in Finding.objects.values("kind").annotate(n=Count("pk"))}


def projects(*, registry: str | None = None, search: str = "") -> QuerySet[ObservedProject]:
    qs = ObservedProject.objects.all()
    if registry:
        qs = qs.filter(registry=registry)
    if search:
        qs = qs.filter(name__icontains=search) | qs.filter(project_id__iexact=search)
    return qs.order_by("registry", "project_id")


def registry_summary() -> list[dict[str, Any]]:
    """Per registry: projects, unit rows and quantities by kind (what the portal shows)."""
    out: dict[str, dict[str, Any]] = {}
    for row in ObservedProject.objects.values("registry").annotate(n=Count("pk")):
        out.setdefault(row["registry"], {})["projects"] = row["n"]
    for row in ObservedUnits.objects.values("registry", "kind").annotate(n=Count("pk"), q=Sum("quantity")):
        entry = out.setdefault(row["registry"], {})
        entry[row["kind"]] = _amount(row["q"] or Decimal(0))
        entry["rows"] = entry.get("rows", 0) + row["n"]
    return [{"registry": r, "name": REGISTRIES.get(r, r), **values} for r, values in sorted(out.items())]


def imports(*, actor: User) -> QuerySet[ObservedImport]:
    require_registry_administrator(actor)
    return ObservedImport.objects.order_by("-imported_at", "-pk")


def import_report(*, actor: User, uid: str) -> ObservedImport | None:
    require_registry_administrator(actor)
    return ObservedImport.objects.filter(uid=uid).first()


# -- reconciliation -----------------------------------------------------------------


@dataclass
class Balance:
    registry: str
    project_id: str
    issued: Decimal = Decimal(0)
    retired: Decimal = Decimal(0)
    cancelled: Decimal = Decimal(0)
    remaining: Decimal = Decimal(0)
    reported: Decimal | None = None
    mismatches: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"registry": self.registry, "project": self.project_id, "issued": _amount(self.issued),
                "retired": _amount(self.retired), "cancelled": _amount(self.cancelled),
                "remaining": _amount(self.remaining),
                "reported": None if self.reported is None else _amount(self.reported), "mismatches": self.mismatches}


def _amount(value: Decimal) -> str:
    """A quantity as text: whole tonnes without decimals, fractions to the kilogram."""
    value = Decimal(value).quantize(Decimal("0.001"))
    return f"{value:f}".rstrip("0").rstrip(".") if "." in f"{value:f}" else f"{value:f}"


amount = _amount


def reconcile(*, registry: str | None = None, project: str | None = None) -> list[Balance]:
    """Per registry and project: issued = retired + cancelled + remaining, with every mismatch.

    Registries publishing events (issuances, then retirements and
    cancellations) give remaining = issued - retired - cancelled, and their
    used serials must lie inside serials they issued; registries publishing
    current blocks give issued = all blocks."""
    qs = ObservedUnits.objects.all()
    if registry:
        qs = qs.filter(registry=registry)
    if project:
        qs = qs.filter(project_id=project)
    balances: dict[tuple[str, str], Balance] = {}
    for row in qs.values("registry", "project_id", "kind").annotate(q=Sum("quantity")).order_by():
        key = (row["registry"], row["project_id"])
        b = balances.setdefault(key, Balance(*key))
        q = row["q"] or Decimal(0)
        blocks = row["registry"] in matching.BLOCK_REGISTRIES
        if row["kind"] == "reported_issuance":
            b.reported = q
            continue
        if row["kind"] == "issuance" or blocks:
            b.issued += q
        if row["kind"] == "retirement":
            b.retired += q
        elif row["kind"] == "cancellation":
            b.cancelled += q
        elif row["kind"] == "holding":
            b.remaining += q
    for b in balances.values():
        if b.registry not in matching.BLOCK_REGISTRIES:
            b.remaining = b.issued - b.retired - b.cancelled
            if b.remaining < 0:
                b.mismatches.append(f"{-b.remaining} more units retired or cancelled than issued in the data")
        elif b.issued != b.retired + b.cancelled + b.remaining:
            b.mismatches.append("blocks do not add up")
        if b.reported is not None and b.reported != b.issued:
            b.mismatches.append(f"reported as issued: {_amount(b.reported)}; the registry's issuances: {_amount(b.issued)}")
    for (reg, pid), text in _quantity_mismatches(qs):
        if (reg, pid) in balances:
            balances[(reg, pid)].mismatches.append(text)
    for (reg, pid), text in _uncovered(qs):
        if (reg, pid) in balances:
            balances[(reg, pid)].mismatches.append(text)
    return [balances[k] for k in sorted(balances)]


def _quantity_mismatches(qs: QuerySet[ObservedUnits]) -> Iterator[tuple[tuple[str, str], str]]:
    rows = qs.exclude(series="").values_list("registry", "project_id", "kind", "serial_text", "serial_start",
                                             "serial_end", "quantity", "series")
    for reg, pid, kind, text, start, end, quantity, series in rows.iterator(chunk_size=5000):
        held = sn.tonnes(sn.Serials(series=series, start=int(start or 0), end=int(end or 0), grammar=""))
        if Decimal(held) != quantity:
            yield (reg, pid), (f"{kind} {text}: quantity {_amount(quantity)} "
                               f"but the range holds {_amount(Decimal(held))}")


def _uncovered(qs: QuerySet[ObservedUnits]) -> Iterator[tuple[tuple[str, str], str]]:
    """Retired or cancelled serials the same registry never issued (in the data imported), for
    registries whose issuance exports carry serials."""
    with_serials = set(ObservedUnits.objects.filter(kind="issuance").exclude(series="")
                       .values_list("registry", flat=True).distinct())
    rows = (qs.exclude(series="").filter(registry__in=with_serials - matching.BLOCK_REGISTRIES)
            .order_by("registry", "series", "serial_start")
            .values_list("registry", "series", "kind", "serial_start", "serial_end", "project_id", "serial_text"))
    current: tuple[str, str] | None = None
    issued: list[tuple[int, int]] = []
    used: list[tuple[int, int, str, str, str]] = []

    def check() -> Iterator[tuple[tuple[str, str], str]]:
        starts = [s for s, _ in issued]
        for start, end, pid, kind, text in used:
            missing = _missing(issued, starts, start, end)
            if missing and current is not None:
                yield (current[0], pid), f"{kind} {text}: {missing} units not issued by {current[0]} in the data"

    for reg, series, kind, first, last, pid, text in rows.iterator(chunk_size=5000):
        start, end = int(first or 0), int(last or 0)
        if (reg, series) != current:
            yield from check()
            current, issued, used = (reg, series), [], []
        if kind == "issuance":
            issued.append((start, end))
        elif kind in matching.USED:
            used.append((start, end, pid, kind, text))
    yield from check()


def _missing(issued: list[tuple[int, int]], starts: list[int], start: int, end: int) -> int:
    """Units of [start, end] outside the issued ranges (sorted by start, not overlapping)."""
    covered = 0
    i = max(bisect.bisect_right(starts, start) - 1, 0)
    while i < len(issued) and issued[i][0] <= end:
        a, b = issued[i]
        lo, hi = max(a, start), min(b, end)
        if lo <= hi:
            covered += hi - lo + 1
        i += 1
    return (end - start + 1) - covered


def unit_totals(keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, str]]:
    """Quantities by kind for the given (registry, project) pairs."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    for registry in {r for r, _ in keys}:
        ids = [p for r, p in keys if r == registry]
        rows = (ObservedUnits.objects.filter(registry=registry, project_id__in=ids)
                .values("project_id", "kind").annotate(q=Sum("quantity")).order_by())
        for row in rows:
            out.setdefault((registry, row["project_id"]), {})[row["kind"]] = _amount(row["q"] or Decimal(0))
    return out


# -- for CAD Trust exports (called through the exporter registry the cadt app offers) ------------

_CADT_STATUS = {"issuance": "Issued", "holding": "Held", "retirement": "Retired", "cancellation": "Cancelled"}


def observed_id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "tonne-observer:" + ":".join(parts)))


def cadt_v1_projects() -> Iterator[dict[str, Any]]:
    """Observed projects as CAD Trust v1 project records, their origin named (streamed)."""
    for p in ObservedProject.objects.order_by("registry", "project_id").iterator(chunk_size=2000):
        pid = observed_id("project", p.registry, p.project_id)
        yield {
            "warehouseProjectId": pid, "registryOfOrigin": REGISTRIES.get(p.registry, p.registry),
            "originProjectId": p.project_id, "projectId": p.project_id, "projectName": p.name,
            "projectDeveloper": p.developer, "projectStatus": p.status, "methodology": p.methodology,
            "sector": p.project_type,
            "projectLocations": [{"id": observed_id("location", p.registry, p.project_id), "warehouseProjectId": pid,
                                  "country": p.country}] if p.country else [],
        }


def cadt_v1_units() -> Iterator[dict[str, Any]]:
    """Observed unit rows with serials as CAD Trust v1 unit blocks (an issuance
    is the whole issued block; its retired and cancelled parts follow as their own rows)."""
    rows = (ObservedUnits.objects.exclude(series="").exclude(kind="reported_issuance")
            .order_by("series", "serial_start", "pk"))
    for u in rows.iterator(chunk_size=5000):
        yield {
            "warehouseUnitId": observed_id("units", u.registry, u.kind, u.source_key),
            "warehouseProjectId": observed_id("project", u.registry, u.project_id) if u.project_id else None,
            "serialNumberBlock": u.serial_text or f"{u.serial_start}-{u.serial_end}",
            "unitBlockStart": str(u.serial_start), "unitBlockEnd": str(u.serial_end), "unitCount": int(u.quantity),
            "vintageYear": u.vintage, "unitStatus": _CADT_STATUS[u.kind],
            "unitStatusReason": u.beneficiary or u.reason or None,
            "unitRegistryLink": REGISTRIES.get(u.registry, u.registry), "series": u.series,
        }


# -- figures for the public portal --------------------------------------------------------------


def measures(registry: str, kind: str) -> tuple[str, ...]:
    """What a published unit row counts as. An issuance is issued units, a retirement or a
    cancellation used ones; a registry that publishes its current blocks (Verra, CAD Trust
    files) issued every block it lists, retired and cancelled ones too. A total a secretariat
    reports is checked against the registry's rows, never counted."""
    used = {"retirement": ("retired",), "cancellation": ("cancelled",)}.get(kind, ())
    if kind == "issuance" or (registry in matching.BLOCK_REGISTRIES and kind in ("holding", *matching.USED)):
        return ("issued", *used)
    return used


def unit_groups(*, date_from: Any = None, date_to: Any = None, vintage_from: int | None = None,
                vintage_to: int | None = None) -> list[tuple[str, str, str, int | None, int | None, Decimal]]:
    """(registry, project, kind, year of the row's date, vintage, quantity) of every published
    unit row, summed; dates and vintages bound the rows kept."""
    qs = ObservedUnits.objects.exclude(kind="reported_issuance")
    if date_from is not None:
        qs = qs.filter(date__gte=date_from)
    if date_to is not None:
        qs = qs.filter(date__lte=date_to)
    if vintage_from is not None:
        qs = qs.filter(vintage__gte=vintage_from)
    if vintage_to is not None:
        qs = qs.filter(vintage__lte=vintage_to)
    rows = (qs.annotate(y=ExtractYear("date")).values_list("registry", "project_id", "kind", "y", "vintage")
            .annotate(q=Sum("quantity")).order_by())
    return [(r, p, k, y, v, q or Decimal(0)) for r, p, k, y, v, q in rows]


def project_facts() -> dict[tuple[str, str], tuple[str, str]]:
    """(registry, project) -> (country, project type) of every observed project."""
    rows = ObservedProject.objects.values_list("registry", "project_id", "country", "project_type")
    return {(r, p): (c, t) for r, p, c, t in rows.iterator(chunk_size=5000)}


def project_balances(*, registry: str | None = None, search: str = "") -> Iterator[tuple[ObservedProject, dict[str, Decimal]]]:
    """Every observed project with its units issued, retired, cancelled and remaining (streamed)."""
    chunk: list[ObservedProject] = []

    def flush() -> Iterator[tuple[ObservedProject, dict[str, Decimal]]]:
        sums: dict[tuple[str, str], dict[str, Decimal]] = {}
        for reg in {p.registry for p in chunk}:
            ids = [p.project_id for p in chunk if p.registry == reg]
            rows = (ObservedUnits.objects.filter(registry=reg, project_id__in=ids).exclude(kind="reported_issuance")
                    .values_list("project_id", "kind").annotate(q=Sum("quantity")).order_by())
            for pid, kind, q in rows:
                entry = sums.setdefault((reg, pid), {m: Decimal(0) for m in ("issued", "retired", "cancelled")})
                for m in measures(reg, kind):
                    entry[m] += q or Decimal(0)
        for p in chunk:
            entry = sums.get((p.registry, p.project_id), {m: Decimal(0) for m in ("issued", "retired", "cancelled")})
            entry["remaining"] = entry["issued"] - entry["retired"] - entry["cancelled"]
            yield p, entry

    for p in projects(registry=registry, search=search).iterator(chunk_size=1000):
        chunk.append(p)
        if len(chunk) == 1000:
            yield from flush()
            chunk = []
    yield from flush()
