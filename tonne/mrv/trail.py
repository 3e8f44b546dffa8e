"""The public trail from a unit to its evidence: issuance → verification →
monitoring report → methodology version and parameters → the readings'
Merkle root and the readings (or their aggregates where the project keeps
raw data confidential) → data sources and their calibration documents."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Min, Sum

from tonne.methodologies import selectors as catalogue
from tonne.methodologies.domain import MethodologyError
from tonne.mrv.computation import MICRO
from tonne.mrv.models import (
    Anomaly,
    DataSource,
    MonitoringReport,
    Reading,
    ReadingBatch,
    ReportComputation,
)
from tonne.projects.models import Project
from tonne.units.models import Issuance, Transaction

READINGS_SHOWN = 50


def _period(report: MonitoringReport) -> tuple[dt.datetime, dt.datetime]:
    return (dt.datetime.combine(report.period_start, dt.time(), dt.UTC),
            dt.datetime.combine(report.period_end + dt.timedelta(days=1), dt.time(), dt.UTC))


def methodology_card(code: str, version: str, values: dict[str, str] | None = None) -> dict[str, Any]:
    try:
        method = catalogue.get(code, version)
    except MethodologyError:
        return {"code": code, "version": version, "title": "", "reference": "", "parameters": []}
    params = []
    for p in method.parameters:
        used = (values or {}).get(p.name)
        params.append({"name": p.name, "default": format(p.value, "f"), "value": used if used is not None else format(p.value, "f"),
                       "overridden": used is not None and Decimal(used) != p.value, "unit": p.unit, "source": p.source,
                       "description": p.description})
    return {"code": method.code, "version": method.version, "title": method.title, "kind": method.kind,
            "reference": method.reference, "parameters": params,
            "inputs": [{"kind": i.kind, "unit": i.unit, "aggregate": i.aggregate, "description": i.description,
                        "required": i.required} for i in method.inputs]}


def source_card(source: DataSource, low: dt.datetime | None = None, high: dt.datetime | None = None,
                *, with_readings: bool = True) -> dict[str, Any]:
    readings = Reading.objects.filter(source=source)
    if low is not None and high is not None:
        readings = readings.filter(taken_at__gte=low, taken_at__lt=high)
    agg = readings.aggregate(n=Count("id"), total=Sum("quantity_micro"), first=Min("taken_at"), last=Max("taken_at"))
    shown = []
    if with_readings and not source.raw_confidential:
        shown = [{"id": r.reading_id, "taken_at": r.taken_at, "quantity": r.quantity, "uncertainty": r.uncertainty or None,
                  "signature": r.signature, "leaf_hash": r.leaf_hash, "batch": str(r.batch.uid)}
                 for r in readings.select_related("batch").order_by("taken_at")[:READINGS_SHOWN]]
    return {
        "uid": str(source.uid), "identifier": source.identifier, "kind": source.kind, "measurement": source.measurement,
        "unit": source.unit, "location": source.location, "public_key": source.public_key,
        "raw_confidential": source.raw_confidential,
        "calibrations": [{"document": str(c.document.uid), "title": c.document.title, "sha256": c.document.sha256,
                          "public": c.document.is_public, "valid_from": c.valid_from, "valid_until": c.valid_until}
                         for c in source.calibrations.select_related("document")],
        "aggregate": {"count": agg["n"], "total": str(Decimal(agg["total"] or 0) / MICRO), "first": agg["first"],
                      "last": agg["last"]},
        "readings": shown,
        "anomalies": dict(Anomaly.objects.filter(source=source).values_list("code").annotate(n=Count("id")).order_by()),
    }


def report_trail(report: MonitoringReport) -> dict[str, Any]:
    vintages = [{"vintage": v.vintage, "claimed": v.claimed, "verified": v.verified, "issued": v.issued}
                for v in report.vintages.all()]
    out: dict[str, Any] = {
        "report": {"uid": str(report.uid), "number": report.number, "period_start": report.period_start,
                   "period_end": report.period_end, "status": report.status, "vintages": vintages,
                   "document_sha256": report.document.sha256 if report.document else None},
        "verification": {
            "vvb": report.vvb.name, "verified_by": report.verified_by.username if report.verified_by else None,
            "verified_at": report.verified_at, "verification_id": report.verification_id,
            "document_sha256": report.verification_document.sha256 if report.verification_document else None,
        },
        "computation": None,
    }
    computation = ReportComputation.objects.filter(report=report).first()
    if computation is None:
        return out
    method = methodology_card(computation.methodology_code, computation.methodology_version, computation.parameters)
    low, high = _period(report)
    measured = [i["kind"] for i in method.get("inputs", [])]
    sources = DataSource.objects.filter(project=report.project_id, measurement__in=measured).order_by("identifier")
    batches = ReadingBatch.objects.filter(readings__source__in=sources, readings__taken_at__gte=low,
                                          readings__taken_at__lt=high).distinct().order_by("ledger_seq")
    out["computation"] = {
        "methodology": method, "code_version": computation.code_version, "computed_at": computation.computed_at,
        "inputs": computation.inputs, "results": computation.results, "reading_count": computation.reading_count,
        "inputs_merkle_root": computation.inputs_merkle_root, "adjustment_reason": computation.adjustment_reason,
        "batches": [{"uid": str(b.uid), "merkle_root": b.merkle_root, "ledger_seq": b.ledger_seq, "count": b.count}
                    for b in batches[:100]],
        "sources": [source_card(s, low, high) for s in sources],
    }
    return out


def issuance_trail(issuance: Issuance) -> dict[str, Any]:
    report = MonitoringReport.objects.select_related("vvb", "verified_by", "document", "verification_document", "project").get(
        pk=issuance.report_id)
    return {
        "issuance": {"uid": str(issuance.uid), "number": issuance.number, "vintage": issuance.vintage,
                     "quantity": issuance.quantity, "buffer_quantity": issuance.buffer_quantity,
                     "issued_at": issuance.issued_at, "approved_by": issuance.approved_by.username,
                     "project_id": report.project.project_id, "project_name": report.project.name},
        **report_trail(report),
    }


def units_allocated(project: Project) -> dict[int, int]:
    """Units issued straight into each unit share's beneficiary account."""
    out = {}
    for share in project.benefit_shares.filter(active=True, basis="units"):
        out[share.pk] = Transaction.objects.filter(
            project=project, kind=Transaction.Kind.ISSUANCE, to_account_id=share.account_id, status="completed"
        ).aggregate(n=Sum("quantity"))["n"] or 0
    return out
