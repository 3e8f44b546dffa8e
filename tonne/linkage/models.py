"""The partner registries this registry exchanges units with: a controlled
list (added and changed by two people, in force after the trusted-list
delay), and the verifier keys each partner signs with, each valid for a
window so that a partner rotates its key with an overlap."""

from __future__ import annotations

from django.db import models

from tonne.organisations.models import User


class Partner(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        SUSPENDED = "suspended"  # nothing accepted from it until reinstated by two people
        REMOVED = "removed"  # for good

    registry_id = models.CharField(max_length=100, unique=True)
    party = models.CharField(max_length=2)  # ISO 3166-1 alpha-2
    endpoint = models.CharField(max_length=300)  # https://… where its linkage messages are posted
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    effective_at = models.DateTimeField()  # accepted from only from then on (the delay)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    changed_at = models.DateTimeField()
    reason = models.CharField(max_length=500, blank=True, default="")  # of the last suspension or removal

    def __str__(self) -> str:
        return f"{self.registry_id} ({self.party}, {self.status})"


class PartnerKey(models.Model):
    """One verifier key of a partner (a C2SP note key), valid from
    `valid_from` (after the delay) until `valid_until` (retired; null: open)."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="keys")
    verifier_key = models.CharField(max_length=300)
    key_name = models.CharField(max_length=200)
    key_id = models.CharField(max_length=8)  # hex, as in the note's signature lines
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    retired_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner", "verifier_key"], name="linkage_key_once_per_partner"),
            models.CheckConstraint(
                condition=models.Q(valid_until__isnull=True) | models.Q(valid_until__gte=models.F("valid_from")),
                name="linkage_key_window_ordered",
            ),
        ]
        indexes = [models.Index(fields=["key_name", "key_id"], name="linkage_key_lookup")]

    def __str__(self) -> str:
        return f"{self.partner.registry_id} {self.key_name}+{self.key_id}"


class Outbound(models.Model):
    """A transfer this registry proposed to a partner (the sending side's
    state machine; every step locks this row)."""

    class State(models.TextChoices):
        PROPOSED = "proposed"  # units reserved in the holder's account; the proposal goes until answered
        COMPLETING = "completing"  # accepted: units left for the export account; the completion goes
        COMPLETED = "completed"  # the partner created them
        CANCELLING = "cancelling"  # rejected, timed out or withdrawn: units back; the partner is told to close
        CANCELLED = "cancelled"

    uid = models.UUIDField(unique=True)  # the transfer id, as in its file
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="outbound")
    transaction_identifier = models.CharField(max_length=30, unique=True)  # the export that waits
    state = models.CharField(max_length=20, choices=State.choices, default=State.PROPOSED)
    code = models.CharField(max_length=60, blank=True, default="")  # why it was cancelled
    proposal = models.TextField()  # the signed transfer file proposed
    completion = models.TextField(blank=True, default="")  # the signed transfer file once the units left
    deadline = models.DateTimeField()  # no acceptance by then: the units go back
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="linkage_outbound_due")]

    def __str__(self) -> str:
        return f"{self.uid} to {self.partner_id} ({self.state})"


class Inbound(models.Model):
    """A transfer a partner proposed to this registry (the receiving side's
    state machine; every step locks this row). Units are created only on
    completion, never after a close."""

    class State(models.TextChoices):
        CHECKED = "checked"  # passed every check; an administrator accepts or rejects
        AWAITING_APPROVAL = "awaiting_approval"  # four-eyes: a second administrator approves the acceptance
        ACCEPTED = "accepted"
        REJECTED = "rejected"
        COMPLETED = "completed"  # units created here
        CLOSED = "closed"  # the sender cancelled: nothing will be created

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="inbound")
    transfer = models.UUIDField()
    state = models.CharField(max_length=20, choices=State.choices)
    code = models.CharField(max_length=60, blank=True, default="")
    field = models.CharField(max_length=200, blank=True, default="")
    proposal = models.TextField()
    proposal_sha256 = models.CharField(max_length=64)
    destination_account = models.CharField(max_length=40)
    quantity = models.BigIntegerField()
    accepted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    received_transfer = models.UUIDField(null=True, blank=True)  # the article6 record once created
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["partner", "transfer"], name="linkage_inbound_once")]

    def __str__(self) -> str:
        return f"{self.transfer} from {self.partner_id} ({self.state})"


class Statement(models.Model):
    """One reconciliation statement (docs/linkage.md §3.6): sent to a partner
    (with the answer it got) or received from one (with the answer given, so
    a replay gets the same answer)."""

    class Direction(models.TextChoices):
        SENT = "sent"
        RECEIVED = "received"

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="statements")
    direction = models.CharField(max_length=10, choices=Direction.choices)
    note = models.TextField()
    note_sha256 = models.CharField(max_length=64)
    answer = models.TextField(blank=True, default="")  # the signed answer (empty: not answered yet)
    mismatches = models.PositiveIntegerField(default=0)  # found by this exchange
    witness_code = models.CharField(max_length=60, blank=True, default="")  # why its checkpoint was not cosigned
    checkpoint_size = models.PositiveBigIntegerField(null=True, blank=True)  # the sender's checkpoint in it
    at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["partner", "direction", "note_sha256"],
                                               name="linkage_statement_once")]
        indexes = [models.Index(fields=["partner", "direction", "at"], name="linkage_statement_latest")]

    def __str__(self) -> str:
        return f"statement {self.direction} {self.partner_id} at {self.at}"


class Mismatch(models.Model):
    """A difference between this registry's account of the transfers with a
    partner and the partner's (or a checkpoint that does not extend the one
    seen before). Its units stay frozen until an administrator resolves it."""

    class State(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"

    uid = models.UUIDField(unique=True)
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="mismatches")
    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="found")
    transfer = models.UUIDField(null=True, blank=True)  # null: the partner's ledger (a rollback or a fork)
    code = models.CharField(max_length=60)
    found_by = models.CharField(max_length=10)  # "us" or "partner" (told in its answer)
    detail = models.JSONField(default=dict)  # what each side says
    frozen = models.JSONField(default=list)  # [[start, end], …] of this registry's serials frozen for it
    freezes = models.JSONField(default=list)  # the controls freezes' uids, lifted on resolution
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    found_at = models.DateTimeField()
    resolved_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["partner", "state"], name="linkage_mismatch_open")]

    def __str__(self) -> str:
        return f"{self.code} {self.transfer} with {self.partner_id} ({self.state})"
