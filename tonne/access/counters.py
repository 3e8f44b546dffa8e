"""Shared counters (see models.RateCounter): `hit` adds one and says the new
count in a single INSERT … ON CONFLICT DO UPDATE … RETURNING statement, which
SQLite (3.35+) and PostgreSQL both run atomically. A counter's commit does
not wait for the disk: a crash can lose the last moments of counts, which
only makes a limit briefly more lenient, while every read request would
otherwise wait for a flush."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import connection

from tonne.access.models import RateCounter
from tonne.core import clock

TABLE = RateCounter._meta.db_table


def hit(key: str, seconds: int) -> int:
    """Count one more under `key` (a window that ends `seconds` from now) and return the count."""
    return hit_many({key: seconds})[key]


def hit_many(windows: dict[str, int], *, by: int = 1) -> dict[str, int]:
    """Count `by` more (one a request; a batch's moves) under each key (key →
    seconds its window lasts) in one statement, one round trip for every
    counter a request touches; returns the new counts."""
    now = clock.now()
    table, key_column, count_column = (connection.ops.quote_name(n) for n in (TABLE, "key", "count"))
    params: list[Any] = []
    for key, seconds in sorted(windows.items()):  # one order: concurrent requests never deadlock
        params += [key, connection.ops.adapt_datetimefield_value(now + dt.timedelta(seconds=seconds))]
    by = int(by)
    rows = ", ".join([f"(%s, {by}, %s)"] * len(windows))
    upsert = (
        f"INSERT INTO {table} ({key_column}, {count_column}, expires_at) VALUES {rows} "  # noqa: S608 (quoted constant names; values bound, by an int)
        f"ON CONFLICT ({key_column}) DO UPDATE SET {count_column} = {table}.{count_column} + {by} "
        f"RETURNING {key_column}, {count_column}"
    )
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # One statement, its own transaction; set_config(..., true) is SET LOCAL: only its commit is asynchronous.
        upsert = (
            f"WITH hit AS ({upsert}) SELECT {key_column}, {count_column}, "  # noqa: S608 (constant names)
            "set_config('synchronous_commit', 'off', true) FROM hit"
        )
    with _no_flush(), connection.cursor() as cursor:
        cursor.execute(upsert, params)
        counts = {str(row[0]): int(row[1]) for row in cursor.fetchall()}
        if by in counts.values():
            # A new window: windows that ended go (once per client a window, not on every request).
            cursor.execute(f"DELETE FROM {table} WHERE expires_at < %s",  # noqa: S608 (constant name)
                           [connection.ops.adapt_datetimefield_value(now)])
    return counts


@contextlib.contextmanager
def _no_flush() -> Iterator[None]:
    """SQLite: this connection's commits are not flushed while counting (WAL: the next full commit flushes them)."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous=NORMAL")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA synchronous={settings.TONNE_SQLITE_SYNCHRONOUS}")


def current(key: str) -> int:
    row = RateCounter.objects.filter(key=key, expires_at__gte=clock.now()).values_list("count", flat=True).first()
    return int(row or 0)
