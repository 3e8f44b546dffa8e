"""Read models of the public portal: headline figures, project search with
facets, the project page, the transparency dashboard and certificates.

Everything here is public (no login). Search and the per-project figures of
the dashboard read the portal's own summary (tonne.portal.summary: one row
per project, facet values as bitmaps, dashboard figures summed), kept in
the transaction of every change, so they are exact and fast without a
result cache. Headline and dashboard figures are also cached under the
ledger's size, which grows with every change of registry state."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db.models import (
    BooleanField,
    Expression,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, ExtractYear

from tonne.article6.selectors import unit_totals
from tonne.core import iso3166
from tonne.core.clock import now
from tonne.ledger.models import Checkpoint, LedgerHead
from tonne.mrv.models import ReportComputation
from tonne.organisations.models import Account, User
from tonne.portal import summary
from tonne.portal.models import DashboardFigure, FacetToken, ProjectSummary
from tonne.projects import selectors as project_selectors
from tonne.projects.models import Project
from tonne.units.models import Issuance, Transaction, TransactionBlock, UnitBlock
from tonne.units.selectors import retirements

PAGE_SIZE = 20
FACET_LIMIT = 25
CACHE_SECONDS = 300
# Statuses a project reaches only once the registry has accepted it.
ACTIVE_STATUSES = (Project.Status.REGISTERED,)
STATE_ACCOUNT_TYPES = {
    "held": (Account.Type.HOLDING, Account.Type.SOP),
    "buffer": (Account.Type.BUFFER,),
    "retired": (Account.Type.RETIREMENT,),
    "cancelled": (Account.Type.CANCELLATION, Account.Type.OMGE),
    "exported": (Account.Type.EXPORT,),
}


def ledger_size() -> int:
    head = LedgerHead.objects.filter(pk=1).values_list("size", flat=True).first()
    return int(head or 0)


def cached(name: str, key_parts: Iterable[Any], compute: Any) -> Any:
    """compute() cached under the ledger's size (every change of registry
    state appends a ledger entry). Only a saving for repeated views: what is
    computed here is fast enough after every change too."""
    state = [ledger_size()]
    digest = hashlib.sha256(json.dumps([name, *state, *key_parts], default=str).encode()).hexdigest()
    key = f"portal:{name}:{digest}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, CACHE_SECONDS)
    return value


def block_units() -> Any:
    return Sum(F("serial_end") - F("serial_start") + 1)


# -- headline figures ------------------------------------------------------------------


def public_projects() -> QuerySet[Project]:
    return project_selectors.projects_for(None)


def units_in_states(*states: str) -> dict[str, int]:
    """Units in the given states, from the blocks of those accounts only."""
    types = [t for s in states for t in STATE_ACCOUNT_TYPES[s]]
    rows = UnitBlock.objects.filter(account__type__in=types).values("account__type").annotate(n=block_units()).order_by()
    by_type = {r["account__type"]: int(r["n"] or 0) for r in rows}
    return {s: sum(by_type.get(t, 0) for t in STATE_ACCOUNT_TYPES[s]) for s in states}


def headline_figures() -> dict[str, Any]:
    def compute() -> dict[str, Any]:
        states = units_in_states("retired", "cancelled")
        by_status = {status: p for status, _, p in _figures("status")}
        return {
            "projects": sum(by_status.values()),
            "active_projects": sum(by_status.get(s, 0) for s in ACTIVE_STATUSES),
            # Every issuance belongs to one project, with one sectoral scope.
            "issued": sum(units for _, units, _ in _figures("sector")),
            "retired": states["retired"],
            "cancelled": states["cancelled"],
        }

    figures = dict(cached("headline", [], compute))
    figures["ledger_size"] = ledger_size()
    figures["checkpoint"] = Checkpoint.objects.order_by("-size").first()
    return figures


# -- project search --------------------------------------------------------------------


class TokensHaveAny(Expression):
    """True when a summary's token ids include any of `values`."""

    output_field = BooleanField()

    def __init__(self, column: str, values: list[int]) -> None:
        super().__init__()
        self.column: Any = F(column)
        self.values = list(values)

    def resolve_expression(self, *args: Any, **kwargs: Any) -> TokensHaveAny:
        clone = self.copy()
        clone.column = self.column.resolve_expression(*args, **kwargs)
        return clone

    def get_source_expressions(self) -> list[Any]:
        return [self.column]

    def set_source_expressions(self, exprs: Any) -> None:
        (self.column,) = exprs

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:  # type: ignore[override]
        sql, params = compiler.compile(self.column)
        if connection.vendor == "postgresql":
            return f"({sql} && %s::integer[])", [*params, self.values]
        marks = ", ".join(["%s"] * len(self.values))
        # Only the compiled column and placeholders are interpolated; values are parameters.
        exists = f"EXISTS (SELECT 1 FROM json_each({sql}) WHERE json_each.value IN ({marks}))"  # noqa: S608
        return exists, [*params, *self.values]


SORTS: dict[str, tuple[Any, ...]] = {
    "number": ("number",),
    "-number": ("-number",),
    "name": ("name", "number"),
    "-name": ("-name", "number"),
    "project_id": ("project_id",),
    "status": ("status", "number"),
    # Projects without a crediting period last on every database (SQLite would put them first).
    "crediting": (F("crediting_period_start").asc(nulls_last=True), "number"),
    "-updated": ("-updated_at", "-number"),
}
FACETS = ("region", "sector", "type", "methodology", "status", "crediting", "vintage", "label", "cobenefit", "article6")
CREDITING_STATES = ("current", "ended", "future", "unknown")


@dataclass
class SearchQuery:
    q: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)
    sort: str = "number"
    page: int = 1

    @classmethod
    def from_params(cls, params: Any) -> SearchQuery:
        """From a QueryDict; unknown values are ignored, never an error."""
        filters: dict[str, list[str]] = {}
        for name in FACETS:
            values = [v.strip() for v in params.getlist(name) if v.strip()][:20]
            if values:
                filters[name] = sorted(set(values))
        sort = params.get("sort", "number")
        try:
            page = max(1, int(params.get("page", "1")))
        except ValueError:
            page = 1
        return cls(
            q=" ".join(params.get("q", "").split())[:200],
            filters=filters,
            sort=sort if sort in SORTS else "number",
            page=page,
        )

    def key(self) -> list[Any]:
        return [self.q, sorted(self.filters.items())]


def _crediting_q(state: str, today: dt.date) -> Q:
    start, end = "crediting_period_start", "crediting_period_end"
    # Exclusive states: ended, then unknown, then future, else current.
    ended = Q(**{f"{end}__lt": today})
    return {
        "ended": ended,
        "unknown": Q(**{f"{start}__isnull": True}) & ~ended,
        "future": Q(**{f"{start}__gt": today}) & ~ended,
        "current": Q(**{f"{start}__lte": today}) & (Q(**{f"{end}__gte": today}) | Q(**{f"{end}__isnull": True})),
    }.get(state, Q(pk__in=[]))


SUMMARY_SORTS: dict[str, tuple[Any, ...]] = {
    key: tuple("project_code" if f == "project_id" else f for f in fields) for key, fields in SORTS.items()
}
# Facets whose values are tokens of ProjectSummary.tokens (crediting depends on the day).
TOKEN_FACETS = tuple(f for f in FACETS if f != "crediting")


def _facet_tokens(name: str, values: list[str]) -> list[int]:
    """Ids of the facet's chosen values (unknown values have none)."""
    if name == "vintage":
        values = [str(int(v)) for v in values if v.isdigit()]
    names = [summary.token(name, v) for v in values]
    return sorted(FacetToken.objects.filter(token__in=names).values_list("id", flat=True))


def search_rows(query: SearchQuery, *, filters: dict[str, list[str]] | None = None) -> QuerySet[ProjectSummary]:
    """Summary rows of the public projects matching the text and every facet
    (values of one facet OR'd); words match inside the name, the project id
    or the description, whatever their case."""
    qs = ProjectSummary.objects.filter(public=True)
    for word in query.q.split()[:8]:
        qs = qs.filter(text__contains=word.lower())
    chosen = query.filters if filters is None else filters
    today = now().date()
    for name, values in chosen.items():
        if name == "crediting":
            condition = Q(pk__in=[])
            for state in values:
                condition |= _crediting_q(state, today)
            qs = qs.filter(condition)
        elif name in TOKEN_FACETS:
            ids = _facet_tokens(name, values)
            qs = qs.filter(TokensHaveAny("tokens", ids) if ids else Q(pk__in=[]))
    return qs


def search_projects(query: SearchQuery, *, filters: dict[str, list[str]] | None = None) -> QuerySet[Project]:
    """Public projects matching the text and every facet (values of one facet OR'd)."""
    return public_projects().filter(pk__in=search_rows(query, filters=filters).values("project_id"))


def with_listing(qs: QuerySet[Project]) -> QuerySet[Project]:
    """What a result row shows, in a fixed number of queries however many rows."""
    return qs.select_related(None).prefetch_related("locations", "methodologies__methodology").annotate(
        issued=Coalesce("summary__issued", Value(0))
    )


def _count_rows(rows: Iterable[tuple[Any, Any]]) -> list[tuple[str, int]]:
    out = [(str(value), int(n)) for value, n in rows if value not in (None, "")]
    out.sort(key=lambda item: (-item[1], item[0]))
    return out[:FACET_LIMIT]


@dataclass
class SearchResult:
    total: int
    facets: dict[str, list[tuple[str, int]]]


def _crediting_states(bitmaps: dict[str, int], today: dt.date) -> dict[str, int]:
    """The public projects in each crediting state today, as bitmaps: whole
    years from the start- and end-year tokens, this year's projects from the
    summary (an index range of one year's periods)."""

    def years(prefix: str, keep: Any) -> int:
        out = 0
        for name, bits in bitmaps.items():
            kind, _, year = name.partition(":")
            if kind == prefix and keep(int(year)):
                out |= bits
        return out

    this_year = ProjectSummary.objects.filter(public=True)
    ends_before = years("credit_end_year", lambda y: y < today.year) | summary.bitmap(
        this_year.filter(crediting_period_end__year=today.year, crediting_period_end__lt=today).values_list(
            "project_id", flat=True
        )
    )
    starts_after = years("credit_start_year", lambda y: y > today.year) | summary.bitmap(
        this_year.filter(crediting_period_start__year=today.year, crediting_period_start__gt=today).values_list(
            "project_id", flat=True
        )
    )
    # Exclusive, in the order of _crediting_q.
    ended = ends_before
    unknown = bitmaps.get(summary.token("credit_start", "none"), 0) & ~ended
    future = starts_after & ~ended & ~unknown
    current = bitmaps.get(summary.ALL, 0) & ~ended & ~unknown & ~future
    return {"current": current, "ended": ended, "future": future, "unknown": unknown}


def search_counts(query: SearchQuery) -> SearchResult:
    """The total number of matches and, for each facet, its values and how
    many of the matching projects have each (a facet's own selection left
    out, so that its other values stay choosable).

    Exact and computed afresh: each facet value's public projects are a
    bitmap (FacetToken), so every count is the size of an intersection."""
    bitmaps = {name: int.from_bytes(bytes(bits), "little") for name, bits in FacetToken.objects.values_list("token", "bits")}
    base = bitmaps.get(summary.ALL, 0)
    if query.q.split():
        base &= summary.bitmap(search_rows(query, filters={}).values_list("project_id", flat=True))
    crediting = _crediting_states(bitmaps, now().date())
    values_of: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    for name, bits in bitmaps.items():
        facet, _, value = name.partition(":")
        if facet in values_of:
            values_of[facet][value] = bits
    values_of["crediting"] = crediting
    chosen: dict[str, int] = {}
    for name, values in query.filters.items():
        wanted = values
        if name == "vintage":
            wanted = [str(int(v)) for v in values if v.isdigit()]
        chosen[name] = 0
        for value in wanted:
            chosen[name] |= values_of[name].get(value, 0)

    def matching(skip: str | None = None) -> int:
        out = base
        for name, bits in chosen.items():
            if name != skip:
                out &= bits
        return out

    everything = matching()
    facets: dict[str, list[tuple[str, int]]] = {}
    for name in FACETS:
        among = matching(name) if name in chosen else everything
        counted = [(value, (bits & among).bit_count()) for value, bits in values_of[name].items()]
        facets[name] = [(value, n) for value, n in counted if n]
    out = {name: _count_rows(values) for name, values in facets.items()}
    out["vintage"] = sorted(out["vintage"], key=lambda item: item[0], reverse=True)
    order = {state: i for i, state in enumerate(CREDITING_STATES)}
    out["crediting"] = sorted(out["crediting"], key=lambda item: order.get(item[0], 9))
    return SearchResult(total=everything.bit_count(), facets=out)


def facet_counts(query: SearchQuery) -> dict[str, list[tuple[str, int]]]:
    return search_counts(query).facets


def search_count(query: SearchQuery) -> int:
    return search_counts(query).total


def result_page(query: SearchQuery, *, total: int | None = None) -> tuple[list[Project], int, int]:
    """(rows of the page, total matches, number of pages). The page is read
    from the summary by its sort index, then its projects are fetched."""
    if total is None:
        total = search_rows(query).count()
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    page = min(query.page, pages)
    offset = (page - 1) * PAGE_SIZE
    ids = list(
        search_rows(query).order_by(*SUMMARY_SORTS[query.sort]).values_list("project_id", flat=True)[
            offset : offset + PAGE_SIZE
        ]
    )
    by_id = {p.pk: p for p in with_listing(Project.objects.filter(pk__in=ids))}
    return [by_id[i] for i in ids if i in by_id], total, pages


EXPORT_COLUMNS = (
    "project_id",
    "name",
    "status",
    "host_party",
    "regions",
    "sectors",
    "types",
    "sectoral_scope",
    "methodologies",
    "crediting_period_start",
    "crediting_period_end",
    "article6_status",
    "units_issued",
    "developer",
)


def export_rows(query: SearchQuery) -> Iterator[list[Any]]:
    """Every matching project, streamed in chunks with their child rows prefetched."""
    qs = with_listing(search_projects(query).order_by(*SORTS[query.sort])).select_related("developer")
    for p in qs.iterator(chunk_size=1000):
        yield [
            p.project_id,
            p.name,
            p.status,
            p.host_party,
            "; ".join(sorted({loc.region for loc in p.locations.all() if loc.region})),
            "; ".join(p.sectors),
            "; ".join(p.types),
            p.sectoral_scope,
            "; ".join(m.methodology.code for m in p.methodologies.all()),
            p.crediting_period_start,
            p.crediting_period_end,
            p.article6_status,
            int(p.issued),  # type: ignore[attr-defined]
            p.developer.name,
        ]


# -- dashboard ----------------------------------------------------------------------------


def terminal_blocks(*conditions: Q) -> list[tuple[str, int, int, int]]:
    """(state, vintage, year reached, units) of retired and cancelled units.
    Blocks in terminal accounts never move again, so the year a block
    reached its account is the year it was retired or cancelled; reading
    the few terminal accounts' blocks by index beats scanning transactions.
    `conditions` narrow the blocks (the dashboard's filter)."""
    states = {t: s for s in ("retired", "cancelled") for t in STATE_ACCOUNT_TYPES[s]}
    rows = (
        UnitBlock.objects.filter(*conditions, account__type__in=list(states))
        .annotate(y=ExtractYear("acquired_at"))
        .values_list("account__type", "vintage", "y")
        .annotate(n=block_units())
        .order_by()
    )
    return [(states[t], int(v), int(y), int(n or 0)) for t, v, y, n in rows]


def tally(pairs: Iterable[tuple[Any, Any]]) -> dict[Any, int]:
    """Sums by key."""
    out: dict[Any, int] = {}
    for k, n in pairs:
        out[k] = out.get(k, 0) + int(n or 0)
    return out


def time_series(
    issued: Iterable[tuple[Any, Any, Any]], terminal: list[tuple[str, int, int, int]]
) -> tuple[list[tuple[int, int, int, int]], list[tuple[int, int, int, int]]]:
    """Units issued, retired and cancelled per year and per vintage, from
    issued (year, vintage, units) and terminal (state, vintage, year, units) rows."""
    issued = list(issued)
    by_year = [tally((int(y), n) for y, _, n in issued)]
    by_vint = [tally((int(v), n) for _, v, n in issued)]
    for state in ("retired", "cancelled"):
        by_year.append(tally((y, n) for s, _, y, n in terminal if s == state))
        by_vint.append(tally((v, n) for s, v, _, n in terminal if s == state))

    def rows(columns: list[dict[Any, int]]) -> list[tuple[int, int, int, int]]:
        keys = sorted(set().union(*columns))
        return [(k, columns[0].get(k, 0), columns[1].get(k, 0), columns[2].get(k, 0)) for k in keys]

    return rows(by_year), rows(by_vint)


def _figures(dimension: str) -> list[tuple[str, int, int]]:
    """(value, units, projects) of a DashboardFigure dimension, empty groups left out."""
    rows = DashboardFigure.objects.filter(dimension=dimension).exclude(units=0, projects=0)
    return [(value, int(units), int(projects)) for value, units, projects in rows.values_list("value", "units", "projects")]


def dashboard() -> dict[str, Any]:
    """Every aggregate of the transparency dashboard (cached by ledger size)."""
    return cached("dashboard", [], _dashboard)


def _dashboard() -> dict[str, Any]:
    issued_rows = list(
        Issuance.objects.annotate(y=ExtractYear("issued_at"))
        .values_list("y", "vintage")
        .annotate(n=Sum("quantity"))
        .order_by()
    )
    over_time, by_vintage = time_series(issued_rows, terminal_blocks())
    by_sector = sorted((int(v), n, p) for v, n, p in _figures("sector"))
    by_article6 = sorted(_figures("article6"))

    article6_units = list(unit_totals().items())
    projects_by_status = sorted((status, p) for status, _, p in _figures("status"))
    return {
        "over_time": over_time,
        "by_vintage": by_vintage,
        "by_sector": by_sector,
        "by_region": sorted(_figures("region"), key=lambda r: (-r[1], r[0])),
        "by_methodology": sorted(_figures("methodology"), key=lambda r: (-r[1], r[0])),
        "by_article6": by_article6,
        "article6_units": article6_units,
        "projects_by_status": projects_by_status,
    }


# -- retirement certificates ---------------------------------------------------------------


def retirement(identifier: str) -> Transaction | None:
    return retirements().filter(identifier=identifier).first()


def latest_checkpoints(limit: int = 10) -> list[Checkpoint]:
    return list(Checkpoint.objects.order_by("-size")[:limit])


def viewer(user: Any) -> User | None:
    return user if getattr(user, "is_authenticated", False) else None


def certificate_projects(txn: Transaction) -> list[dict[str, Any]]:
    """The projects whose units a retirement used: name, host country and
    methodologies (the project's own, else those its issuances were computed with)."""
    issuances = Issuance.objects.filter(
        pk__in=TransactionBlock.objects.filter(transaction=txn).values("issuance_id")
    ).values_list("project_id", "report_id")
    by_project: dict[int, set[int]] = {}
    for project_pk, report_pk in issuances:
        by_project.setdefault(project_pk, set()).add(report_pk)
    rows = []
    for project in Project.objects.filter(pk__in=by_project).prefetch_related("methodologies__methodology"):
        methodologies = [
            " ".join(part for part in (m.methodology.code, m.methodology.name, m.methodology.version) if part)
            for m in project.methodologies.all()
        ]
        if not methodologies:
            computed = ReportComputation.objects.filter(report_id__in=by_project[project.pk])
            methodologies = sorted({f"{c.methodology_code} {c.methodology_version}".strip() for c in computed})
        rows.append({
            "project_id": project.project_id,
            "name": project.name,
            "host_party": project.host_party,
            "country": iso3166.country_name(project.host_party),
            "methodologies": methodologies,
        })
    return rows
