"""Writing the audit log. Every record says who, what, when and from where.

Records are written on the caller's database connection: a record of an
action that rolls back goes with it (the action did not happen); denials and
failed logins are written after the refused work has rolled back."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.http import HttpRequest

from tonne.audit import context, domain
from tonne.audit.models import AuditEvent, KnownDevice
from tonne.core import clock
from tonne.organisations.models import User

log = logging.getLogger("tonne.audit")
Category = AuditEvent.Category


def record(
    category: str,
    action: str,
    *,
    actor: Any = None,
    username: str = "",
    outcome: str = "success",
    target: str = "",
    detail: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    origin = context.origin_of(request) if request is not None else context.current()
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEvent.objects.create(
        at=clock.now(),
        category=category,
        action=action[:120],
        outcome=outcome[:20],
        actor_id=actor.pk if actor is not None else None,
        username=(actor.get_username() if actor is not None else username)[:150],
        organisation_id=getattr(actor, "organisation_id", None) if actor is not None else None,
        ip=origin.ip if origin else None,
        user_agent=origin.user_agent if origin else "",
        method=origin.method if origin else "",
        path=origin.path if origin else "",
        target=target[:200],
        detail=detail or {},
    )


# -- devices -------------------------------------------------------------------------

DEVICE_COOKIE = "tonne_device"


def note_device(request: HttpRequest, user: User) -> bool:
    """Remember the browser a user logged in from; True when it is new to
    them (recorded and emailed). The browser carries a random device id in a
    long-lived cookie, set by the middleware on the way out."""
    device_id = request.COOKIES.get(DEVICE_COOKIE, "")
    if not domain.device_id_acceptable(device_id):
        device_id = secrets.token_urlsafe(24)
    request.tonne_device_id = device_id  # type: ignore[attr-defined]
    now = clock.now()
    origin = context.origin_of(request)
    device, created = KnownDevice.objects.get_or_create(
        user=user,
        fingerprint=domain.device_fingerprint(device_id),
        defaults={"user_agent": origin.user_agent, "first_ip": origin.ip, "first_seen": now, "last_seen": now},
    )
    if not created:
        KnownDevice.objects.filter(pk=device.pk).update(last_seen=now)
        return False
    first_ever = not KnownDevice.objects.filter(user=user).exclude(pk=device.pk).exists()
    record(Category.NEW_DEVICE, "login.new_device", actor=user, request=request, detail={"first_device": first_ever})
    if user.email and not first_ever:
        try:
            subject, message = domain.new_device_notice(
                registry_name=settings.TONNE_REGISTRY_NAME,
                username=user.get_username(),
                at=now,
                ip=origin.ip,
                user_agent=origin.user_agent,
            )
            send_mail(
                subject=subject,
                message=message,
                from_email=settings.DEFAULT_FROM_EMAIL,
                recipient_list=[user.email],
            )
        except OSError:  # no mail server: the audit record stands
            log.warning("could not send the new-device notice to %s", user.get_username())
    return True


def record_denial(request: HttpRequest, exc: Any) -> None:
    """A refused API request (403, or 401 for a bad credential)."""
    user = getattr(request, "auth", None) or getattr(request, "user", None)
    record(
        Category.PERMISSION_DENIED,
        exc.code,
        actor=user,
        outcome="denied",
        target=request.path[:200],
        detail={"status": exc.status, "message": exc.message[:500]},
        request=request,
    )
