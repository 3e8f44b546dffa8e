"""Article 6 authorisations, the serial ranges they cover, first transfers
and corresponding adjustments.

Authorisation attaches to serial ranges, not to unit blocks: serials are the
units' identity and never change, while blocks split and move. A unit is
authorised when an AuthorisedRange covers its serial."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from tonne.organisations.models import User
from tonne.projects.models import Document
from tonne.units.models import Issuance


class FirstTransferDefinition(models.TextChoices):
    AUTHORISATION = "authorisation", "Authorization"
    ISSUANCE = "issuance", "Issuance"
    FIRST_INTERNATIONAL_TRANSFER = "first_international_transfer", "First international transfer"
    USE_OR_CANCELLATION = "use_or_cancellation", "Use or cancellation"


class Authorisation(models.Model):
    """A Party's authorisation of mitigation outcomes as ITMOs. Its terms
    live in versions; the first-transfer definition never changes."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        REVOKED = "revoked"

    uid = models.UUIDField(unique=True)
    identifier = models.CharField(max_length=100, unique=True)
    cooperative_approach = models.CharField(max_length=100)
    authorising_party = models.CharField(max_length=2)
    # The definition of the authorised purpose that governs transfers to
    # another Party (NDC if authorised, else OIMP): what transfer files carry.
    first_transfer_definition = models.CharField(max_length=40, choices=FirstTransferDefinition.choices)
    # The first-transfer definition of each purpose: {"ndc": ..., "oimp": ...}.
    definitions = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    # From this moment units not yet first-transferred are no longer authorised.
    revoked_from = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="active", revoked_from__isnull=True) | Q(status="revoked", revoked_from__isnull=False),
                name="a6_revocation_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"authorisation {self.identifier}"


class AuthorisationVersion(models.Model):
    """The terms of an authorisation from `effective_from` until the next version."""

    authorisation = models.ForeignKey(Authorisation, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    effective_from = models.DateTimeField()
    authorisation_date = models.DateField()
    acquiring_parties = models.JSONField(default=list)  # ISO 3166-1 alpha-2 codes
    # The acquiring Party when there is exactly one: the Party a corresponding
    # adjustment names when no international transfer names one.
    sole_acquiring_party = models.CharField(max_length=2, blank=True)
    purpose_ndc = models.BooleanField(default=False)
    purpose_oimp = models.BooleanField(default=False)
    oimp_purposes = models.TextField(blank=True)  # which other international mitigation purposes
    quantity = models.PositiveBigIntegerField()
    # The most that may be authorised of a vintage ({"2025": 300}); none: only `quantity` limits.
    vintage_quantities = models.JSONField(default=dict)
    vintage_from = models.PositiveSmallIntegerField()
    vintage_to = models.PositiveSmallIntegerField()
    projects = models.JSONField(default=list)  # project ids the authorisation covers
    entities = models.JSONField(default=list)  # [{"uid", "name", "country"}] authorised entities
    valid_until = models.DateField(null=True, blank=True)
    terms = models.TextField(blank=True)
    letter = models.ForeignKey(Document, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    letter_sha256 = models.CharField(max_length=64, blank=True)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    ledger_seq = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["authorisation_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["authorisation", "version"], name="a6_version_once"),
            models.CheckConstraint(condition=Q(vintage_to__gte=F("vintage_from")), name="a6_vintages_ordered"),
            models.CheckConstraint(condition=Q(purpose_ndc=True) | Q(purpose_oimp=True), name="a6_has_purpose"),
            models.CheckConstraint(condition=~Q(approved_by=F("requested_by")), name="a6_version_four_eyes"),
        ]

    def __str__(self) -> str:
        return f"version {self.version} of authorisation {self.authorisation_id}"

    @property
    def purposes(self) -> str:
        if self.purpose_ndc and self.purpose_oimp:
            return "NDC and OIMP"
        return "NDC" if self.purpose_ndc else "OIMP"


class AuthorisedRange(models.Model):
    """Serials of one issuance authorised under an authorisation (in the
    version in force when they were attached)."""

    authorisation = models.ForeignKey(Authorisation, on_delete=models.PROTECT, related_name="ranges")
    version = models.ForeignKey(AuthorisationVersion, on_delete=models.PROTECT, related_name="+")
    issuance = models.ForeignKey(Issuance, on_delete=models.PROTECT, related_name="+")
    vintage = models.PositiveSmallIntegerField()
    serial_start = models.PositiveBigIntegerField(unique=True)
    serial_end = models.PositiveBigIntegerField()
    attached_at = models.DateTimeField()

    class Meta:
        ordering = ["serial_start"]
        constraints = [models.CheckConstraint(condition=Q(serial_end__gte=F("serial_start")), name="a6_range_not_empty")]
        indexes = [models.Index(fields=["authorisation", "serial_start"], name="a6_range_by_authorisation")]

    def __str__(self) -> str:
        return f"authorised serials {self.serial_start}-{self.serial_end}"

    @property
    def quantity(self) -> int:
        return self.serial_end - self.serial_start + 1


class Withdrawal(models.Model):
    """Authorised units a change of the authorisation no longer covers
    (vintages narrowed, quantity lowered): from `effective_from` they are no
    longer authorised, unless first-transferred by then (those keep their
    status whatever changes)."""

    authorisation = models.ForeignKey(Authorisation, on_delete=models.PROTECT, related_name="withdrawals")
    version = models.ForeignKey(AuthorisationVersion, on_delete=models.PROTECT, related_name="+")
    vintage = models.PositiveSmallIntegerField()
    serial_start = models.PositiveBigIntegerField()
    serial_end = models.PositiveBigIntegerField()
    effective_from = models.DateTimeField()

    class Meta:
        ordering = ["serial_start"]
        constraints = [models.CheckConstraint(condition=Q(serial_end__gte=F("serial_start")), name="a6_withdrawal_not_empty")]
        indexes = [models.Index(fields=["serial_start"], name="a6_withdrawal_by_serial")]

    def __str__(self) -> str:
        return f"withdrawal of {self.serial_start}-{self.serial_end}"

    @property
    def quantity(self) -> int:
        return self.serial_end - self.serial_start + 1


class FirstTransfer(models.Model):
    """The first transfer of authorised units, once per unit: ranges never
    overlap (exclusion constraint on PostgreSQL, trigger on SQLite)."""

    authorisation = models.ForeignKey(Authorisation, on_delete=models.PROTECT, related_name="first_transfers")
    issuance = models.ForeignKey(Issuance, on_delete=models.PROTECT, related_name="+")
    vintage = models.PositiveSmallIntegerField()
    serial_start = models.PositiveBigIntegerField(unique=True)
    serial_end = models.PositiveBigIntegerField()
    cause = models.CharField(max_length=40, choices=FirstTransferDefinition.choices)  # the definition met
    # The purpose the units were moved under or used for: ndc, oimp, omge, or
    # "ndc,oimp" when first-transferred on being authorised.
    purpose = models.CharField(max_length=10, blank=True, default="")
    acquiring_party = models.CharField(max_length=2, blank=True)
    transaction_identifier = models.CharField(max_length=30, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["serial_start"]
        constraints = [models.CheckConstraint(condition=Q(serial_end__gte=F("serial_start")), name="a6_ft_not_empty")]
        indexes = [models.Index(fields=["authorisation", "at"], name="a6_ft_by_authorisation")]

    def __str__(self) -> str:
        return f"first transfer of {self.serial_start}-{self.serial_end}"

    @property
    def quantity(self) -> int:
        return self.serial_end - self.serial_start + 1


class CorrespondingAdjustment(models.Model):
    """The adjustment a first transfer obliges: one per first transfer, per
    vintage and acquiring Party; the database refuses a second."""

    first_transfer = models.OneToOneField(FirstTransfer, on_delete=models.PROTECT, related_name="adjustment")
    authorisation = models.ForeignKey(Authorisation, on_delete=models.PROTECT, related_name="adjustments")
    vintage = models.PositiveSmallIntegerField()
    acquiring_party = models.CharField(max_length=2, blank=True)
    quantity = models.PositiveBigIntegerField()
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["first_transfer_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["first_transfer", "vintage", "acquiring_party"], name="a6_adjustment_once"
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="a6_adjustment_positive"),
        ]

    def __str__(self) -> str:
        return f"corresponding adjustment of {self.quantity} (vintage {self.vintage})"


class InternationalTransfer(models.Model):
    """A signed transfer file between Parties' registries: sent (units went
    to the export account) or received (units imported). A file is imported
    once: its origin registry and uid are unique."""

    class Direction(models.TextChoices):
        SENT = "sent"
        RECEIVED = "received"

    uid = models.UUIDField()
    direction = models.CharField(max_length=10, choices=Direction.choices)
    origin_registry = models.CharField(max_length=100)
    origin_party = models.CharField(max_length=2)
    destination_registry = models.CharField(max_length=100)
    destination_party = models.CharField(max_length=2)
    destination_account = models.CharField(max_length=40)
    transaction_identifier = models.CharField(max_length=30)
    quantity = models.PositiveBigIntegerField()
    signed_file = models.TextField()
    sha256 = models.CharField(max_length=64)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["origin_registry", "uid"], name="a6_transfer_once"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} international transfer {self.uid}"


class ImportedRange(models.Model):
    """Local serials of units received from another registry, with the
    identity they keep: origin serials, ITMO identifier, authorisation,
    class, project and monitoring period. The database refuses the same
    origin serials twice from one sending registry, and the same ITMO
    serials twice from one originating registry, whatever the transfer
    (triggers, see migrations)."""

    transfer = models.ForeignKey(InternationalTransfer, on_delete=models.PROTECT, related_name="ranges")
    issuance = models.ForeignKey(Issuance, on_delete=models.PROTECT, related_name="+")
    serial_start = models.PositiveBigIntegerField(unique=True)
    serial_end = models.PositiveBigIntegerField()
    origin_serial = models.CharField(max_length=200)
    origin_serial_start = models.PositiveBigIntegerField()
    origin_serial_end = models.PositiveBigIntegerField()
    vintage = models.PositiveSmallIntegerField()
    itmo_id = models.CharField(max_length=300)
    authorisation = models.CharField(max_length=100)
    cooperative_approach = models.CharField(max_length=100)
    first_transferring_party = models.CharField(max_length=2)
    originating_registry = models.CharField(max_length=100)
    mitigation_type = models.CharField(max_length=30)
    origin_registry = models.CharField(max_length=100, default="")  # the registry that sent them
    origin_project = models.CharField(max_length=100, blank=True)  # the project id there
    unit_class = models.CharField(max_length=10, blank=True)
    period_start = models.DateField(null=True, blank=True)  # the origin monitoring period
    period_end = models.DateField(null=True, blank=True)
    # The serials the ITMO identifier names, in the originating registry.
    itmo_serial_start = models.PositiveBigIntegerField(null=True, blank=True)
    itmo_serial_end = models.PositiveBigIntegerField(null=True, blank=True)
    details = models.JSONField(default=dict)  # the authorisation and first transfer as the file states them

    class Meta:
        ordering = ["serial_start"]
        constraints = [
            models.CheckConstraint(condition=Q(serial_end__gte=F("serial_start")), name="a6_imported_not_empty"),
            models.CheckConstraint(
                condition=Q(origin_serial_end=F("origin_serial_start") + F("serial_end") - F("serial_start")),
                name="a6_imported_same_size",
            ),
        ]
        indexes = [
            models.Index(fields=["origin_registry", "origin_serial_start"], name="a6_imported_by_origin"),
            models.Index(fields=["originating_registry", "itmo_serial_start"], name="a6_imported_by_itmo"),
        ]

    def __str__(self) -> str:
        return f"imported {self.itmo_id}"
