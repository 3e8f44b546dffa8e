"""Logins, failed logins and logouts, from Django's authentication signals."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.http import HttpRequest

from tonne.audit.models import AuditEvent
from tonne.audit.services import note_device, record
from tonne.organisations.models import User


def _logged_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    record(AuditEvent.Category.LOGIN, "login", actor=user, request=request)
    if request is not None:
        note_device(request, user)


def _login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any) -> None:
    # Django masks secrets in `credentials`; keep only the name tried.
    username = str(credentials.get("username") or credentials.get("login") or "")[:150]
    record(AuditEvent.Category.LOGIN_FAILED, "login", username=username, outcome="failure", request=request)


def _logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record(AuditEvent.Category.LOGOUT, "logout", actor=user, request=request)


def connect() -> None:
    user_logged_in.connect(_logged_in, dispatch_uid="tonne.audit.login")
    user_login_failed.connect(_login_failed, dispatch_uid="tonne.audit.login_failed")
    user_logged_out.connect(_logged_out, dispatch_uid="tonne.audit.logout")
