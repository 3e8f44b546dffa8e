"""Every state change of units: issuing, transferring, retiring, cancelling
and reversing. One function per operation; each runs in one database
transaction that validates, locks what it reads, moves blocks, and appends
its ledger entry before committing."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    IntegrityError,
    connection,
    connections,
    transaction,
)
from django.db.models import Max

from tonne.controls import gate, rules
from tonne.controls import services as control_services
from tonne.controls.domain import Decision, merged_ranges
from tonne.core import clock, faults, pgpipeline
from tonne.core.canonical import canonical_json
from tonne.core.errors import Conflict, NotFound, RegistryError, ValidationFailed
from tonne.core.rows import loaded
from tonne.ledger.services import (
    APPEND_IN_DATABASE_SQL,
    INSERT_ENTRY_SQL,
    SET_HEAD_HASH_SQL,
    append_entry,
    entry_row,
    entry_template,
    reserve_seq,
)
from tonne.organisations.domain import check_account_identifier
from tonne.organisations.models import Account, Organisation, User
from tonne.organisations.services import (
    require_account_operator,
    require_registry_administrator,
    system_account,
)
from tonne.projects.domain import buffer_quantity
from tonne.projects.models import Project
from tonne.units.domain import RETIREMENT_PURPOSES, Selection, SerialRange, issuance_shares
from tonne.units.models import Issuance, SerialCounter, Transaction, TransactionBlock, UnitBlock
from tonne.units.reactions import reactions

Kind = Transaction.Kind
Status = Transaction.Status


def _new_identifier(at: dt.datetime) -> str:
    return f"TX-{at:%Y%m%d}-{secrets.token_hex(5).upper()}"


def allocate_serials(count: int) -> int:
    """Take `count` serials from the registry-wide sequence; return the first."""
    counter = SerialCounter.objects.select_for_update().get(pk=1)
    start = counter.next_serial
    SerialCounter.objects.filter(pk=1).update(next_serial=start + count)
    return start


# -- issuance ------------------------------------------------------------------


def _issuance_shares(quantity: int, unit_class: str) -> tuple[int, int]:
    """Share of proceeds and OMGE, for the unit classes the country says carry them."""
    if unit_class not in settings.TONNE_SOP_OMGE_UNIT_CLASSES:
        return 0, 0
    return issuance_shares(quantity, settings.TONNE_SOP_BASIS_POINTS, settings.TONNE_OMGE_BASIS_POINTS)


def issuance_account(project: Project) -> Account:
    account = (
        Account.objects.filter(organisation=project.developer, type=Account.Type.HOLDING, status=Account.Status.OPEN)
        .order_by("number")
        .first()
    )
    if account is None:
        raise ValidationFailed(
            "ISSUANCE_ACCOUNT_MISSING", f"{project.developer.name} has no open holding account to receive units."
        )
    return account


def _new_issuance(
    actor: User, project: Project, report: Any, vintage: int, quantity: int, buffer: int, now: dt.datetime
) -> Issuance:
    """A new issuance of the project, on newly allocated serials."""
    start = allocate_serials(quantity)
    number = (Issuance.objects.filter(project=project).aggregate(m=Max("number"))["m"] or 0) + 1
    return Issuance.objects.create(
        uid=uuid.uuid4(),
        project=project,
        report=report,
        number=number,
        vintage=vintage,
        unit_class=project.unit_class,
        quantity=quantity,
        buffer_quantity=buffer,
        serial_start=start,
        serial_end=start + quantity - 1,
        approved_by=actor,
        issued_at=now,
    )


def _place(
    issuance: Issuance, account: Account, serials: SerialRange, kind: str, actor: User, now: dt.datetime,
    **fields: str,
) -> tuple[Transaction, dict[str, Any]]:
    """Put serials of a new issuance into an account: its block, the completed
    transaction that brought them, and how the ledger entry names them."""
    UnitBlock.objects.create(
        issuance=issuance,
        project=issuance.project,
        vintage=issuance.vintage,
        unit_class=issuance.unit_class,
        serial_start=serials.start,
        serial_end=serials.end,
        account=account,
        acquired_at=now,
    )
    txn = Transaction.objects.create(
        identifier=_new_identifier(now),
        kind=kind,
        status=Status.COMPLETED,
        initiated_by=actor,
        organisation=actor.organisation,
        to_account=account,
        quantity=serials.count,
        issuance=issuance,
        project=issuance.project,
        created_at=now,
        completed_at=now,
        **fields,
    )
    TransactionBlock.objects.create(transaction=txn, issuance=issuance, serial_start=serials.start, serial_end=serials.end)
    block = {"start": serials.start, "end": serials.end, "account": account.identifier, "transaction": txn.identifier, "kind": kind}
    return txn, block


def _issuance_info(issuance: Issuance, report: Any) -> dict[str, Any]:
    """The issuance as its ledger entry states it."""
    project = issuance.project
    return {
        "uid": str(issuance.uid),
        "project": project.project_id,
        "project_number": project.number,
        "host": project.host_party,
        "scope": project.sectoral_scope,
        "number": issuance.number,
        "vintage": issuance.vintage,
        "unit_class": issuance.unit_class,
        "quantity": issuance.quantity,
        "buffer": issuance.buffer_quantity,
        "report": str(report.uid),
    }


def issue_units(*, actor: User, project: Project, report: Any, vintage: int, quantity: int) -> Issuance:
    """Create the blocks of one issuance (called by MRV inside its transaction):
    the developer's share into its holding account, the share of proceeds and
    OMGE shares (unit classes that carry them) into their system accounts, the
    buffer share into the pool."""
    if quantity <= 0:
        raise ValidationFailed("QUANTITY_NOT_POSITIVE", "Nothing to issue for this vintage.")
    now = clock.now()
    to_holding = issuance_account(project)
    buffer = buffer_quantity(quantity, project.buffer_basis_points)
    sop, omge = _issuance_shares(quantity, project.unit_class)
    if buffer + sop + omge > quantity:
        raise ValidationFailed(
            "ISSUANCE_SHARES_EXCEED_QUANTITY",
            f"Buffer ({buffer}), share of proceeds ({sop}) and OMGE ({omge}) exceed the {quantity} units to issue.",
        )
    net = quantity - buffer - sop - omge
    issuance = _new_issuance(actor, project, report, vintage, quantity, buffer, now)
    start = issuance.serial_start
    parts: list[tuple[Account, SerialRange, str]] = []
    if net:
        parts.append((to_holding, SerialRange(start, start + net - 1), Kind.ISSUANCE))
    # Serial order: holder, share of proceeds, OMGE cancellation, buffer pool.
    if sop:
        parts.append((system_account(Account.Type.SOP), SerialRange(start + net, start + net + sop - 1), Kind.ISSUANCE))
    if omge:
        first = start + net + sop
        parts.append((system_account(Account.Type.OMGE), SerialRange(first, first + omge - 1), Kind.ISSUANCE))
    if buffer:
        parts.append((system_account(Account.Type.BUFFER), SerialRange(start + quantity - buffer, start + quantity - 1), Kind.BUFFER_CONTRIBUTION))
    txns = []
    blocks_data = []
    for account, serials, kind in parts:
        txn, block = _place(issuance, account, serials, kind, actor, now)
        txns.append(txn)
        blocks_data.append(block)
    info = _issuance_info(issuance, report)
    if sop or omge:
        info.update(sop=sop, omge=omge)
    data: dict[str, Any] = {"op": "issue", "issuance": info, "blocks": blocks_data}
    for hook in reactions().on_issuance:  # e.g. Article 6 authorisation of the holder's units
        data.update(hook(issuance, SerialRange(start, start + net - 1) if net else None, txns[0].identifier, now))
    entry = append_entry(kind="units.issued", actor=actor, transaction_ref=txns[0].identifier, data=data)
    Transaction.objects.filter(pk__in=[t.pk for t in txns]).update(ledger_seq=entry.seq)
    return issuance


def receive_units(
    *, actor: User, project: Project, report: Any, vintage: int, quantity: int, account: Account,
    reason: str, jurisdiction: str, received: dict[str, Any],
) -> tuple[Issuance, Transaction]:
    """Units received from another registry enter this one like an issuance:
    new local serials, one block in the acquiring account, an import
    transaction, and a "units.issued" ledger entry that says where they came
    from (`received`). No buffer, share of proceeds or OMGE: the issuing
    registry took those; and no authorisation is attached here."""
    if quantity <= 0:
        raise ValidationFailed("QUANTITY_NOT_POSITIVE", "Nothing to receive.")
    if account.type != Account.Type.HOLDING or account.status != Account.Status.OPEN:
        raise ValidationFailed("ACQUIRING_ACCOUNT_NOT_OPEN", f"Account {account.identifier} cannot receive units.")
    now = clock.now()
    issuance = _new_issuance(actor, project, report, vintage, quantity, 0, now)
    txn, block = _place(
        issuance, account, SerialRange(issuance.serial_start, issuance.serial_end), Kind.IMPORT, actor, now,
        reason=reason[:500], jurisdiction=jurisdiction,
    )
    entry = append_entry(
        kind="units.issued",
        actor=actor,
        transaction_ref=txn.identifier,
        data={"op": "import", "issuance": _issuance_info(issuance, report), "blocks": [block], "import": received},
    )
    Transaction.objects.filter(pk=txn.pk).update(ledger_seq=entry.seq)
    txn.ledger_seq = entry.seq
    return issuance, txn


# -- moving units --------------------------------------------------------------
#
# The hot path is plain SQL: a move is a handful of statements, and on a busy
# registry the ORM's per-query cost, not the database, would set the pace.


@dataclass(frozen=True)
class BlockRow:
    id: int
    issuance_id: int
    project_id: int
    vintage: int
    unit_class: str
    serial_start: int
    serial_end: int
    acquired_at: Any  # as the database returns it; written back unchanged

    @property
    def quantity(self) -> int:
        return self.serial_end - self.serial_start + 1


@dataclass(frozen=True)
class Piece:
    block: BlockRow
    serials: SerialRange


BLOCK_COLUMNS = "id, issuance_id, project_id, vintage, unit_class, serial_start, serial_end, acquired_at"


def _fetch_blocks(cursor: Any, sql: str, params: list[Any]) -> list[BlockRow]:
    cursor.execute(sql, params)
    return [BlockRow(*row) for row in cursor.fetchall()]


def _select_by_ranges(cursor: Any, account: Account, ranges: tuple[SerialRange, ...]) -> list[Piece]:
    pieces: list[Piece] = []
    for wanted in ranges:
        # Blocks never overlap: the block holding the first serial, then those
        # starting inside the range; two index range scans however big the account.
        cursor.execute(
            f"SELECT {BLOCK_COLUMNS}, {RESERVED_RANGE} FROM (SELECT {BLOCK_COLUMNS} FROM (SELECT {BLOCK_COLUMNS} "
            f"FROM units_unitblock WHERE account_id = %s AND serial_start <= %s ORDER BY serial_start DESC LIMIT 1) "
            f"AS first_block UNION ALL SELECT {BLOCK_COLUMNS} FROM units_unitblock "
            f"WHERE account_id = %s AND serial_start > %s AND serial_start <= %s) AS held ORDER BY serial_start",
            [wanted.end, wanted.start, account.pk, wanted.start, account.pk, wanted.start, wanted.end],
        )
        rows = cursor.fetchall()
        if rows and rows[0][-1]:
            raise ValidationFailed(
                "UNITS_RESERVED",
                f"Some of serials {wanted.start}-{wanted.end} are committed to a transaction waiting for "
                "approval or settlement; cancel it first, or choose other units.",
                field="ranges",
            )
        blocks = [BlockRow(*row[:-1]) for row in rows]
        cursor_at = wanted.start
        for block in blocks:
            if block.serial_end < cursor_at:
                continue
            if block.serial_start > cursor_at:
                break
            piece_end = min(block.serial_end, wanted.end)
            pieces.append(Piece(block, SerialRange(cursor_at, piece_end)))
            cursor_at = piece_end + 1
            if cursor_at > wanted.end:
                break
        if cursor_at <= wanted.end:
            raise ValidationFailed(
                "SERIAL_RANGE_NOT_HELD",
                f"Serials {wanted.start}-{wanted.end} are not all held in account {account.identifier} "
                f"(serial {cursor_at} is not there).",
                field="ranges",
                details={"first_missing_serial": cursor_at},
            )
    return pieces


# Whether a range (%s end, %s start) touches serials reserved by a waiting transaction.
RESERVED_RANGE = (
    "EXISTS (SELECT 1 FROM controls_unitreservation r WHERE r.serial_start <= %s AND r.serial_end >= %s)"
)
# Whether a block (b) holds units criteria selection must pass over: reserved
# by a waiting transaction, or frozen by serial range or project. Both tables
# are empty in the common case: an index probe each, in the same statement.
BLOCK_HELD_BACK = (
    "(EXISTS (SELECT 1 FROM controls_unitreservation r WHERE r.serial_start <= b.serial_end "
    "AND r.serial_end >= b.serial_start) OR EXISTS (SELECT 1 FROM controls_freeze f WHERE "
    f"{rules.ACTIVE_FREEZE_SQL} AND ((f.scope = 'serials' AND f.serial_start <= b.serial_end "
    "AND f.serial_end >= b.serial_start) OR (f.scope = 'project' AND f.project_id = b.project_id))))"
)


def _criteria_sql(selection: Selection, account_sql: str, account_param: Any) -> tuple[str, list[Any]]:
    """Blocks matching the selection in the order they are taken, a batch at
    a time (LIMIT, OFFSET are the last two parameters), each with whether
    some of its units are held back (BLOCK_HELD_BACK)."""
    params: list[Any] = [connection.ops.adapt_datetimefield_value(clock.now()), account_param]
    if selection.project:
        params.append(selection.project)
    if selection.vintage:
        params.append(selection.vintage)
    if selection.unit_class:
        params.append(selection.unit_class)
    return _criteria_statement(account_sql, bool(selection.project), bool(selection.vintage), bool(selection.unit_class)), params


@functools.cache
def _criteria_statement(account_sql: str, project: bool, vintage: bool, unit_class: bool) -> str:
    where = [f"account_id = {account_sql}"]
    if project:
        where.append("project_id = (SELECT id FROM projects_project WHERE project_id = %s)")
    if vintage:
        where.append("vintage = %s")
    if unit_class:
        where.append("unit_class = %s")
    # The flag is computed on the batch only, after the index gives its rows.
    return (
        f"SELECT {BLOCK_COLUMNS}, {BLOCK_HELD_BACK} FROM (SELECT {BLOCK_COLUMNS} FROM units_unitblock "
        f"WHERE {' AND '.join(where)} ORDER BY acquired_at, serial_start LIMIT %s OFFSET %s) b "
        f"ORDER BY acquired_at, serial_start"
    )


def _free_parts(cursor: Any, block: BlockRow) -> list[SerialRange]:
    """The parts of a held-back block no reservation or freeze covers (rare: only
    runs for a block the criteria query flagged)."""
    from django.db import connection

    now = connection.ops.adapt_datetimefield_value(clock.now())
    cursor.execute(
        f"SELECT 1 FROM controls_freeze f WHERE {rules.ACTIVE_FREEZE_SQL} AND f.scope = 'project' AND f.project_id = %s",
        [now, block.project_id],
    )
    if cursor.fetchone():
        return []
    cursor.execute(
        "SELECT serial_start, serial_end FROM controls_unitreservation WHERE serial_start <= %s AND serial_end >= %s "
        f"UNION ALL SELECT serial_start, serial_end FROM controls_freeze f WHERE {rules.ACTIVE_FREEZE_SQL} "
        "AND f.scope = 'serials' AND f.serial_start <= %s AND f.serial_end >= %s",
        [block.serial_end, block.serial_start, now, block.serial_end, block.serial_start],
    )
    parts, at = [], block.serial_start
    for start, end in sorted(cursor.fetchall()):
        if start > at:
            parts.append(SerialRange(at, min(start - 1, block.serial_end)))
        at = max(at, end + 1)
    if at <= block.serial_end:
        parts.append(SerialRange(at, block.serial_end))
    return parts


FIRST_BATCH = 20  # most moves need a block or two: fetch a few at a time


def _queue_first_blocks(cursor: Any, source_identifier: str, selection: Selection) -> Any:
    """Queue the first batch of `_select_by_criteria` (the account named by
    its identifier); returns the cursor that will hold the rows."""
    sql, params = _criteria_sql(selection, "(SELECT id FROM organisations_account WHERE identifier = %s)", source_identifier)
    blocks = cursor.pipeline.cursor()
    blocks.execute(sql, [*params, FIRST_BATCH, 0])
    return blocks


def _select_by_criteria(
    cursor: Any, account: Account, selection: Selection, first_blocks: Any = None
) -> list[Piece]:
    sql, params = _criteria_sql(selection, "%s", account.pk)
    need = int(selection.quantity or 0)
    pieces: list[Piece] = []
    held_back = 0  # matching units frozen or reserved by a waiting transaction
    offset, batch = 0, FIRST_BATCH
    while need:
        if offset == 0 and first_blocks is not None:
            rows = first_blocks.fetchall()
            first_blocks.close()
        else:
            cursor.execute(sql, [*params, batch, offset])
            rows = cursor.fetchall()
        for row in rows:
            block = BlockRow(*row[:-1])
            parts = [SerialRange(block.serial_start, block.serial_end)]
            if row[-1]:
                parts = _free_parts(cursor, block)
                held_back += block.quantity - sum(p.end - p.start + 1 for p in parts)
            for part in parts:
                take = min(need, part.end - part.start + 1)
                pieces.append(Piece(block, SerialRange(part.start, part.start + take - 1)))
                need -= take
                if need == 0:
                    return pieces
        if len(rows) < batch:
            break
        offset += batch
        batch = min(batch * 4, 1000)
    available = int(selection.quantity or 0) - need
    also = f" ({held_back} more are frozen or committed to waiting transactions)" if held_back else ""
    raise ValidationFailed(
        "INSUFFICIENT_UNITS",
        f"Account {account.identifier} holds {available} matching units that may move{also}; "
        f"{selection.quantity} requested.",
        field="quantity",
        details={"available": available, "requested": selection.quantity, **({"held_back": held_back} if held_back else {})},
    )


def select_pieces(cursor: Any, account: Account, selection: Selection, first_blocks: Any = None) -> list[Piece]:
    """The units a move takes from the account: the one selection rule, shared
    by the moves themselves and the read-only preview (units.selectors).
    `first_blocks`: the criteria query's first rows when the move already read them."""
    if selection.ranges:
        return _select_by_ranges(cursor, account, selection.ranges)
    return _select_by_criteria(cursor, account, selection, first_blocks)


def _split_blocks(
    pieces: list[Piece], source_id: int, target_id: int, acquired: Any
) -> tuple[list[list[Any]], list[list[Any]]]:
    """How the pieces move, splitting blocks at their boundaries; every part
    keeps all attributes but its range. Each block row shrinks to its first
    part (`[id, start, end, account, acquired]`); the other parts are new
    rows (the columns of REMAINDER_COLUMNS), inserted after the shrinking
    so no two rows ever overlap."""
    by_block: dict[int, list[Piece]] = {}
    for piece in pieces:
        by_block.setdefault(piece.block.id, []).append(piece)
    shrunk: list[list[Any]] = []
    remainders: list[list[Any]] = []
    for group in by_block.values():
        block = group[0].block
        parts: list[tuple[int, int, int, Any]] = []  # (start, end, account, acquired)
        at = block.serial_start
        for piece in sorted(group, key=lambda p: p.serials.start):
            if piece.serials.start > at:
                parts.append((at, piece.serials.start - 1, source_id, block.acquired_at))
            parts.append((piece.serials.start, piece.serials.end, target_id, acquired))
            at = piece.serials.end + 1
        if at <= block.serial_end:
            parts.append((at, block.serial_end, source_id, block.acquired_at))
        (start, end, account_id, acquired_at), *rest = parts
        shrunk.append([block.id, start, end, account_id, acquired_at])
        for start, end, account_id, acquired_at in rest:
            remainders.append(
                [block.issuance_id, block.project_id, block.vintage, block.unit_class, start, end, account_id, acquired_at]
            )
    return shrunk, remainders


REMAINDER_COLUMNS = "issuance_id, project_id, vintage, unit_class, serial_start, serial_end, account_id, acquired_at"


def _move_blocks_one_by_one(cursor: Any, shrunk: list[list[Any]], remainders: list[list[Any]]) -> None:
    for block_id, start, end, account_id, acquired_at in shrunk:
        cursor.execute(
            "UPDATE units_unitblock SET serial_start = %s, serial_end = %s, account_id = %s, acquired_at = %s "
            "WHERE id = %s",
            [start, end, account_id, acquired_at, block_id],
        )
    if remainders:
        cursor.execute(
            f"INSERT INTO units_unitblock ({REMAINDER_COLUMNS}) VALUES "
            + ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(remainders)),
            [value for row in remainders for value in row],
        )


ACQUIRING_TYPES: dict[str, tuple[str, ...]] = {
    Kind.TRANSFER: (Account.Type.HOLDING,),
    Kind.RETIREMENT: (Account.Type.RETIREMENT,),
    Kind.CANCELLATION: (Account.Type.CANCELLATION, Account.Type.OMGE),
    Kind.REVERSAL: (Account.Type.CANCELLATION,),
    Kind.EXPORT: (Account.Type.EXPORT,),
}
TRANSFERRING_TYPES: dict[str, tuple[str, ...]] = {
    Kind.TRANSFER: (Account.Type.HOLDING,),
    Kind.RETIREMENT: (Account.Type.HOLDING,),
    Kind.CANCELLATION: (Account.Type.HOLDING,),
    Kind.REVERSAL: (Account.Type.BUFFER,),
    Kind.EXPORT: (Account.Type.HOLDING,),
}


def _check_transferring(kind: str, account: Account) -> None:
    if account.is_terminal:
        raise ValidationFailed(
            "TRANSFERRING_ACCOUNT_TERMINAL",
            f"Units in {account.identifier} ({account.type}) are final and never move again.",
            field="from_account",
        )
    if account.status == Account.Status.CLOSED:
        raise ValidationFailed("TRANSFERRING_ACCOUNT_CLOSED", f"Account {account.identifier} is closed.", field="from_account")
    if account.status == Account.Status.SUSPENDED:
        raise ValidationFailed("TRANSFERRING_ACCOUNT_SUSPENDED", f"Account {account.identifier} is suspended.", field="from_account")
    if account.type not in TRANSFERRING_TYPES[kind]:
        raise ValidationFailed(
            "TRANSFERRING_ACCOUNT_TYPE_NOT_ALLOWED",
            f"A {kind} cannot start from a {account.type} account.",
            field="from_account",
        )
    if account.organisation is not None and account.organisation.status != Organisation.Status.APPROVED:
        raise ValidationFailed(
            "TRANSFERRING_ORGANISATION_NOT_APPROVED",
            f"The holder of {account.identifier} is {account.organisation.status}.",
            field="from_account",
        )


def _check_acquiring(kind: str, source: Account, account: Account) -> None:
    if account.pk == source.pk:
        raise ValidationFailed("SAME_ACCOUNT", "The acquiring account is the transferring account.", field="to_account")
    if account.status != Account.Status.OPEN:
        raise ValidationFailed(
            "ACQUIRING_ACCOUNT_NOT_OPEN", f"Account {account.identifier} is {account.status}.", field="to_account"
        )
    if account.type not in ACQUIRING_TYPES[kind]:
        raise ValidationFailed(
            "ACQUIRING_ACCOUNT_TYPE_NOT_ALLOWED",
            f"A {kind} cannot go to a {account.type} account.",
            field="to_account",
        )
    if account.organisation is not None and account.organisation.status != Organisation.Status.APPROVED:
        raise ValidationFailed(
            "ACQUIRING_ORGANISATION_NOT_APPROVED",
            f"The holder of {account.identifier} is {account.organisation.status}.",
            field="to_account",
        )


def _check_idempotency_key(key: str) -> str:
    key = (key or "").strip()
    if not key:
        raise ValidationFailed(
            "IDEMPOTENCY_KEY_REQUIRED", "Requests that move units need an Idempotency-Key.", field="idempotency_key"
        )
    if len(key) > 200:
        raise ValidationFailed("IDEMPOTENCY_KEY_INVALID", "An Idempotency-Key is at most 200 characters.", field="idempotency_key")
    return key


def _earlier_result(actor: User, key: str, request_hash: str) -> Transaction | None:
    earlier = Transaction.objects.filter(initiated_by=actor, idempotency_key=key).first()
    if earlier is not None and earlier.request_hash != request_hash:
        raise Conflict(
            "IDEMPOTENCY_KEY_REUSED",
            f"Idempotency-Key {key!r} was already used for a different request ({earlier.identifier}).",
            field="idempotency_key",
        )
    if earlier is not None:
        earlier.replayed = True
    return earlier


def _request_move(
    *,
    kind: str,
    actor: User,
    from_account: str,
    to_account: str,
    selection: Selection,
    idempotency_key: str,
    details: dict[str, str],
) -> Transaction:
    key = _check_idempotency_key(idempotency_key)
    source_id = check_account_identifier(from_account, field="from_account")
    target_id = check_account_identifier(to_account, field="to_account")
    request = {"kind": kind, "from": source_id, "to": target_id, "selection": selection.describe(), **details}
    request_hash = hashlib.sha256(canonical_json(request)).hexdigest()
    try:
        if _pipelined_transaction_possible():
            return _move_in_own_transaction(kind, actor, source_id, target_id, selection, key, request_hash, details)
        with transaction.atomic():
            return _move(kind, actor, source_id, target_id, selection, key, request_hash, details)
    except IntegrityError:
        # A concurrent request with the same key won the race: answer with its result.
        earlier = _earlier_result(actor, key, request_hash)
        if earlier is not None:
            return earlier
        raise


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


def _pipelined_transaction_possible() -> bool:
    db = connections[DEFAULT_DB_ALIAS]
    return db.vendor == "postgresql" and not db.in_atomic_block and db.get_autocommit()


def _move_in_own_transaction(*args: Any) -> Transaction:
    """A move outside any transaction, on PostgreSQL: the same statements as
    inside `transaction.atomic()`, in one transaction of our own, so that
    BEGIN goes out with the locking query and COMMIT with the writes: the
    whole move takes two round trips. The ledger head is locked by the last
    statement before COMMIT, and nothing waits on this client while it is held."""
    import psycopg

    db = connections[DEFAULT_DB_ALIAS]
    db.ensure_connection()
    for attempt in (1, 2):
        raw = db.connection
        try:
            return _move(*args, own_transaction=True)
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


# A transactional WAL message: committing it flushes the WAL (fsync, and
# synchronous replication when configured) up to its own commit record.
DURABILITY_BARRIER = "SELECT pg_logical_emit_message(true, 'tonne.durable', '')"


def _commit_then_wait_until_durable(pipeline: pgpipeline.Pipeline) -> None:
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


def _lock_accounts(
    cursor: Any, actor: User, source: str, target: str, key: str, *, then: Any = None
) -> tuple[Account, Account | None, int | None]:
    """Lock the transferring account and, in the same round trip, read the
    acquiring account (not locked: moves into it never wait on each other)
    and any earlier request of this user with this key. `then` (pipeline
    mode) queues a further read behind the locking query, so the server runs
    it once the lock is held: same round trip, fresh data.

    FOR NO KEY UPDATE makes moves out of one account queue, without blocking
    the foreign-key checks of moves into it (two accounts paying each other)."""
    postgresql = connection.vendor == "postgresql"
    cursor.execute(LOCK_ACCOUNTS_SQL + (" FOR NO KEY UPDATE OF a" if postgresql else ""), [actor.pk, key, target, source])
    if then is not None:
        then()
    row = cursor.fetchone()
    if row is None:
        raise NotFound("ACCOUNT_NOT_FOUND", f"Account {source} does not exist in this registry.", field="from_account")
    source_account = _account(row[0:10])
    assert source_account is not None
    return source_account, _account(row[10:20]), row[20]


def _move(
    kind: str,
    actor: User,
    source_identifier: str,
    target_identifier: str,
    selection: Selection,
    key: str,
    request_hash: str,
    details: dict[str, str],
    *,
    own_transaction: bool = False,
) -> Transaction:
    """Lock, check, select and move. In its own transaction (see
    `_move_in_own_transaction`), it also begins and commits it."""
    with hot_cursor() as cursor:
        first_blocks: list[Any] = []
        flag_rows: list[Any] = []
        then = None
        if own_transaction:
            cursor.execute("BEGIN", prepare=False)
        if connection.vendor == "postgresql":

            # Read under the lock in the same round trip: which controls may
            # refuse, and the first blocks (used only if the checks pass).
            def then() -> None:
                sql, params = rules.flags_statement(source_identifier, target_identifier, clock.now())
                flags_cursor = cursor.pipeline.cursor()
                flags_cursor.execute(sql, params)
                flag_rows.append(flags_cursor)
                if not selection.ranges:
                    first_blocks.append(_queue_first_blocks(cursor, source_identifier, selection))

        source, target, earlier_id = _lock_accounts(
            cursor, actor, source_identifier, target_identifier, key, then=then
        )
        flags = None
        if flag_rows:
            flags = rules.read_flags(kind, source, flag_rows[0].fetchone())
            flag_rows[0].close()
        if earlier_id is not None:
            # A retry (seen under the account lock, so also one that queued
            # behind its twin) gets the first answer, even if things changed since.
            earlier = _earlier_result(actor, key, request_hash)
            assert earlier is not None
            return earlier
        require_account_operator(actor, source)
        _check_transferring(kind, source)
        if target is None:
            raise NotFound(
                "ACCOUNT_NOT_FOUND", f"Account {target_identifier} does not exist in this registry.", field="to_account"
            )
        _check_acquiring(kind, source, target)
        pieces = select_pieces(cursor, source, selection, first_blocks[0] if first_blocks else None)
        faults.point("move.after_read")
        # Freezes, limits and the kill switch refuse here; four-eyes approval
        # and delayed settlement answer with a waiting transaction instead.
        facts = _facts(kind, source, target, pieces, selection.total)
        decision = gate.decide_move(facts, flags)
        if decision.refusal is not None:
            raise decision.refusal
        if decision.waits:
            waiting = _wait(decision, facts, actor, key, request_hash, details)
            if own_transaction:  # the waiting request is kept
                cursor.pipeline.commit()
            return waiting
        return _complete(
            cursor, kind, actor, source, target, selection.total, pieces, key, request_hash, details,
            own_transaction=own_transaction,
        )


def _facts(kind: str, source: Account, target: Account, pieces: list[Piece], quantity: int) -> rules.MoveFacts:
    return rules.MoveFacts(
        kind=kind, source=source, target=target,
        ranges=merged_ranges((p.serials.start, p.serials.end) for p in pieces),
        projects=frozenset(p.block.project_id for p in pieces), quantity=quantity, at=clock.now(),
    )


def _wait(
    decision: Decision, facts: rules.MoveFacts, actor: User, key: str, request_hash: str, details: dict[str, str]
) -> Transaction:
    """The move waits (for approval or its settlement time): its transaction
    now, the controls' record of what it waits for beside it."""
    projects = set(facts.projects)
    txn = Transaction.objects.create(
        identifier=_new_identifier(facts.at),
        kind=facts.kind,
        status=Status.AWAITING_APPROVAL if decision.needs_approval else Status.DELAYED,
        initiated_by=actor,
        organisation_id=actor.organisation_id,
        idempotency_key=key,
        request_hash=request_hash,
        from_account_id=facts.source.pk,
        to_account_id=facts.target.pk,
        quantity=facts.quantity,
        project_id=projects.pop() if len(projects) == 1 else None,
        created_at=facts.at,
        **{"reason": "", "beneficiary": "", "purpose": "", "jurisdiction": "", **details},
    )
    gate.wait(decision, txn, facts, actor=actor, details=details)
    return txn


TRANSACTION_COLUMNS = (
    "identifier, kind, status, initiated_by_id, organisation_id, idempotency_key, request_hash, from_account_id, "
    "to_account_id, quantity, issuance_id, project_id, reason, beneficiary, purpose, jurisdiction, created_at, "
    "completed_at, failure_code, ledger_seq"
)
TRANSACTION_VALUES = "(" + ", ".join(["%s"] * 20) + ")"
INSERT_TRANSACTION_SQL = (
    f"INSERT INTO units_transaction ({TRANSACTION_COLUMNS}) VALUES ({', '.join(['%s'] * 19)}, NULL) RETURNING id"
)
# The ledger entry, and its number stamped on the transaction (named by identifier).
APPEND_SQL = (
    f"WITH {APPEND_IN_DATABASE_SQL}, "
    f"numbered AS (UPDATE units_transaction SET ledger_seq = new_entry.seq FROM new_entry "
    f"WHERE units_transaction.identifier = %s) "
    "SELECT seq FROM new_entry"
)
# The same, when the move is in its own transaction: that transaction commits
# asynchronously (see _commit_then_wait_until_durable); same as SET LOCAL.
APPEND_ASYNC_SQL = APPEND_SQL.replace(
    "SELECT seq FROM new_entry", "SELECT seq, set_config('synchronous_commit', 'off', true) FROM new_entry"
)


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


def _complete(
    cursor: Any,
    kind: str,
    actor: User,
    source: Account,
    target: Account,
    quantity: int,
    pieces: list[Piece],
    key: str,
    request_hash: str,
    details: dict[str, str],
    *,
    own_transaction: bool = False,
    pending: Transaction | None = None,
) -> Transaction:
    now = clock.now()
    stamp = connection.ops.adapt_datetimefield_value(now)
    shrunk, remainders = _split_blocks(pieces, source.pk, target.pk, stamp)
    projects = {p.block.project_id for p in pieces}
    project_id = projects.pop() if len(projects) == 1 else None
    identifier = pending.identifier if pending is not None else _new_identifier(now)
    ordered = sorted(pieces, key=lambda p: p.serials.start)
    data: dict[str, Any] = {
        "op": "move",
        "kind": kind,
        "from": source.identifier,
        "to": target.identifier,
        "quantity": quantity,
        "ranges": [[p.serials.start, p.serials.end] for p in ordered],
    }
    data.update({field: value for field, value in details.items() if value})
    fields = {"reason": "", "beneficiary": "", "purpose": "", "jurisdiction": "", **details}
    txn_params = [
        identifier, kind, Status.COMPLETED, actor.pk, actor.organisation_id, key, request_hash, source.pk,
        target.pk, quantity, None, project_id, fields["reason"], fields["beneficiary"], fields["purpose"],
        fields["jurisdiction"], stamp, stamp, "",
    ]
    block_rows = [(p.block.issuance_id, p.serials.start, p.serials.end) for p in ordered]
    on_terminal = reactions().on_terminal_move
    if target.is_terminal and on_terminal:  # decided from the row already read
        # Before the writes: on the pipelined path COMMIT goes out with them.
        for hook in on_terminal:
            hook(cursor, kind, target, block_rows, identifier, now)
    if connection.vendor == "postgresql":
        txn_sql = INSERT_TRANSACTION_SQL
        if pending is not None:  # a transaction that waited completes in place
            txn_sql = "UPDATE units_transaction SET status = %s, completed_at = %s, project_id = %s WHERE id = %s RETURNING id"
            txn_params = [Status.COMPLETED, stamp, project_id, pending.pk]
        # Everything but the ledger entry is written before the head's lock is
        # taken; the locked statement only appends the entry and stamps its
        # number on the transaction, and COMMIT follows at once.
        writes = cursor.pipeline.cursor()
        writes.execute(
            _writes_sql(len(shrunk), len(remainders), txn_sql, len(block_rows)),
            [v for row in shrunk for v in row] + [v for row in remainders for v in row] + txn_params
            + [v for row in block_rows for v in row],
        )
        entry_params, _ = entry_template(kind=f"units.{kind}", actor=actor, data=data, transaction_ref=identifier)
        appended = cursor.pipeline.cursor()
        appended.execute(APPEND_ASYNC_SQL if own_transaction else APPEND_SQL, [*entry_params, identifier])
        if own_transaction:
            # Sent with the writes: the head's lock is released by this
            # COMMIT without waiting on a round trip to this client.
            _commit_then_wait_until_durable(cursor.pipeline)
        (txn_id,) = writes.fetchall()[0]
        seq = appended.fetchall()[0][0]
        writes.close()
        appended.close()
    else:
        _move_blocks_one_by_one(cursor, shrunk, remainders)
        seq, prev = reserve_seq(cursor)
        _, entry_params, head_params = entry_row(
            seq=seq, prev=prev, kind=f"units.{kind}", actor=actor, data=data, transaction_ref=identifier
        )
        if pending is not None:
            cursor.execute(
                "UPDATE units_transaction SET status = %s, completed_at = %s, project_id = %s, ledger_seq = %s "
                "WHERE id = %s RETURNING id",
                [Status.COMPLETED, stamp, project_id, seq, pending.pk],
            )
        else:
            cursor.execute(
                f"INSERT INTO units_transaction ({TRANSACTION_COLUMNS}) VALUES {TRANSACTION_VALUES} RETURNING id",
                [*txn_params, seq],
            )
        txn_id = cursor.fetchone()[0]
        cursor.execute(
            f"INSERT INTO units_transactionblock (transaction_id, issuance_id, serial_start, serial_end) "
            f"VALUES {', '.join(['(%s, %s, %s, %s)'] * len(block_rows))}",
            [v for row in block_rows for v in (txn_id, *row)],
        )
        cursor.execute(INSERT_ENTRY_SQL, entry_params)
        cursor.execute(SET_HEAD_HASH_SQL, head_params)
    return loaded(
        Transaction,
        {"initiated_by": actor, "from_account": source, "to_account": target},
        id=txn_id,
        identifier=identifier,
        kind=kind,
        status=Status.COMPLETED,
        initiated_by_id=actor.pk,
        organisation_id=actor.organisation_id,
        idempotency_key=key,
        request_hash=request_hash,
        from_account_id=source.pk,
        to_account_id=target.pk,
        quantity=quantity,
        issuance_id=None,
        project_id=project_id,
        reason=fields["reason"],
        beneficiary=fields["beneficiary"],
        purpose=fields["purpose"],
        jurisdiction=fields["jurisdiction"],
        created_at=pending.created_at if pending is not None else now,
        completed_at=now,
        failure_code="",
        ledger_seq=seq,
    )


def _complete_waiting(txn: Transaction, ranges: list[tuple[int, int]], details: dict[str, str]) -> Transaction:
    """Complete a transaction that waited (for its approval or its settlement
    time): the request-time checks again, under the same lock, then the move
    of exactly the serials chosen when it was requested."""
    assert txn.from_account is not None
    actor = txn.initiated_by
    with hot_cursor() as cursor:
        source, target, _ = _lock_accounts(
            cursor, actor, txn.from_account.identifier, txn.to_account.identifier, txn.idempotency_key
        )
        require_account_operator(actor, source)
        _check_transferring(txn.kind, source)
        assert target is not None
        _check_acquiring(txn.kind, source, target)
        pieces = _select_by_ranges(cursor, source, tuple(SerialRange(start, end) for start, end in ranges))
        decision = gate.decide_settlement(_facts(txn.kind, source, target, pieces, txn.quantity))
        if decision.refusal is not None:
            raise decision.refusal
        return _complete(
            cursor, txn.kind, actor, source, target, txn.quantity, pieces, txn.idempotency_key, txn.request_hash,
            details, pending=txn,
        )


def settle_waiting(txn_id: int) -> Transaction:
    """Complete a waiting move now; if it can no longer be done (units gone,
    frozen, account suspended…), it fails with that code and nothing moves."""
    txn = (
        Transaction.objects.select_for_update(of=("self",))
        .select_related("from_account", "to_account", "initiated_by")
        .get(pk=txn_id)
    )
    if txn.status not in gate.WAITING:
        raise Conflict("TRANSACTION_NOT_WAITING", f"Transaction {txn.identifier} is {txn.status}.")
    pending = control_services.pending_move(txn)
    control_services.release(txn.pk)  # settled or failed, the serials are no longer held for it
    try:
        with transaction.atomic():
            done = _complete_waiting(txn, [(s, e) for s, e in pending.ranges], pending.details)
    except RegistryError as exc:
        Transaction.objects.filter(pk=txn.pk).update(status=Status.FAILED, failure_code=exc.code[:60])
        control_services.record_settlement(txn, failure=exc.code)
        txn.refresh_from_db()
        return txn
    control_services.record_settlement(txn, executed=pending)
    return done


def transfer(
    *, actor: User, from_account: str, to_account: str, selection: Selection, idempotency_key: str
) -> Transaction:
    return _request_move(
        kind=Kind.TRANSFER,
        actor=actor,
        from_account=from_account,
        to_account=to_account,
        selection=selection,
        idempotency_key=idempotency_key,
        details={},
    )


def retire(
    *,
    actor: User,
    from_account: str,
    selection: Selection,
    beneficiary: str,
    purpose: str,
    jurisdiction: str = "",
    reason: str = "",
    idempotency_key: str,
) -> Transaction:
    beneficiary = (beneficiary or "").strip()
    if not beneficiary:
        raise ValidationFailed("RETIREMENT_BENEFICIARY_REQUIRED", "A retirement names its beneficiary.", field="beneficiary")
    if purpose not in RETIREMENT_PURPOSES:
        raise ValidationFailed(
            "RETIREMENT_PURPOSE_INVALID",
            f"purpose must be one of: {', '.join(RETIREMENT_PURPOSES)}.",
            field="purpose",
        )
    return _request_move(
        kind=Kind.RETIREMENT,
        actor=actor,
        from_account=from_account,
        to_account=system_account(Account.Type.RETIREMENT).identifier,
        selection=selection,
        idempotency_key=idempotency_key,
        details={
            "beneficiary": beneficiary[:300],
            "purpose": purpose,
            "jurisdiction": (jurisdiction or "").strip()[:100],
            "reason": (reason or "").strip(),
        },
    )


def cancel(*, actor: User, from_account: str, selection: Selection, reason: str, idempotency_key: str) -> Transaction:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("CANCELLATION_REASON_REQUIRED", "A cancellation needs a reason.", field="reason")
    return _request_move(
        kind=Kind.CANCELLATION,
        actor=actor,
        from_account=from_account,
        to_account=system_account(Account.Type.CANCELLATION).identifier,
        selection=selection,
        idempotency_key=idempotency_key,
        details={"reason": reason},
    )


def reverse(*, actor: User, project: str, quantity: int, reason: str, idempotency_key: str) -> Transaction:
    """After a reported reversal, cancel the project's units from the buffer pool."""
    require_registry_administrator(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("REVERSAL_REASON_REQUIRED", "A reversal needs a reason.", field="reason")
    if not Project.objects.filter(project_id=project).exists():
        raise ValidationFailed("PROJECT_NOT_FOUND", f"Project {project} does not exist.", field="project")
    selection = Selection.build(quantity=quantity, project=project)
    return _request_move(
        kind=Kind.REVERSAL,
        actor=actor,
        from_account=system_account(Account.Type.BUFFER).identifier,
        to_account=system_account(Account.Type.CANCELLATION).identifier,
        selection=selection,
        idempotency_key=idempotency_key,
        details={"reason": reason},
    )

