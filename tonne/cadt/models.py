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


class SyncDestination(models.Model):
    """A CAD Trust node this registry pushes its changes to. The ledger is the
    outbox: `cursor` is the ledger position below which every change has
    been delivered (staged and committed) to the node."""

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(max_length=500)  # the node's API root, e.g. https://cadt.example.org
    api_key = models.CharField(max_length=300, blank=True)  # sent as x-api-key
    enabled = models.BooleanField(default=True)
    cursor = models.PositiveBigIntegerField(default=0)
    # The batch being delivered, [cursor, pending_upto): set before sending, cleared once committed.
    pending_upto = models.PositiveBigIntegerField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)  # a worker is delivering until then
    attempts = models.PositiveIntegerField(default=0)  # failures in a row
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"CAD Trust node {self.name} ({self.url})"


class SyncDelivery(models.Model):
    """One attempt to deliver the changes of ledger entries [from_seq, to_seq) to a node."""

    class Status(models.TextChoices):
        DELIVERED = "delivered"
        FAILED = "failed"

    destination = models.ForeignKey(SyncDestination, on_delete=models.CASCADE, related_name="deliveries")
    from_seq = models.PositiveBigIntegerField()
    to_seq = models.PositiveBigIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices)
    records = models.PositiveIntegerField(default=0)
    calls = models.JSONField(default=list)  # [method, path, HTTP status] of each call made
    error = models.TextField(blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["destination", "started_at"], name="cadt_delivery_log")]

    def __str__(self) -> str:
        return f"{self.status} {self.from_seq}-{self.to_seq} to {self.destination_id}"


class WebhookSubscription(models.Model):
    """A consumer (exchange, MRV system, dashboard) that receives the registry's
    events, signed with HMAC-SHA256 under its secret."""

    uid = models.UUIDField(unique=True)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200)
    events = models.JSONField(default=list)  # ledger entry kinds or prefixes ("units.", "project.status"); [] = all
    active = models.BooleanField(default=True)
    cursor = models.PositiveBigIntegerField(default=0)  # ledger position of the next event to queue
    created_by = models.ForeignKey("organisations.User", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"webhook {self.url}"


class WebhookDelivery(models.Model):
    """One event for one subscription, with its delivery attempts."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"  # gave up after the last retry

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=100)
    seq = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=40)
    payload = models.TextField()  # the exact bytes signed and sent
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    response_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["seq", "id"]
        constraints = [models.UniqueConstraint(fields=["subscription", "seq"], name="webhook_event_once")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_due")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.seq} → {self.subscription_id} ({self.status})"


class CadtRow(models.Model):
    """One record as the CAD Trust read API answers it (v1 projects with their
    children, units, issuances, labels; every v2 table): a projection of the
    registry, answered by indexed queries and sent as stored. `search` holds the full-text tokens
    of the record's own columns (FTS5 on SQLite, a GIN index on PostgreSQL)."""

    version = models.CharField(max_length=1)  # "1" or "2"
    table = models.CharField(max_length=40)
    key = models.CharField(max_length=100)
    org_uid = models.CharField(max_length=100)
    time_staged = models.CharField(max_length=20, blank=True)  # CAD Trust's timeStaged (Unix seconds as text)
    search = models.TextField(blank=True)
    data = models.TextField()  # the record's JSON, in CAD Trust's field order (jsonb would reorder it)
    # Indexed copies of the fields clients filter and order by (tonne.cadt.rowfields; indexes in 0005).
    name = models.TextField(null=True, blank=True)  # noqa: DJ001 (JSON null is not "")
    status = models.TextField(null=True, blank=True)  # noqa: DJ001 (JSON null is not "")
    serial = models.TextField(null=True, blank=True)  # noqa: DJ001 (JSON null is not "")
    year = models.FloatField(null=True, blank=True)
    parent = models.TextField(null=True, blank=True)  # noqa: DJ001 (JSON null is not "")
    marketplace_id = models.TextField(null=True, blank=True)  # noqa: DJ001 (JSON null is not "")
    marketplace = models.TextField(null=True, blank=True)  # noqa: DJ001 (JSON null is not "")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "table", "key"], name="cadt_row_once")]
        indexes = [
            models.Index(fields=["version", "table", "-time_staged", "key"], name="cadt_row_staged"),
            models.Index(fields=["version", "table", "org_uid", "-time_staged", "key"], name="cadt_row_org_staged"),
        ]

    def __str__(self) -> str:
        return f"v{self.version} {self.table} {self.key}"


class CadtProjection(models.Model):
    """How far the CadtRow projection has taken the ledger in: rows are
    current for every ledger entry below `cursor`."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    cursor = models.PositiveBigIntegerField(default=0)
    aef_state = models.CharField(max_length=100, blank=True)  # the ledger state (size:head) the AEF rows follow

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="single_cadt_projection")]

    def __str__(self) -> str:
        return f"CAD Trust rows at ledger {self.cursor}"


class CadtCount(models.Model):
    """How many CadtRow rows a table has per organisation and status, kept with
    the rows (under the projection's lock), so the count of an unfiltered page,
    or of one filtered by status, is one small read."""

    version = models.CharField(max_length=1)
    table = models.CharField(max_length=40)
    org_uid = models.CharField(max_length=100)
    status = models.TextField(blank=True)  # CadtRow.status, "" for none (a filter cannot ask for "")
    rows = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "table", "org_uid", "status"], name="cadt_count_once"),
        ]

    def __str__(self) -> str:
        return f"v{self.version} {self.table} {self.org_uid} {self.status}: {self.rows}"
