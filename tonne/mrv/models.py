"""Monitoring, reporting and verification: the path from claimed to issued."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from tonne.organisations.models import Organisation
from tonne.projects.models import Document, Project


class MonitoringReport(models.Model):
    class Status(models.TextChoices):
        SUBMITTED = "submitted"  # awaiting the VVB
        VERIFIED = "verified"  # awaiting the administrator's issuance decision
        REJECTED = "rejected"  # by the VVB or the administrator
        ISSUED = "issued"
        WITHDRAWN = "withdrawn"

    uid = models.UUIDField(unique=True)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="monitoring_reports")
    number = models.PositiveIntegerField()
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SUBMITTED)
    status_reason = models.TextField(blank=True)
    vvb = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="assigned_reports")
    document = models.ForeignKey(
        Document, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_by = models.ForeignKey("organisations.User", on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField()
    verification_id = models.CharField(max_length=100, blank=True)
    verification_document = models.ForeignKey(
        Document, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verified_by = models.ForeignKey(
        "organisations.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        "organisations.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="report_number_per_project"),
            models.CheckConstraint(condition=Q(period_end__gte=F("period_start")), name="report_period_ordered"),
        ]

    def __str__(self) -> str:
        return f"monitoring report {self.number} of project {self.project_id}"


class ReportVintage(models.Model):
    """Claimed, verified and issued quantities of one vintage of a report."""

    report = models.ForeignKey(MonitoringReport, on_delete=models.CASCADE, related_name="vintages")
    vintage = models.PositiveSmallIntegerField()
    claimed = models.PositiveBigIntegerField()
    verified = models.PositiveBigIntegerField(null=True, blank=True)
    issued = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["vintage"]
        constraints = [
            models.UniqueConstraint(fields=["report", "vintage"], name="one_row_per_report_vintage"),
            models.CheckConstraint(condition=Q(claimed__gt=0), name="claimed_positive"),
            # Issued never exceeds verified, whatever the code above does.
            models.CheckConstraint(
                condition=Q(issued=0) | Q(verified__isnull=False, issued__lte=F("verified")),
                name="issued_le_verified",
            ),
        ]

    def __str__(self) -> str:
        return f"vintage {self.vintage} of report {self.report_id}"
