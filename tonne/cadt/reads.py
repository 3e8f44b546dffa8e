"""CAD Trust's list semantics for the /cadt/ read API: which rows a query
selects (orgUid, search, filter, CAD Trust's special filters), their order
(newest `timeStaged` first unless asked otherwise) and the page.

Search is CAD Trust's full-text search: the query is tokenised as SQLite's
FTS5 `unicode61` tokeniser does, every token must be a token of one of the
record's own columns, the last one as a prefix; hyphens are stripped as CAD
Trust's `sanitizeSqliteFtsQuery` strips them. `like` filters are matched by a
linear wildcard matcher: no regular expression is built from a request."""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tonne.cadt import params

Row = dict[str, Any]
TOKENIZED_MARKETPLACE = "Tokenized on Chia"  # CAD Trust's onlyTokenizedUnits compares with this value
_TOKEN = re.compile(r"[^\W_]+")


class QueryFailed(Exception):
    """A query CAD Trust accepts but its database refuses (an unknown column):
    CAD Trust answers 400 {message: "Error retrieving …", error, success: false}."""

    def __init__(self, message: str, error: str) -> None:
        super().__init__(error)
        self.message = message
        self.error = error


# -- timeStaged ------------------------------------------------------------------------------


def staged_at(updated_at: str | None) -> str | None:
    """CAD Trust's timeStaged: the Unix time (seconds, as text) the record was last staged."""
    if not updated_at:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(updated_at).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return str(int(moment.timestamp()))


def with_time_staged(row: Row) -> Row:
    """The v1 row (and its child records) with timeStaged where CAD Trust has it."""
    out = dict(row)
    if not out.get("timeStaged"):
        out["timeStaged"] = staged_at(out.get("updatedAt"))
    for name, value in row.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            out[name] = [with_time_staged(child) for child in value]
        elif isinstance(value, dict) and "updatedAt" in value:
            out[name] = with_time_staged(value)
    return out


# -- full-text search --------------------------------------------------------------------------


def tokens(text: str) -> list[str]:
    """FTS5 unicode61 tokens: case-folded, diacritics removed, split at anything not a letter or digit."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return _TOKEN.findall(folded)


@dataclass(frozen=True)
class Search:
    whole: tuple[str, ...]  # tokens that must appear as they are
    prefix: str  # the last token, matched as a prefix

    def matches(self, row_tokens: set[str]) -> bool:
        if any(t not in row_tokens for t in self.whole):
            return False
        return any(t.startswith(self.prefix) for t in row_tokens)


def search_of(text: str) -> Search | None:
    """CAD Trust's sanitised FTS query (all but the last hyphen become separators,
    the last is removed, the query ends with `*`), or None where it matches nothing."""
    head, dash, tail = text.rpartition("-")
    text = head.replace("-", " ") + tail if dash else text
    found = tokens(text)
    if not found:
        return None
    return Search(whole=tuple(found[:-1]), prefix=found[-1])


def row_tokens(row: Row) -> set[str]:
    """Tokens of the record's own columns (child records are not searched, as in CAD Trust)."""
    out: set[str] = set()
    for value in row.values():
        if value is None or isinstance(value, (dict, list)):
            continue
        out.update(tokens(str(value)))
    return out


# -- filters -----------------------------------------------------------------------------------


def like(value: str, pattern: str) -> bool:
    """SQL LIKE (case-insensitive; `%` any run, `_` one character) in linear
    passes with one backtrack point: no regular expression, no blow-up."""
    s, p = value.casefold(), pattern.casefold()
    i = j = 0
    star_j, star_i = -1, 0
    while i < len(s):
        if j < len(p) and (p[j] == "_" or (p[j] != "%" and p[j] == s[i])):
            i, j = i + 1, j + 1
        elif j < len(p) and p[j] == "%":
            while j < len(p) and p[j] == "%":  # a run of % is one %
                j += 1
            star_j, star_i = j, i
        elif star_j >= 0:
            star_i += 1
            i, j = star_i, star_j
        else:
            return False
    return all(c == "%" for c in p[j:])


def _comparable(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return value
    return str(value)


def matches(value: Any, op: str, wanted: Any) -> bool:
    """One CAD Trust filter (Sequelize's operators) against one value."""
    if op == "in":
        return any(matches(value, "eq", w) for w in (wanted if isinstance(wanted, list) else [wanted]))
    if op == "like":
        return value is not None and like(str(value), str(wanted))
    a, b = _comparable(value), wanted
    if isinstance(a, (int, float)) and not isinstance(a, bool) and not isinstance(b, (int, float)):
        try:
            b = float(b)
        except (TypeError, ValueError):
            a = str(a)
    elif a is not None and not isinstance(a, (int, float)):
        b = str(b)
    if op == "eq":
        return a == b
    if op == "not":  # Sequelize's Op.not is SQL's IS NOT: null-safe
        return a != b
    if a is None:
        return False
    try:
        return bool({"lt": a < b, "gt": a > b, "lte": a <= b, "gte": a >= b}[op])
    except TypeError:
        return False


def apply_filter(rows: list[tuple[str, Row]], text: str, fields: Iterable[str], what: str) -> list[tuple[str, Row]]:
    name, raw, op = params.filter_parts(text)
    if name not in set(fields):
        raise QueryFailed(f"Error retrieving {what}", f"SQLITE_ERROR: no such column: {name}")
    wanted: Any = raw
    if raw.startswith("[") and raw.endswith("]"):  # CAD Trust's isArrayRegex: a JSON list
        try:
            wanted = json.loads(raw)
        except ValueError:
            raise QueryFailed(f"Error retrieving {what}", f"{raw} is not a JSON list") from None
    return [(org, row) for org, row in rows if matches(row.get(name), op, wanted)]


# -- order and page --------------------------------------------------------------------------


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value))


def ordered(rows: list[Row], field: str, direction: str, *, key: str, fields: Iterable[str], what: str) -> list[Row]:
    """Rows by one field (nulls last, as SQLite sorts them descending… and CAD
    Trust's clients expect), ties by the record's key."""
    if field not in set(fields):
        raise QueryFailed(f"Error retrieving {what}", f"SQLITE_ERROR: no such column: {field}")
    present = [r for r in rows if r.get(field) is not None]
    missing = [r for r in rows if r.get(field) is None]
    present.sort(key=lambda r: str(r.get(key)))
    present.sort(key=lambda r: _sort_key(r[field]), reverse=direction.upper() == "DESC")
    return present + missing


def paged(rows: list[Any], page: Any, limit: Any) -> Any:
    """CAD Trust's optionallyPaginatedResponse: {page, pageCount, data} when
    page is given (limit 15 by default), the plain list otherwise."""
    if not page:
        return rows
    size = int(limit) if limit else 15
    size = max(size, 1)
    start = (max(int(page), 1) - 1) * size
    return {"page": page, "pageCount": -(-len(rows) // size), "data": rows[start : start + size]}


def choose_columns(rows: list[Row], columns: list[str] | None, allowed: Iterable[str], key: str) -> list[Row]:
    """CAD Trust drops columns it does not know; with none left, only the key."""
    if not columns:
        return rows
    known = set(allowed)
    chosen = [c for c in columns if c in known] or [key]
    return [{c: r.get(c) for c in chosen if c in r} for r in rows]


# -- the resources ------------------------------------------------------------------------------


def by_org(pairs: list[tuple[str, Row]], org_uid: str | None, home: str) -> list[tuple[str, Row]]:
    """orgUid: absent or `all` (CAD Trust's UI sends it) every organisation; `me` this registry (Tonne's)."""
    if not org_uid or org_uid == "all":
        return pairs
    wanted = home if org_uid == "me" else org_uid
    return [(org, row) for org, row in pairs if org == wanted]


def searched(pairs: list[tuple[str, Row]], text: str, *, also_0x: bool = False) -> list[tuple[str, Row]]:
    """CAD Trust's search; for units it also tries the query prefixed with 0x (asset ids)."""
    found = search_of(text)
    with_0x = search_of("0x" + text) if also_0x else None
    if found is None:
        return []
    return [(org, row) for org, row in pairs
            if found.matches(toks := row_tokens(row)) or (with_0x is not None and with_0x.matches(toks))]


@dataclass(frozen=True)
class Listing:
    what: str  # "projects", "units": CAD Trust's words in its error messages
    key: str
    fields: tuple[str, ...]  # what filter and order may name
    columns: tuple[str, ...]  # what columns may keep


def select_v1(
    pairs: list[tuple[str, Row]], q: dict[str, Any], listing: Listing, *, home: str,
    project_search: Any = None,
) -> list[Row]:
    """CAD Trust's findAll for v1 projects and units: where, search, order, columns."""
    pairs = by_org(pairs, q.get("orgUid"), home)
    if q.get("filter"):
        pairs = apply_filter(pairs, q["filter"], listing.fields, listing.what)
    if q.get("search"):
        if listing.what == "units" and q.get("includeProjectInfoInSearch") and project_search is not None:
            hits = {id(row) for _, row in searched(pairs, q["search"], also_0x=True)}
            projects = project_search(q["search"])
            pairs = [(o, r) for o, r in pairs if id(r) in hits or (r.get("issuance") or {}).get("warehouseProjectId") in projects]
        else:
            pairs = searched(pairs, q["search"], also_0x=listing.what == "units")
    if "projectIds" in q:
        wanted = set(q["projectIds"])
        pairs = [(o, r) for o, r in pairs if r.get("warehouseProjectId") in wanted]
    if "marketplaceIdentifiers" in q:
        wanted = set(q["marketplaceIdentifiers"])
        pairs = [(o, r) for o, r in pairs if r.get("marketplaceIdentifier") in wanted]
    elif "hasMarketplaceIdentifier" in q:
        has = q["hasMarketplaceIdentifier"]
        pairs = [(o, r) for o, r in pairs if (r.get("marketplaceIdentifier") is not None) == has]
    elif "onlyTokenizedUnits" in q:
        tokenized = q["onlyTokenizedUnits"]
        pairs = [(o, r) for o, r in pairs if (r.get("marketplace") == TOKENIZED_MARKETPLACE) == tokenized]
    rows = [row for _, row in pairs]
    order = q.get("order")
    parts = params.order_parts(order) if order else None
    if parts:
        rows = ordered(rows, parts[0], parts[1], key=listing.key, fields=listing.fields, what=listing.what)
    elif order == "SERIALNUMBER":
        rows = ordered(rows, "serialNumberBlock", "ASC", key=listing.key, fields=listing.fields, what=listing.what)
    else:  # CAD Trust's default, and its legacy order=ASC
        direction = "ASC" if order == "ASC" else "DESC"
        rows = ordered(rows, "timeStaged", direction, key=listing.key, fields=listing.fields, what=listing.what)
    cols = q.get("columns")
    return choose_columns(rows, cols, listing.columns, listing.key)
