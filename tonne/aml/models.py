"""Monitoring alerts: a rule saw a pattern; an administrator reviews it. An
alert with a hold stops units leaving the account until it is decided."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from tonne.organisations.models import Account, Organisation, User
from tonne.units.models import Issuance, Transaction


class AmlAlert(models.Model):
    class Rule(models.TextChoices):
        PASS_THROUGH = "pass_through"  # noqa: S105 (a rule name)
        CIRCULAR_TRADING = "circular_trading"
        NEW_ACCOUNT_VELOCITY = "new_account_velocity"
        CHANGE_THEN_DRAIN = "change_then_drain"
        STRUCTURING = "structuring"
        ISSUANCE_ANOMALY = "issuance_anomaly"
        STATUS_CONFLICT = "status_conflict"

    class Status(models.TextChoices):
        OPEN = "open"
        DISMISSED = "dismissed"
        CONFIRMED = "confirmed"

    rule = models.CharField(max_length=30, choices=Rule.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    organisation = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    transaction = models.ForeignKey(Transaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    issuance = models.ForeignKey(Issuance, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    detail = models.JSONField(default=dict)
    hold = models.BooleanField(default=False)  # while open: units may not leave the account
    created_at = models.DateTimeField()
    decided_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "transaction"], condition=Q(transaction__isnull=False), name="one_alert_per_rule_and_txn"
            ),
            models.UniqueConstraint(
                fields=["rule", "issuance"], condition=Q(issuance__isnull=False), name="one_alert_per_rule_and_issuance"
            ),
        ]
        indexes = [models.Index(fields=["account", "status", "hold"], name="aml_alert_hold")]

    def __str__(self) -> str:
        return f"{self.rule} alert {self.pk} ({self.status})"


class AmlCursor(models.Model):
    """One row: how far the monitor has read the completed transactions and issuances."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_transaction_id = models.BigIntegerField(default=0)
    last_issuance_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="single_aml_cursor")]

    def __str__(self) -> str:
        return f"AML monitor at transaction {self.last_transaction_id}"
