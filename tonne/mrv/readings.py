"""Signed measurements: intake of batches (API or CSV), refusals with stable
codes, plausibility flags, and one ledger entry per accepted batch holding
the Merkle root of its readings.

A device signs, with its Ed25519 key, the canonical JSON of
  {"v": 1, "source": identifier, "id": reading id, "at": UTC time as
   YYYY-MM-DDTHH:MM:SS.ffffffZ, "quantity": decimal text, "unit": unit,
   "uncertainty": decimal text or null}
(sorted keys, no spaces, UTF-8). The reading's leaf in its batch's Merkle
tree is RFC 9162's leaf hash of those bytes followed by the 64 signature bytes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.db import transaction

from tonne.core import clock
from tonne.core.canonical import canonical_json, utc_timestamp
from tonne.core.errors import ValidationFailed
from tonne.ledger import merkle
from tonne.ledger.services import append_entry
from tonne.mrv import plausibility
from tonne.mrv.models import Anomaly, Calibration, DataSource, Reading, ReadingBatch
from tonne.mrv.sources import require_developer
from tonne.organisations.models import User
from tonne.projects.models import Project

MAX_BATCH = 1000
MAX_CSV_BYTES = 2 * 1024 * 1024
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
MAX_REJECTIONS_SHOWN = 50
_DECIMAL = re.compile(r"^-?\d{1,12}(\.\d{1,6})?$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
_SIGNATURE = re.compile(r"^[0-9a-fA-F]{128}$")
CSV_COLUMNS = ("source", "id", "taken_at", "quantity", "unit", "uncertainty", "signature")


def reading_message(*, source: str, reading_id: str, taken_at: dt.datetime, quantity: str, unit: str,
                    uncertainty: str | None) -> bytes:
    return canonical_json({"v": 1, "source": source, "id": reading_id, "at": utc_timestamp(taken_at),
                           "quantity": quantity, "unit": unit, "uncertainty": uncertainty or None})


def sign_reading(key: Ed25519PrivateKey, *, source: str, reading_id: str, taken_at: dt.datetime, quantity: str,
                 unit: str, uncertainty: str | None = None) -> dict[str, Any]:
    """A signed reading as a device sends it (for the demo, tests and devices' reference)."""
    message = reading_message(source=source, reading_id=reading_id, taken_at=taken_at, quantity=quantity, unit=unit,
                              uncertainty=uncertainty)
    return {"source": source, "id": reading_id, "taken_at": utc_timestamp(taken_at), "quantity": quantity,
            "unit": unit, "uncertainty": uncertainty, "signature": key.sign(message).hex()}


def micro(quantity: str) -> int:
    return int(Decimal(quantity).scaleb(6))


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        self.code, self.message = code, message


@dataclass
class IntakeResult:
    batch: ReadingBatch | None
    accepted: int
    already_accepted: int
    anomalies: list[Anomaly] = field(default_factory=list)


@dataclass
class _Source:
    row: DataSource
    key: Ed25519PublicKey
    calibrations: list[tuple[dt.date, dt.date]]
    last: tuple[dt.datetime, int] | None
    limits: plausibility.Limits


def _limits(source: DataSource) -> plausibility.Limits:
    def m(value: Decimal | None) -> int | None:
        return None if value is None else int(value.scaleb(6))

    return plausibility.Limits(
        min_micro=m(source.min_value), max_micro=m(source.max_value), max_change_micro_per_hour=m(source.max_change_per_hour),
        expected_interval=dt.timedelta(seconds=source.expected_interval_seconds) if source.expected_interval_seconds else None,
    )


def _text(item: dict[str, Any], name: str, pattern: re.Pattern[str], *, required: bool = True) -> str:
    value = item.get(name)
    if value is None or value == "":
        if required:
            raise _Refused("READING_UNSIGNED" if name == "signature" else "READING_INVALID", f"{name} is missing.")
        return ""
    if not isinstance(value, str) or not pattern.match(value):
        raise _Refused("READING_INVALID", f"{name} is malformed.")
    return value


def _time(value: Any) -> dt.datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise _Refused("READING_INVALID", "taken_at must be an ISO 8601 time with a time zone.")
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _Refused("READING_INVALID", "taken_at must be an ISO 8601 time with a time zone.") from None
    if at.tzinfo is None:
        raise _Refused("READING_INVALID", "taken_at needs a time zone (e.g. Z).")
    return at.astimezone(dt.UTC)


@transaction.atomic
def submit_readings(
    *, actor: User, project: Project, readings: list[dict[str, Any]], channel: str = "api",
    sent_at: dt.datetime | None = None,
) -> IntakeResult:
    """Accept a batch of signed readings whole, or refuse it whole with the
    first refusal's code (every refused reading is listed in the details).
    Readings already accepted with the same content are skipped, so a device
    may resend a batch safely."""
    if not isinstance(readings, list) or not readings:
        raise ValidationFailed("BATCH_EMPTY", "A batch needs at least one reading.", field="readings")
    if len(readings) > MAX_BATCH:
        raise ValidationFailed("BATCH_TOO_LARGE", f"A batch holds at most {MAX_BATCH} readings.", field="readings", details={"limit": MAX_BATCH})
    if sent_at is not None and sent_at.tzinfo is None:
        raise ValidationFailed("FIELD_INVALID", "sent_at needs a time zone (e.g. Z).", field="sent_at")
    require_developer(actor, project)
    now = clock.now()
    names = {str(r.get("source")) for r in readings if isinstance(r, dict)}
    sources: dict[str, _Source] = {}
    # Locking the sources orders concurrent batches of the same device.
    for row in DataSource.objects.select_for_update().filter(project=project, identifier__in=names).order_by("pk"):
        last = (row.last_taken_at, int(row.last_quantity_micro or 0)) if row.last_taken_at else None
        sources[row.identifier] = _Source(row, Ed25519PublicKey.from_public_bytes(bytes.fromhex(row.public_key)), [], last,
                                          _limits(row))
    by_pk = {s.row.pk: s for s in sources.values()}
    for cal in Calibration.objects.filter(source_id__in=by_pk).values_list("source_id", "valid_from", "valid_until"):
        by_pk[cal[0]].calibrations.append((cal[1], cal[2]))
    ids = [str(r.get("id")) for r in readings if isinstance(r, dict)]
    known = {(s, i): h for s, i, h in Reading.objects.filter(source_id__in=by_pk, reading_id__in=ids)
             .values_list("source_id", "reading_id", "leaf_hash")}
    rejected: list[dict[str, Any]] = []
    new: list[tuple[_Source, Reading, list[plausibility.Flag]]] = []
    seen: set[tuple[int, str]] = set()
    already = 0
    for index, item in enumerate(readings):
        try:
            outcome = _check(item, sources, known, seen, now)
        except _Refused as refusal:
            rejected.append({"index": index, "id": item.get("id") if isinstance(item, dict) else None,
                             "code": refusal.code, "message": refusal.message})
            continue
        if outcome is None:
            already += 1
        else:
            new.append(outcome)
    if rejected:
        first = rejected[0]
        raise ValidationFailed(
            first["code"], f"{len(rejected)} of {len(readings)} readings refused; first: {first['message']}",
            field="readings", details={"rejected": rejected[:MAX_REJECTIONS_SHOWN], "rejected_count": len(rejected)},
        )
    if not new:
        return IntakeResult(batch=None, accepted=0, already_accepted=already)
    leaves = [bytes.fromhex(r.leaf_hash) for _, r, _ in new]
    root = merkle.root_from_leaves(leaves).hex()
    batch_uid = uuid.uuid4()
    drift = plausibility.clock_drift(sent_at, now) if channel == "api" else None
    flagged = sum(len(f) for _, _, f in new) + (len(sources) if drift else 0)
    appended = append_entry(
        kind="mrv.readings_accepted",
        actor=actor,
        data={"batch": str(batch_uid), "project": project.project_id, "channel": channel, "count": len(new),
              "merkle_root": root, "sources": sorted({s.row.identifier for s, _, _ in new}),
              "first": min(r.taken_at for _, r, _ in new), "last": max(r.taken_at for _, r, _ in new),
              "flagged": flagged},
    )
    batch = ReadingBatch.objects.create(uid=batch_uid, project=project, channel=channel, count=len(new), merkle_root=root,
                                        ledger_seq=appended.seq, received_by=actor, received_at=now)
    rows = [r for _, r, _ in new]
    for r in rows:
        r.batch = batch
    Reading.objects.bulk_create(rows, batch_size=500)
    anomalies = [Anomaly(source=s.row, reading=r, code=f.code, detail=f.detail[:300], at=r.taken_at, detected_at=now)
                 for s, r, flags in new for f in flags]
    if drift:
        anomalies += [Anomaly(source=s.row, code=drift.code, detail=drift.detail[:300], at=now, detected_at=now)
                      for s in sources.values()]
    Anomaly.objects.bulk_create(anomalies)
    for s in {id(s): s for s, _, _ in new}.values():
        assert s.last is not None
        s.row.last_taken_at, s.row.last_quantity_micro = s.last
        s.row.save(update_fields=["last_taken_at", "last_quantity_micro"])
    return IntakeResult(batch=batch, accepted=len(new), already_accepted=already, anomalies=anomalies)


def _check(item: Any, sources: dict[str, _Source], known: dict[tuple[int, str], str], seen: set[tuple[int, str]],
           now: dt.datetime) -> tuple[_Source, Reading, list[plausibility.Flag]] | None:
    if not isinstance(item, dict):
        raise _Refused("READING_INVALID", "Each reading is an object.")
    name = item.get("source")
    source = sources.get(name) if isinstance(name, str) else None
    if source is None:
        raise _Refused("SOURCE_UNKNOWN", f"No data source {name!r} in this project.")
    reading_id = _text(item, "id", _ID)
    at = _time(item.get("taken_at"))
    quantity = _text(item, "quantity", _DECIMAL)
    unit = item.get("unit")
    if unit != source.row.unit:
        raise _Refused("UNIT_MISMATCH", f"{source.row.identifier} measures in {source.row.unit}, not {unit!r}.")
    uncertainty = _text(item, "uncertainty", _DECIMAL, required=False)
    signature = _text(item, "signature", _SIGNATURE).lower()
    message = reading_message(source=source.row.identifier, reading_id=reading_id, taken_at=at, quantity=quantity,
                              unit=unit, uncertainty=uncertainty)
    sig = bytes.fromhex(signature)
    try:
        source.key.verify(sig, message)
    except InvalidSignature:
        raise _Refused("READING_SIGNATURE_INVALID", f"Reading {reading_id}: the signature does not match "
                       f"{source.row.identifier}'s key.") from None
    leaf = merkle.leaf_hash(message + sig).hex()
    key = (source.row.pk, reading_id)
    if key in known or key in seen:
        if known.get(key) == leaf:
            return None  # the same reading again: already accepted
        raise _Refused("READING_DUPLICATE", f"Reading id {reading_id} was already used with other content.")
    seen.add(key)
    if at > now + FUTURE_TOLERANCE:
        raise _Refused("READING_IN_FUTURE", f"Reading {reading_id} is dated {utc_timestamp(at)}, in the future.")
    day = at.date()
    if not any(start <= day <= end for start, end in source.calibrations):
        raise _Refused("SOURCE_NOT_CALIBRATED", f"{source.row.identifier} had no valid calibration on {day}.")
    if source.last is not None and at <= source.last[0]:
        raise _Refused("READING_OUT_OF_ORDER", f"Reading {reading_id} ({utc_timestamp(at)}) is not after the "
                       f"source's last reading ({utc_timestamp(source.last[0])}).")
    value = micro(quantity)
    flags = plausibility.check(source.limits, value, at, source.last)
    source.last = (at, value)
    row = Reading(source=source.row, reading_id=reading_id, taken_at=at, quantity=quantity, quantity_micro=value,
                  uncertainty=uncertainty, signature=signature, leaf_hash=leaf)
    return source, row, flags


def parse_csv(content: bytes) -> list[dict[str, Any]]:
    """Readings from a CSV file (header: source,id,taken_at,quantity,unit,
    uncertainty,signature), each signed exactly as over the API."""
    if len(content) > MAX_CSV_BYTES:
        raise ValidationFailed("CSV_TOO_LARGE", f"A CSV upload holds at most {MAX_CSV_BYTES} bytes.", field="file", details={"limit": MAX_CSV_BYTES})
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("CSV_INVALID", "The CSV file must be UTF-8.", field="file") from None
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
        raise ValidationFailed("CSV_INVALID", f"The CSV header must be {','.join(CSV_COLUMNS)}.", field="file", details={"columns": ",".join(CSV_COLUMNS)})
    rows: list[dict[str, Any]] = []
    try:
        for row in reader:
            if None in row or len(rows) >= MAX_BATCH:
                raise ValidationFailed(
                    "CSV_INVALID" if None in row else "BATCH_TOO_LARGE",
                    f"Row {len(rows) + 1} has extra columns." if None in row else f"At most {MAX_BATCH} readings per file.",
                    field="file",
                )
            rows.append({k: (v or None) if k == "uncertainty" else v for k, v in row.items()})
    except csv.Error as exc:
        raise ValidationFailed("CSV_INVALID", f"The CSV file is malformed: {exc}.", field="file",
                               details={"line": reader.line_num}) from None
    return rows


def as_csv(readings: Iterable[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in readings:
        writer.writerow({k: r.get(k) or "" for k in CSV_COLUMNS})
    return out.getvalue().encode()
