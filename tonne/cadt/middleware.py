"""What a CAD Trust client expects around every /cadt/ answer: CORS for
reading from a browser (CAD Trust's UI runs on another origin), preflight
OPTIONS answered, and CAD Trust's node headers with this registry's values."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

from tonne.cadt import meta

Handler = Callable[[HttpRequest], HttpResponse]
PREFIX = "/cadt/"
# CAD Trust exposes these to browsers (its middleware's headerKeys).
NODE_HEADERS = (
    "x-api-version", "cw-read-only", "x-datamodel-version", "x-governance-body", "x-wallet-synced",
    "x-home-org-synced", "x-data-synced", "x-sync-remaining",
)
ALLOWED_METHODS = "GET, HEAD, OPTIONS"  # the public read API: nothing else is served
ALLOWED_HEADERS = "x-api-key, content-type, authorization"


def _allowed_origin(origin: str) -> str | None:
    allowed = settings.TONNE_CADT_CORS_ORIGINS
    if "*" in allowed:
        return "*"
    return origin if origin in allowed else None


class CadtNodeMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(PREFIX):
            return self.get_response(request)
        origin = request.headers.get("Origin", "")
        if request.method == "OPTIONS":
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            response["Access-Control-Allow-Headers"] = (
                request.headers.get("Access-Control-Request-Headers") or ALLOWED_HEADERS
            )
            response["Access-Control-Max-Age"] = "600"
        else:
            response = self.get_response(request)
            self._node_headers(request, response)
        allowed = _allowed_origin(origin) if origin else None
        if allowed:
            response["Access-Control-Allow-Origin"] = allowed
            response["Access-Control-Expose-Headers"] = ",".join(NODE_HEADERS)
            if allowed != "*":
                patch_vary_headers(response, ("Origin",))
        return response

    @staticmethod
    def _node_headers(request: HttpRequest, response: HttpResponse) -> None:
        remaining = meta.sync_remaining()
        version = "v2" if request.path.startswith(PREFIX + "v2/") else "v1"
        response["Cache-Control"] = "no-store"
        response["x-api-version"] = meta.CADT_VERSION
        response["x-datamodel-version"] = version
        response["cw-read-only"] = "true"
        response["x-governance-body"] = "false"
        response["x-home-org-synced"] = "true"  # the home organisation's data is the registry itself
        response["x-data-synced"] = "true" if remaining == 0 else "false"
        response["x-sync-remaining"] = str(remaining)
        response["x-wallet-synced"] = "true"  # no Chia wallet: nothing waits on one
