"""State changes of the observer: importing registry exports and recording findings.

An import streams the file (bounded memory, whatever its size), maps each
row into the harmonised records, and writes in batches inside one
transaction: a row whose content hash is unchanged is not written again,
a changed row updates only its own registry's record, a new row is added.
The ledger records each import with its counts."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import connection, transaction

from tonne.core import clock
from tonne.core.errors import ValidationFailed
from tonne.ledger.services import append_entry
from tonne.observer import detection
from tonne.observer.domain import formats, reading
from tonne.observer.domain.records import REGISTRIES, ProjectRecord, UnitRecord
from tonne.observer.models import Finding, ObservedImport, ObservedProject, ObservedUnits
from tonne.organisations.models import User
from tonne.organisations.services import require_registry_administrator

BATCH = 5000
EXAMPLES_PER_REASON = 5
MAX_WARNINGS = 200

Progress = Callable[[int, int], None]  # (rows read, bytes read)


@dataclass
class FileReport:
    registry: str = ""
    file_format: str = ""
    filename: str = ""
    sha256: str = ""
    rows_read: int = 0
    mapped: int = 0
    skipped: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skip_reasons: Counter[str] = field(default_factory=Counter)
    skip_examples: dict[str, list[int]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    uid: str = ""
    ledger_seq: int | None = None

    def skip(self, row: int, reason: str) -> None:
        self.skipped += 1
        self.skip_reasons[reason] += 1
        examples = self.skip_examples.setdefault(reason, [])
        if len(examples) < EXAMPLES_PER_REASON:
            examples.append(row)

    def warn(self, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)
        elif len(self.warnings) == MAX_WARNINGS:
            self.warnings.append("… further warnings left out")

    def as_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid, "registry": self.registry, "format": self.file_format, "filename": self.filename,
            "sha256": self.sha256, "rows_read": self.rows_read, "mapped": self.mapped, "skipped": self.skipped,
            "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
            "skip_reasons": [{"reason": r, "rows": n, "examples": self.skip_examples.get(r, [])}
                             for r, n in self.skip_reasons.most_common()],
            "warnings": self.warnings, "ledger_seq": self.ledger_seq,
        }


def _sha256(stream: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    stream.seek(0)
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    stream.seek(0)
    return digest.hexdigest(), size


def _sheets(stream: IO[bytes]) -> Iterator[tuple[str, Iterator[tuple[int, list[Any]]]]]:
    kind = reading.sniff_kind(stream.read(8))
    stream.seek(0)
    if kind == "xlsx":
        yield from reading.xlsx_sheets(stream)
    else:
        yield "", reading.csv_rows(stream)


def import_file(*, actor: User, stream: IO[bytes], filename: str = "", registry: str | None = None,
                progress: Progress | None = None) -> FileReport:
    """Import one registry export; refused as a whole when its format is not recognised."""
    require_registry_administrator(actor)
    if registry and registry not in REGISTRIES:
        raise ValidationFailed("OBSERVER_REGISTRY_UNKNOWN",
                               f"registry must be one of: {', '.join(REGISTRIES)}.", field="registry")
    report = FileReport(registry=registry or "", filename=filename[:255])
    report.sha256, _size = _sha256(stream)
    try:
        with transaction.atomic():
            batch = ObservedImport.objects.create(
                uid=uuid.uuid4(), registry=registry or "", file_format="", filename=report.filename,
                sha256=report.sha256, imported_by=actor, imported_at=clock.now(),
            )
            _read_all(stream, registry, report, batch, progress)
            if not report.file_format:
                raise ValidationFailed(
                    "OBSERVER_FORMAT_UNKNOWN",
                    "No sheet of this file has the header of a known registry export"
                    + (f" of {REGISTRIES[registry]}" if registry else "") + ".",
                    field="file",
                )
            entry = append_entry(kind="observer.imported", actor=actor, data={
                "import": str(batch.uid), "registry": report.registry, "format": report.file_format,
                "filename": report.filename, "sha256": report.sha256, "rows_read": report.rows_read,
                "created": report.created, "updated": report.updated, "skipped": report.skipped,
            })
            report.uid, report.ledger_seq = str(batch.uid), entry.seq
            ObservedImport.objects.filter(pk=batch.pk).update(
                registry=report.registry, file_format=report.file_format, rows_read=report.rows_read,
                mapped=report.mapped, skipped=report.skipped, created=report.created, updated=report.updated,
                unchanged=report.unchanged, ledger_seq=entry.seq,
                report={"skip_reasons": report.as_dict()["skip_reasons"], "warnings": report.warnings},
            )
    except reading.Unreadable as exc:
        raise ValidationFailed("OBSERVER_FILE_UNREADABLE", str(exc), field="file") from None
    return report


def _read_all(stream: IO[bytes], registry: str | None, report: FileReport, batch: ObservedImport,
              progress: Progress | None) -> None:
    writer = _Writer(batch, report)
    for title, rows in _sheets(stream):
        fmt: formats.Format | None = None
        for row in reading.records(rows, formats.header_test(registry), title):
            if fmt is None:
                fmt = formats.detect({reading.norm(k) for k in row.values}, registry)
                if fmt is None:  # pragma: no cover - records() found the header by the same test
                    break
                if report.file_format and report.file_format != fmt.name:
                    report.warn(f"Sheet {title!r} is {fmt.name}, another format than {report.file_format}.")
                report.file_format = report.file_format or fmt.name
                report.registry = fmt.registry
            report.rows_read += 1
            if row.footer:
                report.skip(row.number, "a total or note row (one value in the first column)")
                continue
            where = f"{title} row {row.number}" if title else f"row {row.number}"
            try:
                mapped = fmt.mapper(row.values)
            except formats.Skip as exc:
                report.skip(row.number, str(exc))
                continue
            except (ValueError, TypeError) as exc:
                report.skip(row.number, f"unreadable value: {exc}")
                continue
            report.mapped += 1
            for record in mapped:
                writer.add(record, where)
            if progress and report.rows_read % 1000 == 0:
                progress(report.rows_read, _position(stream))
        if fmt is None and title:
            report.warn(f"Sheet {title!r} has no header of a known export; it was not read.")
    writer.flush()
    if progress:
        progress(report.rows_read, _position(stream))


def _position(stream: IO[bytes]) -> int:
    try:
        return stream.tell()
    except (OSError, ValueError):
        return 0


class _Writer:
    """Batches of records written with one lookup per batch (unchanged rows are not written)."""

    def __init__(self, batch: ObservedImport, report: FileReport) -> None:
        self.batch = batch
        self.report = report
        self.projects: dict[tuple[str, str], ProjectRecord] = {}
        self.units: dict[tuple[str, str, str], UnitRecord] = {}
        self.staged = False

    def add(self, record: ProjectRecord | UnitRecord, where: str) -> None:
        if isinstance(record, ProjectRecord):
            # Registries repeat a project on each of its rows (e.g. CARB): the last one stands.
            self.projects[(record.registry, record.project_id)] = record
        else:
            key = (record.registry, record.kind, record.source_key)
            n = 1
            while key in self.units:  # the same row twice in one file: both kept, the second numbered
                n += 1
                key = (record.registry, record.kind, f"{record.source_key}#{n}")
            if n > 1:
                self.report.warn(f"{where}: the same {record.kind} row appears again; kept as #{n}.")
                record.source_key = key[2]
            self.units[key] = record
        if len(self.projects) + len(self.units) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.projects:
            self._write_projects(list(self.projects.values()))
        if self.units:
            self._write_units(list(self.units.values()))
        self.projects, self.units = {}, {}

    def _write_projects(self, records: list[ProjectRecord]) -> None:
        by_registry: dict[str, list[ProjectRecord]] = {}
        for r in records:
            by_registry.setdefault(r.registry, []).append(r)
        for registry, group in by_registry.items():
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
            ObservedProject.objects.bulk_create(new)
            ObservedProject.objects.bulk_update(changed, [*_PROJECT_FIELDS])
            self.report.created += len(new)
            self.report.updated += len(changed)

    def _write_units(self, records: list[UnitRecord]) -> None:
        if connection.vendor == "postgresql":
            self._upsert_units(records)
            return
        groups: dict[tuple[str, str], list[UnitRecord]] = {}
        for r in records:
            groups.setdefault((r.registry, r.kind), []).append(r)
        for (registry, kind), group in groups.items():
            known = {u.source_key: u for u in ObservedUnits.objects.filter(
                registry=registry, kind=kind, source_key__in=[r.source_key for r in group]).only(
                "pk", "source_key", "digest")}
            new, changed = [], []
            for r in group:
                fields = self._unit_fields(r)
                old = known.get(r.source_key)
                if old is None:
                    new.append(ObservedUnits(registry=registry, kind=kind, source_key=r.source_key, **fields))
                elif old.digest != fields["digest"]:
                    for k, v in fields.items():
                        setattr(old, k, v)
                    changed.append(old)
                else:
                    self.report.unchanged += 1
            ObservedUnits.objects.bulk_create(new)
            ObservedUnits.objects.bulk_update(changed, [*_UNIT_FIELDS])
            self.report.created += len(new)
            self.report.updated += len(changed)

    def _unit_fields(self, r: UnitRecord) -> dict[str, Any]:
        s = r.serials
        return {"project_id": r.project_id[:100], "quantity": r.quantity, "series": s.series if s else "",
                "serial_start": s.start if s else None, "serial_end": s.end if s else None,
                "serial_text": r.serial_text, "vintage": r.vintage, "date": r.date, "beneficiary": r.beneficiary,
                "reason": r.reason, "raw": r.raw, "digest": r.digest(), "source": self.batch}

    def _upsert_units(self, records: list[UnitRecord]) -> None:
        """PostgreSQL: COPY the batch into a staging table, then one INSERT … ON CONFLICT
        creates new rows and updates changed ones (unchanged rows are left alone)."""
        with connection.cursor() as cursor:
            if not self.staged:
                cursor.execute(_STAGE_SQL)
                self.staged = True
            cursor.execute("TRUNCATE observer_stage")
            with cursor.cursor.copy(f"COPY observer_stage ({_STAGE_COLUMNS}) FROM STDIN") as copy:
                for r in records:
                    f = self._unit_fields(r)
                    copy.write_row((r.registry, r.kind, r.source_key, f["project_id"], f["quantity"], f["series"],
                                    f["serial_start"], f["serial_end"], f["serial_text"], f["vintage"], f["date"],
                                    f["beneficiary"], f["reason"], json.dumps(f["raw"], ensure_ascii=False),
                                    f["digest"], self.batch.pk))
            cursor.execute(_UPSERT_SQL)
            written = cursor.fetchall()
        created = sum(1 for (inserted,) in written if inserted)
        self.report.created += created
        self.report.updated += len(written) - created
        self.report.unchanged += len(records) - len(written)


_STAGE_COLUMNS = ("registry, kind, source_key, project_id, quantity, series, serial_start, serial_end, serial_text, "
                  "vintage, date, beneficiary, reason, raw, digest, source_id")
_STAGE_SQL = """CREATE TEMPORARY TABLE IF NOT EXISTS observer_stage (
    registry varchar(40), kind varchar(20), source_key varchar(200), project_id varchar(100), quantity numeric(20, 3),
    series varchar(200), serial_start bigint, serial_end bigint, serial_text text, vintage integer, date date,
    beneficiary text, reason text, raw jsonb, digest varchar(32), source_id bigint) ON COMMIT DROP"""
_UPSERT_SQL = f"""INSERT INTO observer_observedunits ({_STAGE_COLUMNS})
    SELECT {_STAGE_COLUMNS} FROM observer_stage
    ON CONFLICT (registry, kind, source_key) DO UPDATE SET
        project_id = EXCLUDED.project_id, quantity = EXCLUDED.quantity, series = EXCLUDED.series,
        serial_start = EXCLUDED.serial_start, serial_end = EXCLUDED.serial_end, serial_text = EXCLUDED.serial_text,
        vintage = EXCLUDED.vintage, date = EXCLUDED.date, beneficiary = EXCLUDED.beneficiary,
        reason = EXCLUDED.reason, raw = EXCLUDED.raw, digest = EXCLUDED.digest, source_id = EXCLUDED.source_id
    WHERE observer_observedunits.digest <> EXCLUDED.digest
    RETURNING (xmax = 0)"""  # noqa: S608 - constant column names, no input


_PROJECT_FIELDS = ("name", "country", "methodology", "developer", "status", "project_type", "cross_refs", "raw",
                   "digest", "source")
_UNIT_FIELDS = ("project_id", "quantity", "series", "serial_start", "serial_end", "serial_text", "vintage", "date",
                "beneficiary", "reason", "raw", "digest", "source")


# -- findings ------------------------------------------------------------------------


def find_double_counting(*, actor: User, name_threshold: float = 90.0) -> detection.FindingCounts:
    """Replace the findings with those the records now show: serial overlaps
    within and across registries, retirements counted twice, and projects
    registered in two registries (cross-references, shared serials, names)."""
    require_registry_administrator(actor)
    with transaction.atomic():
        Finding.objects.all().delete()
        counts = detection.run(now=clock.now(), name_threshold=name_threshold)
        append_entry(kind="observer.findings", actor=actor, data=counts.as_dict())
    return counts
