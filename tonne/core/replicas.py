"""Public reads on PostgreSQL streaming replicas (DATABASE_REPLICA_URLS).

The primary is the default for everything. A read goes to a replica only
when all of these hold:

- the request opted in: a GET or HEAD under TONNE_REPLICA_READ_PATHS (the
  public portal pages, /cadt/, the API's reads), without an Authorization
  header (API clients write and read back at once, and need not keep
  cookies), and without the read-your-writes mark of this browser's own
  recent change (`ReplicaReadsMiddleware`, innermost: sessions, sign-in,
  rate counters and the audit trail are read and written before it, on the
  primary);
- it is an ORM read (raw cursors, so the move path in `units.store`, the
  ledger's head, rate counters and the durability barrier, always use the
  default connection) of a model outside PRIMARY_ONLY_APPS (sessions,
  sign-in, second factors, tokens and counters, audit, jobs);
- no transaction is open on the primary (a move, a service, an idempotency
  check read inside one) and the request has not written anything yet;
- a replica is usable: reachable, in recovery, and at most
  TONNE_REPLICA_MAX_LAG_SECONDS behind (`ReplicaHealth`, checked at most every
  TONNE_REPLICA_CHECK_SECONDS per process). Otherwise the primary serves.

A request keeps one replica for all its reads: one replica replays commits
in order, so what it shows is a consistent, slightly older registry. Nothing
a replica shows can be lost: a primary sends its standbys only WAL it has
flushed, so the durability barrier (`core.durability`) has nothing to add.
A read that fails on a replica (stopped between two checks) is answered
again from the primary, never with an error."""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import itertools
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest
from django.http.response import HttpResponseBase

logger = logging.getLogger(__name__)

# Read and written on the primary whatever the request: what someone's next
# request must see at once (sessions, sign-in and its lockouts, second
# factors, API tokens and rate counters), the audit trail, jobs and leases.
PRIMARY_ONLY_APPS = frozenset(
    {"sessions", "auth", "contenttypes", "admin", "account", "mfa", "socialaccount", "access", "audit", "ops", "core"}
)
READ_METHODS = frozenset({"GET", "HEAD"})  # may be read on a standby
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})  # change nothing (RFC 9110)
MARK_SALT = "tonne.replicas.wrote"


def replica_aliases() -> list[str]:
    return [alias for alias in settings.DATABASES if alias.startswith("replica_")]


# -- how far behind a replica is -----------------------------------------------------------


def lag_seconds(samples: Sequence[tuple[float, int]], replay_lsn: int, now: float) -> float:
    """At most how stale a replica is: `samples` are (time, the primary's
    flushed WAL position) taken at each check, oldest first. A replica that
    has replayed up to the position the primary had at time t shows every
    commit made before t; if it has not replayed even the oldest sample, how
    stale it is is unknown (infinite)."""
    for at, lsn in reversed(samples):
        if lsn <= replay_lsn:
            return max(0.0, now - at)
    return math.inf


def parse_lsn(text: str) -> int:
    """A WAL position (e.g. '0/16B3740') as a byte offset."""
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


# Django's own OPTIONS that are not libpq connection parameters.
_NOT_LIBPQ = frozenset({"isolation_level", "server_side_binding", "assume_role", "pool", "cursor_factory", "context"})


def _conninfo(db: dict[str, Any], timeout: float) -> str:
    """The libpq parameters of a DATABASES entry (TLS options included), for the checks' own connections."""
    options = {k: str(v) for k, v in (db.get("OPTIONS") or {}).items() if k not in _NOT_LIBPQ and isinstance(v, str | int)}
    options["connect_timeout"] = str(min(int(options.get("connect_timeout", timeout)), max(1, int(timeout))))
    return psycopg.conninfo.make_conninfo(
        host=db.get("HOST") or None, port=str(db.get("PORT") or "") or None, dbname=db["NAME"],
        user=db.get("USER") or None, password=db.get("PASSWORD") or None, application_name="tonne-replica-check",
        **options,
    )


@dataclass
class ReplicaState:
    usable: bool
    why: str
    lag: float = math.inf


class ReplicaHealth:
    """Which replicas this process may read from: checked at most every
    `every` seconds by whichever request finds the answer stale (the others
    go on with the last one), with a connection of its own to each server."""

    def __init__(
        self, aliases: list[str], *, max_lag: float, every: float, timeout: float = 2.0, background: bool = True
    ) -> None:
        self.aliases = aliases
        self.background = background
        self.max_lag = max_lag
        self.every = every
        self.timeout = timeout
        self.samples: deque[tuple[float, int]] = deque()
        self.states: dict[str, ReplicaState] = {a: ReplicaState(False, "not checked yet") for a in aliases}
        self.checked_at = -math.inf
        self._lock = threading.Lock()
        self._conns: dict[str, psycopg.Connection[Any]] = {}
        self._turn = itertools.count()

    def choose(self) -> str | None:
        """A usable replica for one request (in turn), or None: the primary."""
        if time.monotonic() - self.checked_at >= self.every:
            first = self.checked_at == -math.inf
            # The first check is waited for; later ones run beside the requests (a
            # standby that does not answer costs its connect timeout to no reader).
            if self._lock.acquire(blocking=first):
                if first or not self.background:
                    self._check_then_release()
                else:
                    threading.Thread(target=self._check_then_release, name="tonne-replica-check", daemon=True).start()
        usable = [alias for alias in self.aliases if self.states[alias].usable]
        return usable[next(self._turn) % len(usable)] if usable else None

    def _check_then_release(self) -> None:
        try:
            if time.monotonic() - self.checked_at >= self.every:
                self.check()
        except Exception:  # a check that fails leaves the last answer; the next one tries again
            logger.exception("checking the read replicas")
        finally:
            self._lock.release()

    def check(self) -> None:
        now = time.monotonic()
        try:
            (flushed,) = self._fetch(DEFAULT_DB_ALIAS, "SELECT pg_current_wal_flush_lsn()::text")
        except psycopg.Error as exc:
            # Without the primary's position no lag can be bounded: reads go to the primary (and fail with it).
            self._set_all(f"primary unreachable: {exc}")
            self.checked_at = now
            return
        self.samples.append((now, parse_lsn(flushed)))
        while len(self.samples) > 1 and now - self.samples[1][0] > self.max_lag + 2 * self.every:
            self.samples.popleft()
        for alias in self.aliases:
            self._update(alias, self._measure(alias, now))
        self.checked_at = now

    def mark_failed(self, alias: str, why: str) -> None:
        """A read failed there: not used again before the next check says otherwise."""
        self._update(alias, ReplicaState(False, why))

    def _measure(self, alias: str, now: float) -> ReplicaState:
        try:
            recovering, replayed = self._fetch(alias, "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text")
        except psycopg.Error as exc:
            return ReplicaState(False, f"unreachable: {str(exc).strip()}")
        if not recovering or replayed is None:
            return ReplicaState(False, "not a standby in recovery (promoted, or the primary itself)")
        lag = lag_seconds(self.samples, parse_lsn(replayed), now)
        if lag > self.max_lag:
            return ReplicaState(False, f"lagging ({lag:.1f} s behind, limit {self.max_lag:g} s)", lag)
        return ReplicaState(True, "in step", lag)

    def _update(self, alias: str, state: ReplicaState) -> None:
        before = self.states.get(alias)
        if before is None or before.usable != state.usable:
            (logger.info if state.usable else logger.warning)("read replica %s: %s", alias, state.why)
        self.states[alias] = state

    def _set_all(self, why: str) -> None:
        for alias in self.aliases:
            self._update(alias, ReplicaState(False, why))

    def _fetch(self, alias: str, sql: str) -> tuple[Any, ...]:
        conn = self._conns.get(alias)
        try:
            if conn is None or conn.closed:
                conn = self._conns[alias] = psycopg.connect(
                    _conninfo(settings.DATABASES[alias], self.timeout), autocommit=True
                )
            row = conn.execute(sql).fetchone()
            assert row is not None
            return tuple(row)
        except psycopg.Error:
            self._close(alias)
            raise

    def _close(self, alias: str) -> None:
        conn = self._conns.pop(alias, None)
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:  # already gone
                pass


_health: ReplicaHealth | None = None
_health_lock = threading.Lock()


def health() -> ReplicaHealth:
    """This process's view of its replicas (made at first use)."""
    global _health
    if _health is None:
        with _health_lock:
            if _health is None:
                _health = ReplicaHealth(
                    replica_aliases(), max_lag=settings.TONNE_REPLICA_MAX_LAG_SECONDS,
                    every=settings.TONNE_REPLICA_CHECK_SECONDS,
                )
    return _health


def read_your_writes_seconds() -> float:
    """How long a browser's reads stay on the primary after its own change:
    never less than a usable replica can be behind when read (its lag limit,
    plus the time until the next check notices it fell behind)."""
    return max(
        float(settings.TONNE_REPLICA_READ_YOUR_WRITES_SECONDS),
        settings.TONNE_REPLICA_MAX_LAG_SECONDS + settings.TONNE_REPLICA_CHECK_SECONDS,
    )


# -- routing -------------------------------------------------------------------------------


@dataclass
class Route:
    """A request's reads: `alias` is its replica; `used` once a read went
    there; `wrote` once the request wrote (its later reads stay on the primary)."""

    alias: str | None
    used: bool = False
    wrote: bool = False


_ROUTE: contextvars.ContextVar[Route | None] = contextvars.ContextVar("tonne_replica_route", default=None)


def primary_only(model: Any) -> bool:
    meta = model._meta
    return meta.app_label in PRIMARY_ONLY_APPS or meta.label == settings.AUTH_USER_MODEL


class ReplicaRouter:
    """Django's database router (installed only when replicas are configured)."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        route = _ROUTE.get()
        if (
            route is None
            or route.alias is None
            or route.wrote
            or connections[DEFAULT_DB_ALIAS].in_atomic_block
            or primary_only(model)
        ):
            return DEFAULT_DB_ALIAS
        route.used = True
        return route.alias

    def db_for_write(self, model: Any, **hints: Any) -> str:
        route = _ROUTE.get()
        if route is not None:
            route.wrote = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # the same rows, wherever they were read

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS  # standbys replay the primary's schema


def reading_from(alias: str | None) -> contextlib.AbstractContextManager[Route]:
    """Route this thread's reads as a public request's would (jobs, tests)."""
    return _routed(Route(alias))


@contextlib.contextmanager
def _routed(route: Route) -> Iterator[Route]:
    token = _ROUTE.set(route)
    try:
        yield route
    finally:
        _ROUTE.reset(token)


def _pinned(route: Route, chunks: Iterable[Any]) -> Iterator[Any]:
    """A streamed answer (an export) read chunk by chunk on the request's replica."""
    iterator = iter(chunks)
    while True:
        with _routed(route):
            try:
                chunk = next(iterator)
            except StopIteration:
                return
        yield chunk


# -- the requests that opt in ----------------------------------------------------------------


def _public_path(path: str) -> bool:
    # "/" is the home page only; every other entry is a prefix.
    return any(path == p or (p != "/" and path.startswith(p)) for p in settings.TONNE_REPLICA_READ_PATHS)


def mark_cookie_name() -> str:
    return "__Host-tonne_wrote" if settings.SESSION_COOKIE_SECURE else "tonne_wrote"


def wrote_recently(request: HttpRequest) -> bool:
    """This browser changed something within the read-your-writes window (signed, timed mark)."""
    name = mark_cookie_name()
    if name not in request.COOKIES:
        return False
    window = datetime.timedelta(seconds=read_your_writes_seconds())
    return request.get_signed_cookie(name, default=None, salt=MARK_SALT, max_age=window) is not None


class ReplicaReadsMiddleware:
    """Innermost: chooses where a request's reads go (see the module's
    text), answers again from the primary a read that failed on a replica,
    and marks a browser that changed something so that its next reads, for
    read_your_writes_seconds(), come from the primary."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        route = None
        if (
            request.method in READ_METHODS
            and _public_path(request.path)
            and "Authorization" not in request.headers
            and not wrote_recently(request)
        ):
            route = Route(health().choose())
        if route is None or route.alias is None:
            response = self.get_response(request)
        else:
            response = self._on_replica(request, route)
        if request.method not in SAFE_METHODS or (route is not None and route.wrote):
            seconds = read_your_writes_seconds()
            response.set_signed_cookie(  # type: ignore[attr-defined]
                mark_cookie_name(), "1", salt=MARK_SALT, max_age=math.ceil(seconds), path="/", httponly=True,
                samesite="Lax", secure=settings.SESSION_COOKIE_SECURE,
            )
        if settings.TONNE_REPLICA_HEADER:
            served = route.alias if route is not None and (route.used or response.streaming) else None
            response["X-Tonne-Read-From"] = served or "primary"
        return response

    def _on_replica(self, request: HttpRequest, route: Route) -> HttpResponseBase:
        with _routed(route):
            response = self.get_response(request)
        if response.streaming:
            response.streaming_content = _pinned(route, response.streaming_content)  # type: ignore[attr-defined]
            return response
        if response.status_code >= 500 and route.used and route.alias is not None:
            # The replica went away since the last check (or the view failed there
            # for another reason): it is checked again before its next use, and
            # this read, which changed nothing, is answered from the primary.
            health().mark_failed(route.alias, f"a read failed there ({response.status_code})")
            _discard(route.alias)
            route.alias, route.used = None, False
            response = self.get_response(request)
        return response


def _discard(alias: str) -> None:
    try:
        connections[alias].close()
    except Exception:  # noqa: BLE001 (a dead connection may fail to close; it is dropped either way)
        logger.debug("closing %s", alias, exc_info=True)
