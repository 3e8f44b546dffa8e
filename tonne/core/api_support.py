"""What every part of the REST API shares: RFC 9457 problem documents,
pagination with a total count, and ordering whitelists. Who is calling
(sessions and bearer tokens with scopes) belongs to the app that owns users
and tokens: tonne.organisations.api_auth."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import re_path
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views import defaults
from ninja import Field, NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.operation import Operation
from ninja.responses import NinjaJSONEncoder
from pydantic import ConfigDict

from tonne.core import outcomes, refusals
from tonne.core.errors import (
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    Refusals,
    RegistryError,
    ValidationFailed,
)

logger = logging.getLogger("tonne.api")


def _share_response_models() -> None:
    """django-ninja wraps each response type in a new pydantic model for each
    status code of each operation: about a thousand models, most of them the
    problem document's, and most of the server's start-up time. The wrapper
    only names the type (`response: T`), so one model a type serves all."""
    build = Operation._create_response_model
    models: dict[Any, Any] = {}

    def shared(self: Operation, response_param: Any) -> Any:
        try:
            return models[response_param]
        except KeyError:
            model = models[response_param] = build(self, response_param)
            return model
        except TypeError:  # not hashable: built each time, as before
            return build(self, response_param)

    Operation._create_response_model = shared  # type: ignore[method-assign]


_share_response_models()

PROBLEM_CONTENT_TYPE = "application/problem+json"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# -- problem documents -----------------------------------------------------------


def problem(
    status: int, code: str, detail: str, *, title: str | None = None, **extra: Any
) -> HttpResponse:
    if _reader_language() != "en":  # the client asked for another language (Accept-Language)
        detail = refusals.text(RegistryError(code, detail))
    body: dict[str, Any] = {
        "type": f"https://tonne.registry/problems/{code.lower().replace('_', '-')}",
        "title": _reader_title(title or _TITLES.get(status, "Request refused")),
        "status": status,
        "code": code,
        "detail": detail,
    }
    body.update(extra)
    return problem_response(body)


def _reader_language() -> str:
    return (get_language() or "en").split("-")[0]


def json_response(body: Any, status: int = 200) -> HttpResponse:
    """An answer rendered as ninja renders it (its encoder: the same dates as
    every answer) without validating it against its schema again: for answers
    built from rows just written (a move's), on the hottest paths."""
    return HttpResponse(json.dumps(body, cls=NinjaJSONEncoder), status=status, content_type="application/json")


def problem_response(body: dict[str, Any]) -> HttpResponse:
    return HttpResponse(
        json.dumps(body, cls=NinjaJSONEncoder),
        status=int(body["status"]),
        content_type=PROBLEM_CONTENT_TYPE,
    )


_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Permission denied",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    422: "Validation failed",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}
# Every problem title (these and the error classes' own), in the reader's
# language as `detail` is; an unknown title stays as written.
_TITLE_WORDS = {
    "Bad request": _("Bad request"),
    "Authentication required": _("Authentication required"),
    "Permission denied": _("Permission denied"),
    "Not found": _("Not found"),
    "Method not allowed": _("Method not allowed"),
    "Conflict": _("Conflict"),
    "Request too large": _("Request too large"),
    "Validation failed": _("Validation failed"),
    "Too many requests": _("Too many requests"),
    "Internal error": _("Internal error"),
    "Service unavailable": _("Service unavailable"),
    "Request refused": _("Request refused"),
}


def _reader_title(title: str) -> str:
    return str(_TITLE_WORDS.get(title, title))


_HTTP_CODES = {
    400: "REQUEST_MALFORMED",
    401: "NOT_AUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "REQUEST_TOO_LARGE",
    429: "RATE_LIMITED",
}


class ProblemOut(Schema):
    """An RFC 9457 problem document; `code` is stable."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    code: str
    detail: str
    field: str | None = None


# Who records a refused request (the audit trail). The API that installs the
# handlers names it: core sits below the audit app and cannot import it.
DenialRecorder = Callable[[HttpRequest, RegistryError], None]


def reader_problem(exc: RegistryError) -> dict[str, Any]:
    """The refusal's problem document, its title and detail in the reader's language."""
    body = exc.as_problem()
    body["title"] = _reader_title(body["title"])
    if _reader_language() != "en":
        body["detail"] = refusals.text(exc)
        if isinstance(exc, Refusals):
            body["errors"] = [{"code": e.code, "field": e.field, "detail": refusals.text(e)} for e in exc.errors]
    return body


def _registry_error_handler(on_denial: DenialRecorder) -> Callable[[HttpRequest, RegistryError], HttpResponse]:
    def _registry_error(request: HttpRequest, exc: RegistryError) -> HttpResponse:
        if isinstance(exc, PermissionDenied | NotAuthenticated):
            on_denial(request, exc)
        return problem_response(reader_problem(exc))

    return _registry_error


def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    return problem(
        422,
        "REQUEST_INVALID",
        "The request does not match the expected shape; see errors.",
        errors=exc.errors,
    )


def _authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem(401, "NOT_AUTHENTICATED", "Log in, or send Authorization: Bearer <API token>.")


def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 403 and "CSRF" in str(exc):
        return problem(
            403, "CSRF_FAILED", "CSRF check failed: send the X-CSRFToken header with the session."
        )
    code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    return problem(exc.status_code, code, str(exc))


def _not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem(404, "NOT_FOUND", "No such resource.")


def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    return outcomes.unexpected_problem(request, exc, problem)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's handler500: errors raised outside the API's views (in
    middleware, e.g. the rate limiter when the database is down) are
    problem documents under /api/ and /cadt/ too."""
    exc = sys.exc_info()[1]
    if request.path.startswith(("/api/", "/cadt/")) and exc is not None:
        return outcomes.unexpected_problem(request, exc, problem)
    return defaults.server_error(request)


class TonneAPI(NinjaAPI):
    """NinjaAPI whose every answer, including 404 and 405, is JSON."""

    def get_openapi_operation_id(self, operation: Any) -> str:
        module = operation.view_func.__module__.split(".")
        app = module[1] if len(module) > 2 else module[-1]
        return f"{app}_{operation.view_func.__name__}"

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: Any = None) -> Any:
        """What the API really answers: errors are problem documents
        (application/problem+json), and any request may be rate limited (429)."""
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        problem_ref = {"$ref": "#/components/schemas/ProblemOut"}
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                responses.setdefault(429, {
                    "description": "Too many requests, or too many failed authentications from this address",
                    "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}},
                    "content": {"application/problem+json": {"schema": problem_ref}},
                })
                for status, response in responses.items():
                    content = response.get("content", {})
                    if int(status) >= 400 and "application/json" in content:
                        response["content"] = {"application/problem+json": content["application/json"]}
        return schema

    def _get_urls(self) -> list[Any]:
        patterns = super()._get_urls()
        for pattern in patterns:
            callback = getattr(pattern, "callback", None)
            if callback is not None:
                pattern.callback = _problem_405(callback)
        patterns.append(re_path(r"^.*$", _unknown_path, name="unknown-path"))
        return patterns


def _problem_405(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        outcomes.begin_view()
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            out = problem(
                405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed here; use {allowed}."
            )
            out["Allow"] = allowed
            return out
        return response

    return wrapper


def _unknown_path(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return problem(404, "NOT_FOUND", f"No API endpoint at {request.path}.")


_unknown_path.csrf_exempt = True  # type: ignore[attr-defined]


def install_error_handlers(api: NinjaAPI, *, on_denial: DenialRecorder) -> None:
    handlers: list[tuple[type[Exception], Callable[..., HttpResponse]]] = [
        (RegistryError, _registry_error_handler(on_denial)),
        (NinjaValidationError, _validation_error),
        (AuthenticationError, _authentication_error),
        (HttpError, _http_error),
        (Http404, _not_found),
        (Exception, _unexpected),
    ]
    for exception, handler in handlers:
        api.add_exception_handler(exception, handler)


# -- input helpers ----------------------------------------------------------------


class StrictSchema(Schema):
    """Request bodies: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


def require_idempotency_key(key: str | None) -> str:
    key = (key or "").strip()
    if not key:
        raise ValidationFailed(
            "IDEMPOTENCY_KEY_REQUIRED",
            "Requests that move units need an Idempotency-Key header.",
            field="Idempotency-Key",
        )
    return key


# -- pagination and ordering -------------------------------------------------------

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_OFFSET = 10**9
BIG = 2**62  # upper bound for integer parameters that reach 64-bit columns


class Page(Schema, Generic[T]):
    count: int
    limit: int
    offset: int
    items: list[T]


class ListQuery(Schema):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    ordering: str | None = Field(None, description="A field name, '-' prefix for descending.")


def order(qs: QuerySet, ordering: str | None, allowed: dict[str, str], default: str) -> QuerySet:
    """Apply a whitelisted ordering; `allowed` maps public names to ORM paths."""
    wanted = (ordering or default).strip()
    descending = wanted.startswith("-")
    name = wanted.lstrip("-")
    if name not in allowed:
        raise ValidationFailed(
            "ORDERING_INVALID",
            f"ordering must be one of: {', '.join(sorted(allowed))} (prefix '-' for descending).",
            field="ordering",
            details={"allowed": sorted(allowed)},
        )
    path = allowed[name]
    return qs.order_by(f"-{path}" if descending else path, "-pk" if descending else "pk")


def paginate(
    qs: QuerySet,
    query: ListQuery,
    render: Callable[[Any], Any],
    *,
    allowed: dict[str, str],
    default: str,
) -> dict[str, Any]:
    qs = order(qs, query.ordering, allowed, default)
    count = qs.count()
    rows = qs[query.offset : query.offset + query.limit]
    return {
        "count": count,
        "limit": query.limit,
        "offset": query.offset,
        "items": [render(r) for r in rows],
    }


def get_or_404(
    qs: QuerySet, code: str, message: str, *, field: str | None = None, details: dict[str, Any] | None = None,
    **lookup: Any,
) -> Any:
    try:
        return qs.get(**lookup)
    except (qs.model.DoesNotExist, ValueError, TypeError):
        raise NotFound(code, message, field=field, details=details) from None
    except Exception as exc:  # a malformed UUID raises ValidationError
        if isinstance(exc, DjangoValidationError):
            raise NotFound(code, message, field=field, details=details) from None
        raise


ERRORS: dict[int | str, Any] = {
    400: ProblemOut,
    401: ProblemOut,
    403: ProblemOut,
    404: ProblemOut,
    409: ProblemOut,
    422: ProblemOut,
}
