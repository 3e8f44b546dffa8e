"""A project's data sources and their calibration records."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from tonne.core import clock
from tonne.core.errors import PermissionDenied, ValidationFailed
from tonne.ledger.services import append_entry
from tonne.mrv.models import Anomaly, Calibration, DataSource
from tonne.organisations.models import User
from tonne.organisations.services import require_active_member
from tonne.projects.models import Document, Project

EDITORS = (User.Role.ADMIN, User.Role.INITIATOR)
_HEX_KEY = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$")
_MEASUREMENT = re.compile(r"^[a-z][a-z0-9_]{0,49}$")


def require_developer(actor: User, project: Project) -> None:
    org = require_active_member(actor, EDITORS)
    if project.developer_id != org.id:
        raise PermissionDenied("PROJECT_NOT_YOURS", f"Project {project.project_id} belongs to another organisation.", details={"project": project.project_id})


def _text(data: dict[str, Any], field: str, limit: int, *, required: bool = True) -> str:
    value = data.get(field)
    if value is None or value == "":
        if required:
            raise ValidationFailed("FIELD_REQUIRED", f"{field} is required.", field=field)
        return ""
    if not isinstance(value, str):
        raise ValidationFailed("FIELD_INVALID", f"{field} must be text.", field=field)
    value = value.strip()
    if len(value) > limit:
        raise ValidationFailed("FIELD_TOO_LONG", f"{field} is longer than {limit} characters.", field=field)
    return value


def _decimal(data: dict[str, Any], field: str) -> Decimal | None:
    raw = data.get(field)
    if raw is None or raw == "":
        return None
    if isinstance(raw, float | bool):
        raise ValidationFailed("FIELD_INVALID", f"{field} must be a decimal string or integer.", field=field)
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ValidationFailed("FIELD_INVALID", f"{field} must be a decimal number.", field=field) from None
    if not value.is_finite() or abs(value) >= Decimal(10) ** 18:
        raise ValidationFailed("FIELD_INVALID", f"{field} is out of range.", field=field)
    return value


@transaction.atomic
def register_source(*, actor: User, project: Project, data: dict[str, Any]) -> DataSource:
    """Register a meter, sensor, logger, remote-sensing product or laboratory.
    A device id or key already used elsewhere is accepted but flagged."""
    project = Project.objects.select_for_update(no_key=True).get(pk=project.pk)
    require_developer(actor, project)
    identifier = _text(data, "identifier", 100)
    if not _NAME.match(identifier):
        raise ValidationFailed("FIELD_INVALID", "identifier: letters, digits and . _ : / - only.", field="identifier")
    kind = _text(data, "kind", 20)
    if kind not in DataSource.Kind.values:
        raise ValidationFailed("SOURCE_KIND_INVALID", f"kind must be one of {', '.join(DataSource.Kind.values)}.", field="kind")
    measurement = _text(data, "measurement", 50)
    if not _MEASUREMENT.match(measurement):
        raise ValidationFailed("FIELD_INVALID", "measurement: lower-case letters, digits and _ only.", field="measurement")
    key = _text(data, "public_key", 64).lower()
    if not _HEX_KEY.match(key):
        raise ValidationFailed("PUBLIC_KEY_INVALID", "public_key must be an Ed25519 public key in hex (64 digits).", field="public_key")
    if DataSource.objects.filter(project=project, identifier=identifier).exists():
        raise ValidationFailed("SOURCE_EXISTS", f"Project {project.project_id} already has a source {identifier}.", field="identifier", details={"project": project.project_id, "source": identifier})
    interval = data.get("expected_interval_seconds")
    if interval is not None and (not isinstance(interval, int) or isinstance(interval, bool) or not 0 < interval <= 10**8):
        raise ValidationFailed("FIELD_INVALID", "expected_interval_seconds must be a positive integer.", field="expected_interval_seconds")
    now = clock.now()
    source = DataSource.objects.create(
        uid=uuid.uuid4(), project=project, identifier=identifier, kind=kind, measurement=measurement,
        unit=_text(data, "unit", 20), location=_text(data, "location", 300, required=False), public_key=key,
        min_value=_decimal(data, "min_value"), max_value=_decimal(data, "max_value"),
        max_change_per_hour=_decimal(data, "max_change_per_hour"), expected_interval_seconds=interval,
        raw_confidential=bool(data.get("raw_confidential", False)), created_by=actor, created_at=now,
    )
    # The same device id in another project, or one device key on two sources
    # (operators' keys for manual entry excepted), may be double counting.
    clash = DataSource.objects.exclude(pk=source.pk).filter(identifier=identifier).exclude(project=project)
    if kind != DataSource.Kind.MANUAL:
        clash = clash | DataSource.objects.exclude(pk=source.pk).filter(public_key=key).exclude(kind=DataSource.Kind.MANUAL)
    others = sorted({f"{s.project.project_id}/{s.identifier}" for s in clash.select_related("project")[:10]})
    if others:
        Anomaly.objects.create(
            source=source, code=Anomaly.Code.DUPLICATE_DEVICE, at=now, detected_at=now,
            detail=f"Device id or key also used by {', '.join(others)}"[:300],
        )
    append_entry(
        kind="mrv.source_registered",
        actor=actor,
        data={"source": str(source.uid), "project": project.project_id, "identifier": identifier, "kind": kind,
              "measurement": measurement, "unit": source.unit, "public_key": key, "flagged": bool(others)},
    )
    return source


@transaction.atomic
def record_calibration(
    *, actor: User, source: DataSource, document: Any, valid_from: Any, valid_until: Any
) -> Calibration:
    """Attach a calibration certificate (a document uploaded to the project)."""
    source = DataSource.objects.select_for_update().select_related("project").get(pk=source.pk)
    require_developer(actor, source.project)
    try:
        doc = Document.objects.get(uid=uuid.UUID(str(document)), project=source.project, removed_at__isnull=True)
    except (ValueError, Document.DoesNotExist):
        raise ValidationFailed("DOCUMENT_NOT_FOUND", "document must be a document uploaded to this project.", field="document") from None
    try:
        start = valid_from if isinstance(valid_from, dt.date) else dt.date.fromisoformat(str(valid_from))
        end = valid_until if isinstance(valid_until, dt.date) else dt.date.fromisoformat(str(valid_until))
    except ValueError:
        raise ValidationFailed("FIELD_INVALID", "valid_from and valid_until must be dates (YYYY-MM-DD).") from None
    if end < start:
        raise ValidationFailed("PERIOD_INVALID", "The calibration ends before it starts.", field="valid_until")
    calibration = Calibration.objects.create(
        source=source, document=doc, valid_from=start, valid_until=end, recorded_by=actor, recorded_at=clock.now()
    )
    append_entry(
        kind="mrv.calibration_recorded",
        actor=actor,
        data={"source": str(source.uid), "project": source.project.project_id, "document_sha256": doc.sha256,
              "valid": [start, end]},
    )
    return calibration
