"""Monitoring, reporting and verification: the path from claimed to issued."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from tonne.organisations.models import Organisation
from tonne.projects.models import Document, Project


class MonitoringReport(models.Model):
    class Status(models.TextChoices):
        SUBMITTED = "submitted"  # awaiting the VVB
        VERIFIED = "verified"  # awaiting the administrator's issuance decision
        REJECTED = "rejected"  # by the VVB or the administrator
        ISSUED = "issued"
        WITHDRAWN = "withdrawn"

    uid = models.UUIDField(unique=True)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="monitoring_reports")
    number = models.PositiveIntegerField()
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SUBMITTED)
    status_reason = models.TextField(blank=True)
    vvb = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="assigned_reports")
    document = models.ForeignKey(
        Document, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_by = models.ForeignKey("organisations.User", on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField()
    verification_id = models.CharField(max_length=100, blank=True)
    verification_document = models.ForeignKey(
        Document, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verified_by = models.ForeignKey(
        "organisations.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        "organisations.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    # The VVB's answer to its assignment; accepting declares no conflict of interest.
    assignment = models.CharField(max_length=10, choices=[(a, a) for a in ("pending", "accepted", "declined")],
                                  default="pending")
    assignment_reason = models.TextField(blank=True)
    assignment_decided_by = models.ForeignKey(
        "organisations.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assignment_decided_at = models.DateTimeField(null=True, blank=True)
    no_conflict_declared_at = models.DateTimeField(null=True, blank=True)
    # The VVB's opinion (positive: verified; negative: rejected) and its comments.
    opinion = models.CharField(max_length=10, blank=True)
    opinion_comments = models.TextField(blank=True)
    # The registry administrator's approval of the verification, where the registry requires it.
    verification_approved_by = models.ForeignKey(
        "organisations.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verification_approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="report_number_per_project"),
            models.CheckConstraint(condition=Q(period_end__gte=F("period_start")), name="report_period_ordered"),
            # One verification statement backs one report's issuances (reports a
            # VVB verified; imported ones share their transfer's reference).
            models.UniqueConstraint(
                fields=["verification_id"],
                condition=Q(verified_by__isnull=False) & ~Q(verification_id="") & ~Q(status__in=["rejected", "withdrawn"]),
                name="verification_id_backs_one_report",
            ),
        ]

    def __str__(self) -> str:
        return f"monitoring report {self.number} of project {self.project_id}"


class ReportVintage(models.Model):
    """Claimed, verified and issued quantities of one vintage of a report."""

    report = models.ForeignKey(MonitoringReport, on_delete=models.CASCADE, related_name="vintages")
    vintage = models.PositiveSmallIntegerField()
    claimed = models.PositiveBigIntegerField()
    verified = models.PositiveBigIntegerField(null=True, blank=True)
    issued = models.PositiveBigIntegerField(default=0)
    # The developer's instruction for its share of this vintage's issuance:
    # [{"account", "quantity"} | {"retire": {details}, "quantity"}]; the rest
    # goes to its first holding account.
    instruction = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["vintage"]
        constraints = [
            models.UniqueConstraint(fields=["report", "vintage"], name="one_row_per_report_vintage"),
            models.CheckConstraint(condition=Q(claimed__gt=0), name="claimed_positive"),
            # Issued never exceeds verified, whatever the code above does.
            models.CheckConstraint(
                condition=Q(issued=0) | Q(verified__isnull=False, issued__lte=F("verified")),
                name="issued_le_verified",
            ),
        ]

    def __str__(self) -> str:
        return f"vintage {self.vintage} of report {self.report_id}"


# -- digital MRV: data sources, signed readings, anomalies, computed reports ---


class DataSource(models.Model):
    """A meter, stove sensor, data logger, remote-sensing product or laboratory
    feeding a project's monitoring, with the key its readings are signed with."""

    class Kind(models.TextChoices):
        METER = "meter"
        STOVE_SENSOR = "stove_sensor"
        DATA_LOGGER = "data_logger"
        REMOTE_SENSING = "remote_sensing"
        LABORATORY = "laboratory"
        MANUAL = "manual"  # signed with the operator's key

    uid = models.UUIDField(unique=True)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="data_sources")
    identifier = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    measurement = models.CharField(max_length=50)  # the methodology input it feeds, e.g. electricity_export
    unit = models.CharField(max_length=20)
    location = models.CharField(max_length=300, blank=True)
    public_key = models.CharField(max_length=64)  # Ed25519, hex
    min_value = models.DecimalField(max_digits=24, decimal_places=6, null=True, blank=True)
    max_value = models.DecimalField(max_digits=24, decimal_places=6, null=True, blank=True)
    max_change_per_hour = models.DecimalField(max_digits=24, decimal_places=6, null=True, blank=True)
    expected_interval_seconds = models.PositiveIntegerField(null=True, blank=True)
    raw_confidential = models.BooleanField(default=False)  # the public sees aggregates only
    last_taken_at = models.DateTimeField(null=True, blank=True)
    last_quantity_micro = models.BigIntegerField(null=True, blank=True)
    created_by = models.ForeignKey("organisations.User", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["project_id", "identifier"]
        constraints = [models.UniqueConstraint(fields=["project", "identifier"], name="source_identifier_per_project")]

    def __str__(self) -> str:
        return f"data source {self.identifier}"


class Calibration(models.Model):
    """A calibration certificate (a project document, known by its SHA-256)
    and the dates between which the source's readings are trusted."""

    source = models.ForeignKey(DataSource, on_delete=models.PROTECT, related_name="calibrations")
    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="+")
    valid_from = models.DateField()
    valid_until = models.DateField()
    recorded_by = models.ForeignKey("organisations.User", on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["source_id", "valid_from"]
        constraints = [
            models.CheckConstraint(condition=Q(valid_until__gte=F("valid_from")), name="calibration_period_ordered")
        ]

    def __str__(self) -> str:
        return f"calibration of {self.source_id} {self.valid_from} – {self.valid_until}"


class ReadingBatch(models.Model):
    """One accepted batch: its readings' Merkle root is in the ledger entry
    `ledger_seq`, so no reading can change once committed."""

    uid = models.UUIDField(unique=True)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="reading_batches")
    channel = models.CharField(max_length=10)  # api | csv
    count = models.PositiveIntegerField()
    merkle_root = models.CharField(max_length=64)
    ledger_seq = models.BigIntegerField()
    received_by = models.ForeignKey("organisations.User", on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["received_at", "id"]

    def __str__(self) -> str:
        return f"reading batch {self.uid}"


class Reading(models.Model):
    """A signed measurement, append-only. `quantity` is the decimal text the
    device signed; `quantity_micro` the same value in millionths, for sums."""

    batch = models.ForeignKey(ReadingBatch, on_delete=models.PROTECT, related_name="readings")
    source = models.ForeignKey(DataSource, on_delete=models.PROTECT, related_name="readings")
    reading_id = models.CharField(max_length=100)
    taken_at = models.DateTimeField()
    quantity = models.CharField(max_length=40)
    quantity_micro = models.BigIntegerField()
    uncertainty = models.CharField(max_length=40, blank=True)
    signature = models.CharField(max_length=128)
    leaf_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["source_id", "taken_at"]
        constraints = [models.UniqueConstraint(fields=["source", "reading_id"], name="reading_once_per_source")]
        indexes = [models.Index(fields=["source", "taken_at"], name="reading_source_time")]

    def __str__(self) -> str:
        return f"reading {self.reading_id} of {self.source_id}"


class Anomaly(models.Model):
    """An implausible reading or source, accepted but flagged for the VVB."""

    class Code(models.TextChoices):
        RANGE = "RANGE"
        RATE_OF_CHANGE = "RATE_OF_CHANGE"
        GAP = "GAP"
        CLOCK_DRIFT = "CLOCK_DRIFT"
        DUPLICATE_DEVICE = "DUPLICATE_DEVICE"

    source = models.ForeignKey(DataSource, on_delete=models.PROTECT, related_name="anomalies")
    reading = models.ForeignKey(Reading, null=True, blank=True, on_delete=models.PROTECT, related_name="anomalies")
    code = models.CharField(max_length=20, choices=Code.choices)
    detail = models.CharField(max_length=300)
    at = models.DateTimeField()  # the reading's time, or when detected
    detected_at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.code} on {self.source_id}"


class ReportComputation(models.Model):
    """How a monitoring report's quantities were computed: methodology and
    code version, parameter values, the inputs and their readings' Merkle root."""

    report = models.OneToOneField(MonitoringReport, on_delete=models.PROTECT, related_name="computation")
    methodology_code = models.CharField(max_length=50)
    methodology_version = models.CharField(max_length=20)
    code_version = models.CharField(max_length=64)
    parameters = models.JSONField()  # name -> decimal text
    facts = models.JSONField(default=dict)
    inputs = models.JSONField()  # vintage -> kind -> decimal text
    results = models.JSONField()  # vintage -> {exact, deduction, quantity, steps}
    reading_count = models.PositiveBigIntegerField()
    inputs_merkle_root = models.CharField(max_length=64)
    computed_at = models.DateTimeField()
    adjustment_reason = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"computation of {self.report_id}"
