"""Serial-numbered unit blocks, issuances and the transactions that move them."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from tonne.organisations.models import Account, Organisation
from tonne.projects.models import Project


class SerialCounter(models.Model):
    """One row: the next free serial number of the registry-wide sequence."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    next_serial = models.PositiveBigIntegerField(default=1)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="single_serial_counter")]

    def __str__(self) -> str:
        return f"next serial {self.next_serial}"


class Issuance(models.Model):
    uid = models.UUIDField(unique=True)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="issuances")
    # By app label: monitoring (mrv) sits above units.
    report = models.ForeignKey("mrv.MonitoringReport", on_delete=models.PROTECT, related_name="issuances")
    number = models.PositiveIntegerField()  # per project, appears in serials
    vintage = models.PositiveSmallIntegerField()
    unit_class = models.CharField(max_length=10)
    quantity = models.PositiveBigIntegerField()
    buffer_quantity = models.PositiveBigIntegerField(default=0)
    serial_start = models.PositiveBigIntegerField()
    serial_end = models.PositiveBigIntegerField()
    approved_by = models.ForeignKey("organisations.User", on_delete=models.PROTECT)
    issued_at = models.DateTimeField()

    class Meta:
        ordering = ["serial_start"]
        constraints = [
            # An issuance cannot happen twice: one per report and vintage.
            models.UniqueConstraint(fields=["report", "vintage"], name="one_issuance_per_report_vintage"),
            models.UniqueConstraint(fields=["project", "number"], name="issuance_number_per_project"),
            models.CheckConstraint(
                condition=Q(serial_end=F("serial_start") + F("quantity") - 1), name="issuance_range_matches_quantity"
            ),
            models.CheckConstraint(condition=Q(buffer_quantity__lte=F("quantity")), name="buffer_le_quantity"),
        ]

    def __str__(self) -> str:
        return f"issuance {self.number} of project {self.project_id} ({self.quantity} units)"


class UnitBlock(models.Model):
    """A contiguous range [serial_start, serial_end] of identical units, in one account.

    The database refuses two overlapping blocks (exclusion constraint on
    PostgreSQL, trigger on SQLite; see migrations).
    """

    # Composite indexes below lead with issuance and account: no separate ones
    # to maintain on every split.
    issuance = models.ForeignKey(Issuance, on_delete=models.PROTECT, related_name="blocks", db_index=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="blocks")
    vintage = models.PositiveSmallIntegerField()
    unit_class = models.CharField(max_length=10)
    serial_start = models.PositiveBigIntegerField(unique=True)
    serial_end = models.PositiveBigIntegerField()
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="blocks", db_index=False)
    acquired_at = models.DateTimeField()  # when it reached this account: oldest moves first

    class Meta:
        ordering = ["serial_start"]
        constraints = [
            models.CheckConstraint(condition=Q(serial_start__gte=1), name="block_serial_positive"),
            models.CheckConstraint(condition=Q(serial_end__gte=F("serial_start")), name="block_not_empty"),
        ]
        indexes = [
            models.Index(fields=["account", "acquired_at", "serial_start"], name="block_selection_order"),
            models.Index(fields=["account", "serial_start"], name="block_account_serials"),
            models.Index(fields=["issuance", "serial_start"], name="block_issuance_serials"),
        ]

    def __str__(self) -> str:
        return f"serials {self.serial_start}-{self.serial_end}"

    @property
    def quantity(self) -> int:
        return self.serial_end - self.serial_start + 1


class Transaction(models.Model):
    class Kind(models.TextChoices):
        ISSUANCE = "issuance"
        BUFFER_CONTRIBUTION = "buffer_contribution"
        TRANSFER = "transfer"
        RETIREMENT = "retirement"
        CANCELLATION = "cancellation"
        REVERSAL = "reversal"
        EXPORT = "export"
        IMPORT = "import"

    class Status(models.TextChoices):
        PROPOSED = "proposed"
        AWAITING_APPROVAL = "awaiting_approval"
        DELAYED = "delayed"
        COMPLETED = "completed"
        REJECTED = "rejected"
        CANCELLED = "cancelled"
        FAILED = "failed"

    identifier = models.CharField(max_length=30, unique=True)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROPOSED)
    initiated_by = models.ForeignKey("organisations.User", on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(Organisation, null=True, on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.CharField(max_length=200, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)
    # Covered by the (account, created_at) indexes below.
    from_account = models.ForeignKey(Account, null=True, on_delete=models.PROTECT, related_name="+", db_index=False)
    to_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    quantity = models.PositiveBigIntegerField()
    issuance = models.ForeignKey(Issuance, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Retirement: beneficiary, purpose, jurisdiction; cancellation and reversal: reason.
    reason = models.TextField(blank=True)
    beneficiary = models.CharField(max_length=300, blank=True)
    purpose = models.CharField(max_length=30, blank=True)
    jurisdiction = models.CharField(max_length=100, blank=True)
    # Retirement for compliance: the period or reporting year, the entity using
    # the units; and the client an exchange or broker retires for.
    compliance_period = models.CharField(max_length=9, blank=True)
    using_entity = models.CharField(max_length=300, blank=True)
    on_behalf_of = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    failure_code = models.CharField(max_length=60, blank=True)
    ledger_seq = models.PositiveBigIntegerField(null=True, blank=True)

    # Not stored: set on the answer to a retried request (same Idempotency-Key).
    replayed = False
    # Not stored: a move's blocks as its answer shows them (domain.block_answer), from the
    # rows the move itself read, so that answering it reads nothing again.
    moved_blocks: list[dict] | None = None

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["initiated_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="idempotency_key_once_per_user",
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="transaction_quantity_positive"),
        ]
        indexes = [models.Index(fields=["from_account", "created_at"]), models.Index(fields=["to_account", "created_at"])]

    def __str__(self) -> str:
        return f"{self.identifier} {self.kind} {self.status}"


# A move that waits (for a second person's approval, or its settlement time).
WAITING = (Transaction.Status.AWAITING_APPROVAL, Transaction.Status.DELAYED)


class TransactionBlock(models.Model):
    """A serial range a completed transaction moved (or created)."""

    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="blocks")
    issuance = models.ForeignKey(Issuance, on_delete=models.PROTECT, related_name="+", db_index=False)  # see below
    serial_start = models.PositiveBigIntegerField()
    serial_end = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["serial_start"]
        constraints = [models.CheckConstraint(condition=Q(serial_end__gte=F("serial_start")), name="txblock_not_empty")]
        indexes = [models.Index(fields=["issuance", "serial_start"])]

    def __str__(self) -> str:
        return f"{self.serial_start}-{self.serial_end} in transaction {self.transaction_id}"
