"""Know-your-customer records of organisations (legal data, encrypted
registration documents, beneficial owners, review dates) and sanctions
screening (lists the operator loads, hits waiting for review)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from tonne.organisations.models import Organisation, User


class KycProfile(models.Model):
    class Status(models.TextChoices):
        SUBMITTED = "submitted"
        VERIFIED = "verified"
        REJECTED = "rejected"

    organisation = models.OneToOneField(Organisation, on_delete=models.PROTECT, related_name="kyc")
    legal_name = models.CharField(max_length=300)
    legal_form = models.CharField(max_length=100, blank=True)
    registration_country = models.CharField(max_length=2)
    registration_number = models.CharField(max_length=100)
    tax_id = models.CharField(max_length=100, blank=True)
    lei = models.CharField(max_length=20, blank=True, help_text="Legal Entity Identifier, if any")
    registered_address = models.TextField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SUBMITTED)
    submitted_at = models.DateTimeField()
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    review_due = models.DateField(null=True, blank=True)  # outgoing transfers stop once it has passed

    def __str__(self) -> str:
        return f"KYC of {self.organisation_id} ({self.status})"


class BeneficialOwner(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="beneficial_owners")
    name = models.CharField(max_length=300)
    birth_date = models.DateField(null=True, blank=True)
    nationality = models.CharField(max_length=2, blank=True)
    ownership_basis_points = models.PositiveIntegerField(help_text="share held, 10000 = 100 %")

    class Meta:
        ordering = ["-ownership_basis_points", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(ownership_basis_points__lte=10000), name="ownership_at_most_whole")
        ]

    def __str__(self) -> str:
        return self.name


class KycDocument(models.Model):
    """A registration document, stored encrypted (AES-256-GCM) outside the database."""

    class Kind(models.TextChoices):
        REGISTRATION = "registration", "Certificate of registration"
        ARTICLES = "articles", "Articles of association"
        IDENTITY = "identity", "Identity document of a representative"
        OWNERSHIP = "ownership", "Ownership structure"
        OTHER = "other"

    uid = models.UUIDField(unique=True)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="kyc_documents")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)  # of the plain document
    uploaded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} document {self.uid}"


class SanctionsList(models.Model):
    class Source(models.TextChoices):
        UN = "un", "UN Security Council consolidated list (XML)"
        OPENSANCTIONS = "opensanctions", "OpenSanctions targets (CSV)"

    source = models.CharField(max_length=20, choices=Source.choices)
    loaded_at = models.DateTimeField()
    loaded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    sha256 = models.CharField(max_length=64)
    entries = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)  # the latest list of its source

    class Meta:
        ordering = ["-loaded_at", "-id"]

    def __str__(self) -> str:
        return f"{self.source} list of {self.loaded_at:%Y-%m-%d}"


class SanctionsEntry(models.Model):
    sanctions_list = models.ForeignKey(SanctionsList, on_delete=models.CASCADE, related_name="items")
    reference = models.CharField(max_length=100)
    kind = models.CharField(max_length=20)  # person or entity
    name = models.CharField(max_length=500)
    names = models.JSONField(default=list)  # the name and its aliases, normalised for matching

    class Meta:
        indexes = [models.Index(fields=["sanctions_list", "reference"], name="sanctions_entry_ref")]

    def __str__(self) -> str:
        return self.name


class ScreeningHit(models.Model):
    """A possible match for review: pending until an administrator clears or confirms it.
    Pending and confirmed hits stop the organisation's transfers, out and in."""

    class Status(models.TextChoices):
        PENDING = "pending"
        CLEARED = "cleared"
        CONFIRMED = "confirmed"

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    subject = models.CharField(max_length=300)  # the name screened: the organisation, an owner, a representative
    entry = models.ForeignKey(SanctionsEntry, null=True, on_delete=models.SET_NULL, related_name="+")
    entry_name = models.CharField(max_length=500)
    entry_reference = models.CharField(max_length=100)
    source = models.CharField(max_length=20)
    score = models.PositiveSmallIntegerField()  # 0..100
    trigger = models.CharField(max_length=30)  # onboarding, list_update, transfer
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField()
    decided_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "subject", "entry_reference", "source"],
                condition=Q(status="pending"),
                name="one_pending_hit_per_match",
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject} ~ {self.entry_name} ({self.score})"
