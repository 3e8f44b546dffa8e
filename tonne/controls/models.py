"""The controls' own state: four-eyes approvals, moves waiting for approval
or settlement, trusted account lists, limits, freezes and the registry-wide
switch. Units themselves move only when their Transaction completes.
Transactions are named by app label: units sits above the controls."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from tonne.organisations.models import Account, Organisation, User
from tonne.projects.models import Project


class Approval(models.Model):
    """A request that needs a second person. Bound to the exact request by
    its hash; the approver is never the initiator (the database refuses it)."""

    class Action(models.TextChoices):
        TRANSFER = "transfer"
        RETIREMENT = "retirement"
        CANCELLATION = "cancellation"
        REVERSAL = "reversal"
        ISSUANCE = "issuance"
        TRUSTED_ADD = "trusted_add"
        TRUSTED_REMOVE = "trusted_remove"
        LIMIT_CHANGE = "limit_change"
        REPRESENTATIVE_CHANGE = "representative_change"

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"
        EXPIRED = "expired"
        CANCELLED = "cancelled"

    uid = models.UUIDField(unique=True)
    action = models.CharField(max_length=30, choices=Action.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    organisation = models.ForeignKey(Organisation, null=True, on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    transaction = models.OneToOneField(
        "units.Transaction", null=True, blank=True, on_delete=models.PROTECT, related_name="approval"
    )
    payload = models.JSONField(default=dict)
    request_hash = models.CharField(max_length=64)
    initiated_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    decided_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("initiated_by")),
                name="approval_four_eyes",
            ),
        ]
        indexes = [models.Index(fields=["organisation", "status"], name="approval_org_status")]

    def __str__(self) -> str:
        return f"{self.action} approval {self.uid} ({self.status})"


class PendingMove(models.Model):
    """The serials a waiting transaction will move, and when it may settle."""

    transaction = models.OneToOneField("units.Transaction", on_delete=models.PROTECT, related_name="pending_move")
    ranges = models.JSONField()  # [[start, end], ...] chosen at request time
    details = models.JSONField(default=dict)  # beneficiary, purpose, reason…
    execute_at = models.DateTimeField(null=True, blank=True)  # set once only the delay is left
    executed_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["execute_at"], name="pending_move_due")]

    def __str__(self) -> str:
        return f"pending move of {self.transaction_id}"


class TrustedListEntry(models.Model):
    """A line of an account's trusted list (accounts here, destinations
    abroad). Active from `effective_at` (additions wait) until `removed_at`
    (removals are at once)."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    effective_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        abstract = True


class TrustedAccount(TrustedListEntry):
    """An account on another account's trusted list."""

    trusted = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["account", "effective_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "trusted"], condition=Q(removed_at__isnull=True), name="trusted_once"
            ),
            models.CheckConstraint(condition=~Q(account=F("trusted")), name="trusted_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.trusted_id} trusted by {self.account_id}"


class TrustedDestination(TrustedListEntry):
    """A destination abroad on an account's trusted list for exports: another
    Party's registry, and one account in it (or, blank, any account there).
    Exports go only to trusted destinations. Additions wait for a second
    person and then a delay, as trusted accounts do; removals are at once."""

    party = models.CharField(max_length=2)
    registry = models.CharField(max_length=100)
    destination_account = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["account", "effective_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "registry", "destination_account"], condition=Q(removed_at__isnull=True),
                name="trusted_destination_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.registry}/{self.destination_account or '*'} trusted by {self.account_id}"


class AccountLimit(models.Model):
    """Per-account limits: the most one transfer may move, and the most that
    may leave in any rolling 24 hours. Null: no limit of that kind."""

    account = models.OneToOneField(Account, on_delete=models.PROTECT, related_name="limit")
    per_transfer = models.PositiveBigIntegerField(null=True, blank=True)
    per_day = models.PositiveBigIntegerField(null=True, blank=True)
    set_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"limits of account {self.account_id}"


class Freeze(models.Model):
    """Units that may not move: an account, a project, or a serial range."""

    class Scope(models.TextChoices):
        ACCOUNT = "account"
        PROJECT = "project"
        SERIALS = "serials"

    uid = models.UUIDField(unique=True)
    scope = models.CharField(max_length=10, choices=Scope.choices)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    serial_start = models.PositiveBigIntegerField(null=True, blank=True)
    serial_end = models.PositiveBigIntegerField(null=True, blank=True)
    reason = models.TextField()
    # null: the registry froze it itself (a reconciliation mismatch with a partner registry)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(scope="account", account__isnull=False, project__isnull=True, serial_start__isnull=True)
                    | Q(scope="project", project__isnull=False, account__isnull=True, serial_start__isnull=True)
                    | Q(
                        scope="serials",
                        serial_start__isnull=False,
                        serial_end__gte=F("serial_start"),
                        account__isnull=True,
                        project__isnull=True,
                    )
                ),
                name="freeze_scope_matches_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope} freeze {self.uid}"


class RegistrySwitch(models.Model):
    """One row: the registry-wide kill switch for outgoing transfers."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    transfers_suspended = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    changed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="single_registry_switch")]

    def __str__(self) -> str:
        return "transfers suspended" if self.transfers_suspended else "transfers running"


class UnitReservation(models.Model):
    """Serials committed to a waiting transaction (four-eyes or delayed
    settlement): no other move may take them. A row lives only while its
    transaction waits, so the table is empty unless something waits."""

    transaction = models.ForeignKey("units.Transaction", on_delete=models.CASCADE, related_name="+")
    serial_start = models.PositiveBigIntegerField()
    serial_end = models.PositiveBigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["serial_start", "serial_end"], name="reservation_serials")]
        constraints = [models.CheckConstraint(condition=Q(serial_end__gte=F("serial_start")), name="reservation_range")]

    def __str__(self) -> str:
        return f"{self.serial_start}-{self.serial_end} reserved by {self.transaction_id}"


class AccountHold(models.Model):
    """Units may not leave the account while a hold is in force. Placed and
    released by the monitoring (aml) through the controls' services, so the
    move path reads one controls table and knows nothing of monitoring."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    alert_id = models.BigIntegerField(unique=True)  # the monitoring alert that asked for it
    rule = models.CharField(max_length=30)
    created_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["account", "released_at"], name="hold_in_force")]

    def __str__(self) -> str:
        return f"hold on {self.account_id} ({self.rule})"


class Holiday(models.Model):
    """A public holiday the registry administrator declared: not a working
    day for any delay (settlement, trusted lists, new representatives), on
    top of those the installation's settings name (TONNE_HOLIDAYS)."""

    day = models.DateField(unique=True)
    name = models.CharField(max_length=100)
    added_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField()

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day} {self.name}"
