"""Web hardening: security headers on every answer, session timeouts,
rate limits on the API, and sending people who must have a second factor to
set one up."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.messages.storage import default_storage
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext as _

from tonne.access import counters, policy, sessions
from tonne.audit.context import client_ip
from tonne.audit.models import AuditEvent
from tonne.audit.services import record
from tonne.core import clock
from tonne.core.api_support import problem
from tonne.organisations.models import ApiToken

Handler = Callable[[HttpRequest], HttpResponse]

# No inline script anywhere; styles may be inline (the API docs page sets style attributes).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


class SecurityHeadersMiddleware:
    """What Django's SecurityMiddleware does not send: CSP and Permissions-Policy;
    and Secure on every cookie of an answer to a request that came over TLS.
    (It sends HSTS on TLS requests, nosniff, the referrer policy and COOP; the
    clickjacking middleware sends X-Frame-Options.)"""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.is_secure():  # over TLS (or behind the TLS proxy): no cookie may go back over plain HTTP
            for morsel in response.cookies.values():
                morsel["secure"] = True
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


class SessionLimitsMiddleware:
    """Signs a browser session out after TONNE_SESSION_IDLE_MINUTES without a
    request, and TONNE_SESSION_MAX_HOURS after sign-in whatever happens."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = clock.now().timestamp()
            session = request.session
            started = float(session.get(sessions.STARTED, now))
            seen = float(session.get(sessions.SEEN, now))
            idle = now - seen > settings.TONNE_SESSION_IDLE_MINUTES * 60
            expired = now - started > settings.TONNE_SESSION_MAX_HOURS * 3600
            if idle or expired:

                record(AuditEvent.Category.SECURITY, "session.idle_timeout" if idle else "session.max_age",
                       actor=user, request=request)
                logout(request)
            else:
                if sessions.STARTED not in session:
                    session[sessions.STARTED] = now
                if now - seen > 30:  # at most one session write a half minute
                    session[sessions.SEEN] = now
        return self.get_response(request)


class MfaEnrolmentMiddleware:
    """A person who must have a second factor and has none may only enrol
    (or sign out): pages send them to the page that sets one up, the API
    answers MFA_REQUIRED to their session. (Their API tokens are refused where
    tokens are checked, and none can be created before enrolment.)"""

    # Signing in and out, allauth's second-factor pages and the re-authentication
    # allauth asks for before adding an authenticator; nothing else.
    ENROLMENT = ("/accounts/2fa/", "/accounts/login/", "/accounts/logout/", "/accounts/reauthenticate/",
                 "/static/", "/i18n/")

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(self.ENROLMENT)
            and policy.needs_mfa(user)
            and not policy.has_mfa(user)
        ):
            if request.path.startswith(("/api/", "/cadt/")):
                if request.headers.get("Authorization"):
                    return self.get_response(request)  # the token is judged on its own owner
                # The API's own error shape, imported as ApiRateLimitMiddleware does.
                from tonne.core.api_support import problem

                return problem(403, "MFA_REQUIRED",
                               f"Set up a second factor (authenticator app or security key) at {policy.SETUP_URL} "
                               "first; until then this session may do nothing else.")
            # Said on the enrolment page, in the person's language: why they are
            # there. (The messages middleware runs inside this one: its storage is used directly.)
            response = HttpResponseRedirect(policy.SETUP_URL)
            said = default_storage(request)
            said.add(messages.INFO, _(
                "Set up a second factor to continue. Your role lets you move units or approve requests, so the "
                "registry asks for a second factor as well as your password: an authenticator app on your phone "
                "(a six-digit code) or a security key. Until it is set up, the workspace stays closed."
            ))
            said.update(response)
            return response
        return self.get_response(request)


def _client_key(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    if header:
        return "t:" + hashlib.sha256(header.encode()).hexdigest()[:32]
    session = request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")
    if session:
        return "s:" + hashlib.sha256(session.encode()).hexdigest()[:32]
    return f"ip:{client_ip(request)}"


LOCKED_TOKEN_DETAIL = "Too many failed authentications with this token; try again later."  # noqa: S105 (a message)
LOCKED_ADDRESS_DETAIL = "Too many failed authentications from this address; try again later."


def _failures(request: HttpRequest, hour: int) -> tuple[str, str, int]:
    """The failures counter a request with an Authorization header counts
    against (the token's, when the header names a live token by its prefix;
    else the address's), its lock-out message and its count so far, read in
    one query."""
    ip_key = f"tonne:authfail:ip:{client_ip(request)}:{hour}"
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    prefix = secret.strip()[:12]
    if scheme.lower() != "bearer" or len(prefix) < 12:
        return ip_key, LOCKED_ADDRESS_DETAIL, counters.current(ip_key)
    token_key = f"tonne:authfail:token:{prefix}:{hour}"
    now = connection.ops.adapt_datetimefield_value(clock.now())
    tokens, rates = (connection.ops.quote_name(t) for t in (ApiToken._meta.db_table, counters.TABLE))
    count = f"SELECT {connection.ops.quote_name('count')} FROM {rates} WHERE {connection.ops.quote_name('key')} = %s AND expires_at >= %s"  # noqa: S608 (constant names)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {tokens} WHERE prefix = %s AND revoked_at IS NULL AND expires_at > %s), "  # noqa: S608 (constant names; values bound)
            f"({count}), ({count})",
            [prefix, now, token_key, now, ip_key, now],
        )
        live, token_count, ip_count = cursor.fetchone()
    if live:
        return token_key, LOCKED_TOKEN_DETAIL, int(token_count or 0)
    return ip_key, LOCKED_ADDRESS_DETAIL, int(ip_count or 0)


def count_batch_writes(request: HttpRequest, moves: int) -> HttpResponse | None:
    """A request that carries many moves (a batch) counts each against the
    client's write window, not as one change: a batch is a faster way to send
    moves, not a way around TONNE_API_WRITE_RATE_PER_MINUTE. The middleware
    counted the request once already. Returns the 429 to answer, if over."""
    limit = settings.TONNE_API_WRITE_RATE_PER_MINUTE
    if moves <= 1 or limit <= 0:
        return None
    now = int(clock.now().timestamp())
    key = f"tonne:write:{_client_key(request)}:{now // 60}"
    if counters.hit_many({key: 60}, by=moves - 1)[key] > limit:
        return ApiRateLimitMiddleware._limited(
            problem, "RATE_LIMITED", f"Too many changes a minute (a batch counts each of its {moves} moves); slow down.",
            60 - now % 60,
        )
    return None


class ApiRateLimitMiddleware:
    """Fixed one-minute windows per client (token, session or address):
    TONNE_API_RATE_PER_MINUTE requests, of which TONNE_API_WRITE_RATE_PER_MINUTE
    may change something; a visitor who is not signed in may send
    TONNE_ANONYMOUS_WRITES_PER_HOUR changes (applications) an hour per address.

    Failed tokens are counted where they cannot hurt bystanders: a wrong secret
    for an existing token (its prefix is known) counts against that token, which
    is locked for the hour after TONNE_AUTH_FAILURES_PER_HOUR failures; tokens
    that match nothing count against the address, which after as many failures
    may present only tokens that exist (a sprayer gets 429 for every guess; the
    people behind the same proxy keep using their own tokens and sessions).
    Counters live in the database (access.RateCounter), shared by every server process."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(settings.TONNE_RATE_LIMITED_PATHS):
            return self.get_response(request)

        now = int(clock.now().timestamp())
        minute, hour = now // 60, now // 3600
        failures_key = None
        if request.headers.get("Authorization"):
            failures_key, locked, failures = _failures(request, hour)
            if failures >= settings.TONNE_AUTH_FAILURES_PER_HOUR:
                return self._limited(problem, "AUTHENTICATION_LOCKED_OUT", locked, 3600 - now % 3600)
        client = _client_key(request)
        writes = request.method not in ("GET", "HEAD", "OPTIONS")
        # Both windows of a change are counted in one statement (one round trip).
        limits = {f"tonne:rate:{client}:{minute}": settings.TONNE_API_RATE_PER_MINUTE}
        if writes:
            limits[f"tonne:write:{client}:{minute}"] = settings.TONNE_API_WRITE_RATE_PER_MINUTE
        counted = {key: limit for key, limit in limits.items() if limit > 0}
        counts = counters.hit_many(dict.fromkeys(counted, 60)) if counted else {}
        rate_key = next(iter(limits))
        if rate_key in counts and counts[rate_key] > limits[rate_key]:
            return self._limited(problem, "RATE_LIMITED", "Too many requests; slow down.", 60 - now % 60)
        if any(counts[key] > limit for key, limit in counted.items() if key != rate_key):
            return self._limited(problem, "RATE_LIMITED", "Too many changes a minute; slow down.", 60 - now % 60)
        if (
            writes
            and not request.headers.get("Authorization")
            and not getattr(getattr(request, "user", None), "is_authenticated", False)
            # Partner registries' messages carry their own credential, a signature on the partner list.
            and not request.path.startswith(settings.TONNE_SIGNED_MESSAGE_PATHS)
            and self._over(f"tonne:anonymous:{client_ip(request)}:{hour}", settings.TONNE_ANONYMOUS_WRITES_PER_HOUR,
                           timeout=3600)
        ):
            # What a visitor may send (an organisation's application, which is screened) is counted per address.
            return self._limited(problem, "RATE_LIMITED", "Too many applications from this address; try again later.",
                                 3600 - now % 3600)
        response = self.get_response(request)
        if response.status_code == 401 and failures_key is not None:
            self._over(failures_key, 10**9, timeout=3600)
        return response

    @staticmethod
    def _over(key: str, limit: int, timeout: int = 60) -> bool:
        if limit <= 0:
            return False
        return counters.hit(key, timeout) > limit

    @staticmethod
    def _limited(problem: Callable[..., HttpResponse], code: str, detail: str, retry: int) -> HttpResponse:
        response = problem(429, code, detail)
        response["Retry-After"] = str(max(retry, 1))
        return response
