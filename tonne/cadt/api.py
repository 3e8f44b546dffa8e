"""REST endpoints for CAD Trust files: export (public data, anyone) and
import (the registry administrator)."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import File, Form, Query, Router, Schema, Status, UploadedFile
from pydantic import Field

from tonne.access.policy import require_step_up
from tonne.cadt import selectors, services
from tonne.core.api_support import ERRORS
from tonne.organisations.api_auth import AUTH, actor, require_scope, viewer

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


# -- push sync and webhooks (the registry administrator) -----------------------------------


def _administrator(request: HttpRequest, scope: str) -> Any:
    from tonne.organisations.services import require_registry_administrator

    user = actor(request)
    require_scope(request, scope)
    require_registry_administrator(user)
    return user


class SyncDeliveryOut(Schema):
    from_seq: int
    to_seq: int
    status: str
    records: int
    error: str
    started_at: str
    finished_at: str


class SyncNodeOut(Schema):
    name: str
    url: str
    enabled: bool
    cursor: int
    ledger_size: int
    pending_entries: int
    lag_seconds: float
    attempts: int
    next_attempt_at: str | None
    last_error: str
    last_attempt_at: str | None
    last_success_at: str | None
    recent: list[SyncDeliveryOut]


@router.get("/cadt/sync", response={200: list[SyncNodeOut], **ERRORS}, auth=AUTH, summary="Push sync status per CAD Trust node")
def sync_status(request: HttpRequest) -> Any:
    """Per node: the ledger cursor delivered up to, entries pending, the age of the
    oldest undelivered change, failures in a row, the last error and recent deliveries."""
    from tonne.cadt import sync

    _administrator(request, "read")
    return sync.status()


class SyncNodeIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    url: str = Field(..., max_length=500)
    api_key: str = Field("", max_length=300)
    from_start: bool = Field(False, description="send the whole registry, not only changes from now on")


@router.post("/cadt/sync/nodes", response={201: SyncNodeOut, **ERRORS}, auth=AUTH, summary="Add a CAD Trust node to push to")
def add_sync_node(request: HttpRequest, body: SyncNodeIn) -> Any:
    from tonne.cadt import sync

    user = _administrator(request, "admin")
    require_step_up(request, user)  # where the registry's data goes: a recent second factor
    dest = sync.add_destination(actor=user, name=body.name, url=body.url, api_key=body.api_key, from_start=body.from_start)
    return Status(201, next(s for s in sync.status() if s["name"] == dest.name))


class WebhookIn(Schema):
    url: str = Field(..., max_length=500)
    secret: str = Field("", max_length=200, description="at least 16 characters; made for you when empty")
    events: list[str] = Field(default_factory=list, description="ledger entry kinds, or prefixes ending in '.'; empty = all")
    from_start: bool = False


class WebhookOut(Schema):
    uid: str
    url: str
    events: list[str]
    active: bool
    cursor: int
    pending: int
    failed: int
    created_at: str


class WebhookCreatedOut(WebhookOut):
    secret: str  # shown once


def _webhook_out(sub: Any) -> dict[str, Any]:
    from tonne.cadt.models import WebhookDelivery

    return {
        "uid": str(sub.uid), "url": sub.url, "events": sub.events, "active": sub.active, "cursor": sub.cursor,
        "pending": sub.deliveries.filter(status=WebhookDelivery.Status.PENDING).count(),
        "failed": sub.deliveries.filter(status=WebhookDelivery.Status.FAILED).count(),
        "created_at": sub.created_at.isoformat(),
    }


@router.get("/cadt/webhooks", response={200: list[WebhookOut], **ERRORS}, auth=AUTH, summary="Webhook subscriptions")
def list_webhooks(request: HttpRequest) -> Any:
    from tonne.cadt.models import WebhookSubscription

    _administrator(request, "read")
    return [_webhook_out(s) for s in WebhookSubscription.objects.all()]


@router.post("/cadt/webhooks", response={201: WebhookCreatedOut, **ERRORS}, auth=AUTH, summary="Subscribe a URL to events")
def create_webhook(request: HttpRequest, body: WebhookIn) -> Any:
    """Events are POSTed as JSON with `X-Tonne-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
    in ledger order, retried with backoff; the secret is shown once."""
    from tonne.cadt import webhooks

    user = _administrator(request, "admin")
    require_step_up(request, user)  # where the registry's events go: a recent second factor
    sub = webhooks.subscribe(actor=user, url=body.url, secret=body.secret, events=body.events, from_start=body.from_start)
    return Status(201, {**_webhook_out(sub), "secret": sub.secret})


@router.delete("/cadt/webhooks/{uid}", response={204: None, **ERRORS}, auth=AUTH, summary="Stop a webhook subscription")
def delete_webhook(request: HttpRequest, uid: str) -> Any:
    from tonne.cadt import webhooks

    user = _administrator(request, "admin")
    webhooks.unsubscribe(actor=user, subscription=uid)
    return Status(204, None)


class WebhookDeliveryOut(Schema):
    event_id: str
    seq: int
    kind: str
    status: str
    attempts: int
    response_status: int | None
    last_error: str
    next_attempt_at: Any
    delivered_at: Any
    created_at: Any


@router.get("/cadt/webhooks/{uid}/deliveries", response={200: list[WebhookDeliveryOut], **ERRORS}, auth=AUTH,
            summary="A subscription's delivery log")
def webhook_deliveries(request: HttpRequest, uid: str) -> Any:
    from tonne.cadt import webhooks
    from tonne.cadt.models import WebhookSubscription
    from tonne.core.api_support import get_or_404

    _administrator(request, "read")
    sub = get_or_404(WebhookSubscription.objects.all(), "WEBHOOK_NOT_FOUND", "No such webhook subscription.", uid=uid)
    return webhooks.delivery_log(sub)
