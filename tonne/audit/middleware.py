"""Keeps the request's origin at hand for audit records, records every
administrative write (API and /admin/), and gives browsers their device id."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from tonne.audit import context
from tonne.audit.models import AuditEvent
from tonne.audit.services import record
from tonne.organisations.models import User
from tonne.organisations.services import is_registry_administrator

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEVICE_COOKIE_DAYS = 400


class AuditMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = context.set_current(context.origin_of(request))
        try:
            response = self.get_response(request)
            if request.method in UNSAFE:
                self._administrative_write(request, response)
        finally:
            context.reset(token)
        device_id = getattr(request, "tonne_device_id", None)
        if device_id:
            response.set_cookie(
                "tonne_device",
                device_id,
                max_age=DEVICE_COOKIE_DAYS * 86400,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response

    @staticmethod
    def _administrative_write(request: HttpRequest, response: HttpResponse) -> None:
        user = getattr(request, "auth", None)  # the API's caller (session or token)
        if not isinstance(user, User):
            user = getattr(request, "user", None)
        if not isinstance(user, User) or not user.is_authenticated:
            return
        on_admin_site = request.path.startswith("/admin/")
        if not (on_admin_site or (request.path.startswith("/api/") and is_registry_administrator(user))):
            return
        record(
            AuditEvent.Category.ADMIN_ACTION,
            f"{request.method} {request.resolver_match.route if request.resolver_match else request.path}"[:120],
            actor=user,
            outcome="success" if response.status_code < 400 else f"http_{response.status_code}",
            target=request.path[:200],
            detail={"status": response.status_code},
        )
