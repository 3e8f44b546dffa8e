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
