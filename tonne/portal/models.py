"""The portal's search summary: one row per project, kept in step with the
project, its child records and its issuances (tonne.portal.summary), so that
public search, facet counts and the dashboard's per-project aggregates read
one narrow table instead of joining six."""

from __future__ import annotations

import json
from typing import Any

from django.db import models

from tonne.projects.models import Project


class TokenIdsField(models.Field):
    """A list of FacetToken ids: integer[] on PostgreSQL (GIN-indexed, unnested
    fast for counting), a JSON array in text on SQLite (read with json_each)."""

    def db_type(self, connection: Any) -> str:
        return "integer[]" if connection.vendor == "postgresql" else "text"

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None:
            return None
        ids = [int(v) for v in value]
        return ids if connection.vendor == "postgresql" else json.dumps(ids)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> list[int] | None:
        if value is None:
            return None
        return json.loads(value) if isinstance(value, str) else list(value)


class FacetToken(models.Model):
    """One facet value ("region:Lagunes") and the public projects that have
    it, as a bitmap over project ids (bit n of byte n // 8 is the project with
    id 8 × (n // 8) + n % 8): facet counts are intersections of these bitmaps,
    whatever the size of the registry. Kept by the code that keeps the
    summary rows. "all:" holds every public project; "credit_start_year:…",
    "credit_end_year:…" and "credit_start:none" let the day's crediting
    states be told without reading every project."""

    token = models.CharField(max_length=400, unique=True)
    bits = models.BinaryField(default=b"")

    def __str__(self) -> str:
        return self.token


class ProjectSummary(models.Model):
    project = models.OneToOneField(Project, primary_key=True, on_delete=models.CASCADE, related_name="summary")
    public = models.BooleanField()
    # Copied from the project for sorting and paging without a join.
    number = models.PositiveIntegerField()
    name = models.CharField(max_length=300)
    project_code = models.CharField(max_length=100)  # the project's projectId, e.g. "CI-0001"
    status = models.CharField(max_length=20)
    updated_at = models.DateTimeField()
    crediting_period_start = models.DateField(null=True)
    crediting_period_end = models.DateField(null=True)
    sectoral_scope = models.PositiveSmallIntegerField()
    article6_status = models.CharField(max_length=20)
    # The dashboard counts a project once, under its first location and methodology.
    first_region = models.CharField(max_length=200)
    first_methodology = models.CharField(max_length=100)
    issued = models.BigIntegerField()
    issuances = models.PositiveIntegerField()
    # Name, project id and description, lower-cased, one per line: words are
    # matched inside one of them, never across.
    text = models.TextField()
    # Every facet value the project has, as FacetToken ids ("facet:value",
    # facet names of tonne.portal.selectors.FACETS, and "all:"), sorted;
    # crediting state is not here as it depends on the day.
    tokens = TokenIdsField(default=list)

    class Meta:
        indexes = [
            models.Index(fields=["number"], name="portal_sum_number"),
            models.Index(fields=["name", "number"], name="portal_sum_name"),
            models.Index(fields=["project_code"], name="portal_sum_project_code"),
            models.Index(fields=["status", "number"], name="portal_sum_status"),
            models.Index(fields=["crediting_period_start", "number"], name="portal_sum_crediting"),
            models.Index(fields=["crediting_period_end"], name="portal_sum_crediting_end"),
            models.Index(fields=["-updated_at", "-number"], name="portal_sum_updated"),
        ]

    def __str__(self) -> str:
        return f"summary of {self.project_code}"


class DashboardFigure(models.Model):
    """Per-project figures of the dashboard, summed by one dimension of the
    project ("sector" scope, "article6" status, "region" and "methodology"
    counted under the project's first one: units issued and projects with
    issuances; "status": public projects). Kept with the summary rows."""

    dimension = models.CharField(max_length=20)
    value = models.CharField(max_length=200)
    units = models.BigIntegerField(default=0)
    projects = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dimension", "value"], name="portal_figure_once")]

    def __str__(self) -> str:
        return f"{self.dimension}={self.value}: {self.units} units, {self.projects} projects"
