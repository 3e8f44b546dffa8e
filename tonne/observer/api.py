"""REST endpoints of the observer: what other registries publish, harmonised,
and the double counting found in it (public); imports (the registry administrator)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from django.http import HttpRequest
from ninja import File, Form, Query, Router, Schema, Status, UploadedFile
from pydantic import Field

from tonne.core.api_support import ERRORS, ListQuery, Page, paginate
from tonne.core.errors import NotFound, ValidationFailed
from tonne.observer import selectors, services
from tonne.observer.domain.records import REGISTRIES
from tonne.observer.models import Finding, ObservedImport, ObservedProject
from tonne.organisations.api_auth import AUTH, actor, require_scope, viewer

router = Router(tags=["observer"])

class ImportOut(Schema):
    uid: str
    registry: str
    format: str
    filename: str
    sha256: str
    rows_read: int
    mapped: int
    skipped: int
    created: int
    updated: int
    unchanged: int
    skip_reasons: list[dict[str, Any]]
    warnings: list[str]
    ledger_seq: int | None


def _import_out(batch: ObservedImport) -> dict[str, Any]:
    return {
        "uid": str(batch.uid), "registry": batch.registry, "format": batch.file_format, "filename": batch.filename,
        "sha256": batch.sha256, "rows_read": batch.rows_read, "mapped": batch.mapped, "skipped": batch.skipped,
        "created": batch.created, "updated": batch.updated, "unchanged": batch.unchanged,
        "skip_reasons": batch.report.get("skip_reasons", []), "warnings": batch.report.get("warnings", []),
        "ledger_seq": batch.ledger_seq,
    }


@router.post("/observer/imports", response={201: ImportOut, **ERRORS}, auth=AUTH,
             summary="Import a registry export (CSV or Excel) as it is published")
def import_export(request: HttpRequest, file: File[UploadedFile], registry: Form[str] = "") -> Any:
    """The format is recognised from the header (optionally restricted to one
    registry). The report counts rows read, mapped and skipped (with each
    reason and example rows) and the records created, updated and unchanged."""
    user = actor(request)
    require_scope(request, "admin")
    if registry and registry not in REGISTRIES:
        raise ValidationFailed("OBSERVER_REGISTRY_UNKNOWN", f"registry must be one of: {', '.join(REGISTRIES)}.",
                               field="registry")
    if file.file is None:
        raise ValidationFailed("FIELD_REQUIRED", "Send the export as the file field.", field="file")
    report = services.import_file(actor=user, stream=file.file, filename=file.name or "", registry=registry or None)
    return Status(201, report.as_dict())


@router.get("/observer/imports", response={200: Page[ImportOut], **ERRORS}, auth=AUTH, summary="Imports, newest first")
def list_imports(request: HttpRequest, query: Query[ListQuery]) -> Any:
    qs = selectors.imports(actor=actor(request))
    return paginate(qs, query, _import_out, allowed={"imported_at": "imported_at"}, default="-imported_at")


@router.get("/observer/imports/{uid}", response={200: ImportOut, **ERRORS}, auth=AUTH,
            summary="One import's full report")
def get_import(request: HttpRequest, uid: uuid.UUID) -> Any:
    batch = selectors.import_report(actor=actor(request), uid=str(uid))
    if batch is None:
        raise NotFound("OBSERVER_IMPORT_NOT_FOUND", "No such import.")
    return _import_out(batch)


class FindingOut(Schema):
    kind: str
    registry_a: str
    record_a: str
    registry_b: str
    record_b: str
    series: str
    quantity: str | None
    score: float | None
    evidence: dict[str, Any]
    found_at: str


def _finding_out(f: Finding) -> dict[str, Any]:
    return {"kind": f.kind, "registry_a": f.registry_a, "record_a": f.record_a, "registry_b": f.registry_b,
            "record_b": f.record_b, "series": f.series,
            "quantity": None if f.quantity is None else selectors.amount(f.quantity), "score": f.score,
            "evidence": f.evidence, "found_at": f.found_at.isoformat()}


class FindingQuery(ListQuery):
    kind: Literal["serial_overlap", "retired_twice", "duplicate_project", "issued_in_both", "moved_uncancelled"] | None = None
    registry: str | None = Field(None, max_length=40)


@router.get("/observer/findings", response={200: Page[FindingOut], **ERRORS}, auth=None,
            summary="Double counting and duplicate projects found, with their evidence")
def list_findings(request: HttpRequest, query: Query[FindingQuery]) -> Any:
    viewer(request)
    qs = selectors.findings(kind=query.kind, registry=query.registry)
    return paginate(qs, query, _finding_out, allowed={"quantity": "quantity", "score": "score", "kind": "kind"},
                    default="kind")


class FindingCountsOut(Schema):
    serial_overlap: int
    retired_twice: int
    duplicate_project: int
    issued_in_both: int
    moved_uncancelled: int


class FindIn(Schema):
    name_threshold: float = Field(90.0, ge=50, le=100)


@router.post("/observer/findings/run", response={200: FindingCountsOut, **ERRORS}, auth=AUTH,
             summary="Search everything observed for double counting again")
def run_findings(request: HttpRequest, body: FindIn) -> Any:
    user = actor(request)
    require_scope(request, "admin")
    return services.find_double_counting(actor=user, name_threshold=body.name_threshold).as_dict()


class BalanceOut(Schema):
    registry: str
    project: str
    issued: str
    retired: str
    cancelled: str
    remaining: str
    reported: str | None
    mismatches: list[str]


class ReconcileQuery(Schema):
    registry: str | None = Field(None, max_length=40)
    project: str | None = Field(None, max_length=100)
    mismatches_only: bool = False


@router.get("/observer/reconcile", response={200: list[BalanceOut], **ERRORS}, auth=None,
            summary="Per registry and project: issued = retired + cancelled + remaining, and every mismatch")
def reconcile(request: HttpRequest, query: Query[ReconcileQuery]) -> Any:
    viewer(request)
    balances = selectors.reconcile(registry=query.registry, project=query.project)
    return [b.as_dict() for b in balances if b.mismatches or not query.mismatches_only]


class ObservedProjectOut(Schema):
    registry: str
    registry_name: str
    project_id: str
    name: str
    country: str
    methodology: str
    developer: str
    status: str
    project_type: str
    cross_refs: list[str]
    raw: dict[str, Any]


def _project_out(p: ObservedProject) -> dict[str, Any]:
    return {"registry": p.registry, "registry_name": REGISTRIES.get(p.registry, p.registry), "project_id": p.project_id,
            "name": p.name, "country": p.country, "methodology": p.methodology, "developer": p.developer,
            "status": p.status, "project_type": p.project_type, "cross_refs": p.cross_refs, "raw": p.raw}


class ProjectQuery(ListQuery):
    registry: str | None = Field(None, max_length=40)
    q: str = Field("", max_length=200)


@router.get("/observer/projects", response={200: Page[ObservedProjectOut], **ERRORS}, auth=None,
            summary="Projects of other registries, as they publish them, with their origin")
def list_projects(request: HttpRequest, query: Query[ProjectQuery]) -> Any:
    viewer(request)
    qs = selectors.projects(registry=query.registry, search=query.q)
    return paginate(qs, query, _project_out, allowed={"registry": "registry", "project_id": "project_id"},
                    default="registry")
