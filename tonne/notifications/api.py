"""REST endpoints for a person's own notifications and preferences."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema

from tonne.core.api_support import ERRORS, ListQuery, Page, StrictSchema, paginate
from tonne.notifications import domain, links, messages, selectors
from tonne.notifications import services as notifications
from tonne.notifications.models import Notification
from tonne.organisations.api_auth import AUTH, actor

router = Router(tags=["notifications"])


class NotificationOut(Schema):
    uid: uuid.UUID
    event: str
    awaiting: bool
    subject: str
    ref: str
    text: str
    reason: str
    link: str
    created_at: dt.datetime
    read_at: dt.datetime | None


class NotificationQuery(ListQuery):
    unread: bool | None = None


class CountOut(Schema):
    unread: int


class ReadAllOut(Schema):
    marked: int


class PreferencesIn(StrictSchema):
    email: bool
    language: str = ""


class PreferencesOut(Schema):
    email: bool
    language: str


def notification_out(note: Notification) -> dict[str, Any]:
    return {
        "uid": note.uid, "event": note.event, "awaiting": note.event in domain.AWAITING, "subject": note.subject,
        "ref": note.ref, "text": messages.text(note.event, note.params), "reason": messages.reason(note.params),
        "link": links.link(note.subject, note.ref, note.event), "created_at": note.created_at, "read_at": note.read_at,
    }


@router.get("/notifications", response={200: Page[NotificationOut], **ERRORS}, auth=AUTH)
def list_notifications(request: HttpRequest, query: Query[NotificationQuery]):
    """The caller's notifications, newest first (in the request's language)."""
    qs = selectors.notifications_for(actor(request))
    if query.unread is not None:
        qs = qs.filter(read_at__isnull=query.unread)
    return paginate(qs, query, notification_out, allowed={"created_at": "created_at"}, default="-created_at")


@router.get("/notifications/count", response={200: CountOut, **ERRORS}, auth=AUTH)
def count_notifications(request: HttpRequest):
    return {"unread": selectors.unread_count(actor(request))}


@router.post("/notifications/{uuid:uid}/read", response={200: NotificationOut, **ERRORS}, auth=AUTH)
def read_notification(request: HttpRequest, uid: uuid.UUID):
    return notification_out(notifications.mark_read(actor=actor(request), uid=uid))


@router.post("/notifications/read", response={200: ReadAllOut, **ERRORS}, auth=AUTH)
def read_all_notifications(request: HttpRequest):
    return {"marked": notifications.mark_all_read(actor=actor(request))}


@router.get("/notifications/preferences", response={200: PreferencesOut, **ERRORS}, auth=AUTH)
def get_preferences(request: HttpRequest):
    pref = notifications.preferences(actor(request))
    return {"email": pref.email, "language": pref.language}


@router.put("/notifications/preferences", response={200: PreferencesOut, **ERRORS}, auth=AUTH)
def set_preferences(request: HttpRequest, payload: PreferencesIn):
    pref = notifications.set_preferences(actor=actor(request), email=payload.email, language=payload.language)
    return {"email": pref.email, "language": pref.language}
