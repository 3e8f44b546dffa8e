"""The transparency dashboard narrowed by the reader: a date range, a
sector, a region and a range of vintages.

Without a filter the dashboard reads the portal's kept figures
(`selectors.dashboard`). With one, the same aggregates are computed here
from the issuances and the terminal accounts' blocks of the projects the
filter keeps; a test proves that this path, given an empty filter, gives
what the kept figures give. The filter keeps the meaning the dashboard
already has: a project counts under its sectoral scope and its first
region; a date range bounds when units were issued, retired or cancelled;
project counts by status take the sector and region only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import ExtractYear

from tonne.core.errors import ValidationFailed
from tonne.portal.models import ProjectSummary
from tonne.portal.selectors import (
    ACTIVE_STATUSES,
    cached,
    tally,
    terminal_blocks,
    time_series,
)
from tonne.units.models import Issuance

MAX_SECTOR = 16  # CDM sectoral scopes 1-16
MIN_VINTAGE, MAX_VINTAGE = 1990, 2100
MAX_REGION = 200


@dataclass(frozen=True)
class DashboardFilter:
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    sector: int | None = None
    region: str | None = None
    vintage_from: int | None = None
    vintage_to: int | None = None

    def narrows(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))

    def query(self) -> str:
        """The filter as a query string, for links that keep it (the CSV files)."""
        given = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        return urlencode({k: v.isoformat() if isinstance(v, dt.date) else v for k, v in given.items()})

    def key(self) -> list[Any]:
        return [str(getattr(self, f.name)) for f in fields(self)]


def _refused(field: str, message: str) -> ValidationFailed:
    return ValidationFailed("DASHBOARD_FILTER_INVALID", message, field=field)


def _date(params: Mapping[str, str], field: str) -> dt.date | None:
    text = (params.get(field) or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _refused(field, f"{field} is a date written as YYYY-MM-DD.") from None


def _whole(params: Mapping[str, str], field: str, low: int, high: int) -> int | None:
    text = (params.get(field) or "").strip()
    if not text:
        return None
    if not text.isdigit() or not low <= int(text) <= high:
        raise _refused(field, f"{field} is a whole number from {low} to {high}.")
    return int(text)


def parse(params: Mapping[str, str]) -> DashboardFilter:
    """The reader's filter from the page's query string, or refused with the field named."""
    region = (params.get("region") or "").strip() or None
    if region is not None and len(region) > MAX_REGION:
        raise _refused("region", f"region is at most {MAX_REGION} characters.")
    found = DashboardFilter(
        date_from=_date(params, "date_from"),
        date_to=_date(params, "date_to"),
        sector=_whole(params, "sector", 1, MAX_SECTOR),
        region=region,
        vintage_from=_whole(params, "vintage_from", MIN_VINTAGE, MAX_VINTAGE),
        vintage_to=_whole(params, "vintage_to", MIN_VINTAGE, MAX_VINTAGE),
    )
    if found.date_from and found.date_to and found.date_from > found.date_to:
        raise _refused("date_to", "The end of the date range comes before its start.")
    if found.vintage_from and found.vintage_to and found.vintage_from > found.vintage_to:
        raise _refused("vintage_to", "The last vintage comes before the first.")
    return found


# -- the aggregates, computed for a filter ---------------------------------------------


def _summaries(f: DashboardFilter) -> QuerySet[ProjectSummary]:
    rows = ProjectSummary.objects.all()
    if f.sector is not None:
        rows = rows.filter(sectoral_scope=f.sector)
    if f.region is not None:
        rows = rows.filter(first_region=f.region)
    return rows


def _within(f: DashboardFilter, moment: str, vintage: str) -> Q:
    q = Q()
    if f.date_from is not None:
        q &= Q(**{f"{moment}__date__gte": f.date_from})
    if f.date_to is not None:
        q &= Q(**{f"{moment}__date__lte": f.date_to})
    if f.vintage_from is not None:
        q &= Q(**{f"{vintage}__gte": f.vintage_from})
    if f.vintage_to is not None:
        q &= Q(**{f"{vintage}__lte": f.vintage_to})
    return q


def project_scope(f: DashboardFilter, field: str = "project_id") -> Q:
    """The projects the filter's sector and region keep, as a condition on `field`."""
    if f.sector is None and f.region is None:
        return Q()
    return Q(**{f"{field}__in": _summaries(f).values("project_id")})


def _grouped(per_project: dict[int, int], attribute: dict[int, Any]) -> list[tuple[Any, int, int]]:
    """(value, units, projects) of the projects with issuances, under one attribute of theirs."""
    units: dict[Any, int] = {}
    projects: dict[Any, int] = {}
    for pid, n in per_project.items():
        value = attribute[pid]
        units[value] = units.get(value, 0) + n
        projects[value] = projects.get(value, 0) + 1
    return [(value, units[value], projects[value]) for value in units if units[value] or projects[value]]


def compute(f: DashboardFilter) -> dict[str, Any]:
    """The dashboard's aggregates for the projects, dates and vintages the filter keeps
    (the keys of `selectors.dashboard`, but the Article 6 unit states, which no filter narrows)."""
    issued_rows = list(
        Issuance.objects.filter(project_scope(f), _within(f, "issued_at", "vintage"))
        .annotate(y=ExtractYear("issued_at"))
        .values_list("project_id", "y", "vintage")
        .annotate(n=Sum("quantity"))
        .order_by()
    )
    terminal = terminal_blocks(project_scope(f), _within(f, "acquired_at", "vintage"))
    over_time, by_vintage = time_series(((y, v, n) for _, y, v, n in issued_rows), terminal)

    per_project = tally((pid, n) for pid, _, _, n in issued_rows)
    summaries = {
        pid: (scope, article6, region, methodology)
        for pid, scope, article6, region, methodology in ProjectSummary.objects.filter(
            project_id__in=list(per_project)
        ).values_list("project_id", "sectoral_scope", "article6_status", "first_region", "first_methodology")
    }
    per_project = {pid: n for pid, n in per_project.items() if pid in summaries}

    def by(index: int) -> list[tuple[Any, int, int]]:
        return _grouped(per_project, {pid: row[index] for pid, row in summaries.items()})

    public = _summaries(f).filter(public=True)
    by_status = tally(public.values("status").annotate(p=Count("pk")).order_by().values_list("status", "p"))
    return {
        "over_time": over_time,
        "by_vintage": by_vintage,
        "by_sector": sorted((int(v), n, p) for v, n, p in by(0)),
        "by_region": sorted(by(2), key=lambda r: (-r[1], r[0])),
        "by_methodology": sorted(by(3), key=lambda r: (-r[1], r[0])),
        "by_article6": sorted(by(1)),
        "projects_by_status": sorted(by_status.items()),
    }


def headline(f: DashboardFilter, aggregates: Mapping[str, Any]) -> dict[str, Any]:
    """The headline figures of the filtered dashboard, from its own aggregates."""
    by_status = dict(aggregates["projects_by_status"])
    return {
        "projects": sum(by_status.values()),
        "active_projects": sum(by_status.get(s, 0) for s in ACTIVE_STATUSES),
        "issued": sum(i for _, i, _, _ in aggregates["by_vintage"]),
        "retired": sum(r for _, _, r, _ in aggregates["by_vintage"]),
        "cancelled": sum(c for _, _, _, c in aggregates["by_vintage"]),
    }


def filtered(f: DashboardFilter) -> dict[str, Any]:
    """compute(f), cached under the ledger's size like the unfiltered figures."""
    return dict(cached("dashboard-filtered", f.key(), lambda: compute(f)))


def choices() -> dict[str, list[Any]]:
    """What the filter form offers: the sectors and first regions projects have."""
    rows = ProjectSummary.objects.order_by()
    return {
        "sectors": sorted(set(rows.values_list("sectoral_scope", flat=True))),
        "regions": sorted(r for r in set(rows.values_list("first_region", flat=True)) if r),
    }
