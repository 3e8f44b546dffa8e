"""Permission-scoped reads of unit blocks, transactions and retirements,
and the rendering of serial numbers."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db import connection
from django.db.models import F, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from tonne.core.errors import NotFound, ValidationFailed
from tonne.organisations.domain import check_account_identifier
from tonne.organisations.models import Account, User
from tonne.organisations.selectors import is_admin, may_see_account, organisation_id
from tonne.organisations.services import get_account, require_account_operator
from tonne.projects.models import Project
from tonne.units import as_stated, store
from tonne.units.domain import (
    Selection,
    SerialPrefix,
    SerialRange,
    block_answer,
    check_acquiring,
    check_transferring,
    parse_lookup,
    render_serial,
    unit_state,
)
from tonne.units.models import Issuance, Transaction, TransactionBlock, UnitBlock

STATE_ACCOUNT_TYPES: dict[str, tuple[str, ...]] = {
    "held": (Account.Type.HOLDING, Account.Type.SOP),
    "buffer": (Account.Type.BUFFER,),
    "retired": (Account.Type.RETIREMENT,),
    "cancelled": (Account.Type.CANCELLATION, Account.Type.OMGE),
    "exported": (Account.Type.EXPORT,),
}
MAX_LOOKUP_BLOCKS = 200


def serial_prefix(issuance: Issuance) -> SerialPrefix:
    project = issuance.project
    return SerialPrefix(
        host=project.host_party,
        unit_class=issuance.unit_class,
        scope=project.sectoral_scope,
        project=project.number,
        vintage=issuance.vintage,
        issuance=issuance.number,
    )


def serial_text(issuance: Issuance, start: int, end: int) -> str:
    return render_serial(serial_prefix(issuance), SerialRange(start, end))


def holding_out(block: UnitBlock, account_type: str) -> dict:
    return {
        "serial": serial_text(block.issuance, block.serial_start, block.serial_end),
        "serial_start": block.serial_start,
        "serial_end": block.serial_end,
        "quantity": block.quantity,
        "project_id": block.project.project_id,
        "vintage": block.vintage,
        "unit_class": block.unit_class,
        "state": unit_state(account_type),
        "acquired_at": block.acquired_at,
    }


# -- blocks --------------------------------------------------------------------------


def blocks_for(user: User | None) -> QuerySet[UnitBlock]:
    """Unit blocks are public (serials, project, state); which account holds
    them is rendered only for those who may see the account."""
    return UnitBlock.objects.select_related("issuance", "issuance__project", "project", "account")


def filter_state(qs: QuerySet[UnitBlock], state: str) -> QuerySet[UnitBlock]:
    if state not in STATE_ACCOUNT_TYPES:
        raise ValidationFailed(
            "UNIT_STATE_INVALID",
            f"state must be one of: {', '.join(STATE_ACCOUNT_TYPES)}.",
            field="state",
            details={"allowed": list(STATE_ACCOUNT_TYPES)},
        )
    return qs.filter(account__type__in=STATE_ACCOUNT_TYPES[state])


def account_label(user: User | None, account: Account | None) -> str | None:
    return account.identifier if account is not None and may_see_account(user, account) else None


# -- transactions ---------------------------------------------------------------------


def transactions_for(user: User | None) -> QuerySet[Transaction]:
    """Transactions touching the caller's organisation's accounts, or that it
    initiated; all of them for the registry administrator."""
    qs = Transaction.objects.select_related(
        "from_account",
        "to_account",
        "from_account__organisation",
        "to_account__organisation",
        "project",
    )
    if is_admin(user):
        return qs
    own = organisation_id(user)
    if own is None:
        return qs.none()
    return qs.filter(
        Q(organisation_id=own)
        | Q(from_account__organisation_id=own)
        | Q(to_account__organisation_id=own)
    )


def retirements() -> QuerySet[Transaction]:
    """Completed retirements are public."""
    return Transaction.objects.filter(
        kind=Transaction.Kind.RETIREMENT, status=Transaction.Status.COMPLETED
    ).select_related("project", "from_account", "to_account")


def project_holdings(project: Project) -> dict[str, int]:
    """Units of a project in each state (public: no account is named)."""
    rows = (
        UnitBlock.objects.filter(project=project)
        .values("account__type")
        .annotate(n=Sum(F("serial_end") - F("serial_start") + 1))
        .order_by()
    )
    by_type = {r["account__type"]: int(r["n"] or 0) for r in rows}
    return {state: sum(by_type.get(t, 0) for t in types) for state, types in STATE_ACCOUNT_TYPES.items()}


def issuance_supply(issuance: Issuance) -> dict[str, int]:
    """Where the units of one issuance are now (public: no account is named):
    held, in the buffer pool, retired, cancelled, exported; they add up to its quantity."""
    rows = (
        UnitBlock.objects.filter(issuance=issuance)
        .values("account__type")
        .annotate(n=Sum(F("serial_end") - F("serial_start") + 1))
        .order_by()
    )
    by_type = {r["account__type"]: int(r["n"] or 0) for r in rows}
    return {state: sum(by_type.get(t, 0) for t in types) for state, types in STATE_ACCOUNT_TYPES.items()}


def project_retirements(project: Project) -> QuerySet[Transaction]:
    """Completed retirements that moved units of a project, each with the
    number of that project's units it retired (`units`)."""
    return (
        retirements()
        .filter(blocks__issuance__project=project)
        .annotate(units=Sum(F("blocks__serial_end") - F("blocks__serial_start") + 1))
        .order_by("-completed_at", "-id")
    )


def transaction_blocks(txn: Transaction) -> list[dict]:
    return transaction_blocks_and_project(txn)[0]


def transaction_blocks_and_project(txn: Transaction) -> tuple[list[dict], str | None]:
    """A transaction's blocks and its project's identifier, in one query when
    its blocks name that project (what answers every move request)."""
    return transactions_blocks_and_projects([txn])[txn.pk]


def transactions_blocks_and_projects(txns: list[Transaction]) -> dict[int, tuple[list[dict], str | None]]:
    """The same for many transactions (a batch's answer) in one query; none
    for the moves just made, which carry theirs (`moved_blocks`)."""
    found: dict[int, tuple[list[dict], str | None]] = {}
    for txn in txns:
        if txn.moved_blocks is not None:
            found[txn.pk] = (txn.moved_blocks, txn.moved_blocks[0]["project_id"] if txn.project_id else None)
    txns = [t for t in txns if t.pk not in found]
    if not txns:
        return found
    # Plain rows, not model instances.
    rows = TransactionBlock.objects.filter(transaction_id__in=[t.pk for t in txns]).order_by(
        "transaction_id", "serial_start"
    ).values_list(
        "transaction_id", "serial_start", "serial_end", "issuance__unit_class", "issuance__vintage",
        "issuance__number", "issuance__project__host_party", "issuance__project__sectoral_scope",
        "issuance__project__number", "issuance__project__project_id", "issuance__project_id",
    )
    blocks: dict[int, list[dict]] = {t.pk: [] for t in txns}
    projects: dict[int, str] = {}
    for txn_id, start, end, unit_class, vintage, issuance, host, scope, number, project_id, project_pk in rows:
        prefix = SerialPrefix(host=host, unit_class=unit_class, scope=scope, project=number, vintage=vintage,
                              issuance=issuance)
        blocks[txn_id].append(block_answer(prefix, SerialRange(start, end), project_id))
        projects[project_pk] = project_id
    for txn in txns:
        if txn.project_id is None:
            found[txn.pk] = (blocks[txn.pk], None)
        elif txn.project_id in projects:
            found[txn.pk] = (blocks[txn.pk], projects[txn.project_id])
        else:
            found[txn.pk] = (blocks[txn.pk], txn.project.project_id if txn.project else None)
    return found


# -- serial lookup -----------------------------------------------------------------------


LOOKUP_SQL = """
SELECT b.serial_start, b.serial_end, b.vintage, b.unit_class, i.uid, i.number, p.host_party, p.sectoral_scope,
       p.number, p.project_id, p.name, a.type, a.identifier, a.organisation_id,
       tb.serial_start, tb.serial_end, t.identifier, t.kind, t.completed_at, t.ledger_seq,
       fa.identifier, fa.type, fa.organisation_id, ta.identifier, ta.type, ta.organisation_id
FROM (
    SELECT * FROM units_unitblock
    WHERE serial_start >= COALESCE((
            SELECT f.serial_start FROM (
                SELECT serial_start, serial_end FROM units_unitblock
                WHERE serial_start <= %(start)s ORDER BY serial_start DESC LIMIT 1
            ) f WHERE f.serial_end >= %(start)s
          ), %(start)s)
      AND serial_start <= %(end)s
    ORDER BY serial_start LIMIT {limit}
) b
JOIN units_issuance i ON i.id = b.issuance_id
JOIN projects_project p ON p.id = i.project_id
JOIN organisations_account a ON a.id = b.account_id
LEFT JOIN units_transactionblock tb
       ON tb.issuance_id = b.issuance_id AND tb.serial_start <= b.serial_end AND tb.serial_end >= b.serial_start
LEFT JOIN units_transaction t ON t.id = tb.transaction_id AND t.status = 'completed'
LEFT JOIN organisations_account fa ON fa.id = t.from_account_id
LEFT JOIN organisations_account ta ON ta.id = t.to_account_id
ORDER BY b.serial_start, t.completed_at, t.ledger_seq, tb.transaction_id, tb.serial_start
"""


def _timestamp(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    parsed = parse_datetime(str(value))  # SQLite hands back text
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, dt.UTC)
    return parsed


def lookup_serials(user: User | None, text: str, *, require_match: bool) -> dict:
    """Every block overlapping the serial (range) pasted, with its history.

    The registry's most public read, in one query: blocks never overlap, so
    the block holding the first serial and those starting inside the range
    are two index range scans, and each block's history comes from the
    transactions of its issuance that touched its serials."""
    prefix, wanted = parse_lookup(text)
    # One serial lies in at most one block. Saying so in the statement lets
    # the planner choose index lookups throughout; the statement is prepared
    # (planned once per connection) on PostgreSQL.
    limit = 1 if wanted.start == wanted.end else MAX_LOOKUP_BLOCKS + 1
    with store.hot_cursor() as cursor:
        cursor.execute(LOOKUP_SQL.format(limit=limit), {"start": wanted.start, "end": wanted.end})
        rows = cursor.fetchall()
    admin = is_admin(user)
    own = organisation_id(user)

    def label(identifier: str | None, account_type: str | None, org_id: int | None) -> str | None:
        if identifier is None:
            return None
        visible = account_type != Account.Type.HOLDING or admin or (own is not None and org_id == own)
        return identifier if visible else None

    blocks: list[dict] = []
    for row in rows:
        (start, end, vintage, unit_class, issuance_uid, issuance_no, host, scope, project_no, project_id,
         project_name, account_type, account_id, account_org) = row[:14]
        if not blocks or blocks[-1]["serial_start"] != start:
            block_prefix = SerialPrefix(host, unit_class, scope, project_no, vintage, issuance_no)
            if prefix is not None and prefix != block_prefix:
                raise ValidationFailed(
                    "SERIAL_PREFIX_MISMATCH",
                    f"Serials {wanted.start}-{wanted.end} belong to "
                    f"{render_serial(block_prefix, SerialRange(start, end))}, whose prefix differs from the one given.",
                    field="serial",
                    details={"serials": f"{wanted.start}-{wanted.end}", "block": render_serial(block_prefix, SerialRange(start, end))},
                )
            blocks.append(
                {
                    "serial": render_serial(block_prefix, SerialRange(start, end)),
                    "serial_start": start,
                    "serial_end": end,
                    "quantity": end - start + 1,
                    "project_id": project_id,
                    "project_name": project_name,
                    "vintage": vintage,
                    "unit_class": unit_class,
                    "issuance": uuid.UUID(str(issuance_uid)),
                    "state": unit_state(account_type),
                    "account": label(account_id, account_type, account_org),
                    "history": [],
                }
            )
        (tb_start, tb_end, txn, kind, completed, seq, from_id, from_type, from_org, to_id, to_type, to_org) = row[14:]
        if txn is None:
            continue
        blocks[-1]["history"].append(
            {
                "transaction": txn,
                "kind": kind,
                "serial_start": max(tb_start, start),
                "serial_end": min(tb_end, end),
                "from_account": label(from_id, from_type, from_org),
                "to_account": label(to_id, to_type, to_org),
                "completed_at": _timestamp(completed),
                "ledger_seq": seq,
            }
        )
    truncated = len(blocks) > MAX_LOOKUP_BLOCKS
    blocks = blocks[:MAX_LOOKUP_BLOCKS]
    if not blocks and require_match:
        raise NotFound(
            "SERIAL_NOT_FOUND",
            f"No units with serials {wanted.start}-{wanted.end} exist.",
            field="serial",
            details={"serials": f"{wanted.start}-{wanted.end}"},
        )
    return {
        "query": text,
        "serial_start": wanted.start,
        "serial_end": wanted.end,
        "truncated": truncated,
        "blocks": blocks,
    }


def lookup_serials_as_stated(user: User | None, text: str, *, require_match: bool) -> dict:
    """lookup_serials as the portal and the API answer it: every transaction
    of the history held to its ledger entry first (units.as_stated). One that
    differs refuses the whole answer (TRANSACTION_NOT_AS_STATED): a history
    with a line left out would tell a wrong story of the units."""
    found = lookup_serials(user, text, require_match=require_match)
    stated = {line["transaction"] for block in found["blocks"] for line in block["history"]}
    if stated:
        as_stated.require_as_stated(list(Transaction.objects.filter(identifier__in=stated)))
    return found


# -- move preview -------------------------------------------------------------------------


def preview_move(
    user: User, *, kind: str, from_account: str, to_account: str, selection: Selection
) -> dict:
    """What a transfer, retirement or cancellation would move, read-only: the
    same checks and the same selection rule as the move services, so a
    confirmation page shows exactly the serial ranges that will move (as long
    as the account does not change in between)."""
    source = get_account(check_account_identifier(from_account, field="from_account"), field="from_account")
    require_account_operator(user, source)
    check_transferring(kind, source)
    target = get_account(check_account_identifier(to_account, field="to_account"), field="to_account")
    check_acquiring(kind, source, target)
    with connection.cursor() as cursor:
        pieces = store.MoveStore(cursor).select(source, selection)
    issuances = Issuance.objects.select_related("project").in_bulk({p.block.issuance_id for p in pieces})
    ranges = [
        {
            "serial": serial_text(issuances[p.block.issuance_id], p.serials.start, p.serials.end),
            "serial_start": p.serials.start,
            "serial_end": p.serials.end,
            "quantity": p.serials.count,
            "project_id": issuances[p.block.issuance_id].project.project_id,
            "vintage": p.block.vintage,
        }
        for p in sorted(pieces, key=lambda p: p.serials.start)
    ]
    return {
        "kind": kind,
        "from_account": source,
        "to_account": target,
        "quantity": sum(r["quantity"] for r in ranges),
        "ranges": ranges,
    }
