"""Read models of the public portal: headline figures, project search with
facets, the project page, the transparency dashboard and certificates.

Everything here is public (no login). Reads go through the domain apps'
selectors where they exist; aggregates are computed in SQL, and the heavier
ones are cached under the ledger's size, which grows with every change of
registry state, so a cached figure is never stale."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    Expression,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, ExtractYear

from tonne.core.clock import now
from tonne.ledger.models import Checkpoint, LedgerHead
from tonne.organisations.models import Account, User
from tonne.projects import selectors as project_selectors
from tonne.projects.models import CoBenefit, Label, Location, Project, ProjectMethodology
from tonne.units.models import Issuance, Transaction, UnitBlock

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


def projects_version() -> list[Any]:
    """Names the state of projects and issuances (what search reads): every
    project change bumps its updated_at, issuances only ever get added.
    Index lookups only, so transfers and retirements leave search caches be."""
    return [
        Project.objects.aggregate(m=Max("updated_at"), n=Max("id")),
        Issuance.objects.aggregate(n=Max("id")),
    ]


def cached(name: str, key_parts: Iterable[Any], compute: Any, *, version: list[Any] | None = None) -> Any:
    """compute() cached under the state it reads: by default the ledger's
    size (every change of registry state appends a ledger entry)."""
    state = version if version is not None else [ledger_size()]
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
        return {
            "projects": public_projects().count(),
            "active_projects": public_projects().filter(status__in=ACTIVE_STATUSES).count(),
            "issued": int(Issuance.objects.aggregate(n=Sum("quantity"))["n"] or 0),
            "retired": states["retired"],
            "cancelled": states["cancelled"],
        }

    figures = dict(cached("headline", [], compute))
    figures["ledger_size"] = ledger_size()
    figures["checkpoint"] = Checkpoint.objects.order_by("-size").first()
    return figures


# -- project search --------------------------------------------------------------------


class JsonHasAny(Expression):
    """True when a JSON list column holds any of `values` (sectors, types)."""

    output_field = BooleanField()

    def __init__(self, column: str, values: list[str]) -> None:
        super().__init__()
        self.column: Any = F(column)
        self.values = list(values)

    def resolve_expression(self, *args: Any, **kwargs: Any) -> JsonHasAny:
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
            return f"({sql} ?| %s::text[])", [*params, self.values]
        marks = ", ".join(["%s"] * len(self.values))
        # Only the compiled column and placeholders are interpolated; values are parameters.
        exists = f"EXISTS (SELECT 1 FROM json_each({sql}) WHERE json_each.value IN ({marks}))"  # noqa: S608
        return exists, [*params, *self.values]


SORTS: dict[str, tuple[str, ...]] = {
    "number": ("number",),
    "-number": ("-number",),
    "name": ("name", "number"),
    "-name": ("-name", "number"),
    "project_id": ("project_id",),
    "status": ("status", "number"),
    "crediting": ("crediting_period_start", "number"),
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
    # Exclusive states, in the order of CREDITING_CASE below.
    ended = Q(**{f"{end}__lt": today})
    return {
        "ended": ended,
        "unknown": Q(**{f"{start}__isnull": True}) & ~ended,
        "future": Q(**{f"{start}__gt": today}) & ~ended,
        "current": Q(**{f"{start}__lte": today}) & (Q(**{f"{end}__gte": today}) | Q(**{f"{end}__isnull": True})),
    }.get(state, Q(pk__in=[]))


CREDITING_CASE = (
    "CASE WHEN p.crediting_period_end < %s THEN 'ended' WHEN p.crediting_period_start IS NULL THEN 'unknown' "
    "WHEN p.crediting_period_start > %s THEN 'future' ELSE 'current' END"
)


def search_projects(query: SearchQuery, *, filters: dict[str, list[str]] | None = None) -> QuerySet[Project]:
    """Public projects matching the text and every facet (values of one facet OR'd)."""
    qs = public_projects()
    for word in query.q.split()[:8]:
        qs = qs.filter(Q(name__icontains=word) | Q(project_id__icontains=word) | Q(description__icontains=word))
    chosen = query.filters if filters is None else filters
    today = now().date()
    for name, values in chosen.items():
        if name == "status":
            qs = qs.filter(status__in=values)
        elif name == "article6":
            qs = qs.filter(article6_status__in=values)
        elif name == "sector":
            qs = qs.filter(JsonHasAny("sectors", values))
        elif name == "type":
            qs = qs.filter(JsonHasAny("types", values))
        elif name == "region":
            qs = qs.filter(Exists(Location.objects.filter(project=OuterRef("pk"), region__in=values)))
        elif name == "methodology":
            qs = qs.filter(
                Exists(ProjectMethodology.objects.filter(project=OuterRef("pk"), methodology__code__in=values))
            )
        elif name == "label":
            qs = qs.filter(Exists(Label.objects.filter(project=OuterRef("pk"), name__in=values)))
        elif name == "cobenefit":
            qs = qs.filter(Exists(CoBenefit.objects.filter(project=OuterRef("pk"), co_benefit__in=values)))
        elif name == "vintage":
            years = [int(v) for v in values if v.isdigit()]
            qs = qs.filter(Exists(Issuance.objects.filter(project=OuterRef("pk"), vintage__in=years)))
        elif name == "crediting":
            condition = Q(pk__in=[])
            for state in values:
                condition |= _crediting_q(state, today)
            qs = qs.filter(condition)
    return qs


def issued_subquery() -> Any:
    units = (
        Issuance.objects.filter(project=OuterRef("pk"))
        .order_by()
        .values("project")
        .annotate(s=Sum("quantity"))
        .values("s")
    )
    return Coalesce(Subquery(units), Value(0))


def with_listing(qs: QuerySet[Project]) -> QuerySet[Project]:
    """What a result row shows, in a fixed number of queries however many rows."""
    return qs.select_related(None).prefetch_related("locations", "methodologies__methodology").annotate(
        issued=issued_subquery()
    )


def _count_rows(rows: Iterable[tuple[Any, Any]]) -> list[tuple[str, int]]:
    out = [(str(value), int(n)) for value, n in rows if value not in (None, "")]
    out.sort(key=lambda item: (-item[1], item[0]))
    return out[:FACET_LIMIT]


PROJECT_FACET_COLUMNS = (
    "id", "status", "article6_status", "crediting_period_start", "crediting_period_end", "sectors", "types"
)


def _facet_sql(name: str, cte: str, vendor: str) -> tuple[str, int]:
    """SQL counting one facet's values among the projects of CTE `cte`,
    and how many date parameters it takes. Only constant identifiers are
    interpolated (facet names, columns, the CTE's generated name)."""
    # The CTE carries the project columns the facets count (see PROJECT_FACET_COLUMNS).
    if name in ("status", "article6"):
        column = "p.status" if name == "status" else "p.article6_status"
        return f"SELECT '{name}', {column}, COUNT(*) FROM {cte} p GROUP BY {column}", 0  # noqa: S608
    if name == "crediting":
        return f"SELECT 'crediting', {CREDITING_CASE}, COUNT(*) FROM {cte} p GROUP BY 2", 2  # noqa: S608
    if name in ("sector", "type"):
        column = "p.sectors" if name == "sector" else "p.types"
        if vendor == "postgresql":
            lateral = f"CROSS JOIN LATERAL jsonb_array_elements_text({column}) AS e(v)"
            return f"SELECT '{name}', e.v, COUNT(*) FROM {cte} p {lateral} GROUP BY e.v", 0  # noqa: S608
        return f"SELECT '{name}', e.value, COUNT(*) FROM {cte} p, json_each({column}) e GROUP BY e.value", 0  # noqa: S608
    child = {
        "region": ("projects_location c", "c.region"),
        "label": ("projects_label c", "c.name"),
        "cobenefit": ("projects_cobenefit c", "c.co_benefit"),
        "vintage": ("units_issuance c", "CAST(c.vintage AS VARCHAR(10))"),
        "methodology": (
            "projects_projectmethodology c JOIN projects_methodology mt ON mt.id = c.methodology_id",
            "mt.code",
        ),
    }[name]
    table, column = child
    # Each project once per value (hashed), then counted: cheaper than COUNT(DISTINCT), which sorts.
    pairs = f"SELECT DISTINCT c.project_id, {column} AS v FROM {table} JOIN {cte} ON {cte}.id = c.project_id"  # noqa: S608
    return f"SELECT '{name}', d.v, COUNT(*) FROM ({pairs}) d GROUP BY d.v", 0  # noqa: S608


def facet_counts(query: SearchQuery) -> dict[str, list[tuple[str, int]]]:
    """For each facet, its values and how many of the matching projects have
    each; a facet's own selection is left out of its counts, so that the
    other values of the same facet stay visible and choosable.

    One statement: the matching projects are computed once per distinct set
    of filters (a CTE; facets without a selection of their own share one)
    and every facet is counted against them."""

    def compute() -> dict[str, list[tuple[str, int]]]:
        today = now().date()
        vendor = connection.vendor
        ctes: list[str] = []
        params: list[Any] = []
        cte_of: dict[tuple, str] = {}
        parts: list[str] = []
        part_params: list[Any] = []
        for name in FACETS:
            others = {k: v for k, v in query.filters.items() if k != name}
            key = tuple(sorted((k, tuple(v)) for k, v in others.items()))
            if key not in cte_of:
                cte_of[key] = f"m{len(cte_of)}"
                sql, cte_params = search_projects(query, filters=others).order_by().values(*PROJECT_FACET_COLUMNS).query.sql_with_params()
                ctes.append(f"{cte_of[key]} AS ({sql})")
                params.extend(cte_params)
            part, n_dates = _facet_sql(name, cte_of[key], vendor)
            parts.append(part)
            part_params.extend([today] * n_dates)
        statement = "WITH " + ", ".join(ctes) + " " + " UNION ALL ".join(parts)
        with transaction.atomic(), connection.cursor() as cursor:
            if vendor == "postgresql":
                # Compiling this many-part statement costs more than running it.
                cursor.execute("SET LOCAL jit = off")
            cursor.execute(statement, [*params, *part_params])
            rows = cursor.fetchall()
        grouped: dict[str, list[tuple[Any, Any]]] = {name: [] for name in FACETS}
        for name, value, n in rows:
            grouped[name].append((value, n))
        out = {name: _count_rows(values) for name, values in grouped.items()}
        out["vintage"] = sorted(_count_rows(grouped["vintage"]), key=lambda item: item[0], reverse=True)
        order = {state: i for i, state in enumerate(CREDITING_STATES)}
        out["crediting"] = sorted(out["crediting"], key=lambda item: order.get(item[0], 9))
        return out

    return cached("facets", query.key(), compute, version=projects_version())


def search_count(query: SearchQuery) -> int:
    return cached("count", query.key(), lambda: search_projects(query).count(), version=projects_version())


def result_page(query: SearchQuery) -> tuple[list[Project], int, int]:
    """(rows of the page, total matches, number of pages)."""
    total = search_count(query)
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    page = min(query.page, pages)
    offset = (page - 1) * PAGE_SIZE
    rows = list(with_listing(search_projects(query).order_by(*SORTS[query.sort]))[offset : offset + PAGE_SIZE])
    return rows, total, pages


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


def _terminal_blocks() -> list[tuple[str, int, int, int]]:
    """(state, vintage, year reached, units) of retired and cancelled units.
    Blocks in terminal accounts never move again, so the year a block
    reached its account is the year it was retired or cancelled; reading
    the few terminal accounts' blocks by index beats scanning transactions."""
    states = {t: s for s in ("retired", "cancelled") for t in STATE_ACCOUNT_TYPES[s]}
    rows = (
        UnitBlock.objects.filter(account__type__in=list(states))
        .annotate(y=ExtractYear("acquired_at"))
        .values_list("account__type", "vintage", "y")
        .annotate(n=block_units())
        .order_by()
    )
    return [(states[t], int(v), int(y), int(n or 0)) for t, v, y, n in rows]


def _issued_by_first_child(child_sql: str) -> list[tuple[str, int, int]]:
    """Units issued grouped by a value of each project's first child row
    (so a project with two regions is counted once)."""
    sql = f"""
        SELECT c.value, SUM(i.quantity), COUNT(DISTINCT i.project_id)
        FROM units_issuance i
        LEFT JOIN ({child_sql}) c ON c.project_id = i.project_id
        GROUP BY c.value
    """  # noqa: S608 (child_sql is one of the constant queries below)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    return sorted(((v or "", int(n or 0), int(p)) for v, n, p in rows), key=lambda r: (-r[1], r[0]))


FIRST_REGION = """
    SELECT l.project_id, l.region AS value FROM projects_location l
    JOIN (SELECT project_id, MIN(id) AS id FROM projects_location GROUP BY project_id) f ON f.id = l.id
"""
FIRST_METHODOLOGY = """
    SELECT pm.project_id, m.code AS value FROM projects_projectmethodology pm
    JOIN (SELECT project_id, MIN(id) AS id FROM projects_projectmethodology GROUP BY project_id) f ON f.id = pm.id
    JOIN projects_methodology m ON m.id = pm.methodology_id
"""


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
    terminal = _terminal_blocks()

    def tally(pairs: Iterable[tuple[Any, int]]) -> dict[Any, int]:
        out: dict[Any, int] = {}
        for k, n in pairs:
            out[k] = out.get(k, 0) + int(n or 0)
        return out

    issued_year = tally((int(y), n) for y, _, n in issued_rows)
    retired_year = tally((y, n) for s, _, y, n in terminal if s == "retired")
    cancelled_year = tally((y, n) for s, _, y, n in terminal if s == "cancelled")
    years = sorted(set(issued_year) | set(retired_year) | set(cancelled_year))
    over_time = [(y, issued_year.get(y, 0), retired_year.get(y, 0), cancelled_year.get(y, 0)) for y in years]

    vint_issued = tally((int(v), n) for _, v, n in issued_rows)
    vint_retired = tally((v, n) for s, v, _, n in terminal if s == "retired")
    vint_cancelled = tally((v, n) for s, v, _, n in terminal if s == "cancelled")
    vintages = sorted(set(vint_issued) | set(vint_retired) | set(vint_cancelled))
    by_vintage = [(v, vint_issued.get(v, 0), vint_retired.get(v, 0), vint_cancelled.get(v, 0)) for v in vintages]

    # Distinct projects per group need their own grouping (a project spans years and vintages).
    by_sector = [
        (int(scope), int(n or 0), int(p))
        for scope, n, p in Issuance.objects.values_list("project__sectoral_scope")
        .annotate(n=Sum("quantity"), p=Count("project", distinct=True))
        .order_by("project__sectoral_scope")
    ]
    by_article6 = [
        (status, int(n or 0), int(p))
        for status, n, p in Issuance.objects.values_list("project__article6_status")
        .annotate(n=Sum("quantity"), p=Count("project", distinct=True))
        .order_by("project__article6_status")
    ]
    projects_by_status = [
        (status, int(n))
        for status, n in public_projects().order_by().values_list("status").annotate(n=Count("pk")).order_by("status")
    ]
    return {
        "over_time": over_time,
        "by_vintage": by_vintage,
        "by_sector": by_sector,
        "by_region": _issued_by_first_child(FIRST_REGION),
        "by_methodology": _issued_by_first_child(FIRST_METHODOLOGY),
        "by_article6": by_article6,
        "projects_by_status": projects_by_status,
    }


# -- retirement certificates ---------------------------------------------------------------


def retirement(identifier: str) -> Transaction | None:
    from tonne.units.selectors import retirements

    return retirements().filter(identifier=identifier).first()


def latest_checkpoints(limit: int = 10) -> list[Checkpoint]:
    return list(Checkpoint.objects.order_by("-size")[:limit])


def viewer(user: Any) -> User | None:
    return user if getattr(user, "is_authenticated", False) else None
