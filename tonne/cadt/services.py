"""State changes for CAD Trust interoperability: importing CAD Trust files.

An import is all or nothing: every row is checked (fields, picklists,
references, serial ranges against every range already known) before
anything is written; a refused file changes nothing and the report names
each bad row, field and reason. A file already imported changes nothing.
The checks are tonne.cadt.import_checks; this module writes what passes."""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from tonne.cadt import formats
from tonne.cadt.import_checks import Checked, Incoming, check_v1, check_v2, digest
from tonne.cadt.models import ImportBatch, ImportedRecord, ImportedUnitRange
from tonne.cadt.schema import V2
from tonne.core import clock
from tonne.core.errors import ValidationFailed
from tonne.ledger.services import append_entry
from tonne.organisations.models import User
from tonne.organisations.services import require_registry_administrator

MAX_REPORTED = 100_000  # the full report (downloadable); the CLI prints the first lines


class ImportRejected(ValidationFailed):
    title = "CAD Trust import refused"


@dataclass
class ImportReport:
    version: str
    file_format: str
    sha256: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    own: int = 0  # rows that are this registry's own records, unchanged
    warnings: list[dict[str, Any]] = field(default_factory=list)
    batch: str | None = None
    ledger_seq: int | None = None

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "format": self.file_format,
            "sha256": self.sha256,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "own": self.own,
            "warnings": self.warnings,
            "batch": self.batch,
            "ledger_seq": self.ledger_seq,
        }


def import_file(
    *, actor: User, content: bytes, filename: str = "", table: str | None = None, dry_run: bool = False
) -> ImportReport:
    """Import a CAD Trust v1 or v2 file (JSON, CSV or Excel) from another registry."""
    require_registry_administrator(actor)
    parsed = formats.parse(content, filename=filename, table=table)
    sha256 = hashlib.sha256(content).hexdigest()
    with transaction.atomic():
        checked = check_v2(parsed, sha256) if parsed.version == V2 else check_v1(parsed)
        if checked.problems or checked.double_counting:
            raise _rejection(checked)
        report = ImportReport(version=parsed.version, file_format=parsed.file_format, sha256=sha256)
        report.warnings = [w.as_dict() for w in checked.warnings]
        for record in checked.records:
            counter = "created" if record.status == "new" else record.status
            setattr(report, counter, getattr(report, counter) + 1)
        if dry_run or not report.changed:
            return report
        _write(actor, checked.records, report, filename)
        return report


def _rejection(checked: Checked) -> ImportRejected:
    problems = sorted(checked.problems, key=lambda p: (p.sheet or p.table, p.row, p.field or ""))
    allowed: dict[str, str] = {}
    errors = []
    for p in problems:
        entry = p.as_dict()
        # A picklist's allowed values are named once per field, not on every row.
        head, sep, values = p.message.partition(" Allowed values: ")
        if sep:
            entry["message"] = head
            allowed.setdefault(_field_name(p.field), values.rstrip("."))
        errors.append(entry)
    count = len(problems) + len(checked.double_counting)
    rows = {(p.sheet or p.table, p.row) for p in problems}
    rows |= {(d["row"].get("sheet") or d["row"]["table"], d["row"]["row"]) for d in checked.double_counting}
    first = errors[0] if errors else None
    summary = (
        f"{first.get('sheet') or first['table']} row {first['row']}, {first['field']}: {first['message']}" if first else
        checked.double_counting[0]["message"]
    )
    return ImportRejected(
        "CADT_IMPORT_REFUSED",
        f"The file was not imported: {count} problem(s) in {len(rows)} row(s); nothing was changed. First: {summary}",
        field="file",
        details={
            "errors": errors[:MAX_REPORTED],
            "double_counting": checked.double_counting[:MAX_REPORTED],
            "allowed_values": allowed,
            "error_count": len(problems),
            "double_counting_count": len(checked.double_counting),
            "row_count": len(rows),
        },
    )


def _field_name(path: str | None) -> str:
    """issuances[2].unitType and unitType share one list of allowed values."""
    return (path or "").rsplit(".", 1)[-1].split("[", 1)[0]


# -- writing -----------------------------------------------------------------------------


@transaction.atomic
def _write(actor: User, records: list[Incoming], report: ImportReport, filename: str) -> None:
    now = clock.now()
    batch = ImportBatch.objects.create(
        uid=uuid.uuid4(), sha256=report.sha256, filename=(filename or "")[:255], file_format=report.file_format,
        model_version=report.version, created=report.created, updated=report.updated, unchanged=report.unchanged,
        imported_by=actor, imported_at=now,
    )
    changed = [r for r in records if r.status in ("new", "updated")]
    for rec in changed:
        values = {
            "parent_id": rec.parent_id, "org_uid": rec.org_uid[:100], "origin_registry": rec.origin_registry[:200],
            "data": rec.data, "digest": digest(rec.data), "batch": batch, "updated_at": now,
        }
        record, created = ImportedRecord.objects.update_or_create(
            model_version=report.version, table=rec.table, record_id=rec.record_id,
            defaults=values, create_defaults={**values, "created_at": now},
        )
        ImportedUnitRange.objects.filter(record=record).delete()
        if rec.serials is not None:
            serial_id = rec.data.get("unitSerialId") or rec.data.get("serialNumberBlock") or ""
            ImportedUnitRange.objects.create(
                record=record, namespace=rec.serials.namespace[:300], serial_start=rec.serials.start,
                serial_end=rec.serials.end, serial_id=str(serial_id)[:300],
            )
    counts: dict[str, int] = defaultdict(int)
    for rec in changed:
        counts[rec.table] += 1
    entry = append_entry(
        kind="cadt.imported",
        actor=actor,
        data={
            "batch": str(batch.uid),
            "sha256": report.sha256,
            "filename": batch.filename,
            "version": report.version,
            "format": report.file_format,
            "created": report.created,
            "updated": report.updated,
            "tables": dict(sorted(counts.items())),
        },
    )
    ImportBatch.objects.filter(pk=batch.pk).update(ledger_seq=entry.seq)
    report.batch = str(batch.uid)
    report.ledger_seq = entry.seq
