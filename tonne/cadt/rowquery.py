"""CAD Trust list queries as SQL over the CadtRow projection: orgUid, filter,
search (FTS5 on SQLite, tsvector on PostgreSQL, both indexed), the special
filters, order and page, so that a page costs the same whatever the
registry's size. Values the user sends are parameters, never SQL or patterns."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    BooleanField,
    Expression,
    F,
    FloatField,
    Func,
    Lookup,
    OrderBy,
    Q,
    QuerySet,
    Subquery,
    Sum,
    TextField,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast

from tonne.cadt import params, reads, rowfields
from tonne.cadt.models import CadtCount, CadtRow
from tonne.cadt.schema import V1, v1_tables, v2_tables

NUMERIC = frozenset({"int", "decimal", "year"})


class Like(Lookup):  # type: ignore[type-arg]
    """SQL LIKE with the user's own wildcards (CAD Trust's Op.like), case-insensitive as SQLite's."""

    lookup_name = "cadt_like"

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        operator = "ILIKE" if connection.vendor == "postgresql" else "LIKE"
        return f"{lhs} {operator} {rhs}", [*lhs_params, *rhs_params]


TextField.register_lookup(Like)  # only under its own name: no other lookup changes


@dataclass(frozen=True)
class Table:
    version: str
    table: str
    what: str  # CAD Trust's word in its error messages
    fields: tuple[str, ...]  # what filter and order may name

    def kind(self, field: str) -> str:
        tables = v1_tables() if self.version == V1 else v2_tables()
        spec = tables.get(self.table)
        found = next((f.kind for f in spec.fields if f.name == field), "text") if spec else "text"
        return str(found)


class JsonText(Func):
    """A record's value as SQL text (JSON null as SQL NULL); the path travels as a parameter."""

    output_field = TextField()

    def __init__(self, *keys: str) -> None:
        self.keys = keys
        super().__init__(F("data"))

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> Any:
        data, data_params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"({data}::jsonb #>> %s)", [*data_params, list(self.keys)]
        path = "$" + "".join(f'."{k}"' for k in self.keys)
        return f"JSON_EXTRACT({data}, %s)", [*data_params, path]


def json_text(path: str) -> Expression:
    """`data__a__b` as SQL text."""
    return JsonText(*path.removeprefix("data__").split("__"))





def _value(table: Table, field: str) -> Any:
    if field == "timeStaged" and table.version == V1:
        return F("time_staged")
    column = rowfields.column(table.version, table.table, field)
    if column is not None:
        return F(column)
    value: Expression = json_text(f"data__{field}")
    if table.kind(field) in NUMERIC:
        value = Cast(value, FloatField())
    return value


def _text(table: Table, field: str) -> Any:
    """The field as text (what `like` compares, numbers included, as SQLite compares them)."""
    if field == "timeStaged" and table.version == V1:
        return F("time_staged")
    column = rowfields.column(table.version, table.table, field)
    if column in rowfields.TEXT_COLUMNS:
        return F(column)
    return json_text(f"data__{field}")


def _typed(table: Table, field: str, raw: Any) -> Any:
    column = rowfields.column(table.version, table.table, field)
    if column in rowfields.NUMBER_COLUMNS or (column is None and table.kind(field) in NUMERIC):
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise reads.QueryFailed(f"Error retrieving {table.what}", f"{raw!r} is not a number") from None
    return str(raw)


def _filter(qs: QuerySet[CadtRow], text: str, table: Table) -> QuerySet[CadtRow]:
    field, raw, op = params.filter_parts(text)
    if field not in table.fields:
        raise reads.QueryFailed(f"Error retrieving {table.what}", f"SQLITE_ERROR: no such column: {field}")
    if op == "like":
        return qs.annotate(_f=_text(table, field)).filter(_f__cadt_like=raw)
    qs = qs.annotate(_f=_value(table, field))
    if op == "in":
        try:
            wanted = json.loads(raw) if raw.startswith("[") else [raw]
        except ValueError:
            raise reads.QueryFailed(f"Error retrieving {table.what}", f"{raw} is not a JSON list") from None
        return qs.filter(_f__in=[_typed(table, field, w) for w in (wanted if isinstance(wanted, list) else [wanted])])
    value = _typed(table, field, raw)
    if op == "eq":
        return qs.filter(_f=value)
    if op == "not":  # Sequelize's Op.not is IS NOT: null-safe
        return qs.filter(~Q(_f=value) | Q(_f__isnull=True))
    return qs.filter(**{f"_f__{op}": value})


def search_condition(text: str, *, also_0x: bool = False) -> Q | None:
    """CAD Trust's full-text search as an indexed condition, or None where it matches nothing."""
    found = [s for s in (reads.search_of(text), reads.search_of("0x" + text) if also_0x else None) if s]
    if not found or reads.search_of(text) is None:
        return None
    condition = Q()
    for search in found:
        if connection.vendor == "postgresql":
            query = " & ".join([*search.whole, f"{search.prefix}:*"])
            sql = "to_tsvector('simple', search) @@ to_tsquery('simple', %s)"
        else:
            query = " ".join([*(f'"{t}"' for t in search.whole), f'"{search.prefix}"*'])
            sql = "id IN (SELECT rowid FROM cadt_row_fts WHERE cadt_row_fts MATCH %s)"
        # The SQL is constant; the user's tokens travel as a parameter.
        condition |= Q(RawSQL(sql, [query], output_field=BooleanField()))  # noqa: S611
    return condition


def select(table: Table, q: dict[str, Any], *, home: str) -> QuerySet[CadtRow]:
    """The rows a CAD Trust list query selects, in CAD Trust's order."""
    qs = CadtRow.objects.filter(version=table.version, table=table.table)
    org = q.get("orgUid")
    if org and org != "all":
        qs = qs.filter(org_uid=home if org == "me" else org)
    if q.get("filter"):
        qs = _filter(qs, q["filter"], table)
    if q.get("search"):
        units = table.table == "units"
        condition = search_condition(q["search"], also_0x=units)
        if condition is None:
            return qs.none()
        if units and q.get("includeProjectInfoInSearch"):
            projects = CadtRow.objects.filter(version=V1, table="projects").filter(search_condition(q["search"]) or Q(pk__in=[]))
            condition |= Q(parent__in=Subquery(projects.values("key")))
        qs = qs.filter(condition)
    if "projectIds" in q:
        qs = qs.filter(key__in=q["projectIds"])
    if "marketplaceIdentifiers" in q:
        qs = qs.filter(marketplace_id__in=q["marketplaceIdentifiers"])
    elif "hasMarketplaceIdentifier" in q:
        qs = qs.filter(marketplace_id__isnull=not q["hasMarketplaceIdentifier"])
    elif "onlyTokenizedUnits" in q:
        tokenized = Q(marketplace=reads.TOKENIZED_MARKETPLACE)
        qs = qs.filter(tokenized if q["onlyTokenizedUnits"] else ~tokenized | Q(marketplace__isnull=True))
    return _ordered(qs, q.get("order"), table)


def _ordered(qs: QuerySet[CadtRow], order: str | None, table: Table) -> QuerySet[CadtRow]:
    parts = params.order_parts(order) if order else None
    if parts is None and order == "SERIALNUMBER":
        parts = ("serialNumberBlock", "ASC")
    if parts is None:
        if table.version != V1:
            return qs.order_by("key")
        return qs.order_by(*_staged("ASC" if order == "ASC" else "DESC"))
    field, direction = parts
    if field not in table.fields:
        raise reads.QueryFailed(f"Error retrieving {table.what}", f"SQLITE_ERROR: no such column: {field}")
    if field == "timeStaged" and table.version == V1:
        return qs.order_by(*_staged(direction))
    return qs.order_by(*_order(_value(table, field), direction))


def _staged(direction: str) -> tuple[str, str]:
    """timeStaged is never NULL; ties by key the other way round, as its index
    (newest first, then key) is read backwards for the oldest first."""
    return ("time_staged", "-key") if direction == "ASC" else ("-time_staged", "key")


def _order(value: Any, direction: str) -> tuple[OrderBy, OrderBy]:
    """CAD Trust's SQLite order: NULL is the smallest value (first ascending, last
    descending); ties by key the same way, so one index serves both directions."""
    if direction == "DESC":
        return value.desc(nulls_last=True), F("key").desc()
    return value.asc(nulls_first=True), F("key").asc()


@dataclass(frozen=True)
class Page:
    """Stored JSON texts, and the envelope around them (None: the plain list)."""

    rows: list[str]
    page: Any = None
    page_count: int = 0

    def json(self) -> str:
        listed = "[" + ",".join(self.rows) + "]"
        if self.page is None:
            return listed
        return f'{{"page": {json.dumps(self.page)}, "pageCount": {self.page_count}, "data": {listed}}}'

    def parsed(self) -> Any:
        return json.loads(self.json())


def count(qs: QuerySet[CadtRow], cursor: str) -> int:
    """The query's row count, kept while the ledger stays where it is (its size
    and head hash: every server process computes the same figure for the same state)."""
    try:
        sql = str(qs.query)
    except EmptyResultSet:  # a condition that can match nothing (an empty id list)
        return 0
    key = "tonne:cadt:count:" + hashlib.sha256(f"{cursor}|{sql}".encode()).hexdigest()
    found = cache.get(key)
    if found is None:
        found = qs.count()
        cache.set(key, found, 600)
    return int(found)


def _kept_count(table: Table, q: dict[str, Any], home: str) -> int | None:
    """The count from the kept counts (tonne.cadt.models.CadtCount) where the
    query narrows the rows only by organisation and status; None otherwise."""
    if q.get("search") or any(
        k in q for k in ("projectIds", "marketplaceIdentifiers", "hasMarketplaceIdentifier", "onlyTokenizedUnits")
    ):
        return None
    counts = CadtCount.objects.filter(version=table.version, table=table.table)
    org = q.get("orgUid")
    if org and org != "all":
        counts = counts.filter(org_uid=home if org == "me" else org)
    if q.get("filter"):
        field, raw, op = params.filter_parts(q["filter"])
        if rowfields.column(table.version, table.table, field) != "status" or op not in ("eq", "in", "not"):
            return None
        wanted = [raw]
        if op == "in":
            try:
                found = json.loads(raw) if raw.startswith("[") else [raw]
            except ValueError:
                return None
            wanted = [str(w) for w in (found if isinstance(found, list) else [found])]
        chosen = counts.filter(status__in=wanted)
        if op == "not":  # IS NOT: every other status, none included
            counts = counts.exclude(status__in=wanted)
        else:
            counts = chosen
    return int(counts.aggregate(n=Sum("rows"))["n"] or 0)


def page(qs: QuerySet[CadtRow], q: dict[str, Any], cursor: str, *, table: Table, home: str) -> Page:
    """CAD Trust's optionallyPaginatedResponse, from the database: one page, and its count."""
    if not q.get("page"):
        return Page(list(qs.values_list("data", flat=True)))
    size = max(int(q.get("limit") or 15), 1)
    start = (max(int(q["page"]), 1) - 1) * size
    kept = _kept_count(table, q, home)
    total = count(qs, cursor) if kept is None else kept
    # The page's rows are chosen by their ids first, so a sort (a search's) carries ids, not records.
    chosen = CadtRow.objects.filter(pk__in=Subquery(qs[start : start + size].values("pk")))
    rows = chosen.order_by(*qs.query.order_by).values_list("data", flat=True)
    return Page(list(rows), q["page"], -(-total // size))
