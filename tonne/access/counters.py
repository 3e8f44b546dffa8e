"""Shared counters (see models.RateCounter): `hit` adds one and says the new
count in a single INSERT … ON CONFLICT DO UPDATE … RETURNING statement, which
SQLite (3.35+) and PostgreSQL both run atomically."""

from __future__ import annotations

import datetime as dt

from django.db import connection

from tonne.access.models import RateCounter
from tonne.core import clock

TABLE = RateCounter._meta.db_table


def hit(key: str, seconds: int) -> int:
    """Count one more under `key` (a window that ends `seconds` from now) and return the count."""
    now = clock.now()
    expires = connection.ops.adapt_datetimefield_value(now + dt.timedelta(seconds=seconds))
    table, key_column, count_column = (connection.ops.quote_name(n) for n in (TABLE, "key", "count"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({key_column}, {count_column}, expires_at) VALUES (%s, 1, %s) "  # noqa: S608 (quoted constant names; values bound)
            f"ON CONFLICT ({key_column}) DO UPDATE SET {count_column} = {table}.{count_column} + 1 "
            f"RETURNING {count_column}",
            [key, expires],
        )
        count = int(cursor.fetchone()[0])
        if count == 1:
            # A new window: windows that ended go (once per client a window, not on every request).
            cursor.execute(f"DELETE FROM {table} WHERE expires_at < %s",  # noqa: S608 (constant name)
                           [connection.ops.adapt_datetimefield_value(now)])
    return count


def current(key: str) -> int:
    row = RateCounter.objects.filter(key=key, expires_at__gte=clock.now()).values_list("count", flat=True).first()
    return int(row or 0)
