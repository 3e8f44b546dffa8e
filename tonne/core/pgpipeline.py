"""Prepared statements sent in pipeline batches straight through libpq, for
the registry's hottest path (moving units) on PostgreSQL.

A move is a handful of small statements. Sent one by one through the
driver's cursors, each costs a network write, a wake-up of the server
process and some hundred microseconds of Python in the client; that, not
the database, bounded how many moves per second the registry could do. Here
statements are queued in libpq's output buffer and go out together, with one
Sync, only when a result is needed: the locking read and its companions in
one round trip, the writes and COMMIT in another.

Each distinct statement is parsed and planned once per connection (named
prepared statements, ``tonne_N``). Parameters are sent as text with types
left to the server, which infers them from the statement; results are
converted by psycopg's own loaders, so rows read here look exactly like rows
read through a psycopg cursor.

Between batches the connection is an ordinary psycopg connection (libpq
leaves pipeline mode after every Sync), so Django queries may run between
two batches; while statements are queued, any Django query first sends the
queue, so statements always run in the order they were written."""

from __future__ import annotations

import datetime as dt
import re
import uuid
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import errors, generators, pq
from psycopg.adapt import Transformer

from tonne.core import durability, faults, outcomes

# A `then` carrying this is a synchronous durability barrier: when it
# returns, everything the connection read before it is durable.
DURABLE_MARK = "'tonne.durable'"

# Statements prepared per connection at most: the move path has a few dozen
# shapes (one per number of blocks moved); beyond this, statements are sent
# unnamed (parsed each time) rather than filling the server's memory.
MAX_PREPARED = 512

_PLACEHOLDER = re.compile(rb"%(?:\((\w+)\))?s|%%")
_TUPLES_OK = pq.ExecStatus.TUPLES_OK
_ABORTED = pq.ExecStatus.PIPELINE_ABORTED
_OK = (_TUPLES_OK, pq.ExecStatus.COMMAND_OK)


class _ConnectionState:
    """What one database connection has prepared, and its row loader."""

    def __init__(self, raw: psycopg.Connection) -> None:
        self.prepared: dict[str, bytes] = {}  # SQL as written -> statement name
        self.converted: dict[str, tuple[bytes, tuple[str, ...]]] = {}
        self.transformer = Transformer(raw)
        self.counter = 0

    def forget(self) -> None:
        self.prepared.clear()


_STATES: weakref.WeakKeyDictionary[psycopg.Connection, _ConnectionState] = weakref.WeakKeyDictionary()


def _state(raw: psycopg.Connection) -> _ConnectionState:
    state = _STATES.get(raw)
    if state is None:
        state = _STATES[raw] = _ConnectionState(raw)
    return state


def convert(sql: str) -> tuple[bytes, tuple[str, ...]]:
    """`%s` / `%(name)s` placeholders (Django's style) as `$1`, `$2`…; the
    names in order for a mapping of parameters (empty for positional)."""
    names: list[str] = []
    positional = 0

    def number(match: re.Match[bytes]) -> bytes:
        nonlocal positional
        if match.group(0) == b"%%":
            return b"%"
        if match.group(1) is None:
            positional += 1
            return b"$%d" % positional
        name = match.group(1).decode()
        if name not in names:
            names.append(name)
        return b"$%d" % (names.index(name) + 1)

    text = _PLACEHOLDER.sub(number, sql.encode())
    if positional and names:
        raise ValueError("a statement mixes positional and named placeholders")
    return text, tuple(names)


def _datetime_text(value: dt.datetime) -> bytes:
    if value.tzinfo is None:
        raise TypeError("naive datetime: pass an aware one")
    return value.isoformat().encode()


def _str_text(value: Any) -> bytes:
    return str(value).encode()


# Parameters in PostgreSQL's text input form, by type: looked up by exact
# type first (the hot path), then by isinstance in this order (datetime
# before its base class date).
_TEXT: dict[type, Any] = {
    str: str.encode,
    int: lambda value: b"%d" % value,
    bool: lambda value: b"t" if value else b"f",
    dt.datetime: _datetime_text,
    dt.date: _str_text,
    Decimal: _str_text,
    uuid.UUID: _str_text,
}


def text_value(value: Any) -> bytes | None:
    """A parameter in PostgreSQL's text input form; its type is the server's
    to infer from the statement."""
    if value is None:
        return None
    to_text = _TEXT.get(type(value))
    if to_text is not None:
        return to_text(value)  # type: ignore[no-any-return]
    for kind, to_text in _TEXT.items():
        if isinstance(value, kind):
            return to_text(value)  # type: ignore[no-any-return]
    raise TypeError(f"cannot send a {type(value).__name__} as a statement parameter")


def _exchange(pgconn: Any, statements: int) -> Any:
    """Flush the queue, then read each statement's results and the Sync's
    (one wait for the whole batch)."""
    yield from generators.send(pgconn)
    batches = []
    for _ in range(statements):
        batches.append((yield from generators.fetch_many(pgconn)))
    yield from generators.fetch_many(pgconn)
    return batches


class Pending:
    """One statement's place in a batch, and then its result."""

    __slots__ = ("done", "result", "prepares")

    def __init__(self, prepares: str | None = None) -> None:
        self.done = False
        self.result: pq.abc.PGresult | None = None
        self.prepares = prepares  # the SQL whose Parse this is, for a Parse


class Pipeline:
    """Statements queued on one connection, sent together when a result is
    wanted (`run`). Use `open(connection)`."""

    def __init__(self, raw: psycopg.Connection) -> None:
        self.raw = raw
        self.pgconn = raw.pgconn
        self.state = _state(raw)
        self.queue: list[Pending] = []
        self.parsing: dict[str, bytes] = {}  # prepared in the batch being queued
        self.django: Any = None  # the Django connection, when opened from one

    def cursor(self) -> Cursor:
        return Cursor(self)

    def send(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None, *, prepare: bool = True) -> Pending:
        state = self.state
        converted = state.converted.get(sql)
        if converted is None:
            converted = convert(sql)
            if len(state.converted) < MAX_PREPARED * 2:
                state.converted[sql] = converted
        text, names = converted
        if params is None:
            values = None
        else:
            if names:
                assert isinstance(params, Mapping)
                params = [params[name] for name in names]
            assert not isinstance(params, Mapping)
            text_of = _TEXT.get  # text_value, inlined for the common types
            values = [
                None if value is None else (text_of(type(value)) or text_value)(value) for value in params
            ]
        pgconn = self.pgconn
        if not self.queue:
            pgconn.enter_pipeline_mode()
        name = state.prepared.get(sql) or self.parsing.get(sql)
        if name is None and prepare and len(state.prepared) + len(self.parsing) < MAX_PREPARED:
            state.counter += 1
            name = b"tonne_%d" % state.counter
            pgconn.send_prepare(name, text)
            self.parsing[sql] = name
            self.queue.append(Pending(prepares=sql))
        if name is not None:
            pgconn.send_query_prepared(name, values)
        else:
            pgconn.send_query_params(text, values)
        pending = Pending()
        self.queue.append(pending)
        return pending

    def run(self) -> None:
        """Send what is queued with a Sync and read every result; raise the
        first error (the server skipped everything after it)."""
        if not self.queue:
            return
        queue, parsing = self.queue, self.parsing
        self.queue, self.parsing = [], {}
        raw, pgconn, state = self.raw, self.pgconn, self.state
        error: Exception | None = None
        try:
            if faults.ARMED:
                faults.point("pipeline.batch")
            pgconn.pipeline_sync()
            batches = raw.wait(_exchange(pgconn, len(queue)))
            if faults.ARMED:
                faults.point("pipeline.batch")
            for pending, results in zip(queue, batches, strict=True):
                pending.done = True
                result = results[0] if results else None
                if result is None or result.status == _ABORTED:
                    continue
                if result.status not in _OK:
                    if error is None:
                        error = errors.error_from_result(result, encoding=raw.info.encoding)
                    continue
                if pending.prepares is not None:
                    state.prepared[pending.prepares] = parsing[pending.prepares]
                else:
                    pending.result = result
            pgconn.exit_pipeline_mode()
        except BaseException:
            # The connection is out of step with its server: nobody may use it.
            raw.close()
            raise
        if isinstance(error, errors.InvalidSqlStatementName):
            state.forget()  # someone ran DEALLOCATE ALL: prepare again next time
        if error is not None:
            raise error

    def commit(self, *, then: str | None = None) -> None:
        """COMMIT what is queued, in the same batch (and `then` after it, in
        a transaction of its own: the move path's durability barrier)."""
        self.send("COMMIT", prepare=False)
        if then is not None and faults.ARMED:
            return self._commit_apart(then)
        if then is not None:
            self.send(then)
        outcomes.commit_sent()  # from here a failure leaves the outcome unknown
        self.run()
        outcomes.commit_done()
        if then is not None and self.django is not None and DURABLE_MARK in then:
            durability.note_durable(self.django)

    def _commit_apart(self, then: str) -> None:
        # Drills only: COMMIT and `then` in two round trips, with a pause
        # point between them (a move visible to others and not yet durable).
        outcomes.commit_sent()
        self.run()
        faults.point("pipeline.committed")
        self.send(then)
        self.run()
        outcomes.commit_done()
        faults.point("pipeline.durable")

    def discard(self) -> None:
        """After a failure: send what was queued (never a COMMIT: `commit`
        runs at once), ignoring errors, so the connection is usable; the
        caller rolls back."""
        try:
            self.run()
        except psycopg.Error:
            pass


class Cursor:
    """The part of a DB-API cursor the move path uses, over a Pipeline:
    `execute` queues, fetching sends the queue if this result is not in yet."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._pending: Pending | None = None
        self._rows: list[tuple[Any, ...]] | None = None
        self._at = 0

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None, *, prepare: bool = True) -> None:
        self._pending = self.pipeline.send(sql, params, prepare=prepare)
        self._rows = None

    def _load(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            pending = self._pending
            if pending is None:
                raise psycopg.ProgrammingError("no statement was executed")
            if not pending.done:
                self.pipeline.run()
            result = pending.result
            if result is None or result.status != _TUPLES_OK:
                raise psycopg.ProgrammingError("the statement returned no rows")
            transformer = self.pipeline.state.transformer
            transformer.set_pgresult(result)
            self._rows = transformer.load_rows(0, result.ntuples, tuple)
            self._at = 0
        return self._rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows = self._load()
        rest, self._at = rows[self._at :], len(rows)
        return rest

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self._load()
        if self._at >= len(rows):
            return None
        self._at += 1
        return rows[self._at - 1]

    def close(self) -> None:
        self._rows = None

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def open(connection: Any) -> Iterator[Pipeline]:  # noqa: A001 (read as pgpipeline.open)
    """A pipeline on a Django PostgreSQL connection. Django queries made
    while statements are queued send the queue first; on the way out, what
    is still queued is sent (a failure leaves nothing queued behind)."""
    connection.ensure_connection()
    pipeline = Pipeline(connection.connection)
    pipeline.django = connection
    durability.note_read(connection)

    def queue_first(execute: Any, sql: Any, params: Any, many: Any, context: Any) -> Any:
        pipeline.run()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(queue_first):
        try:
            yield pipeline
        except BaseException:
            pipeline.discard()
            raise
        pipeline.run()
