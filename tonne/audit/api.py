"""The audit log over HTTP: search and CSV export, for the registry administrator."""

from __future__ import annotations

import csv
import datetime as dt
import ipaddress
import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema

from tonne.audit import selectors
from tonne.audit.models import AuditEvent
from tonne.audit.services import record
from tonne.core.api_support import ERRORS, ListQuery, Page, paginate
from tonne.core.errors import ValidationFailed
from tonne.core.spreadsheets import safe_row
from tonne.organisations.api_auth import AUTH, actor, require_scope
from tonne.organisations.models import ApiToken

router = Router(tags=["audit"])
EXPORT_MAX_ROWS = 100_000


class AuditEventOut(Schema):
    id: int
    at: dt.datetime
    category: str
    action: str
    outcome: str
    actor_id: int | None
    username: str
    organisation_id: int | None
    ip: str | None
    user_agent: str
    method: str
    path: str
    target: str
    detail: dict[str, Any]


class AuditFilter(Schema):
    category: str | None = Field(None, description="One of: " + ", ".join(AuditEvent.Category.values))
    username: str | None = Field(None, max_length=150)
    outcome: str | None = Field(None, max_length=20)
    ip: str | None = Field(None, max_length=45)
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    q: str | None = Field(None, max_length=100, description="Text in the action, target or path.")


class AuditQuery(ListQuery, AuditFilter):
    pass


def _events(request: HttpRequest, query: AuditFilter) -> Any:
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    if query.category and query.category not in AuditEvent.Category.values:
        raise ValidationFailed(
            "AUDIT_CATEGORY_INVALID",
            f"category must be one of: {', '.join(AuditEvent.Category.values)}.",
            field="category",
            details={"allowed": list(AuditEvent.Category.values)},
        )
    if query.ip:
        try:
            ipaddress.ip_address(query.ip)
        except ValueError:
            raise ValidationFailed("IP_ADDRESS_INVALID", f"{query.ip!r} is not an IP address.", field="ip", details={"text": repr(query.ip)}) from None
    return selectors.events_for(
        user,
        category=query.category,
        username=query.username,
        outcome=query.outcome,
        ip=query.ip,
        since=query.since,
        until=query.until,
        text=query.q,
    )


def event_out(event: AuditEvent) -> dict[str, Any]:
    return {f: getattr(event, f) for f in AuditEventOut.model_fields}


@router.get("/audit/events", response={200: Page[AuditEventOut], **ERRORS}, auth=AUTH)
def list_events(request: HttpRequest, query: Query[AuditQuery]):
    """Search the audit log (registry administrator)."""
    qs = _events(request, query)
    return paginate(qs, query, event_out, allowed={"at": "at", "id": "id"}, default="-at")


COLUMNS = list(AuditEventOut.model_fields)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value.isoformat() if isinstance(value, dt.datetime) else str(value)


@router.get(
    "/audit/events.csv",
    response={200: str, **ERRORS},
    auth=AUTH,
    openapi_extra={"responses": {200: {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}}},
)
def export_events(request: HttpRequest, query: Query[AuditFilter]):
    """The matching audit records as CSV (registry administrator); the export is itself recorded."""
    qs = _events(request, query).order_by("at", "id")[:EXPORT_MAX_ROWS]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="tonne-audit.csv"'
    writer = csv.writer(response)
    writer.writerow(COLUMNS)
    count = 0
    for event in qs.iterator():
        writer.writerow(safe_row(_cell(getattr(event, c)) for c in COLUMNS))
        count += 1
    record(
        AuditEvent.Category.AUDIT_EXPORT,
        "audit.export",
        actor=actor(request),
        detail={"rows": count, "filter": query.model_dump(mode="json", exclude_none=True)},
    )
    return response
