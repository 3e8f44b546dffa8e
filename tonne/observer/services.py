"""State changes of the observer: importing registry exports and recording findings.

An import streams the file (bounded memory, whatever its size), maps each
row into the harmonised records, and writes in batches inside one
transaction: a row whose content hash is unchanged is not written again,
a changed row updates only its own registry's record, a new row is added.
The ledger records each import with its counts."""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import transaction

from tonne.core import clock
from tonne.core.errors import ValidationFailed
from tonne.ledger.services import append_entry
from tonne.observer import detection, writing
from tonne.observer.domain import formats, reading
from tonne.observer.domain.records import REGISTRIES
from tonne.observer.models import Finding, ObservedImport
from tonne.organisations.models import User
from tonne.organisations.services import require_registry_administrator

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
    writer = writing.Writer(batch, report)
    try:
        _read_sheets(stream, registry, report, writer, progress)
        writer.close()
    except BaseException:
        writer.abandon()
        raise
    if progress:
        progress(report.rows_read, _position(stream))


def _read_sheets(stream: IO[bytes], registry: str | None, report: FileReport, writer: writing.Writer,
                 progress: Progress | None) -> None:
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


def _position(stream: IO[bytes]) -> int:
    try:
        return stream.tell()
    except (OSError, ValueError):
        return 0


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
