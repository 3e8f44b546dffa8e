"""CAD Trust interoperability: records imported from other registries (with
their origin identifiers and serial ranges), delivery state towards a CAD
Trust node, and webhook subscriptions. Tonne's own records stay in their
apps; nothing here changes them."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q


class ImportBatch(models.Model):
    """One accepted import of a CAD Trust file that changed something."""

    uid = models.UUIDField(unique=True)
    sha256 = models.CharField(max_length=64, db_index=True)
    filename = models.CharField(max_length=255, blank=True)
    file_format = models.CharField(max_length=10)  # json, csv, xlsx
    model_version = models.CharField(max_length=5)  # "1" or "2"
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    imported_by = models.ForeignKey("organisations.User", on_delete=models.PROTECT, related_name="+")
    imported_at = models.DateTimeField()
    ledger_seq = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-imported_at", "-id"]

    def __str__(self) -> str:
        return f"import {self.filename or self.sha256[:12]} ({self.imported_at:%Y-%m-%d})"


class ImportedRecord(models.Model):
    """A CAD Trust record that another registry holds, kept as received
    (normalised), under its origin identifier."""

    model_version = models.CharField(max_length=5)
    table = models.CharField(max_length=40)
    record_id = models.CharField(max_length=100)  # cadTrust…Id (v2) / warehouse…Id or id (v1)
    parent_id = models.CharField(max_length=100, blank=True, db_index=True)
    org_uid = models.CharField(max_length=100, blank=True)  # the origin registry's CAD Trust organisation
    origin_registry = models.CharField(max_length=200, blank=True)
    data = models.JSONField()
    digest = models.CharField(max_length=64)
    batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="records")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["model_version", "table", "record_id"]
        constraints = [
            models.UniqueConstraint(fields=["model_version", "table", "record_id"], name="cadt_record_once"),
        ]

    def __str__(self) -> str:
        return f"CAD Trust v{self.model_version} {self.table} {self.record_id}"


class ImportedUnitRange(models.Model):
    """The serial range of an imported unit row, in its series, for the double-counting check."""

    record = models.OneToOneField(ImportedRecord, on_delete=models.CASCADE, related_name="serial_range")
    namespace = models.CharField(max_length=300)
    serial_start = models.PositiveBigIntegerField()
    serial_end = models.PositiveBigIntegerField()
    serial_id = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["namespace", "serial_start"]
        constraints = [
            models.CheckConstraint(condition=Q(serial_end__gte=F("serial_start")), name="cadt_range_not_empty"),
        ]
        indexes = [models.Index(fields=["namespace", "serial_start"], name="cadt_range_lookup")]

    def __str__(self) -> str:
        return f"{self.namespace} {self.serial_start}-{self.serial_end}"
