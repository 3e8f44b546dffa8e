"""Every state change of units: issuing, transferring, retiring, cancelling
and reversing. One function per operation; each runs in one database
transaction that validates, locks what it reads, moves blocks, and appends
its ledger entry before committing."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from tonne.core import clock, faults
from tonne.core.canonical import canonical_json
from tonne.core.errors import Conflict, PermissionDenied, ValidationFailed
from tonne.ledger.services import append_entry
from tonne.organisations.models import Account, Organisation, User
from tonne.organisations.services import (
    get_account,
    require_account_operator,
    require_registry_administrator,
    system_account,
)
from tonne.projects.domain import buffer_quantity
from tonne.projects.models import Project
from tonne.units.domain import RETIREMENT_PURPOSES, Selection, SerialRange
from tonne.units.models import Issuance, SerialCounter, Transaction, TransactionBlock, UnitBlock

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


def issue_units(*, actor: User, project: Project, report: Any, vintage: int, quantity: int) -> Issuance:
    """Create the blocks of one issuance (called by MRV inside its transaction):
    the developer's share into its holding account, the buffer share into the pool."""
    if quantity <= 0:
        raise ValidationFailed("QUANTITY_NOT_POSITIVE", "Nothing to issue for this vintage.")
    now = clock.now()
    to_holding = issuance_account(project)
    buffer = buffer_quantity(quantity, project.buffer_basis_points)
    net = quantity - buffer
    start = allocate_serials(quantity)
    number = (Issuance.objects.filter(project=project).aggregate(m=Max("number"))["m"] or 0) + 1
    issuance = Issuance.objects.create(
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
    parts: list[tuple[Account, SerialRange, str]] = []
    if net:
        parts.append((to_holding, SerialRange(start, start + net - 1), Kind.ISSUANCE))
    if buffer:
        parts.append((system_account(Account.Type.BUFFER), SerialRange(start + net, start + quantity - 1), Kind.BUFFER_CONTRIBUTION))
    txns = []
    blocks_data = []
    for account, serials, kind in parts:
        UnitBlock.objects.create(
            issuance=issuance,
            project=project,
            vintage=vintage,
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
            project=project,
            created_at=now,
            completed_at=now,
        )
        TransactionBlock.objects.create(transaction=txn, issuance=issuance, serial_start=serials.start, serial_end=serials.end)
        txns.append(txn)
        blocks_data.append({"start": serials.start, "end": serials.end, "account": account.identifier, "transaction": txn.identifier, "kind": kind})
    entry = append_entry(
        kind="units.issued",
        actor=actor,
        transaction_ref=txns[0].identifier,
        data={
            "op": "issue",
            "issuance": {
                "uid": str(issuance.uid),
                "project": project.project_id,
                "project_number": project.number,
                "host": project.host_party,
                "scope": project.sectoral_scope,
                "number": number,
                "vintage": vintage,
                "unit_class": issuance.unit_class,
                "quantity": quantity,
                "buffer": buffer,
                "report": str(report.uid),
            },
            "blocks": blocks_data,
        },
    )
    Transaction.objects.filter(pk__in=[t.pk for t in txns]).update(ledger_seq=entry.seq)
    return issuance


# -- moving units --------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    block: UnitBlock
    serials: SerialRange


def _select_by_ranges(account: Account, ranges: tuple[SerialRange, ...]) -> list[Piece]:
    pieces: list[Piece] = []
    for wanted in ranges:
        blocks = list(
            UnitBlock.objects.filter(
                account=account, serial_start__lte=wanted.end, serial_end__gte=wanted.start
            ).order_by("serial_start")
        )
        cursor = wanted.start
        for block in blocks:
            if block.serial_start > cursor:
                break
            piece_end = min(block.serial_end, wanted.end)
            pieces.append(Piece(block, SerialRange(cursor, piece_end)))
            cursor = piece_end + 1
        if cursor <= wanted.end:
            raise ValidationFailed(
                "SERIAL_RANGE_NOT_HELD",
                f"Serials {wanted.start}-{wanted.end} are not all held in account {account.identifier} "
                f"(serial {cursor} is not there).",
                field="ranges",
                details={"first_missing_serial": cursor},
            )
    return pieces


def _select_by_criteria(account: Account, selection: Selection) -> list[Piece]:
    qs = UnitBlock.objects.filter(account=account)
    if selection.project:
        qs = qs.filter(project__project_id=selection.project)
    if selection.vintage:
        qs = qs.filter(vintage=selection.vintage)
    if selection.unit_class:
        qs = qs.filter(unit_class=selection.unit_class)
    need = int(selection.quantity or 0)
    pieces: list[Piece] = []
    ordered = qs.order_by("acquired_at", "serial_start")
    offset, batch = 0, 20  # most moves need a block or two: fetch a few at a time
    while need:
        blocks = list(ordered[offset : offset + batch])
        for block in blocks:
            take = min(need, block.quantity)
            pieces.append(Piece(block, SerialRange(block.serial_start, block.serial_start + take - 1)))
            need -= take
            if need == 0:
                return pieces
        if len(blocks) < batch:
            break
        offset += batch
        batch = min(batch * 4, 1000)
    available = int(selection.quantity or 0) - need
    raise ValidationFailed(
        "INSUFFICIENT_UNITS",
        f"Account {account.identifier} holds {available} matching units; {selection.quantity} requested.",
        field="quantity",
        details={"available": available, "requested": selection.quantity},
    )


def _move_piece(piece: Piece, to_account: Account, at: dt.datetime) -> None:
    """Move one piece, splitting its block at the boundaries; every part keeps
    all attributes but its range."""
    block = piece.block
    start, end = piece.serials.start, piece.serials.end
    left = SerialRange(block.serial_start, start - 1) if block.serial_start < start else None
    right = SerialRange(end + 1, block.serial_end) if end < block.serial_end else None
    old_account_id, old_acquired = block.account_id, block.acquired_at
    # Shrink the row to the moved piece first, so the remainders never overlap it.
    UnitBlock.objects.filter(pk=block.pk).update(
        serial_start=start, serial_end=end, account=to_account, acquired_at=at
    )
    remainders = [
        UnitBlock(
            issuance_id=block.issuance_id,
            project_id=block.project_id,
            vintage=block.vintage,
            unit_class=block.unit_class,
            serial_start=part.start,
            serial_end=part.end,
            account_id=old_account_id,
            acquired_at=old_acquired,
        )
        for part in (left, right)
        if part is not None
    ]
    if remainders:
        UnitBlock.objects.bulk_create(remainders)


ACQUIRING_TYPES: dict[str, tuple[str, ...]] = {
    Kind.TRANSFER: (Account.Type.HOLDING,),
    Kind.RETIREMENT: (Account.Type.RETIREMENT,),
    Kind.CANCELLATION: (Account.Type.CANCELLATION,),
    Kind.REVERSAL: (Account.Type.CANCELLATION,),
}
TRANSFERRING_TYPES: dict[str, tuple[str, ...]] = {
    Kind.TRANSFER: (Account.Type.HOLDING,),
    Kind.RETIREMENT: (Account.Type.HOLDING,),
    Kind.CANCELLATION: (Account.Type.HOLDING,),
    Kind.REVERSAL: (Account.Type.BUFFER,),
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
    request = {"kind": kind, "from": from_account, "to": to_account, "selection": selection.describe(), **details}
    request_hash = hashlib.sha256(canonical_json(request)).hexdigest()
    try:
        with transaction.atomic():
            return _move(kind, actor, from_account, to_account, selection, key, request_hash, details)
    except IntegrityError:
        # A concurrent request with the same key won the race: answer with its result.
        earlier = _earlier_result(actor, key, request_hash)
        if earlier is not None:
            return earlier
        raise


def _move(
    kind: str,
    actor: User,
    from_identifier: str,
    to_identifier: str,
    selection: Selection,
    key: str,
    request_hash: str,
    details: dict[str, str],
) -> Transaction:
    source = get_account(from_identifier, field="from_account", lock=True)
    # Under the account lock, so a retry that queued behind its twin sees it.
    # A retry gets the first answer even if the account has changed since.
    earlier = _earlier_result(actor, key, request_hash)
    if earlier is not None:
        return earlier
    require_account_operator(actor, source)
    _check_transferring(kind, source)
    target = get_account(to_identifier, field="to_account")
    _check_acquiring(kind, source, target)
    now = clock.now()
    txn = Transaction.objects.create(
        identifier=_new_identifier(now),
        kind=kind,
        status=Status.PROPOSED,
        initiated_by=actor,
        organisation=actor.organisation,
        idempotency_key=key,
        request_hash=request_hash,
        from_account=source,
        to_account=target,
        quantity=selection.total,
        created_at=now,
        **details,
    )
    pieces = _select_by_ranges(source, selection.ranges) if selection.ranges else _select_by_criteria(source, selection)
    faults.point("move.after_read")
    # Approvals and delayed settlement slot in here; today every move settles at once.
    return _complete(txn, source, target, pieces)


def _complete(txn: Transaction, source: Account, target: Account, pieces: list[Piece]) -> Transaction:
    now = clock.now()
    projects = {p.block.project_id for p in pieces}
    split: set[int] = set()
    for piece in pieces:
        if piece.block.pk in split:
            # Several requested ranges fell in one block, which an earlier piece
            # already split: move from the remainder that now holds this piece.
            current = UnitBlock.objects.get(
                account_id=source.pk, serial_start__lte=piece.serials.start, serial_end__gte=piece.serials.end
            )
            piece = Piece(current, piece.serials)
        _move_piece(piece, target, now)
        split.add(piece.block.pk)
    TransactionBlock.objects.bulk_create(
        [
            TransactionBlock(transaction=txn, issuance_id=p.block.issuance_id, serial_start=p.serials.start, serial_end=p.serials.end)
            for p in pieces
        ]
    )
    data: dict[str, Any] = {
        "op": "move",
        "kind": txn.kind,
        "from": source.identifier,
        "to": target.identifier,
        "quantity": txn.quantity,
        "ranges": [[p.serials.start, p.serials.end] for p in sorted(pieces, key=lambda p: p.serials.start)],
    }
    for field in ("beneficiary", "purpose", "jurisdiction", "reason"):
        if getattr(txn, field):
            data[field] = getattr(txn, field)
    entry = append_entry(kind=f"units.{txn.kind}", actor=txn.initiated_by, transaction_ref=txn.identifier, data=data)
    txn.status = Status.COMPLETED
    txn.completed_at = now
    txn.ledger_seq = entry.seq
    if len(projects) == 1:
        txn.project_id = projects.pop()
    txn.save(update_fields=["status", "completed_at", "ledger_seq", "project"])
    return txn


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


def require_can_view_account(actor: User, account: Account) -> None:
    from tonne.organisations.services import is_registry_administrator

    if is_registry_administrator(actor):
        return
    if account.organisation_id is None or account.organisation_id != actor.organisation_id:
        raise PermissionDenied("ACCOUNT_NOT_VISIBLE", f"Account {account.identifier} is not yours to see.")
