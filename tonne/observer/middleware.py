"""Observer mode (TONNE_MODE=observer): the same software as a read-only node.

It holds no units of its own: every request that would change the registry
(issue, transfer, retire, register, …) is refused with one stable code; only
signing in, the observer's own imports and finding runs stay open. The
portal's home, dashboard and project lists show the observed registries
(tonne.portal.observed)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from tonne.core import refusals
from tonne.core.api_support import problem_response, reader_problem
from tonne.core.errors import RegistryError

Handler = Callable[[HttpRequest], HttpResponse]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Writes an observer still takes: signing in and out, language, its imports and finding runs.
OPEN_PATHS = ("/accounts/", "/i18n/", "/observer/upload/", "/api/v1/observer/")
REFUSAL = RegistryError(
    "OBSERVER_MODE_READ_ONLY",
    "This installation is an observer: it shows what other registries publish and changes no units or projects.",
    status=403,
)


def observer_mode() -> bool:
    return getattr(settings, "TONNE_MODE", "registry") == "observer"


class ObserverModeMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not observer_mode():
            return self.get_response(request)
        if request.method in SAFE_METHODS or request.path.startswith(OPEN_PATHS):
            return self.get_response(request)
        if request.path.startswith(("/api/", "/cadt/")):
            return problem_response(reader_problem(REFUSAL))
        html = render_to_string("observer/read_only.html", {"code": REFUSAL.code, "message": refusals.text(REFUSAL)},
                                request=request)
        return HttpResponse(html, status=403)
