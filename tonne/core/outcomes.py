"""What the registry knows about a failed request's outcome, and the answer
that tells the client the truth about it.

Every COMMIT sent on behalf of a request is counted (Django's and the
statement pipeline's). A failure before any COMMIT was sent rolled back:
"nothing was changed" is then true. A failure while a COMMIT was in flight
(connection lost, server killed) or after one succeeded leaves the outcome
unknown to the registry, and the client is told so (503 OUTCOME_UNKNOWN) and
to retry with the same Idempotency-Key, which returns the first result if
the move was kept."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from tonne.core import faults

logger = logging.getLogger("tonne.api")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_AFTER_SECONDS = 2


@dataclass
class CommitLog:
    view_started: bool = False
    sent: int = 0
    done: int = 0

    @property
    def in_doubt(self) -> bool:
        return self.sent > self.done


_local = threading.local()


def current() -> CommitLog:
    log = getattr(_local, "log", None)
    if log is None:
        log = _local.log = CommitLog()
    return log


def begin_request() -> None:
    _local.log = CommitLog()
    for alias in connections:
        _track(connections[alias])


def begin_view() -> None:
    """Commits made by middleware before the view (rate counters, sessions)
    are not the request's changes."""
    log = current()
    log.view_started, log.sent, log.done = True, 0, 0


def commit_sent() -> None:
    current().sent += 1


def commit_done() -> None:
    current().done += 1


def _track(connection: Any) -> None:
    if getattr(connection, "_tonne_commits_tracked", False):
        return
    def _commit() -> None:
        commit_sent()
        if faults.ARMED:
            faults.point("db.commit")
        type(connection)._commit(connection)
        commit_done()
        if faults.ARMED:
            faults.point("db.committed")

    connection._commit = _commit
    connection._tonne_commits_tracked = True


class OutcomeMiddleware:
    """Outermost: starts each request's commit log."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        begin_request()
        return self.get_response(request)


# -- what kind of failure ---------------------------------------------------------

# PostgreSQL SQLSTATE classes and codes where waiting and retrying helps.
_TIMEOUT_STATES = frozenset({"57014", "55P03", "25P03"})  # query cancelled, lock not available, idle timeout
_RETRYABLE_PREFIXES = ("08", "53", "57P", "40")  # connection, resources (disk, memory, connections), shutdown, rollback


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]


def _sqlstate(exc: BaseException) -> str | None:
    for link in _chain(exc):
        state = getattr(link, "sqlstate", None) or getattr(link, "pgcode", None)
        if state:
            return str(state)
    return None


def database_failure(exc: BaseException) -> str | None:
    """'timeout', 'unavailable' or None (not a failure of the database itself)."""
    links = list(_chain(exc))
    state = _sqlstate(exc)
    if state in _TIMEOUT_STATES:
        return "timeout"
    if state and state.startswith(_RETRYABLE_PREFIXES):
        return "unavailable"
    for link in links:
        if isinstance(link, OperationalError | InterfaceError | sqlite3.OperationalError | sqlite3.InterfaceError):
            return "unavailable"
        if _is_psycopg(link, ("OperationalError", "InterfaceError")):
            return "unavailable"
    return None


def _is_psycopg(exc: BaseException, names: tuple[str, ...]) -> bool:
    return type(exc).__module__.startswith("psycopg") and any(
        cls.__name__ in names for cls in type(exc).__mro__
    )


# -- the answer -------------------------------------------------------------------


def unexpected_problem(
    request: HttpRequest, exc: BaseException, problem: Callable[..., HttpResponse]
) -> HttpResponse:
    """The truthful answer to an error nobody anticipated."""
    log = current()
    failure = database_failure(exc)
    unsafe = request.method not in SAFE_METHODS
    if log.in_doubt or (unsafe and log.done > 0):
        logger.error("outcome unknown for %s %s", request.method, request.path, exc_info=exc)
        return _retry(problem(
            503,
            "OUTCOME_UNKNOWN",
            "The registry lost contact with its database while recording this request: it may or may not "
            "have been recorded. Retry with the same Idempotency-Key (it returns the first result if the "
            "request was recorded), or look it up with GET /api/v1/transactions?idempotency_key=…",
            title="Outcome unknown",
        ))
    if failure == "timeout":
        logger.warning("statement timeout in %s %s: %s", request.method, request.path, exc)
        return _retry(problem(
            503, "STATEMENT_TIMEOUT",
            "The registry is busy and the request took too long; nothing was changed. Retry shortly.",
            title="Service unavailable",
        ))
    if failure == "unavailable":
        logger.error("database failure in %s %s", request.method, request.path, exc_info=exc)
        return _retry(problem(
            503, "DATABASE_UNAVAILABLE",
            "The registry's database is unavailable; nothing was changed. Retry shortly.",
            title="Service unavailable",
        ))
    logger.error("unexpected error in %s %s", request.method, request.path, exc_info=exc)
    return problem(
        500, "INTERNAL_ERROR", "The registry could not complete the request; nothing was changed."
    )


def _retry(response: HttpResponse) -> HttpResponse:
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
