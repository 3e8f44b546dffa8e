"""Computed monitoring reports: the registry runs the methodology over the
project's accepted readings and stores, with the report, everything needed
to compute it again — methodology and code version, parameter values, the
inputs per vintage and the Merkle root of the readings they came from."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Sum
from django.db.models.functions import ExtractYear

from tonne.core import clock
from tonne.core.errors import ValidationFailed
from tonne.ledger.merkle import MerkleAccumulator
from tonne.ledger.services import append_entry
from tonne.methodologies import selectors as catalogue
from tonne.methodologies.domain import Methodology, MethodologyError, VintageResult, fmt
from tonne.mrv.domain import parse_date
from tonne.mrv.models import DataSource, MonitoringReport, Reading, ReportComputation
from tonne.mrv.services import submit_report
from tonne.mrv.sources import require_developer
from tonne.organisations.models import User
from tonne.projects import reference
from tonne.projects.models import Project

MICRO = Decimal(1_000_000)


@dataclass(frozen=True)
class Gathered:
    inputs: dict[int, dict[str, Decimal]]
    reading_count: int
    merkle_root: str


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return (dt.datetime.combine(start, dt.time(), dt.UTC),
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC))


def gather(project: Project, methodology: Methodology, start: dt.date, end: dt.date) -> Gathered:
    """Aggregate the period's readings per vintage and input kind (in the
    database: sums over integers in millionths, exact) and hash every reading
    used, ordered by source and time, into one Merkle root."""
    low, high = _bounds(start, end)
    inputs: dict[int, dict[str, Decimal]] = {}
    used: list[int] = []
    for spec in methodology.inputs:
        feeding = list(DataSource.objects.filter(project=project, measurement=spec.kind))
        for source in feeding:
            if source.unit != spec.unit:
                raise ValidationFailed("SOURCE_UNIT_MISMATCH", f"{methodology.key} reads {spec.kind} in {spec.unit}; "
                                       f"source {source.identifier} measures in {source.unit}.", details={"methodology": methodology.key, "unit": spec.unit, "source": source.identifier, "source_unit": source.unit})
        ids = [s.pk for s in feeding]
        used += ids
        in_period = Reading.objects.filter(source_id__in=ids, taken_at__gte=low, taken_at__lt=high)
        if spec.aggregate == "sum":
            rows = in_period.annotate(year=ExtractYear("taken_at")).values("year").annotate(
                total=Sum("quantity_micro"), n=Count("id")).order_by("year")
            for row in rows:
                inputs.setdefault(row["year"], {})[spec.kind] = Decimal(row["total"]) / MICRO
        else:  # the latest reading of each source in the vintage, added over sources
            for year in range(start.year, end.year + 1):
                latest = [in_period.filter(source_id=pk, taken_at__year=year).order_by("-taken_at")
                          .values_list("quantity_micro", flat=True).first() for pk in ids]
                present = [v for v in latest if v is not None]
                if present:
                    inputs.setdefault(year, {})[spec.kind] = Decimal(sum(present)) / MICRO
    for year, values in inputs.items():
        first, last = max(start, dt.date(year, 1, 1)), min(end, dt.date(year, 12, 31))
        values["_days"] = Decimal((last - first).days + 1)
        values["_year_days"] = Decimal(366 if calendar.isleap(year) else 365)
    acc = MerkleAccumulator()
    leaves = (Reading.objects.filter(source_id__in=sorted(set(used)), taken_at__gte=low, taken_at__lt=high)
              .order_by("source_id", "taken_at").values_list("leaf_hash", flat=True))
    for leaf in leaves.iterator(chunk_size=20000):
        acc.append(bytes.fromhex(leaf))
    return Gathered(inputs=inputs, reading_count=acc.size, merkle_root=acc.root().hex())


def _facts(project: Project) -> dict[str, Decimal]:
    return {"buffer_basis_points": Decimal(project.buffer_basis_points)}


def _result_json(result: VintageResult) -> dict[str, Any]:
    return {"exact": fmt(result.exact), "uncertainty_deduction": fmt(result.uncertainty_deduction),
            "quantity": result.quantity, "steps": [list(s) for s in result.steps]}


def _methodology(code: str, version: str) -> Methodology:
    try:
        return catalogue.get(code, version)
    except MethodologyError as exc:
        raise ValidationFailed(exc.code, exc.message, field="methodology") from None


@transaction.atomic
def compute_report(
    *, actor: User, project: Project, methodology: str, version: str, period_start: Any, period_end: Any, vvb: str,
    parameters: dict[str, Any] | None = None, document: Any = None,
) -> MonitoringReport:
    """The developer picks a methodology version and a period; the registry
    computes the quantity per vintage and submits the report with it."""
    method = _methodology(methodology, version)
    reference.check_for_new_report(method.code, method.version)
    require_developer(actor, project)
    start, end = parse_date(period_start, "period_start"), parse_date(period_end, "period_end")
    if end < start:
        raise ValidationFailed("PERIOD_INVALID", "The monitoring period ends before it starts.", field="period_end")
    try:
        values = method.parameter_values(parameters)
        gathered = gather(project, method, start, end)
        if not gathered.inputs:
            raise MethodologyError("NO_READINGS", f"No accepted readings feed {method.key} in this period.",
                                   details={"methodology": method.key})
        results = method.compute(gathered.inputs, values, _facts(project))
    except MethodologyError as exc:
        raise ValidationFailed(exc.code, exc.message, details=exc.details) from None
    claimed = {r.vintage: r.quantity for r in results if r.quantity > 0}
    if not claimed:
        raise ValidationFailed("NOTHING_COMPUTED", "The methodology gives less than one tonne for every vintage.")
    report = submit_report(actor=actor, project=project, period_start=start, period_end=end,
                           vintages=[{"vintage": v, "quantity": q} for v, q in sorted(claimed.items())], vvb=vvb,
                           document=document)
    computation = ReportComputation.objects.create(
        report=report, methodology_code=method.code, methodology_version=method.version,
        code_version=method.code_version(), parameters={k: fmt(v) for k, v in values.items()},
        facts={k: fmt(v) for k, v in _facts(project).items()},
        inputs={str(y): {k: fmt(v) for k, v in kinds.items()} for y, kinds in gathered.inputs.items()},
        results={str(r.vintage): _result_json(r) for r in results}, reading_count=gathered.reading_count,
        inputs_merkle_root=gathered.merkle_root, computed_at=clock.now(),
    )
    append_entry(
        kind="mrv.report_computed",
        actor=actor,
        data={"report": str(report.uid), "project": project.project_id, "methodology": method.key,
              "code_version": computation.code_version, "parameters": computation.parameters,
              "inputs_merkle_root": gathered.merkle_root, "reading_count": gathered.reading_count,
              "computed": [[v, q] for v, q in sorted(claimed.items())]},
    )
    return report


@dataclass(frozen=True)
class Recomputation:
    matches: bool
    inputs_match: bool
    code_matches: bool
    stored: dict[int, int]
    recomputed: dict[int, int]
    stored_root: str
    recomputed_root: str
    reading_count: int


def recompute(report: MonitoringReport) -> Recomputation:
    """Run the stored methodology version over the stored parameters and the
    readings again; say whether the quantities and the inputs' root match."""
    try:
        computation = ReportComputation.objects.select_related("report__project").get(report=report)
    except ReportComputation.DoesNotExist:
        raise ValidationFailed("REPORT_NOT_COMPUTED", "This monitoring report was claimed, not computed.") from None
    method = _methodology(computation.methodology_code, computation.methodology_version)
    values = {k: Decimal(v) for k, v in computation.parameters.items()}
    facts = {k: Decimal(v) for k, v in computation.facts.items()}
    gathered = gather(report.project, method, report.period_start, report.period_end)
    results = method.compute(gathered.inputs, values, facts) if gathered.inputs else []
    stored = {int(v): int(r["quantity"]) for v, r in computation.results.items()}
    again = {r.vintage: r.quantity for r in results}
    inputs_match = gathered.merkle_root == computation.inputs_merkle_root
    return Recomputation(
        matches=inputs_match and stored == again, inputs_match=inputs_match,
        code_matches=method.code_version() == computation.code_version, stored=stored, recomputed=again,
        stored_root=computation.inputs_merkle_root, recomputed_root=gathered.merkle_root,
        reading_count=gathered.reading_count,
    )
