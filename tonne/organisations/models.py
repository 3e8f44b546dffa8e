from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q


class Organisation(models.Model):
    class Kind(models.TextChoices):
        GOVERNMENT = "government", "Government (registry administrator)"
        MINISTRY = "ministry", "Sectoral ministry"
        DEVELOPER = "developer", "Project developer"
        VVB = "vvb", "Validation / verification body"
        TRADER = "trader", "Buyer, trader or exchange"
        OBSERVER = "observer", "Observer"

    class Status(models.TextChoices):
        APPLIED = "applied"
        APPROVED = "approved"
        REJECTED = "rejected"
        SUSPENDED = "suspended"
        CLOSED = "closed"

    uid = models.UUIDField(unique=True, editable=False)
    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.APPLIED)
    status_reason = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    registration_number = models.CharField(max_length=100, blank=True)
    address = models.TextField(blank=True)
    contact_email = models.EmailField(blank=True)
    website = models.URLField(blank=True)
    # VVBs must be accredited by the registry administrator to validate or verify.
    accredited = models.BooleanField(default=False)
    # An exchange or broker the registry administrator lets retire units on behalf of its clients.
    acts_for_clients = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_registry_administrator(self) -> bool:
        return self.kind == self.Kind.GOVERNMENT and self.status == self.Status.APPROVED


class User(AbstractUser):
    class Role(models.TextChoices):
        ADMIN = "admin"
        INITIATOR = "initiator"
        APPROVER = "approver"
        VIEWER = "viewer"

    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    # A representative newly made (or re-roled) may approve only from this
    # time on: the representative delay. Null: at once (bootstrap, viewers).
    in_force_from = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Everyone but the installation root belongs to an organisation.
            models.CheckConstraint(
                condition=Q(is_superuser=True) | Q(organisation__isnull=False),
                name="user_has_organisation_unless_root",
            )
        ]


class Account(models.Model):
    class Type(models.TextChoices):
        HOLDING = "holding"
        BUFFER = "buffer", "Buffer pool"
        RETIREMENT = "retirement"
        CANCELLATION = "cancellation"
        OMGE = "omge", "OMGE cancellation"
        EXPORT = "export"
        SOP = "sop", "Share of proceeds"

    class Status(models.TextChoices):
        OPEN = "open"
        SUSPENDED = "suspended"
        CLOSED = "closed"

    identifier = models.CharField(max_length=20, unique=True)
    number = models.PositiveIntegerField(unique=True)
    type = models.CharField(max_length=20, choices=Type.choices)
    name = models.CharField(max_length=200)
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    is_terminal = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["number"]
        constraints = [
            # One system account of each kind per registry.
            models.UniqueConstraint(
                fields=["type"],
                condition=~Q(type="holding"),
                name="one_system_account_per_type",
            ),
            models.CheckConstraint(
                condition=Q(type="holding", organisation__isnull=False) | ~Q(type="holding"),
                name="holding_account_has_organisation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.identifier} {self.name}"


class ApiToken(models.Model):
    """A machine credential. Only its SHA-256 is stored; the secret is shown once."""

    class Scope(models.TextChoices):
        READ = "read"
        TRADE = "trade"
        ADMIN = "admin"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.TRADE)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"API token {self.prefix}… ({self.name})"
