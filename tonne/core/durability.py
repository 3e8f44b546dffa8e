"""Nothing published before it is durable.

On PostgreSQL a unit move commits asynchronously and its requester is
answered only after a durability barrier (`units.store`): between the two,
other sessions can already see the move, and a crash then would lose it. So
nothing read from the database leaves the registry (an HTTP answer, a
streamed export, an outbound push) until the WAL is flushed at least as far
as anything the reads could have seen.

A snapshot sees a commit only after its commit record was inserted into the
WAL, so `pg_current_wal_insert_lsn()` read after the last query bounds
everything the request saw. If `pg_current_wal_flush_lsn()` has reached it
(the common case) the answer goes at once; otherwise one synchronous barrier
commit flushes the WAL up to itself, which is past all of it (and shares
the flush with concurrent moves).

SQLite needs nothing: in WAL mode with synchronous=FULL (the default) a
commit's frames are synced before the commit is made visible to readers
(the wal-index header is written after the sync), so a reader only ever
sees durable commits. With synchronous=NORMAL or OFF the operator chose to
risk the last commits, visible ones included.

Reads served by a streaming replica (`core.replicas`) need nothing either:
a primary streams to its standbys only WAL it has already flushed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from tonne.core import faults

# Flushed as far as anything inserted so far?
FLUSHED_SQL = "SELECT pg_current_wal_flush_lsn() >= pg_current_wal_insert_lsn()"
# A transactional WAL message committed synchronously: when COMMIT returns,
# the WAL is flushed up to its commit record (and so past every earlier
# record). synchronous_commit is raised to at least 'local' for this one
# transaction, whatever the session's default; stronger defaults (a
# synchronous standby) are kept.
BARRIER_SQL = (
    "SELECT set_config('synchronous_commit', CASE current_setting('synchronous_commit') WHEN 'off' THEN 'local' "
    "ELSE current_setting('synchronous_commit') END, true), pg_logical_emit_message(true, 'tonne.durable', '')"
)
_READ = "_tonne_read_since_durable"


def note_read(connection: Any) -> None:
    setattr(connection, _READ, True)


def note_durable(connection: Any) -> None:
    """Everything this connection read so far is durable (a barrier committed)."""
    setattr(connection, _READ, False)


def _note_query(execute: Any, sql: Any, params: Any, many: Any, context: Any) -> Any:
    setattr(context["connection"], _READ, True)
    return execute(sql, params, many, context)


def track(sender: Any = None, connection: Any = None, **kwargs: Any) -> None:
    """Installed on every new connection (the connection_created signal)."""
    if connection is not None and connection.vendor == "postgresql" and _note_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(_note_query)


def wait_until_durable(using: str = DEFAULT_DB_ALIAS) -> None:
    """Return once everything this connection's reads could have seen is
    durable. Raises the database's error if it cannot tell (the caller
    must not publish then)."""
    connection = connections[using]
    if connection.vendor != "postgresql" or not getattr(connection, _READ, False):
        return
    if connection.in_atomic_block:
        # Inside a transaction (the tests wrap each in one; the registry's
        # requests and jobs never publish from one) the insert position
        # counts the transaction's own uncommitted WAL, which no flush need
        # cover: nothing to wait for here.
        return
    if connection.connection is None:
        connection.ensure_connection()
    with connection.cursor() as cursor:
        make_durable(cursor)
    note_durable(connection)


def make_durable(cursor: Any) -> None:
    """On a cursor outside any transaction: return once the WAL is flushed
    past everything inserted so far (at once if it already is)."""
    cursor.execute(FLUSHED_SQL)
    if not cursor.fetchone()[0]:
        cursor.execute(BARRIER_SQL)  # one statement, its own transaction, committed synchronously


def durable_chunks(chunks: Iterable[Any]) -> Iterator[Any]:
    """A streamed answer's chunks, each released once what it was read from is durable."""
    for chunk in chunks:
        wait_until_durable()
        yield chunk


class DurableAnswersMiddleware:
    """Just inside the outcome log: every answer (pages, the API, /cadt/,
    exports, certificates) leaves only once what it was read from is
    durable; a streamed one chunk by chunk. If that cannot be established
    (the database went away) the answer is replaced by the truthful error."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        wait_until_durable()
        if faults.ARMED:
            faults.point("answer.durable")
        if response.streaming and not getattr(response, "is_async", False):
            response.streaming_content = durable_chunks(response.streaming_content)  # type: ignore[attr-defined]
        return response
