"""Notifications: what a person is told, whether they read it, whether it
was mailed; the cursor over the ledger; each person's preferences."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from tonne.organisations.models import Organisation, User


class Notification(models.Model):
    class Mail(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        OFF = "off"  # the person turned e-mail off, or has no address
        FAILED = "failed"

    uid = models.UUIDField(unique=True)
    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    # The recipient's organisation when told: shown only while they still belong to it.
    organisation = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=40)  # domain event code, rendered in the reader's language
    subject = models.CharField(max_length=20)  # project | report | transaction | account | organisation | approval
    ref = models.CharField(max_length=64)
    params = models.JSONField(default=dict)
    source = models.CharField(max_length=120)  # ledger:<seq>:<event> or approval:<uid>:<event>
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    mail = models.CharField(max_length=10, choices=Mail.choices, default=Mail.PENDING)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A second pass over the same entry (after a crash) adds nothing.
            models.UniqueConstraint(fields=["recipient", "source"], name="notification_once_per_source"),
        ]
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="notification_unread"),
            models.Index(fields=["mail"], condition=Q(mail="pending"), name="notification_mail_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.event} for {self.recipient_id}"


class Cursor(models.Model):
    """How far a source has been turned into notifications (the ledger: the
    next entry's number). Moved in the same transaction as the rows it made."""

    name = models.CharField(max_length=40, unique=True)
    position = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} at {self.position}"


class Preference(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="notification_preference")
    email = models.BooleanField(default=True)
    language = models.CharField(max_length=10, blank=True)  # of the e-mails; blank: the registry's

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"
