"""REST endpoints for CAD Trust files: export (public data, anyone) and
import (the registry administrator)."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import File, Form, Query, Router, Schema, Status, UploadedFile
from pydantic import Field

from tonne.cadt import selectors, services
from tonne.core.api_support import AUTH, ERRORS, actor, require_scope, viewer

router = Router(tags=["cadt"])


class ExportQuery(Schema):
    model: Literal["1", "2"] = Field("2", description="CAD Trust data model version")
    format: Literal["json", "csv", "xlsx"] = Field("json", description="csv is a zip of one CSV per sheet")
    since: int | None = Field(None, ge=0, le=2**62, description="only changes since this cursor (from X-Tonne-Cursor)")
    table: str | None = Field(None, description="one v2 table (e.g. unit); with csv, a single CSV file")


@router.get(
    "/cadt/export",
    response={200: Any, **ERRORS},
    auth=None,
    summary="Export this registry's data in the CAD Trust layout",
    openapi_extra={"responses": {200: {"description": "The file; X-Tonne-Cursor is the cursor for the next incremental export", "content": {
        "application/json": {}, "application/zip": {}, selectors.CONTENT_TYPES["xlsx"]: {}}}}},
)
def export(request: HttpRequest, query: Query[ExportQuery]) -> HttpResponse:
    """Projects past draft with their child records, issuances and unit blocks
    (one CAD Trust unit per block), plus records imported from other
    registries. Full, or the changes since a cursor."""
    viewer(request)
    doc, cursor = selectors.export_document(query.model, since=query.since)
    content = selectors.render(query.model, query.format, doc, table=query.table)
    content_type = selectors.CONTENT_TYPES[query.format]
    if query.table and query.format == "csv":
        content_type = "text/csv; charset=utf-8"
    response = HttpResponse(content, content_type=content_type)
    name = selectors.export_filename(query.model, query.format, query.table)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Tonne-Cursor"] = str(cursor)
    return response


class ImportReportOut(Schema):
    version: str
    format: str
    sha256: str
    created: int
    updated: int
    unchanged: int
    own: int
    warnings: list[dict[str, Any]]
    batch: str | None
    ledger_seq: int | None


@router.post(
    "/cadt/import",
    response={200: ImportReportOut, 201: ImportReportOut, **ERRORS},
    auth=AUTH,
    summary="Import a CAD Trust v1/v2 file (JSON, CSV or Excel)",
)
def import_file(
    request: HttpRequest,
    file: File[UploadedFile],
    table: Form[str] = "",
    dry_run: Form[bool] = False,
) -> Any:
    """All or nothing: a refused file changes nothing, and the problem's
    `details.errors` names each bad row, field and reason (stable codes);
    `details.double_counting` names both sides of each overlapping serial
    range. 201 when something changed, 200 when the file was already known."""
    user = actor(request)
    require_scope(request, "admin")
    report = services.import_file(
        actor=user, content=file.read(), filename=file.name or "", table=table or None, dry_run=dry_run
    )
    return Status(201 if report.changed and not dry_run else 200, report.as_dict())
