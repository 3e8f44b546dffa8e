"""The monitoring review queue (registry administrator only: alerts are not
shown to the holders they concern)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from tonne.aml import selectors
from tonne.aml import services as aml
from tonne.aml.models import AmlAlert
from tonne.core.api_support import ERRORS, ListQuery, Page, StrictSchema, paginate
from tonne.organisations.api_auth import AUTH, actor, require_scope
from tonne.organisations.models import ApiToken
from tonne.organisations.services import require_registry_administrator

router = Router(tags=["aml"])


class AlertOut(Schema):
    id: int
    rule: str
    status: str
    account: str | None
    transaction: str | None
    issuance: str | None
    detail: dict[str, Any]
    hold: bool
    created_at: dt.datetime
    decided_at: dt.datetime | None
    note: str


class AlertQuery(ListQuery):
    status: str | None = Field(None, description="open, dismissed or confirmed")
    rule: str | None = None


class DecisionIn(StrictSchema):
    status: str = Field(..., description="dismissed or confirmed")
    note: str = Field(..., max_length=2000)


class ReleaseIn(StrictSchema):
    note: str = Field(..., max_length=2000)


def alert_out(alert: AmlAlert) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "rule": alert.rule,
        "status": alert.status,
        "account": alert.account.identifier if alert.account else None,
        "transaction": alert.transaction.identifier if alert.transaction else None,
        "issuance": str(alert.issuance.uid) if alert.issuance else None,
        "detail": alert.detail,
        "hold": alert.hold,
        "created_at": alert.created_at,
        "decided_at": alert.decided_at,
        "note": alert.note,
    }


@router.get("/aml/alerts", response={200: Page[AlertOut], **ERRORS}, auth=AUTH)
def list_alerts(request: HttpRequest, query: Query[AlertQuery]):
    """Monitoring alerts, newest first (registry administrator)."""
    require_registry_administrator(actor(request))
    qs = selectors.alerts(status=query.status, rule=query.rule)
    return paginate(qs, query, alert_out, allowed={"created_at": "created_at"}, default="-created_at")


@router.post("/aml/alerts/{int:alert_id}/decide", response={200: AlertOut, **ERRORS}, auth=AUTH)
def decide_alert(request: HttpRequest, alert_id: int, payload: DecisionIn):
    """Dismiss an alert (its hold goes) or confirm it (the hold stays)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    alert = aml.decide(actor=user, alert_id=alert_id, status=payload.status, note=payload.note)
    return alert_out(selectors.alert(alert.pk))


@router.post("/aml/alerts/{int:alert_id}/release", response={200: AlertOut, **ERRORS}, auth=AUTH)
def release_hold(request: HttpRequest, alert_id: int, payload: ReleaseIn):
    """Let units leave the account again, whatever the alert's review says."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    alert = aml.release_hold(actor=user, alert_id=alert_id, note=payload.note)
    return alert_out(selectors.alert(alert.pk))
