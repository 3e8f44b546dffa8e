"""Who is calling the REST API: sessions (with CSRF) and bearer tokens with
scopes. Here, beside the users and tokens it reads, so that every app's API
(this one's included) can name its caller."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from tonne.core.api_support import SAFE_METHODS
from tonne.core.errors import NotAuthenticated, PermissionDenied
from tonne.organisations.models import ApiToken, User
from tonne.organisations.services import authenticate_token

SCOPE_RANK: dict[str, int] = {ApiToken.Scope.READ: 0, ApiToken.Scope.TRADE: 1, ApiToken.Scope.ADMIN: 2}


def _check_token_scope(request: HttpRequest, token: ApiToken) -> None:
    if request.method not in SAFE_METHODS and token.scope == ApiToken.Scope.READ:
        raise PermissionDenied(
            "TOKEN_SCOPE_INSUFFICIENT", "This API token has the read scope; it may only read (GET)."
        )


def _user_from_token(request: HttpRequest, secret: str) -> User:
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
            details={"scope": token.scope, "needed": scope},
        )
