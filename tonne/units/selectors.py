"""Permission-scoped reads of unit blocks, transactions and retirements,
and the rendering of serial numbers."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from tonne.core.errors import NotFound, ValidationFailed
from tonne.organisations.models import Account, User
from tonne.organisations.selectors import is_admin, may_see_account, organisation_id
from tonne.units.domain import SerialPrefix, SerialRange, parse_lookup, render_serial, unit_state
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


def transaction_blocks(txn: Transaction) -> list[dict]:
    rows = TransactionBlock.objects.filter(transaction=txn).select_related(
        "issuance", "issuance__project"
    )
    return [
        {
            "serial": serial_text(tb.issuance, tb.serial_start, tb.serial_end),
            "serial_start": tb.serial_start,
            "serial_end": tb.serial_end,
            "quantity": tb.serial_end - tb.serial_start + 1,
            "project_id": tb.issuance.project.project_id,
            "vintage": tb.issuance.vintage,
        }
        for tb in rows.order_by("serial_start")
    ]


# -- serial lookup -----------------------------------------------------------------------


def _prefix_matches(prefix: SerialPrefix, block: UnitBlock) -> bool:
    return serial_prefix(block.issuance) == prefix


def lookup_serials(user: User | None, text: str, *, require_match: bool) -> dict:
    """Every block overlapping the serial (range) pasted, with its history."""
    prefix, wanted = parse_lookup(text)
    # Blocks never overlap, so two index range scans find them all: the one
    # holding the first serial, then those starting inside the range.
    first = (
        UnitBlock.objects.filter(serial_start__lte=wanted.start)
        .order_by("-serial_start")
        .values_list("serial_start", "serial_end")
        .first()
    )
    low = first[0] if first is not None and first[1] >= wanted.start else wanted.start
    qs = (
        UnitBlock.objects.select_related("issuance__project", "account")
        .only(*LOOKUP_BLOCK_FIELDS)
        .filter(serial_start__gte=low, serial_start__lte=wanted.end)
        .order_by("serial_start")
    )
    blocks = list(qs[: MAX_LOOKUP_BLOCKS + 1])
    truncated = len(blocks) > MAX_LOOKUP_BLOCKS
    blocks = blocks[:MAX_LOOKUP_BLOCKS]
    if prefix is not None:
        for block in blocks:
            if not _prefix_matches(prefix, block):
                raise ValidationFailed(
                    "SERIAL_PREFIX_MISMATCH",
                    f"Serials {wanted.start}-{wanted.end} belong to "
                    f"{serial_text(block.issuance, block.serial_start, block.serial_end)}, "
                    f"whose prefix differs from the one given.",
                    field="serial",
                )
    if not blocks and require_match:
        raise NotFound(
            "SERIAL_NOT_FOUND",
            f"No units with serials {wanted.start}-{wanted.end} exist.",
            field="serial",
        )
    return {
        "query": text,
        "serial_start": wanted.start,
        "serial_end": wanted.end,
        "truncated": truncated,
        "blocks": [_lookup_block(user, block) for block in blocks],
    }


# A lookup is the registry's most public read: fetch only what it shows.
LOOKUP_BLOCK_FIELDS = (
    "serial_start", "serial_end", "vintage", "unit_class", "issuance", "account",
    "issuance__uid", "issuance__number", "issuance__vintage", "issuance__unit_class", "issuance__project",
    "issuance__project__host_party", "issuance__project__sectoral_scope", "issuance__project__number",
    "issuance__project__project_id", "issuance__project__name",
    "account__type", "account__identifier", "account__organisation_id",
)
LOOKUP_HISTORY_FIELDS = (
    "serial_start", "serial_end", "transaction",
    "transaction__identifier", "transaction__kind", "transaction__completed_at", "transaction__ledger_seq",
    "transaction__from_account", "transaction__to_account",
    *(
        f"transaction__{side}__{field}"
        for side in ("from_account", "to_account")
        for field in ("identifier", "type", "organisation_id")
    ),
)


def _lookup_block(user: User | None, block: UnitBlock) -> dict:
    history = (
        TransactionBlock.objects.filter(
            issuance_id=block.issuance_id,
            serial_start__lte=block.serial_end,
            serial_end__gte=block.serial_start,
            transaction__status=Transaction.Status.COMPLETED,
        )
        .select_related("transaction", "transaction__from_account", "transaction__to_account")
        .only(*LOOKUP_HISTORY_FIELDS)
        .order_by(
            "transaction__completed_at", "transaction__ledger_seq", "transaction_id", "serial_start"
        )
    )
    project = block.issuance.project
    return {
        "serial": serial_text(block.issuance, block.serial_start, block.serial_end),
        "serial_start": block.serial_start,
        "serial_end": block.serial_end,
        "quantity": block.quantity,
        "project_id": project.project_id,
        "project_name": project.name,
        "vintage": block.vintage,
        "unit_class": block.unit_class,
        "issuance": block.issuance.uid,
        "state": unit_state(block.account.type),
        "account": account_label(user, block.account),
        "history": [
            {
                "transaction": tb.transaction.identifier,
                "kind": tb.transaction.kind,
                "serial_start": max(tb.serial_start, block.serial_start),
                "serial_end": min(tb.serial_end, block.serial_end),
                "from_account": account_label(user, tb.transaction.from_account),
                "to_account": account_label(user, tb.transaction.to_account),
                "completed_at": tb.transaction.completed_at,
                "ledger_seq": tb.transaction.ledger_seq,
            }
            for tb in history
        ],
    }
