"""Reading the audit log: the registry administrator only."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from tonne.audit.models import AuditEvent
from tonne.organisations.models import User
from tonne.organisations.services import require_registry_administrator


def events_for(
    user: User,
    *,
    category: str | None = None,
    username: str | None = None,
    outcome: str | None = None,
    ip: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    text: str | None = None,
) -> QuerySet[AuditEvent]:
    require_registry_administrator(user)
    qs = AuditEvent.objects.all()
    if category:
        qs = qs.filter(category=category)
    if username:
        qs = qs.filter(username__iexact=username)
    if outcome:
        qs = qs.filter(outcome=outcome)
    if ip:
        qs = qs.filter(ip=ip)
    if since:
        qs = qs.filter(at__gte=since)
    if until:
        qs = qs.filter(at__lt=until)
    if text:
        qs = qs.filter(Q(action__icontains=text) | Q(target__icontains=text) | Q(path__icontains=text))
    return qs
