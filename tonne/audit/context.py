"""Where the current request came from, for audit records written deep in
service code that has no request at hand."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest


@dataclass(frozen=True)
class Origin:
    ip: str | None
    user_agent: str
    method: str
    path: str


_current: contextvars.ContextVar[Origin | None] = contextvars.ContextVar("tonne_audit_origin", default=None)


def client_ip(request: HttpRequest) -> str | None:
    if settings.TONNE_USE_X_FORWARDED_FOR:
        # Behind a reverse proxy the operator trusts: its last hop is the client.
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR") or None


def origin_of(request: HttpRequest) -> Origin:
    return Origin(
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        method=request.method or "",
        path=request.path[:300],
    )


def set_current(origin: Origin | None) -> contextvars.Token:
    return _current.set(origin)


def reset(token: contextvars.Token) -> None:
    _current.reset(token)


def current() -> Origin | None:
    return _current.get()
