"""COPY model rows into PostgreSQL fast, with every column the model has
(defaults filled in by the model itself, so new fields with defaults need
no change here)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


class Copier:
    """Rows for one model: the model's own defaults, with the columns named
    in `columns` (attnames, pk included if given) set per row."""

    def __init__(self, model: Any, columns: Sequence[str], **template: Any) -> None:
        from django.db import connection

        self.model = model
        self.fields = list(model._meta.concrete_fields)
        base = model(**template)
        self.base = [f.get_db_prep_save(getattr(base, f.attname), connection) for f in self.fields]
        attnames = [f.attname for f in self.fields]
        self.positions = [attnames.index(c) for c in columns]
        cols = ", ".join(connection.ops.quote_name(f.column) for f in self.fields)
        self.sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({cols}) FROM STDIN"

    def copy(self, rows: Iterable[Sequence[Any]]) -> int:
        from django.db import connection

        n = 0
        base, positions = self.base, self.positions
        with connection.cursor() as cursor, cursor.cursor.copy(self.sql) as cp:
            for values in rows:
                row = list(base)
                for p, v in zip(positions, values, strict=True):
                    row[p] = v
                cp.write_row(row)
                n += 1
        return n


def next_id(model: Any) -> int:
    from django.db.models import Max

    return (model.objects.aggregate(m=Max("pk"))["m"] or 0) + 1


def reset_sequence(model: Any) -> None:
    from django.core.management.color import no_style
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [model]):
            cursor.execute(sql)


class bulk_load:
    """For loading millions of rows into the benchmark's own database: drop
    the secondary indexes and unique/exclusion constraints of `tables`, skip
    FK triggers (session_replication_role = replica; rows are consistent by
    construction), then rebuild every index and constraint from its own
    definition, so the schema ends exactly as the migrations made it and the
    rebuilt constraints check the loaded rows (no overlap, uniqueness)."""

    def __init__(self, *tables: str) -> None:
        self.tables = tables
        self.constraints: list[tuple[str, str, str]] = []
        self.indexes: list[str] = []

    def __enter__(self) -> bulk_load:
        from django.db import connection

        with connection.cursor() as cursor:
            for table in self.tables:
                cursor.execute(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = %s::regclass AND contype IN ('u', 'x')",
                    [table],
                )
                for name, definition in cursor.fetchall():
                    self.constraints.append((table, name, definition))
                cursor.execute(
                    "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                    "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary "
                    "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
                    [table],
                )
                for name, definition in cursor.fetchall():
                    self.indexes.append(definition)
                    cursor.execute(f"DROP INDEX {name}")
            for table, name, _ in self.constraints:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            cursor.execute("SET session_replication_role = replica")
        return self

    def __exit__(self, *exc: object) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = DEFAULT")
            if exc[0] is not None:
                return
            cursor.execute("SET maintenance_work_mem = '256MB'")
            for definition in self.indexes:
                cursor.execute(definition)
            for table, name, definition in self.constraints:
                cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
