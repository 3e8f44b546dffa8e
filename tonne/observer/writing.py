"""Writing an import's harmonised records in batches (called by services inside their transaction).

A row whose content hash is unchanged is not written again, a changed row
updates only its own registry's record, a new row is added. Unit rows are
the bulk of every export, so they skip the ORM:

* PostgreSQL: each batch is COPYed into a temporary staging table and
  merged with one INSERT … ON CONFLICT. The merge runs on a writer thread
  over the import's own connection and transaction, so the database works
  on one batch while the next one is read and mapped (two cores, both busy).
* SQLite: the batch's known hashes are read with one query, then new and
  changed rows are written with executemany.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import connection

from tonne.observer.domain.records import ProjectRecord, UnitRecord, raw_json
from tonne.observer.models import ObservedImport, ObservedProject

BATCH = 5000
UNIT_COLUMNS = ("registry", "kind", "source_key", "project_id", "quantity", "series", "serial_start", "serial_end",
                "serial_text", "vintage", "date", "beneficiary", "reason", "raw", "digest", "source_id")
PROJECT_FIELDS = ("name", "country", "methodology", "developer", "status", "project_type", "cross_refs", "raw",
                  "digest", "source")


class Counts(Protocol):
    created: int
    updated: int
    unchanged: int

    def warn(self, message: str) -> None: ...


def unit_row(r: UnitRecord, source_id: int) -> tuple[Any, ...]:
    """A unit record as the table's columns (UNIT_COLUMNS), its hash computed once with its raw JSON."""
    s = r.serials
    raw = raw_json(r.raw)
    return (r.registry, r.kind, r.source_key, r.project_id[:100], r.quantity, s.series if s else "",
            s.start if s else None, s.end if s else None, r.serial_text, r.vintage, r.date, r.beneficiary,
            r.reason, raw, r.digest(raw), source_id)


class Writer:
    """Collects an import's records and writes them a batch at a time."""

    def __init__(self, batch: ObservedImport, report: Counts) -> None:
        self.batch = batch
        self.report = report
        self.projects: dict[tuple[str, str], ProjectRecord] = {}
        self.units: dict[tuple[str, str, str], UnitRecord] = {}
        self.sink: _PgSink | None = _PgSink(report) if connection.vendor == "postgresql" else None

    def add(self, record: ProjectRecord | UnitRecord, where: str) -> None:
        if isinstance(record, ProjectRecord):
            # Registries repeat a project on each of its rows (e.g. CARB): the last one stands.
            self.projects[(record.registry, record.project_id)] = record
        else:
            key = (record.registry, record.kind, record.source_key)
            if key in self.units:  # the same row twice in one file: both kept, the second numbered
                n = 1
                while key in self.units:
                    n += 1
                    key = (record.registry, record.kind, f"{record.source_key}#{n}")
                self.report.warn(f"{where}: the same {record.kind} row appears again; kept as #{n}.")
                record.source_key = key[2]
            self.units[key] = record
        if len(self.projects) + len(self.units) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.projects:
            self._write_projects(list(self.projects.values()))
        if self.units:
            rows = [unit_row(r, self.batch.pk) for r in self.units.values()]
            if self.sink is not None:
                self.sink.put(rows)
            else:
                _write_units_sqlite(rows, self.report)
        self.projects, self.units = {}, {}

    def close(self) -> None:
        """Write what is left and wait for the database to have it all."""
        self.flush()
        if self.sink is not None:
            self.sink.close()

    def abandon(self) -> None:
        """Stop the writer thread after a failure (the transaction is rolled back by the caller)."""
        if self.sink is not None:
            self.sink.stop()

    def _write_projects(self, records: list[ProjectRecord]) -> None:
        by_registry: dict[str, list[ProjectRecord]] = {}
        for r in records:
            by_registry.setdefault(r.registry, []).append(r)
        for registry, group in by_registry.items():
            if self.sink is not None:
                self.sink.drain()  # the ORM and the writer thread share the connection: one at a time
            known = {p.project_id: p for p in ObservedProject.objects.filter(
                registry=registry, project_id__in=[r.project_id for r in group]).only("pk", "project_id", "digest")}
            new, changed = [], []
            for r in group:
                digest = r.digest()
                fields = {"name": r.name, "country": r.country[:100], "methodology": r.methodology,
                          "developer": r.developer, "status": r.status[:100], "project_type": r.project_type,
                          "cross_refs": r.cross_refs, "raw": r.raw, "digest": digest, "source": self.batch}
                old = known.get(r.project_id)
                if old is None:
                    new.append(ObservedProject(registry=registry, project_id=r.project_id[:100], **fields))
                elif old.digest != digest:
                    for k, v in fields.items():
                        setattr(old, k, v)
                    changed.append(old)
                else:
                    self.report.unchanged += 1
            ObservedProject.objects.bulk_create(new, batch_size=1000)
            ObservedProject.objects.bulk_update(changed, [*PROJECT_FIELDS], batch_size=1000)
            self.report.created += len(new)
            self.report.updated += len(changed)


# -- SQLite ---------------------------------------------------------------------------

_KEY = {c: i for i, c in enumerate(UNIT_COLUMNS)}
_SQLITE_INSERT = (f"INSERT INTO observer_observedunits ({', '.join(UNIT_COLUMNS)}) "  # noqa: S608 - constant names
                  f"VALUES ({', '.join('%s' for _ in UNIT_COLUMNS)})")
_UPDATED = UNIT_COLUMNS[3:]
_SQLITE_UPDATE = (f"UPDATE observer_observedunits SET {', '.join(f'{c} = %s' for c in _UPDATED)} "  # noqa: S608
                  "WHERE registry = %s AND kind = %s AND source_key = %s")
_SQLITE_CHUNK = 900  # bound parameters per lookup, under SQLite's limit


def _sqlite_value(v: Any) -> Any:
    if v is None or isinstance(v, (int, str)):
        return v
    return str(v)  # Decimal quantities and dates, as Django stores them


def _write_units_sqlite(rows: list[tuple[Any, ...]], report: Counts) -> None:
    groups: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for row in rows:
        groups.setdefault((row[0], row[1]), []).append(row)
    with connection.cursor() as cursor:
        for (registry, kind), group in groups.items():
            known: dict[str, str] = {}
            keys = [row[2] for row in group]
            for i in range(0, len(keys), _SQLITE_CHUNK):
                chunk = keys[i:i + _SQLITE_CHUNK]
                marks = ", ".join("%s" for _ in chunk)
                sql = ("SELECT source_key, digest FROM observer_observedunits "  # noqa: S608 - placeholders only
                       f"WHERE registry = %s AND kind = %s AND source_key IN ({marks})")
                cursor.execute(sql, [registry, kind, *chunk])
                known.update(cursor.fetchall())
            new, changed = [], []
            for row in group:
                old = known.get(row[2])
                values = tuple(_sqlite_value(v) for v in row)
                if old is None:
                    new.append(values)
                elif old != row[_KEY["digest"]]:
                    changed.append((*values[3:], *values[:3]))
                else:
                    report.unchanged += 1
            if new:
                cursor.executemany(_SQLITE_INSERT, new)
            if changed:
                cursor.executemany(_SQLITE_UPDATE, changed)
            report.created += len(new)
            report.updated += len(changed)


# -- PostgreSQL -----------------------------------------------------------------------

_COLUMNS = ", ".join(UNIT_COLUMNS)
_STAGE_SQL = """CREATE TEMPORARY TABLE IF NOT EXISTS observer_stage (
    registry varchar(40), kind varchar(20), source_key varchar(200), project_id varchar(100), quantity numeric(20, 3),
    series varchar(200), serial_start bigint, serial_end bigint, serial_text text, vintage integer, date date,
    beneficiary text, reason text, raw jsonb, digest varchar(32), source_id bigint) ON COMMIT DROP"""
_UPSERT_SQL = f"""INSERT INTO observer_observedunits ({_COLUMNS})
    SELECT {_COLUMNS} FROM observer_stage
    ON CONFLICT (registry, kind, source_key) DO UPDATE SET
        project_id = EXCLUDED.project_id, quantity = EXCLUDED.quantity, series = EXCLUDED.series,
        serial_start = EXCLUDED.serial_start, serial_end = EXCLUDED.serial_end, serial_text = EXCLUDED.serial_text,
        vintage = EXCLUDED.vintage, date = EXCLUDED.date, beneficiary = EXCLUDED.beneficiary,
        reason = EXCLUDED.reason, raw = EXCLUDED.raw, digest = EXCLUDED.digest, source_id = EXCLUDED.source_id
    WHERE observer_observedunits.digest <> EXCLUDED.digest
    RETURNING (xmax = 0)"""  # noqa: S608 - constant column names, no input


@dataclass
class _Merged:
    rows: int
    written: list[tuple[bool]]


class _PgSink:
    """Merges batches of unit rows on a writer thread, over the import's connection and transaction.

    At most two batches wait, so memory stays bounded; a database error is
    raised in the importing thread at the next batch or at close()."""

    def __init__(self, report: Counts) -> None:
        self.report = report
        connection.ensure_connection()
        self.conn = connection.connection  # the psycopg connection inside the import's transaction
        self.jobs: queue.Queue[list[tuple[Any, ...]] | None] = queue.Queue(maxsize=2)
        self.done: queue.Queue[_Merged | BaseException] = queue.Queue()
        self.pending = 0
        self.thread: threading.Thread | None = None
        self.staged = False

    def put(self, rows: list[tuple[Any, ...]]) -> None:
        self._collect(block=False)
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="observer-writer", daemon=True)
            self.thread.start()
        self.pending += 1
        self.jobs.put(rows)

    def drain(self) -> None:
        """Wait until every batch handed over is merged."""
        while self.pending:
            self._collect(block=True)

    def close(self) -> None:
        self.drain()
        self.stop()

    def stop(self) -> None:
        if self.thread is not None:
            self.jobs.put(None)
            self.thread.join()
            self.thread = None

    def _collect(self, *, block: bool) -> None:
        while self.pending:
            try:
                result = self.done.get(block=block)
            except queue.Empty:
                return
            self.pending -= 1
            if isinstance(result, BaseException):
                self.pending = 0
                self.stop()
                raise result
            created = sum(1 for (inserted,) in result.written if inserted)
            self.report.created += created
            self.report.updated += len(result.written) - created
            self.report.unchanged += result.rows - len(result.written)
            block = False

    def _run(self) -> None:
        failed = False
        while (rows := self.jobs.get()) is not None:
            if failed:
                continue  # drain the queue; the error is already reported
            try:
                self.done.put(_Merged(len(rows), self._merge(rows)))
            except BaseException as exc:  # noqa: BLE001 - handed to the importing thread
                failed = True
                self.done.put(exc)

    def _merge(self, rows: list[tuple[Any, ...]]) -> list[tuple[bool]]:
        with self.conn.cursor() as cursor:
            if not self.staged:
                cursor.execute(_STAGE_SQL)
                self.staged = True
            cursor.execute("TRUNCATE observer_stage")
            with cursor.copy(f"COPY observer_stage ({_COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(_UPSERT_SQL)
            return cursor.fetchall()
