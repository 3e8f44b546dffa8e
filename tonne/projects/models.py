"""Projects: CAD Trust v2.0.2 project fields and child records, plus the
national fields a host Party keeps (DESIGN §2)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from tonne.organisations.models import Organisation


class Program(models.Model):
    uid = models.UUIDField(unique=True)
    name = models.CharField(max_length=200)
    registry = models.CharField(max_length=200)
    registry_id = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class Methodology(models.Model):
    uid = models.UUIDField(unique=True)
    code = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=300)
    type = models.CharField(max_length=100, blank=True)  # picklist methodology_type
    version = models.CharField(max_length=50, blank=True)
    date = models.DateField(null=True, blank=True)
    link = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class MethodologyVersion(models.Model):
    """A version of a methodology the registry accepts for new projects and
    reports from `valid_from`; once superseded, refused for new ones from
    `superseded_from` (projects already on it keep it)."""

    methodology = models.ForeignKey(Methodology, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(max_length=50)
    valid_from = models.DateField(null=True, blank=True)  # None: accepted with no start date
    superseded_from = models.DateField(null=True, blank=True)
    # None: listed before the registry kept versions (the methodology's own version, accepted as it was).
    added_by = models.ForeignKey("organisations.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField()

    class Meta:
        ordering = ["methodology__code", "valid_from", "version"]
        constraints = [models.UniqueConstraint(fields=["methodology", "version"], name="methodology_version_once")]

    def __str__(self) -> str:
        return f"{self.methodology.code} v{self.version}"


class ReferenceValue(models.Model):
    """The registry's own entry in one of its lists (sectors, project types,
    sectoral scopes, unit classes): a value it added (with the CAD Trust value
    it is exported as, where CAD Trust has the list), or one it retired."""

    class List(models.TextChoices):
        PROJECT_SECTOR = "project_sector", "Sector"
        PROJECT_TYPE = "project_type", "Project type"
        SECTORAL_SCOPE = "sectoral_scope", "Sectoral scope"
        UNIT_CLASS = "unit_class", "Unit class"

    list = models.CharField(max_length=20, choices=List.choices)
    value = models.CharField(max_length=200)
    cadt_value = models.CharField(max_length=200, blank=True)
    retired_from = models.DateField(null=True, blank=True)
    added_by = models.ForeignKey("organisations.User", on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField()

    class Meta:
        ordering = ["list", "value"]
        constraints = [models.UniqueConstraint(fields=["list", "value"], name="reference_value_once")]

    def __str__(self) -> str:
        return f"{self.list}: {self.value}"


class EligibilityRule(models.Model):
    """What the country accepts, as it publishes it: on one fact (host Party,
    programme, methodology, vintage) and for registrations, imports or both.
    A project or unit whose fact the rule does not accept is refused."""

    class Fact(models.TextChoices):
        HOST_PARTY = "host_party", "Host Party"
        PROGRAMME = "programme", "Programme or standard"
        METHODOLOGY = "methodology", "Methodology"
        VINTAGE = "vintage", "Vintage"

    class Scope(models.TextChoices):
        REGISTRATION = "registration", "Project registration"
        IMPORT = "import", "Imports of foreign units"
        BOTH = "both", "Both"

    name = models.CharField(max_length=50, unique=True)
    fact = models.CharField(max_length=20, choices=Fact.choices)
    scope = models.CharField(max_length=20, choices=Scope.choices)
    accepted = models.JSONField(default=list)  # values; for a vintage, [first, last] (either may be null)
    added_by = models.ForeignKey("organisations.User", on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApprovedProgramme(models.Model):
    """A programme or standard whose VVB reports the registry administrator
    approves before issuance (matched to a project's crediting programme,
    case and spacing aside)."""

    programme = models.CharField(max_length=200, unique=True)  # folded: casefold, single spaces
    name = models.CharField(max_length=200)
    added_by = models.ForeignKey("organisations.User", on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField()

    class Meta:
        ordering = ["programme"]

    def __str__(self) -> str:
        return self.name


class Project(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        SUBMITTED = "submitted"
        APPROVED = "approved"
        VALIDATED = "validated"
        REGISTERED = "registered"
        COMPLETED = "completed"
        REJECTED = "rejected"
        WITHDRAWN = "withdrawn"
        ON_HOLD = "on_hold", "On hold"

    class NdcCoverage(models.TextChoices):
        INSIDE = "inside", "Inside NDC"
        OUTSIDE = "outside", "Outside NDC"
        UNKNOWN = "unknown"

    class Article6Status(models.TextChoices):
        NOT_REQUESTED = "not_requested", "Not requested"
        REQUESTED = "requested", "Authorisation requested"
        AUTHORISED = "authorised"
        REFUSED = "refused"

    class RiskRating(models.TextChoices):
        NONE = "none", "Not applicable"
        LOW = "low"
        MEDIUM = "medium"
        HIGH = "high"

    # Registry-wide project number; rendered zero-padded in serial numbers.
    number = models.PositiveIntegerField(unique=True)
    uid = models.UUIDField(unique=True)  # cadTrustProjectId
    developer = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="projects")
    vvb = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="validated_projects"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    status_changed_at = models.DateTimeField()

    # CAD Trust v2.0.2 project fields.
    registry_name = models.CharField(max_length=200)  # projectRegistryName
    project_id = models.CharField(max_length=100, unique=True)  # projectId
    crediting_program = models.CharField(max_length=200, blank=True)
    program = models.ForeignKey(Program, null=True, blank=True, on_delete=models.PROTECT)
    name = models.CharField(max_length=300)
    link = models.URLField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    sectors = models.JSONField(default=list)  # picklist project_sector
    types = models.JSONField(default=list)  # picklist project_type
    subtype = models.CharField(max_length=200, blank=True)
    unit_metric = models.CharField(max_length=50, default="tCO2e")  # picklist unit_metric
    unit_type = models.CharField(max_length=50, default="Reduction - technical")  # picklist unit_type
    reference_project_id = models.CharField(max_length=200, blank=True)

    # National fields.
    host_party = models.CharField(max_length=2)
    sectoral_scope = models.PositiveSmallIntegerField()
    ndc_coverage = models.CharField(max_length=10, choices=NdcCoverage.choices, default=NdcCoverage.UNKNOWN)
    article6_status = models.CharField(
        max_length=20, choices=Article6Status.choices, default=Article6Status.NOT_REQUESTED
    )
    # Short code used in serial numbers for this project's units, e.g. VER.
    unit_class = models.CharField(max_length=10, default="VER")
    non_permanence_risk = models.CharField(max_length=10, choices=RiskRating.choices, default=RiskRating.NONE)
    # Buffer share in basis points (1 % = 100), so arithmetic stays in integers.
    buffer_basis_points = models.PositiveIntegerField(default=0)
    crediting_period_start = models.DateField(null=True, blank=True)
    crediting_period_end = models.DateField(null=True, blank=True)
    benefit_sharing_plan = models.TextField(blank=True)
    consent_evidence = models.TextField(blank=True)
    grievance_contact = models.CharField(max_length=300, blank=True)

    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sectoral_scope__gte=1, sectoral_scope__lte=15), name="project_scope_1_to_15"
            ),
            models.CheckConstraint(condition=Q(buffer_basis_points__lte=10000), name="project_buffer_le_100pct"),
        ]
        indexes = [models.Index(fields=["status"]), models.Index(fields=["host_party", "sectoral_scope"])]

    def __str__(self) -> str:
        return f"{self.project_id} {self.name}"


class ProjectStatusChange(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="status_history")
    from_status = models.CharField(max_length=20)
    to_status = models.CharField(max_length=20)
    actor = models.ForeignKey("organisations.User", on_delete=models.PROTECT)
    reason = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class ProjectChange(models.Model):
    """A correction made after submission: which fields, from what to what, by whom."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="changes")
    changes = models.JSONField()  # [{"field", "before", "after"}]
    reason = models.TextField(blank=True)
    actor = models.ForeignKey("organisations.User", on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"change of {self.project_id} at {self.at}"


class _ProjectChild(models.Model):
    uid = models.UUIDField(unique=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.uid}"


class Location(_ProjectChild):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="locations")
    country = models.CharField(max_length=100)  # picklist location_country
    region = models.CharField(max_length=200, blank=True)
    gis = models.TextField(blank=True)  # coordinates or GeoJSON
    map_type = models.CharField(max_length=50, blank=True)  # picklist location_map_type
    map_file_link = models.URLField(max_length=500, blank=True)


class Estimation(_ProjectChild):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="estimations")
    start_date = models.DateField()
    end_date = models.DateField()
    unit_count = models.PositiveBigIntegerField()
    reference_no = models.CharField(max_length=100, blank=True)


class Rating(_ProjectChild):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="ratings")
    type = models.CharField(max_length=50)  # picklist rating_type
    name = models.CharField(max_length=200)
    value = models.CharField(max_length=100)
    link = models.URLField(max_length=500, blank=True)


class CoBenefit(_ProjectChild):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="co_benefits")
    co_benefit = models.CharField(max_length=100)  # picklist co_benefit_id


class Label(_ProjectChild):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=100)  # picklist label_type
    link = models.URLField(max_length=500, blank=True)
    date = models.DateField(null=True, blank=True)


class Stakeholder(_ProjectChild):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="stakeholders")
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=50)  # picklist stakeholder_type
    link = models.URLField(max_length=500, blank=True)


class ProjectMethodology(_ProjectChild):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="methodologies")
    methodology = models.ForeignKey(Methodology, on_delete=models.PROTECT)
    version = models.CharField(max_length=50, blank=True)  # the version in force when it was chosen
    date = models.DateField(null=True, blank=True)
    description = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "methodology"], name="project_methodology_once")]


class ValidationRecord(_ProjectChild):
    """CAD Trust validation: written when the VVB validates the project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="validations")
    validation_id = models.CharField(max_length=100)
    type = models.CharField(max_length=100)  # picklist validation_type
    body = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    date = models.DateField()
    credit_period_start = models.DateField(null=True, blank=True)
    credit_period_end = models.DateField(null=True, blank=True)
    report = models.ForeignKey("projects.Document", null=True, blank=True, on_delete=models.PROTECT)


class RelatedProject(_ProjectChild):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="related_projects")
    related_project_id = models.CharField(max_length=200)
    relationship = models.CharField(max_length=200)
    registry = models.CharField(max_length=200, blank=True)


class Document(models.Model):
    """An uploaded file, known by its SHA-256 (recorded in the ledger too)."""

    class Kind(models.TextChoices):
        DESIGN = "design", "Project design document"
        VALIDATION_REPORT = "validation_report"
        MONITORING_REPORT = "monitoring_report"
        VERIFICATION_REPORT = "verification_report"
        LETTER = "letter", "Letter"
        OTHER = "other"

    uid = models.UUIDField(unique=True)
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    title = models.CharField(max_length=300)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    storage_name = models.CharField(max_length=300)
    is_public = models.BooleanField(default=True)
    uploaded_by = models.ForeignKey("organisations.User", on_delete=models.PROTECT)
    uploaded_at = models.DateTimeField()
    # A mistaken upload is removed by its uploader, not deleted: the row (and
    # the ledger) keep that it existed; it is no longer listed or served.
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        "organisations.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    removal_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return f"{self.title} ({self.sha256[:12]}…)"


# -- benefit sharing and safeguards ---------------------------------------------------


class BenefitShare(models.Model):
    """One line of a project's benefit-sharing plan: who receives what share,
    of the units issued or of the proceeds, and how often. A new plan retires
    the previous lines (active=False) so the history stays."""

    class Basis(models.TextChoices):
        UNITS = "units"
        PROCEEDS = "proceeds"

    class Frequency(models.TextChoices):
        PER_ISSUANCE = "per_issuance"
        QUARTERLY = "quarterly"
        ANNUAL = "annual"

    class BeneficiaryKind(models.TextChoices):
        COMMUNITY = "community"
        FUND = "fund"
        OTHER = "other"

    uid = models.UUIDField(unique=True)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="benefit_shares")
    beneficiary = models.CharField(max_length=200)
    beneficiary_kind = models.CharField(max_length=20, choices=BeneficiaryKind.choices)
    basis = models.CharField(max_length=10, choices=Basis.choices)
    share_basis_points = models.PositiveIntegerField()
    frequency = models.CharField(max_length=20, choices=Frequency.choices)
    account = models.ForeignKey(
        "organisations.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )  # where unit shares are issued to
    currency = models.CharField(max_length=3, blank=True)
    planned_amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)  # per period
    first_due = models.DateField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey("organisations.User", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["project_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(share_basis_points__gt=0, share_basis_points__lte=10000), name="benefit_share_in_range"
            ),
            models.CheckConstraint(
                condition=~Q(basis="units") | Q(account__isnull=False), name="unit_share_has_account"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.beneficiary}: {self.share_basis_points} bp of {self.basis}"


class Disbursement(models.Model):
    """A payment made under a money share, with its evidence."""

    uid = models.UUIDField(unique=True)
    share = models.ForeignKey(BenefitShare, on_delete=models.PROTECT, related_name="disbursements")
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    currency = models.CharField(max_length=3)
    paid_on = models.DateField()
    evidence = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="+")
    recorded_by = models.ForeignKey("organisations.User", on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["paid_on", "id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="disbursement_positive")]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} on {self.paid_on}"


class ConsentRecord(models.Model):
    """Free, prior and informed consent of a community, with its evidence."""

    uid = models.UUIDField(unique=True)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="consents")
    community = models.CharField(max_length=200)
    obtained_on = models.DateField()
    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="+")
    recorded_by = models.ForeignKey("organisations.User", on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["obtained_on", "id"]

    def __str__(self) -> str:
        return f"consent of {self.community}"


class Grievance(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received"
        INVESTIGATING = "investigating"
        RESOLVED = "resolved"
        DISMISSED = "dismissed"

    uid = models.UUIDField(unique=True)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="grievances")
    received_on = models.DateField()
    channel = models.CharField(max_length=100)
    summary = models.TextField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    resolution = models.TextField(blank=True)
    recorded_by = models.ForeignKey("organisations.User", on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_on", "id"]

    def __str__(self) -> str:
        return f"grievance {self.uid} ({self.status})"
