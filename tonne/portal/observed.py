"""The portal's figures from other registries' published records (tonne.observer).

On an observer installation (TONNE_MODE=observer) the home page, the
dashboard, its CSV files and the project lists show what the observed
registries publish, every figure with the registry it comes from. A national
registry that also holds observed records shows them apart and never adds
them to its own figures: its own are units it issued, every move in its
ledger; observed ones are other registries' statements, which may count the
same units twice (what the observer's findings look for)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from tonne.observer import selectors as observed
from tonne.observer.domain.records import REGISTRIES
from tonne.observer.middleware import observer_mode
from tonne.portal.dashboard import DashboardFilter
from tonne.portal.selectors import cached

MEASURES = ("issued", "retired", "cancelled")
PROJECT_COLUMNS = ("registry", "project_id", "name", "country", "methodology", "developer", "status",
                   "project_type", "units_issued", "units_retired", "units_cancelled", "units_remaining")

__all__ = ["MEASURES", "PROJECT_COLUMNS", "charts", "choices", "figures", "observer_mode", "project_rows",
           "registry_rows"]


def _n(value: Decimal) -> int | float:
    """A quantity for tables and charts: whole tonnes as integers, fractions (Isometric) to the kilogram."""
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(round(value, 3))


def _name(registry: str) -> str:
    return REGISTRIES.get(registry, registry)


def _add(table: dict[Any, list[Decimal]], key: Any, measure: str, q: Decimal) -> None:
    row = table.setdefault(key, [Decimal(0)] * len(MEASURES))
    row[MEASURES.index(measure)] += q


def compute(f: DashboardFilter) -> dict[str, Any]:
    """Every figure of the observed registries that the filter keeps, each keyed by its registry.

    A date range bounds the date each row publishes (issued, retired or cancelled), vintages the
    row's vintage, a region the project's country. Observed projects state no CDM sectoral
    scope, so a sector keeps none of them."""
    groups = [] if f.sector is not None else observed.unit_groups(
        date_from=f.date_from, date_to=f.date_to, vintage_from=f.vintage_from, vintage_to=f.vintage_to)
    facts = observed.project_facts()
    if f.region is not None:
        groups = [g for g in groups if facts.get((g[0], g[1]), ("", ""))[0] == f.region]
    by_year: dict[tuple[str, int | None], list[Decimal]] = {}
    by_vintage: dict[tuple[str, int | None], list[Decimal]] = {}
    by_registry: dict[str, list[Decimal]] = {}
    issued_by_project: dict[tuple[str, str], Decimal] = {}
    for registry, project, kind, year, vintage, q in groups:
        for measure in observed.measures(registry, kind):
            _add(by_year, (registry, year), measure, q)
            _add(by_vintage, (registry, vintage), measure, q)
            _add(by_registry, registry, measure, q)
            if measure == "issued":
                issued_by_project[(registry, project)] = issued_by_project.get((registry, project), Decimal(0)) + q
    projects: dict[str, int] = {}
    for (registry, _pid), (country, _type) in facts.items():
        if f.sector is None and (f.region is None or country == f.region):
            projects[registry] = projects.get(registry, 0) + 1
    by_country: dict[tuple[str, str], list[Decimal]] = {}
    by_type: dict[tuple[str, str], list[Decimal]] = {}
    for (registry, pid), q in issued_by_project.items():
        country, ptype = facts.get((registry, pid), ("", ""))
        for table, value in ((by_country, country), (by_type, ptype)):
            row = table.setdefault((registry, value), [Decimal(0), Decimal(0)])
            row[0] += q
            row[1] += 1

    def remaining(row: list[Decimal]) -> Decimal:
        return row[0] - row[1] - row[2]

    def order(key: tuple[str, Any]) -> tuple[str, bool, Any]:
        return (_name(key[0]), key[1] is None, key[1] if key[1] is not None else 0)

    registries = sorted(set(by_registry) | set(projects), key=_name)
    totals = [sum((by_registry.get(r, [Decimal(0)] * 3)[i] for r in registries), Decimal(0)) for i in range(3)]
    return {
        "over_time": [(_name(r), y, *map(_n, row)) for (r, y), row in sorted(by_year.items(), key=lambda i: order(i[0]))],
        "by_vintage": [(_name(r), v, *map(_n, row), _n(remaining(row)))
                       for (r, v), row in sorted(by_vintage.items(), key=lambda i: order(i[0]))],
        "by_region": [(_name(r), c, _n(row[0]), int(row[1])) for (r, c), row in
                      sorted(by_country.items(), key=lambda i: (-i[1][0], _name(i[0][0]), i[0][1]))],
        "by_type": [(_name(r), t, _n(row[0]), int(row[1])) for (r, t), row in
                    sorted(by_type.items(), key=lambda i: (-i[1][0], _name(i[0][0]), i[0][1]))],
        "by_registry": [(_name(r), projects.get(r, 0), *map(_n, by_registry.get(r, [Decimal(0)] * 3)),
                         _n(remaining(by_registry.get(r, [Decimal(0)] * 3)))) for r in registries],
        "headline": {"projects": sum(projects.values()), "issued": _n(totals[0]), "retired": _n(totals[1]),
                     "cancelled": _n(totals[2]), "remaining": _n(totals[0] - totals[1] - totals[2])},
    }


def figures(f: DashboardFilter) -> dict[str, Any]:
    """compute(f), cached under the ledger's size (an import appends its ledger entry)."""
    return dict(cached("observed", f.key(), lambda: compute(f)))


def registry_rows() -> list[list[Any]]:
    """Per observed registry: projects, units issued, retired, cancelled and remaining."""
    return [list(row) for row in figures(DashboardFilter())["by_registry"]]


def choices() -> dict[str, list[Any]]:
    """What the filter form offers on an observer: the countries observed projects name (no sectoral scopes)."""
    return {"sectors": [], "regions": sorted({c for c, _t in observed.project_facts().values() if c})}


def _not_stated(value: Any) -> Any:
    return _("Not stated") if value in (None, "") else value


def charts(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The dashboard's charts on an observer: the first two columns name the registry and the group."""
    registry, units, projects = _("Registry"), _("Units"), _("Projects")
    issued, retired, cancelled, remaining = _("Issued"), _("Retired"), _("Cancelled"), _("Remaining")

    def rows(found: list[tuple[Any, ...]]) -> list[list[Any]]:
        return [[r[0], _not_stated(r[1]), *r[2:]] for r in found]

    return [
        {"id": "by-source-registry", "title": _("Units by registry of origin"), "text_cols": 1,
         "columns": [registry, projects, issued, retired, cancelled, remaining], "series_cols": range(2, 6),
         "rows": [list(r) for r in data["by_registry"]]},
        {"id": "over-time", "title": _("Units issued, retired and cancelled per year, by registry"), "text_cols": 2,
         "columns": [registry, _("Year"), issued, retired, cancelled], "series_cols": range(2, 5),
         "rows": rows(data["over_time"])},
        {"id": "by-vintage", "title": _("Units by vintage and registry: issued, retired, cancelled and remaining"),
         "text_cols": 2, "columns": [registry, _("Vintage"), issued, retired, cancelled, remaining],
         "series_cols": range(2, 6), "rows": rows(data["by_vintage"])},
        {"id": "by-sector", "title": _("Units issued by project type and registry"), "text_cols": 2,
         "columns": [registry, _("Project type"), units, projects], "series_cols": [2], "rows": rows(data["by_type"])},
        {"id": "by-region", "title": _("Units issued by country and registry"), "text_cols": 2,
         "columns": [registry, _("Country"), units, projects], "series_cols": [2], "rows": rows(data["by_region"])},
    ]


def project_rows(search: str = "") -> Iterator[list[Any]]:
    """Every observed project for the CSV and Excel downloads, its registry first (streamed)."""
    for p, sums in observed.project_balances(search=search):
        yield [_name(p.registry), p.project_id, p.name, p.country, p.methodology, p.developer, p.status,
               p.project_type, *(_n(sums[m]) for m in ("issued", "retired", "cancelled", "remaining"))]
