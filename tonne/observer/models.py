"""What the observer holds: other registries' published records, harmonised.

Every record is keyed by its registry (and, for unit rows, its kind and
its identity within that registry), so an import can only ever update its
own registry's records; serial ranges carry their series."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ObservedImport(models.Model):
    """One file imported: what was read, mapped, skipped and why."""

    uid = models.UUIDField(unique=True)
    registry = models.CharField(max_length=40)
    file_format = models.CharField(max_length=60)
    filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64)
    rows_read = models.PositiveIntegerField(default=0)
    mapped = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict)  # skip reasons with counts and example rows, warnings
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    imported_at = models.DateTimeField()
    ledger_seq = models.BigIntegerField(null=True)

    class Meta:
        ordering = ["-imported_at"]

    def __str__(self) -> str:
        return f"{self.registry} {self.filename}"


class ObservedProject(models.Model):
    registry = models.CharField(max_length=40)
    project_id = models.CharField(max_length=100)
    name = models.TextField(blank=True)
    country = models.CharField(max_length=100, blank=True)
    methodology = models.TextField(blank=True)
    developer = models.TextField(blank=True)
    status = models.CharField(max_length=100, blank=True)
    project_type = models.TextField(blank=True)
    cross_refs = models.JSONField(default=list)
    raw = models.JSONField(default=dict)
    digest = models.CharField(max_length=32)
    source = models.ForeignKey(ObservedImport, on_delete=models.PROTECT, related_name="projects")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["registry", "project_id"], name="observer_project_unique")]
        ordering = ["registry", "project_id"]

    def __str__(self) -> str:
        return f"{self.registry}:{self.project_id}"


class ObservedUnits(models.Model):
    """A published unit row: an issuance, a retirement, a cancellation or a held block."""

    registry = models.CharField(max_length=40)
    kind = models.CharField(max_length=20)
    source_key = models.CharField(max_length=200)
    project_id = models.CharField(max_length=100, blank=True)
    quantity = models.DecimalField(max_digits=20, decimal_places=3)
    series = models.CharField(max_length=200, blank=True)
    serial_start = models.BigIntegerField(null=True)
    serial_end = models.BigIntegerField(null=True)
    serial_text = models.TextField(blank=True)
    vintage = models.IntegerField(null=True)
    date = models.DateField(null=True)
    beneficiary = models.TextField(blank=True)
    reason = models.TextField(blank=True)
    raw = models.JSONField(default=dict)
    digest = models.CharField(max_length=32)
    source = models.ForeignKey(ObservedImport, on_delete=models.PROTECT, related_name="units")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["registry", "kind", "source_key"], name="observer_units_unique"),
        ]
        indexes = [
            models.Index(fields=["series", "serial_start"], name="observer_units_series"),
            models.Index(fields=["registry", "project_id"], name="observer_units_project"),
        ]

    def __str__(self) -> str:
        return f"{self.registry}:{self.kind}:{self.source_key}"


class Finding(models.Model):
    """A possible double count or duplicate, with the evidence for it."""

    class Kind(models.TextChoices):
        SERIAL_OVERLAP = "serial_overlap", _("Units issued twice (overlapping serial ranges)")
        RETIRED_TWICE = "retired_twice", _("Units retired or cancelled twice")
        DUPLICATE_PROJECT = "duplicate_project", _("The same project in two registries")
        ISSUED_IN_BOTH = "issued_in_both", _("A project's vintage issued in two registries")
        MOVED_UNCANCELLED = "moved_uncancelled", _("Units moved to another registry without cancellation at the origin")

    kind = models.CharField(max_length=30, choices=Kind.choices)
    registry_a = models.CharField(max_length=40)
    record_a = models.CharField(max_length=300)
    registry_b = models.CharField(max_length=40)
    record_b = models.CharField(max_length=300)
    series = models.CharField(max_length=200, blank=True)
    quantity = models.DecimalField(max_digits=20, decimal_places=3, null=True)
    score = models.FloatField(null=True)
    evidence = models.JSONField(default=dict)
    found_at = models.DateTimeField()

    class Meta:
        ordering = ["kind", "-score", "registry_a", "record_a"]
        indexes = [models.Index(fields=["kind", "registry_a"], name="observer_finding_kind")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.registry_a}:{self.record_a} / {self.registry_b}:{self.record_b}"
