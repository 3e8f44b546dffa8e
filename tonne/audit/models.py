"""The audit log: who did what, when and from where. Separate from the
ledger (which records what happened to registry data); append-only in the
database, like the ledger."""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    class Category(models.TextChoices):
        LOGIN = "login"
        LOGIN_FAILED = "login_failed"
        LOGOUT = "logout"
        NEW_DEVICE = "new_device"
        PERMISSION_DENIED = "permission_denied"
        ADMIN_ACTION = "admin_action"
        CONFIGURATION = "configuration"
        CONTROL = "control"
        KYC_DOCUMENT_READ = "kyc_document_read"
        SECURITY = "security"
        AUDIT_EXPORT = "audit_export"

    at = models.DateTimeField(db_index=True)
    category = models.CharField(max_length=30, choices=Category.choices)
    action = models.CharField(max_length=120)
    outcome = models.CharField(max_length=20, default="success")
    # Snapshots, not foreign keys: users and organisations may change or go,
    # the record of what they did stays as it was.
    actor_id = models.BigIntegerField(null=True, blank=True)
    username = models.CharField(max_length=150, blank=True)
    organisation_id = models.BigIntegerField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    method = models.CharField(max_length=10, blank=True)
    path = models.CharField(max_length=300, blank=True)
    target = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["category", "at"], name="audit_category_at"),
            models.Index(fields=["actor_id", "at"], name="audit_actor_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.category} {self.action} {self.username}"


class KnownDevice(models.Model):
    """Browsers a user has logged in from; a login from another one is
    announced to the user (audit event and email)."""

    user = models.ForeignKey("organisations.User", on_delete=models.CASCADE, related_name="+")
    fingerprint = models.CharField(max_length=64)
    user_agent = models.CharField(max_length=300, blank=True)
    first_ip = models.GenericIPAddressField(null=True, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "fingerprint"], name="known_device_once")]

    def __str__(self) -> str:
        return f"device {self.fingerprint[:8]} of user {self.user_id}"
