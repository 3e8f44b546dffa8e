"""The database work of a move, behind one small interface: `lock` the
transferring account (and read what the move needs under that lock),
`select` its units, `write` a completed move, `keep` a waiting one.

`MoveStore` is the portable implementation (SQLite, or any database Django
speaks); `PostgresStore` sends the same work through `core.pgpipeline`:
prepared statements queued until a result is needed, the reads under the
lock in the locking query's round trip, every write but the ledger entry in
one statement, and, for a move outside any transaction, BEGIN with the first
batch and COMMIT with the last (two round trips), then the durability
barrier. The hot path is plain SQL: a move is a handful of statements, and
on a busy registry the ORM's per-query cost, not the database, would set
the pace."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction

from tonne.core import clock, pgpipeline
from tonne.core.errors import NotFound, ValidationFailed
from tonne.core.rows import loaded
from tonne.ledger.services import Appended, Stamp, append
from tonne.organisations.models import Account, Organisation, User
from tonne.units.controls_port import controls
from tonne.units.domain import (
    BlockRow,
    Flags,
    MoveRequest,
    Piece,
    Remainder,
    Selection,
    SerialRange,
    Shrunk,
    free_parts,
    insufficient,
    missing_criterion,
    pieces_of_range,
    take,
)

T = TypeVar("T")


@contextmanager
def hot_cursor() -> Iterator[Any]:
    """The cursor of the unit-moving path. On PostgreSQL, a cursor over a
    `pgpipeline.Pipeline`: statements are prepared once per connection and
    queued until a result is needed, so a move takes two round trips."""
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of the `connection` proxy costs a lookup
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            yield cursor
        return
    # Django's wrapper turns driver errors into django.db errors (IntegrityError…).
    with db.wrap_database_errors, pgpipeline.open(db) as pipeline:
        yield pipeline.cursor()


# -- locking -----------------------------------------------------------------------------

ACCOUNT_COLUMNS = "{a}.id, {a}.identifier, {a}.number, {a}.type, {a}.name, {a}.status, {a}.is_terminal, {a}.organisation_id"
LOCK_ACCOUNTS_SQL = (
    f"SELECT {ACCOUNT_COLUMNS.format(a='a')}, o.status, o.name, "
    f"{ACCOUNT_COLUMNS.format(a='t')}, tor.status, tor.name, "
    # "<> ''" is the unique index's own condition: a prepared (generic)
    # plan can use that index only if the statement says it.
    f"(SELECT x.id FROM units_transaction x WHERE x.initiated_by_id = %s AND x.idempotency_key = %s "
    f"AND x.idempotency_key <> '') "
    f"FROM organisations_account a "
    f"LEFT JOIN organisations_organisation o ON o.id = a.organisation_id "
    f"LEFT JOIN organisations_account t ON t.identifier = %s "
    f"LEFT JOIN organisations_organisation tor ON tor.id = t.organisation_id "
    f"WHERE a.identifier = %s"
)


def _account(row: tuple[Any, ...]) -> Account | None:
    """An Account (and its holder's status) from ten columns, without another query."""
    account_id, identifier, number, type_, name, status, terminal, org_id, org_status, org_name = row
    if account_id is None:
        return None
    organisation = loaded(Organisation, id=org_id, status=org_status, name=org_name) if org_id is not None else None
    return loaded(
        Account, {"organisation": organisation}, id=account_id, identifier=identifier, number=number, type=type_,
        name=name, status=status, is_terminal=bool(terminal), organisation_id=org_id,
    )


@dataclass
class Locked:
    """What the move read under the transferring account's lock."""

    source: Account
    target: Account | None
    earlier_id: int | None  # an earlier request of this user with this key
    flags: Flags | None = None  # which control rules may refuse, when read with the lock
    first_blocks: Any = None  # the criteria query's first batch, when read with the lock


def lock_accounts(identifiers: list[str]) -> None:
    """Lock these accounts as a move does (inside the caller's transaction),
    in the order given: moves that take several accounts' locks take them in
    one order, so two of them never wait on each other."""
    if not identifiers or connections[DEFAULT_DB_ALIAS].vendor != "postgresql":
        return  # SQLite: one writer at a time, no row locks
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(
            "SELECT a.id FROM organisations_account a JOIN unnest(%s::text[]) WITH ORDINALITY AS w (identifier, n) "
            "ON w.identifier = a.identifier ORDER BY w.n FOR NO KEY UPDATE OF a",
            [identifiers],
        )
        cursor.fetchall()


# -- selecting units -----------------------------------------------------------------------

BLOCK_COLUMNS = "id, issuance_id, project_id, vintage, unit_class, serial_start, serial_end, acquired_at"
# Whether a range (%s end, %s start) touches serials reserved by a waiting transaction.
RESERVED_RANGE = "EXISTS (SELECT 1 FROM controls_unitreservation r WHERE r.serial_start <= %s AND r.serial_end >= %s)"


@functools.cache
def _block_held_back() -> str:
    """Whether a block (b) holds units criteria selection must pass over:
    reserved by a waiting transaction, or frozen by serial range or project
    (the controls say when a freeze is in force). Both tables are empty in
    the common case: an index probe each, in the same statement."""
    return (
        "(EXISTS (SELECT 1 FROM controls_unitreservation r WHERE r.serial_start <= b.serial_end "
        "AND r.serial_end >= b.serial_start) OR EXISTS (SELECT 1 FROM controls_freeze f WHERE "
        f"{controls().active_freeze_sql()} AND ((f.scope = 'serials' AND f.serial_start <= b.serial_end "
        "AND f.serial_end >= b.serial_start) OR (f.scope = 'project' AND f.project_id = b.project_id))))"
    )


# Blocks never overlap: the block holding the first serial, then those
# starting inside the range; two index range scans however big the account.
RANGE_BLOCKS_SQL = (
    f"SELECT {BLOCK_COLUMNS}, {RESERVED_RANGE} FROM (SELECT {BLOCK_COLUMNS} FROM (SELECT {BLOCK_COLUMNS} "
    f"FROM units_unitblock WHERE account_id = %s AND serial_start <= %s ORDER BY serial_start DESC LIMIT 1) "
    f"AS first_block UNION ALL SELECT {BLOCK_COLUMNS} FROM units_unitblock "
    f"WHERE account_id = %s AND serial_start > %s AND serial_start <= %s) AS held ORDER BY serial_start"
)
FIRST_BATCH = 20  # most moves need a block or two: fetch a few at a time


def _uuid_param(text: str) -> str:
    # Django keeps a UUID as 32 hex digits on SQLite, as the uuid type on PostgreSQL.
    return uuid.UUID(text).hex if connections[DEFAULT_DB_ALIAS].vendor == "sqlite" else text


@functools.cache
def _criteria_statement(account_sql: str, project: bool, vintage: bool, unit_class: bool, issuance: bool = False) -> str:
    where = [f"account_id = {account_sql}"]
    if project:
        where.append("project_id = (SELECT id FROM projects_project WHERE project_id = %s)")
    if issuance:
        where.append("issuance_id = (SELECT id FROM units_issuance WHERE uid = %s)")
    if vintage:
        where.append("vintage = %s")
    if unit_class:
        where.append("unit_class = %s")
    # The flag is computed on the batch only, after the index gives its rows.
    return (
        f"SELECT {BLOCK_COLUMNS}, {_block_held_back()} FROM (SELECT {BLOCK_COLUMNS} FROM units_unitblock "
        f"WHERE {' AND '.join(where)} ORDER BY acquired_at, serial_start LIMIT %s OFFSET %s) b "
        f"ORDER BY acquired_at, serial_start"
    )


# -- writing -------------------------------------------------------------------------------

TRANSACTION_COLUMNS = (
    "identifier, kind, status, initiated_by_id, organisation_id, idempotency_key, request_hash, from_account_id, "
    "to_account_id, quantity, issuance_id, project_id, reason, beneficiary, purpose, jurisdiction, compliance_period, "
    "using_entity, on_behalf_of, created_at, completed_at, failure_code, ledger_seq"
)
# The one statement that writes a moved transaction's row (its ledger
# number is stamped by the ledger's append) ...
INSERT_TRANSACTION_SQL = (
    f"INSERT INTO units_transaction ({TRANSACTION_COLUMNS}) VALUES ({', '.join(['%s'] * 22)}, NULL) RETURNING id"
)
# ... or completes, in place, one that waited.
COMPLETE_WAITING_SQL = "UPDATE units_transaction SET status = %s, completed_at = %s, project_id = %s WHERE id = %s RETURNING id"
REMAINDER_COLUMNS = "issuance_id, project_id, vintage, unit_class, serial_start, serial_end, account_id, acquired_at"


@dataclass(frozen=True)
class MovePlan:
    """Everything a completed move writes."""

    shrunk: list[Shrunk]
    remainders: list[Remainder]
    transaction_sql: str  # INSERT_TRANSACTION_SQL or COMPLETE_WAITING_SQL
    transaction_params: list[Any]
    blocks: list[tuple[int, int, int]]  # (issuance, start, end) of the transaction's blocks
    identifier: str
    entry_kind: str
    actor: User
    entry: dict[str, Any]


@functools.lru_cache(maxsize=256)
def _writes_sql(shrunk: int, remainders: int, transaction_sql: str, blocks: int) -> str:
    """Everything a move writes but its ledger entry, in one statement: the
    blocks shrunk to their first part, then the remainders of split blocks
    (the INSERT waits for the UPDATE, which it counts, so no two rows ever
    overlap), the transaction and its blocks."""
    values = ", ".join(["(%s::bigint, %s::bigint, %s::bigint, %s::bigint, %s::timestamptz)"] * shrunk)
    parts = [
        "shrunk AS (UPDATE units_unitblock b SET serial_start = v.serial_start, serial_end = v.serial_end, "
        f"account_id = v.account_id, acquired_at = v.acquired_at FROM (VALUES {values}) "
        "AS v (id, serial_start, serial_end, account_id, acquired_at) WHERE b.id = v.id RETURNING b.id)"
    ]
    if remainders:
        rows = ", ".join(
            ["(%s::bigint, %s::bigint, %s::integer, %s::text, %s::bigint, %s::bigint, %s::bigint, %s::timestamptz)"]
            * remainders
        )
        parts.append(
            f"remainders AS (INSERT INTO units_unitblock ({REMAINDER_COLUMNS}) SELECT * FROM (VALUES {rows}) "
            f"AS v ({REMAINDER_COLUMNS}) WHERE (SELECT count(*) FROM shrunk) > 0)"
        )
    parts.append(f"txn AS ({transaction_sql})")
    parts.append(
        "blocks AS (INSERT INTO units_transactionblock (transaction_id, issuance_id, serial_start, serial_end) "
        "SELECT txn.id, v.issuance_id, v.serial_start, v.serial_end FROM txn, "
        f"(VALUES {', '.join(['(%s::bigint, %s::bigint, %s::bigint)'] * blocks)}) AS v (issuance_id, serial_start, serial_end))"
    )
    return "WITH " + ", ".join(parts) + " SELECT id FROM txn"


@functools.cache
def _prefixes_sql(issuances: int) -> str:
    return (
        "SELECT i.id, i.number, p.host_party, p.sectoral_scope, p.number, p.project_id FROM units_issuance i "
        f"JOIN projects_project p ON p.id = i.project_id WHERE i.id IN ({', '.join(['%s'] * issuances)})"
    )


def _prefixes(rows: list[Any]) -> dict[int, tuple[int, str, int, int, str]]:
    return {row[0]: tuple(row[1:]) for row in rows}


def _stamp(identifier: str) -> Stamp:
    return Stamp(table="units_transaction", column="ledger_seq", key_column="identifier", key=identifier)


class MoveStore:
    """The portable store: one statement at a time, inside Django's transaction."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def now(self, at: Any = None) -> Any:
        """The current time (or `at`) as the database takes it."""
        return connections[DEFAULT_DB_ALIAS].ops.adapt_datetimefield_value(at or clock.now())

    def lock(self, actor: User, request: MoveRequest, *, read_ahead: bool = True) -> Locked:
        """Lock the transferring account and, in the same round trip, read the
        acquiring account (not locked: moves into it never wait on each other)
        and any earlier request of this user with this key."""
        self.cursor.execute(self._lock_sql(), [actor.pk, request.key, request.target, request.source])
        queued = self._read_ahead(request) if read_ahead else None
        row = self.cursor.fetchone()
        if row is None:
            raise NotFound("ACCOUNT_NOT_FOUND", f"Account {request.source} does not exist in this registry.", field="from_account", details={"account": request.source})
        source = _account(row[0:10])
        assert source is not None
        locked = Locked(source=source, target=_account(row[10:20]), earlier_id=row[20])
        if queued is not None:
            flags_cursor, locked.first_blocks = queued
            locked.flags = controls().read_flags(request.kind, source, flags_cursor.fetchone())
            flags_cursor.close()
        return locked

    def _lock_sql(self) -> str:
        return LOCK_ACCOUNTS_SQL

    def _read_ahead(self, request: MoveRequest) -> tuple[Any, Any] | None:
        """Reads to queue behind the locking query (pipelined stores only)."""
        return None

    def select(self, account: Account, selection: Selection, first_blocks: Any = None) -> list[Piece]:
        """The units a move takes from the account: the one selection rule, shared
        by the moves themselves and the read-only preview (units.selectors).
        `first_blocks`: the criteria query's first rows when the lock read them."""
        if selection.ranges:
            return self._select_by_ranges(account, selection.ranges)
        return self._select_by_criteria(account, selection, first_blocks)

    def _select_by_ranges(self, account: Account, ranges: tuple[SerialRange, ...]) -> list[Piece]:
        pieces: list[Piece] = []
        for wanted in ranges:
            self.cursor.execute(
                RANGE_BLOCKS_SQL, [wanted.end, wanted.start, account.pk, wanted.start, account.pk, wanted.start, wanted.end]
            )
            rows = self.cursor.fetchall()
            if rows and rows[0][-1]:
                raise ValidationFailed(
                    "UNITS_RESERVED",
                    f"Some of serials {wanted.start}-{wanted.end} are committed to a transaction waiting for "
                    "approval or settlement; cancel it first, or choose other units.",
                    field="ranges",
                    details={"serials": f"{wanted.start}-{wanted.end}"},
                )
            pieces += pieces_of_range(wanted, [BlockRow(*row[:-1]) for row in rows], account.identifier)
        return pieces

    def criteria(self, selection: Selection, account_sql: str, account_param: Any) -> tuple[str, list[Any]]:
        """Blocks matching the selection in the order they are taken, a batch at
        a time (LIMIT, OFFSET are the last two parameters), each with whether
        some of its units are held back (_block_held_back)."""
        params: list[Any] = [self.now(), account_param]
        if selection.project:
            params.append(selection.project)
        if selection.issuance:
            params.append(_uuid_param(selection.issuance))
        if selection.vintage:
            params.append(selection.vintage)
        if selection.unit_class:
            params.append(selection.unit_class)
        sql = _criteria_statement(
            account_sql, bool(selection.project), bool(selection.vintage), bool(selection.unit_class), bool(selection.issuance)
        )
        return sql, params

    def more_blocks(self, sql: str, params: list[Any], batch: int, offset: int) -> list[Any]:
        self.cursor.execute(sql, [*params, batch, offset])
        return list(self.cursor.fetchall())

    def _select_by_criteria(self, account: Account, selection: Selection, first_blocks: Any = None) -> list[Piece]:
        sql, params = self.criteria(selection, "%s", account.pk)
        need = int(selection.quantity or 0)
        pieces: list[Piece] = []
        held_back = 0  # matching units frozen or reserved by a waiting transaction
        offset, batch = 0, FIRST_BATCH
        while need:
            if offset == 0 and first_blocks is not None:
                rows = first_blocks.fetchall()
                first_blocks.close()
            else:
                rows = self.more_blocks(sql, params, batch, offset)
            for row in rows:
                block = BlockRow(*row[:-1])
                parts = [SerialRange(block.serial_start, block.serial_end)]
                if row[-1]:
                    parts = self._free_parts(block)
                    held_back += block.quantity - sum(p.count for p in parts)
                need = take(block, parts, need, pieces)
                if need == 0:
                    return pieces
            if len(rows) < batch:
                break
            offset += batch
            batch = min(batch * 4, 1000)
        requested = int(selection.quantity or 0)
        if requested == need and (selection.project or selection.issuance):  # nothing matched: does it exist at all?
            self.cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM projects_project WHERE project_id = %s), "
                "EXISTS (SELECT 1 FROM units_issuance WHERE uid = %s)",
                [selection.project or "", _uuid_param(selection.issuance or "00000000-0000-0000-0000-000000000000")],
            )
            project_found, issuance_found = self.cursor.fetchone()
            missing_criterion(selection.project, bool(project_found), selection.issuance, bool(issuance_found))
        raise insufficient(account.identifier, requested, requested - need, held_back)

    def _free_parts(self, block: BlockRow) -> list[SerialRange]:
        """The parts of a held-back block no reservation or freeze covers (rare:
        only runs for a block the criteria query flagged)."""
        now = self.now()
        in_force = controls().active_freeze_sql()
        self.cursor.execute(
            f"SELECT 1 FROM controls_freeze f WHERE {in_force} AND f.scope = 'project' AND f.project_id = %s",
            [now, block.project_id],
        )
        if self.cursor.fetchone():
            return []
        self.cursor.execute(
            "SELECT serial_start, serial_end FROM controls_unitreservation WHERE serial_start <= %s AND serial_end >= %s "
            f"UNION ALL SELECT serial_start, serial_end FROM controls_freeze f WHERE {in_force} "
            "AND f.scope = 'serials' AND f.serial_start <= %s AND f.serial_end >= %s",
            [block.serial_end, block.serial_start, now, block.serial_end, block.serial_start],
        )
        return free_parts(block, list(self.cursor.fetchall()))

    def prefixes(self, issuance_ids: list[int]) -> Callable[[], dict[int, tuple[int, str, int, int, str]]]:
        """What the serials of a move's blocks are written with, by issuance: its
        number, the project's host Party, scope, number and identifier (read in
        the move's transaction for its answer; the result when called)."""
        self.cursor.execute(_prefixes_sql(len(issuance_ids)), issuance_ids)
        rows = list(self.cursor.fetchall())
        return lambda: _prefixes(rows)

    def write(self, plan: MovePlan) -> tuple[int, Appended]:
        """Write a completed move: its blocks, its transaction, its ledger entry.
        Returns the transaction's id and the entry."""
        for block_id, start, end, account_id, acquired_at in plan.shrunk:
            self.cursor.execute(
                "UPDATE units_unitblock SET serial_start = %s, serial_end = %s, account_id = %s, acquired_at = %s "
                "WHERE id = %s",
                [start, end, account_id, acquired_at, block_id],
            )
        if plan.remainders:
            self.cursor.execute(
                f"INSERT INTO units_unitblock ({REMAINDER_COLUMNS}) VALUES "
                + ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(plan.remainders)),
                [value for row in plan.remainders for value in row],
            )
        self.cursor.execute(plan.transaction_sql, plan.transaction_params)
        txn_id = self.cursor.fetchone()[0]
        self.cursor.execute(
            "INSERT INTO units_transactionblock (transaction_id, issuance_id, serial_start, serial_end) "
            f"VALUES {', '.join(['(%s, %s, %s, %s)'] * len(plan.blocks))}",
            [v for row in plan.blocks for v in (txn_id, *row)],
        )
        entry = append(
            self.cursor, kind=plan.entry_kind, actor=plan.actor, data=plan.entry, transaction_ref=plan.identifier,
            stamp=_stamp(plan.identifier),
        )
        return txn_id, entry()

    def keep(self) -> None:
        """A waiting move was recorded: it stays (Django's transaction commits it)."""


class PostgresStore(MoveStore):
    """The same work through the statement pipeline; `own_transaction`: the
    move is outside any transaction, and this store begins and commits it."""

    def __init__(self, cursor: Any, *, own_transaction: bool) -> None:
        super().__init__(cursor)
        self.own_transaction = own_transaction

    def now(self, at: Any = None) -> Any:
        # The pipeline sends an aware datetime as it is (the portable store's adaptation is not needed).
        return at or clock.now()

    def _lock_sql(self) -> str:
        # FOR NO KEY UPDATE makes moves out of one account queue, without blocking
        # the foreign-key checks of moves into it (two accounts paying each other).
        return LOCK_ACCOUNTS_SQL + " FOR NO KEY UPDATE OF a"

    def _read_ahead(self, request: MoveRequest) -> tuple[Any, Any]:
        # Queued behind the locking query, so the server runs them once the
        # lock is held: same round trip, fresh data. Which control rules may
        # refuse, and the first blocks (used only if the checks pass).
        sql, params = controls().flags_statement(request.source, request.target, clock.now())
        flags = self.cursor.pipeline.cursor()
        flags.execute(sql, params)
        first_blocks = None
        if not request.selection.ranges:
            sql, params = self.criteria(
                request.selection, "(SELECT id FROM organisations_account WHERE identifier = %s)", request.source
            )
            first_blocks = self.cursor.pipeline.cursor()
            first_blocks.execute(sql, [*params, FIRST_BATCH, 0])
        return flags, first_blocks

    def prefixes(self, issuance_ids: list[int]) -> Callable[[], dict[int, tuple[int, str, int, int, str]]]:
        # Queued: it goes out with the writes, in their round trip.
        read = self.cursor.pipeline.cursor()
        read.execute(_prefixes_sql(len(issuance_ids)), issuance_ids)
        return lambda: _prefixes(read.fetchall())

    def write(self, plan: MovePlan) -> tuple[int, Appended]:
        # Everything but the ledger entry is written before the head's lock is
        # taken; the locked statement only appends the entry and stamps its
        # number on the transaction, and COMMIT follows at once.
        writes = self.cursor.pipeline.cursor()
        writes.execute(
            _writes_sql(len(plan.shrunk), len(plan.remainders), plan.transaction_sql, len(plan.blocks)),
            [v for row in plan.shrunk for v in row] + [v for row in plan.remainders for v in row]
            + plan.transaction_params + [v for row in plan.blocks for v in row],
        )
        appended = self.cursor.pipeline.cursor()
        entry = append(
            appended, kind=plan.entry_kind, actor=plan.actor, data=plan.entry, transaction_ref=plan.identifier,
            stamp=_stamp(plan.identifier), asynchronous_commit=self.own_transaction,
        )
        if self.own_transaction:
            # Sent with the writes: the head's lock is released by this
            # COMMIT without waiting on a round trip to this client.
            commit_then_wait_until_durable(self.cursor.pipeline)
        (txn_id,) = writes.fetchall()[0]
        result = entry()
        writes.close()
        appended.close()
        return txn_id, result

    def keep(self) -> None:
        if self.own_transaction:  # the waiting request is kept
            self.cursor.pipeline.commit()


# A transactional WAL message: committing it flushes the WAL (fsync, and
# synchronous replication when configured) up to its own commit record.
DURABILITY_BARRIER = "SELECT pg_logical_emit_message(true, 'tonne.durable', '')"


def commit_then_wait_until_durable(pipeline: pgpipeline.Pipeline) -> None:
    """Commit a move without holding the ledger head's lock through the disk
    flush, then answer only once the move is durable.

    Every move locks the ledger head (the previous-hash chain is serial), so
    a plain COMMIT would keep the lock for the whole WAL flush and the
    registry could never move more than one transfer per disk flush. The
    move therefore commits asynchronously (its locks go at once), and a
    second tiny transaction, queued in the same round trip, commits
    synchronously: WAL is flushed in order, so when it returns the move's
    commit record is on disk too, and concurrent moves share their flushes
    (group commit). No caller is told "completed" before that. Other
    sessions may see the move during that flush; if the server crashed
    then, the move and everything after it in the WAL would be lost
    together, so the ledger stays a consistent prefix."""
    # COMMIT is asynchronous (the append set it for this transaction); the barrier is not.
    pipeline.commit(then=DURABILITY_BARRIER)


def pipelined_transaction_possible() -> bool:
    db = connections[DEFAULT_DB_ALIAS]
    return db.vendor == "postgresql" and not db.in_atomic_block and db.get_autocommit()


def run(work: Callable[[MoveStore], T]) -> T:
    """Run a move's work against the store that fits. Outside any transaction
    on PostgreSQL, in a transaction of the store's own, so that BEGIN goes out
    with the locking query and COMMIT with the writes (the ledger head is
    locked by the last statement before COMMIT, and nothing waits on this
    client while it is held); otherwise in Django's transaction."""
    db = connections[DEFAULT_DB_ALIAS]
    if not pipelined_transaction_possible():
        with transaction.atomic(), hot_cursor() as cursor:
            return work(PostgresStore(cursor, own_transaction=False) if db.vendor == "postgresql" else MoveStore(cursor))
    db.ensure_connection()
    for attempt in (1, 2):
        raw = db.connection
        try:
            with hot_cursor() as cursor:
                cursor.execute("BEGIN", prepare=False)
                return work(PostgresStore(cursor, own_transaction=True))
        except DatabaseError as exc:
            # The server forgot the prepared statements (DEALLOCATE ALL): the
            # move did nothing, and is sent once more, prepared afresh.
            if attempt == 2 or not isinstance(exc.__cause__, psycopg.errors.InvalidSqlStatementName):
                raise
        finally:
            if not raw.closed and raw.pgconn.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                # refused, or failed: nothing of it stays
                with db.wrap_database_errors:
                    raw.execute("ROLLBACK")
    raise AssertionError("unreachable")
