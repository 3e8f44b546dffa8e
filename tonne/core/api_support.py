"""What every part of the REST API shares: authentication (sessions and
bearer tokens with scopes), RFC 9457 problem documents, pagination with a
total count, and ordering whitelists."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from ninja import Field, NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.responses import NinjaJSONEncoder
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf
from pydantic import ConfigDict

from tonne.core.errors import NotAuthenticated, PermissionDenied, RegistryError, ValidationFailed
from tonne.organisations.models import ApiToken, User

logger = logging.getLogger("tonne.api")

PROBLEM_CONTENT_TYPE = "application/problem+json"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SCOPE_RANK: dict[str, int] = {ApiToken.Scope.READ: 0, ApiToken.Scope.TRADE: 1, ApiToken.Scope.ADMIN: 2}

# -- problem documents -----------------------------------------------------------


def problem(
    status: int, code: str, detail: str, *, title: str | None = None, **extra: Any
) -> HttpResponse:
    body: dict[str, Any] = {
        "type": f"https://tonne.registry/problems/{code.lower().replace('_', '-')}",
        "title": title or _TITLES.get(status, "Request refused"),
        "status": status,
        "code": code,
        "detail": detail,
    }
    body.update(extra)
    return problem_response(body)


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
}
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


def _registry_error(request: HttpRequest, exc: RegistryError) -> HttpResponse:
    if isinstance(exc, PermissionDenied | NotAuthenticated):
        from tonne.audit.services import record_denial

        record_denial(request, exc)
    return problem_response(exc.as_problem())


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
    logger.exception("unexpected error in %s %s", request.method, request.path, exc_info=exc)
    return problem(
        500, "INTERNAL_ERROR", "The registry could not complete the request; nothing was changed."
    )


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
        from django.urls import re_path

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


def install_error_handlers(api: NinjaAPI) -> None:
    handlers: list[tuple[type[Exception], Callable[..., HttpResponse]]] = [
        (RegistryError, _registry_error),
        (NinjaValidationError, _validation_error),
        (AuthenticationError, _authentication_error),
        (HttpError, _http_error),
        (Http404, _not_found),
        (Exception, _unexpected),
    ]
    for exception, handler in handlers:
        api.add_exception_handler(exception, handler)


# -- authentication --------------------------------------------------------------


def _check_token_scope(request: HttpRequest, token: ApiToken) -> None:
    if request.method not in SAFE_METHODS and token.scope == ApiToken.Scope.READ:
        raise PermissionDenied(
            "TOKEN_SCOPE_INSUFFICIENT", "This API token has the read scope; it may only read (GET)."
        )


def _user_from_token(request: HttpRequest, secret: str) -> User:
    from tonne.organisations.services import authenticate_token

    user, token = authenticate_token(secret.strip())
    _check_token_scope(request, token)
    request.api_token = token  # type: ignore[attr-defined]
    return user


def _csrf(request: HttpRequest) -> None:
    if request.method in SAFE_METHODS:
        return
    if check_csrf(request) is not None:
        raise PermissionDenied(
            "CSRF_FAILED", "CSRF check failed: send the X-CSRFToken header with the session."
        )


class BearerToken(HttpBearer):
    """`Authorization: Bearer tonne_...` — a personal API token."""

    def authenticate(self, request: HttpRequest, token: str) -> User:
        return _user_from_token(request, token)


class SessionCookie(APIKeyCookie):
    """The browser's Django session; unsafe methods need the CSRF token."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def __call__(self, request: HttpRequest) -> User | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        _csrf(request)
        request.api_token = None  # type: ignore[attr-defined]
        return user

    def authenticate(
        self, request: HttpRequest, key: str | None
    ) -> User | None:  # pragma: no cover
        return None


AUTH = [BearerToken(), SessionCookie()]


def viewer(request: HttpRequest) -> User | None:
    """The caller of a public endpoint, if they identified themselves. A bad
    token is refused (401) rather than silently treated as anonymous."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise NotAuthenticated(
                "AUTHORIZATION_MALFORMED", "Authorization must be 'Bearer <API token>'."
            )
        return _user_from_token(request, secret)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        _csrf(request)
        request.api_token = None  # type: ignore[attr-defined]
        return user
    return None


def actor(request: HttpRequest) -> User:
    user = getattr(request, "auth", None)
    if not isinstance(user, User):
        raise NotAuthenticated(
            "NOT_AUTHENTICATED", "Log in, or send Authorization: Bearer <API token>."
        )
    return user


def token_of(request: HttpRequest) -> ApiToken | None:
    return getattr(request, "api_token", None)


def require_scope(request: HttpRequest, scope: str) -> None:
    """Sessions carry every scope their user's roles allow; tokens only theirs."""
    token = token_of(request)
    if token is not None and SCOPE_RANK[token.scope] < SCOPE_RANK[scope]:
        raise PermissionDenied(
            "TOKEN_SCOPE_INSUFFICIENT",
            f"This API token has the {token.scope} scope; this needs {scope}.",
        )


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
    qs: QuerySet, code: str, message: str, *, field: str | None = None, **lookup: Any
) -> Any:
    from tonne.core.errors import NotFound

    try:
        return qs.get(**lookup)
    except (qs.model.DoesNotExist, ValueError, TypeError):
        raise NotFound(code, message, field=field) from None
    except Exception as exc:  # a malformed UUID raises ValidationError
        from django.core.exceptions import ValidationError as DjangoValidationError

        if isinstance(exc, DjangoValidationError):
            raise NotFound(code, message, field=field) from None
        raise


ERRORS: dict[int | str, Any] = {
    400: ProblemOut,
    401: ProblemOut,
    403: ProblemOut,
    404: ProblemOut,
    409: ProblemOut,
    422: ProblemOut,
}
