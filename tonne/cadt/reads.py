"""CAD Trust's record semantics for the /cadt/ read API: timeStaged, the
full-text tokens of a record, the page envelope and the column choice (the
queries themselves are SQL: tonne.cadt.rowquery).

Search is CAD Trust's full-text search: the query is tokenised as SQLite's
FTS5 `unicode61` tokeniser does, every token must be a token of one of the
record's own columns, the last one as a prefix; hyphens are stripped as CAD
Trust's `sanitizeSqliteFtsQuery` strips them. `like` filters are matched by a
SQL LIKE (tonne.cadt.rowquery): no regular expression is built from a request."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

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


# -- page and columns -----------------------------------------------------------------------


def choose_columns(rows: list[Row], columns: list[str] | None, allowed: Iterable[str], key: str) -> list[Row]:
    """CAD Trust drops columns it does not know; with none left, only the key."""
    if not columns:
        return rows
    known = set(allowed)
    chosen = [c for c in columns if c in known] or [key]
    return [{c: r.get(c) for c in chosen if c in r} for r in rows]
