"""The controls' one entry point in the unit-moving path, called under the
transferring account's lock once the units are chosen: freezes, the kill
switch and limits refuse; four-eyes approval and delayed settlement turn
the request into a waiting transaction that completes later."""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db.models import Q, Sum

from tonne.controls import domain
from tonne.controls.models import (
    AccountLimit,
    Approval,
    Freeze,
    PendingMove,
    RegistrySwitch,
    TrustedAccount,
    UnitReservation,
)
from tonne.core import clock
from tonne.core.errors import PermissionDenied, ValidationFailed
from tonne.organisations.models import Account, User
from tonne.units.models import Transaction

Kind = Transaction.Kind
Status = Transaction.Status
# Moves whose initiation a second person must approve, when the country says so.
APPROVAL_KINDS = frozenset({Kind.TRANSFER, Kind.RETIREMENT, Kind.CANCELLATION, Kind.REVERSAL})
WAITING = (Status.AWAITING_APPROVAL, Status.DELAYED)


def calendar() -> domain.Calendar:
    return domain.Calendar(
        timezone=settings.TONNE_CALENDAR_TIMEZONE,
        holidays=settings.TONNE_HOLIDAYS,
        weekend=settings.TONNE_WEEKEND,
    )


def _ranges(pieces: Sequence[Any]) -> list[list[int]]:
    merged: list[list[int]] = []
    for start, end in sorted((p.serials.start, p.serials.end) for p in pieces):
        if merged and merged[-1][1] + 1 == start:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    return merged


# A freeze (alias f) in force at a time (the one parameter): the SQL twin of active_freezes.
ACTIVE_FREEZE_SQL = "f.lifted_at IS NULL AND (f.expires_at IS NULL OR f.expires_at > %s)"


def active_freezes(at: dt.datetime) -> Any:
    return Freeze.objects.filter(lifted_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at))


def _check_freezes(source: Account, pieces: Sequence[Any], at: dt.datetime) -> None:
    ranges = _ranges(pieces)
    projects = {p.block.project_id for p in pieces}
    serials = Q()
    for start, end in ranges:
        serials |= Q(scope=Freeze.Scope.SERIALS, serial_start__lte=end, serial_end__gte=start)
    hit = (
        active_freezes(at)
        .filter(Q(scope=Freeze.Scope.ACCOUNT, account_id=source.pk) | Q(scope=Freeze.Scope.PROJECT, project_id__in=projects) | serials)
        .order_by("created_at")
        .first()
    )
    if hit is None:
        return
    if hit.scope == Freeze.Scope.ACCOUNT:
        raise ValidationFailed(
            "ACCOUNT_FROZEN",
            f"Account {source.identifier} is frozen: {hit.reason}",
            field="from_account",
            details={"freeze": str(hit.uid), "expires_at": hit.expires_at.isoformat() if hit.expires_at else None},
        )
    raise ValidationFailed(
        "UNITS_FROZEN",
        f"Some of the selected units are frozen ({hit.scope}): {hit.reason}",
        details={"freeze": str(hit.uid), "expires_at": hit.expires_at.isoformat() if hit.expires_at else None},
    )


def flags_statement(kind: str, source_identifier: str, target_identifier: str, at: dt.datetime) -> tuple[str, list[Any]]:
    """The one plain statement that says which move checks may refuse. It
    needs only the accounts' identifiers, so the move path sends it in the
    same round trip as its locking query (it runs once the lock is held).

    Each flag is true whenever its detailed check would refuse; the detailed
    check then names the reason. A freeze of a project or of serials anywhere
    flags every move (they are rare), and the detailed check decides whether
    it touches the units chosen."""
    from django.db import connection

    before, after = _flags_constants()
    ops = connection.ops
    params: list[Any] = [
        source_identifier, target_identifier, ops.adapt_datetimefield_value(at), *before,
        ops.adapt_datefield_value(at.date()), *after,
    ]
    return _flags_sql(), params


@functools.cache
def _flags_constants() -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The statement's fixed parameters: those before the date, those after."""
    from tonne.aml.models import AmlAlert
    from tonne.kyc.models import KycProfile
    from tonne.kyc.services import BLOCKING_HITS, REPRESENTATIVE_ROLES

    return (
        (Freeze.Scope.ACCOUNT, *BLOCKING_HITS),
        (KycProfile.Status.VERIFIED, *REPRESENTATIVE_ROLES, AmlAlert.Status.DISMISSED),
    )


@functools.cache
def _flags_sql() -> str:
    from tonne.aml.models import AmlAlert
    from tonne.kyc.models import KycProfile, ScreeningHit
    from tonne.kyc.services import BLOCKING_HITS, REPRESENTATIVE_ROLES

    def marks(values: Sequence[Any]) -> str:
        return ", ".join(["%s"] * len(values))

    accounts = Account._meta.db_table
    source_id = "(SELECT id FROM s)"
    source_org = "(SELECT organisation_id FROM s)"
    return (
        f"WITH s AS (SELECT id, organisation_id FROM {accounts} WHERE identifier = %s), "
        f"t AS (SELECT organisation_id FROM {accounts} WHERE identifier = %s) "
        f"SELECT EXISTS (SELECT 1 FROM {RegistrySwitch._meta.db_table} WHERE id = 1 AND transfers_suspended), "
        f"EXISTS (SELECT 1 FROM {Freeze._meta.db_table} f WHERE {ACTIVE_FREEZE_SQL} "
        f"AND (f.scope <> %s OR f.account_id = {source_id})), "
        f"EXISTS (SELECT 1 FROM {AccountLimit._meta.db_table} WHERE account_id = {source_id}), "
        f"EXISTS (SELECT 1 FROM {ScreeningHit._meta.db_table} WHERE organisation_id IN "
        f"(SELECT organisation_id FROM s UNION ALL SELECT organisation_id FROM t) "
        f"AND status IN ({marks(BLOCKING_HITS)})), "
        f"EXISTS (SELECT 1 FROM {KycProfile._meta.db_table} WHERE organisation_id = {source_org} AND review_due < %s), "
        f"EXISTS (SELECT 1 FROM {KycProfile._meta.db_table} WHERE organisation_id = {source_org} AND status = %s), "
        f"(SELECT COUNT(*) FROM {User._meta.db_table} WHERE organisation_id = {source_org} AND is_active "
        f"AND role IN ({marks(REPRESENTATIVE_ROLES)})), "
        f"EXISTS (SELECT 1 FROM {AmlAlert._meta.db_table} WHERE account_id = {source_id} AND hold AND status <> %s)"
    )


def read_flags(kind: str, source: Account, row: Sequence[Any]) -> dict[str, bool]:
    suspended, frozen, limited, hit, overdue, verified, representatives, held = row
    kyc_checked = kind == Kind.TRANSFER and bool(source.organisation_id)
    kyc = bool(hit) or (
        kyc_checked
        and (
            bool(overdue)
            or (settings.TONNE_KYC_REQUIRED and not verified)
            or int(representatives) < settings.TONNE_MIN_REPRESENTATIVES
        )
    )
    return {
        "suspended": kind == Kind.TRANSFER and bool(suspended),
        "frozen": bool(frozen),
        "limited": bool(limited) or bool(settings.TONNE_MAX_TRANSFER_QUANTITY) or bool(settings.TONNE_MAX_DAILY_QUANTITY),
        "kyc": kyc,
        "held": bool(held),
    }


def _flags(kind: str, source: Account, target: Account, at: dt.datetime) -> dict[str, bool]:
    from django.db import connection

    sql, params = flags_statement(kind, source.identifier, target.identifier, at)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return read_flags(kind, source, cursor.fetchone())


def _check_switch(kind: str) -> None:
    if kind == Kind.TRANSFER and RegistrySwitch.objects.filter(pk=1, transfers_suspended=True).exists():
        raise ValidationFailed(
            "TRANSFERS_SUSPENDED", "The registry administrator has suspended all outgoing transfers."
        )


def _check_limits(source: Account, quantity: int, at: dt.datetime) -> None:
    limit = AccountLimit.objects.filter(account_id=source.pk).first()
    per_transfer = limit.per_transfer if limit and limit.per_transfer else settings.TONNE_MAX_TRANSFER_QUANTITY or None
    if per_transfer and quantity > per_transfer:
        raise ValidationFailed(
            "TRANSFER_LIMIT_EXCEEDED",
            f"Account {source.identifier} may transfer at most {per_transfer} units at once.",
            field="quantity",
            details={"limit": per_transfer, "requested": quantity},
        )
    per_day = limit.per_day if limit and limit.per_day else settings.TONNE_MAX_DAILY_QUANTITY or None
    if per_day:
        moved = (
            Transaction.objects.filter(
                from_account_id=source.pk,
                kind=Kind.TRANSFER,
                created_at__gt=at - dt.timedelta(hours=24),
                status__in=(Status.COMPLETED, *WAITING),
            ).aggregate(total=Sum("quantity"))["total"]
            or 0
        )
        if moved + quantity > per_day:
            raise ValidationFailed(
                "DAILY_LIMIT_EXCEEDED",
                f"Account {source.identifier} may transfer at most {per_day} units in 24 hours; "
                f"{moved} already went or are on their way.",
                field="quantity",
                details={"limit": per_day, "requested": quantity, "moved": moved},
            )


def is_trusted(source: Account, target: Account, at: dt.datetime) -> bool:
    if settings.TONNE_TRUST_OWN_ACCOUNTS and source.organisation_id and source.organisation_id == target.organisation_id:
        return True
    return TrustedAccount.objects.filter(
        account_id=source.pk, trusted_id=target.pk, removed_at__isnull=True, effective_at__lte=at
    ).exists()


def check_move(
    kind: str,
    actor: User,
    source: Account,
    target: Account,
    pieces: Sequence[Any],
    quantity: int,
    key: str,
    request_hash: str,
    details: dict[str, str],
    flags: dict[str, bool] | None = None,
) -> Transaction | None:
    """None: complete now. A transaction: it waits for approval or settlement.
    `flags`: what `flags_statement` said, when the caller already sent it."""
    now = clock.now()
    from tonne.aml.services import check_move as check_aml_hold
    from tonne.kyc.services import check_move as check_kyc

    # One query says which checks could refuse; only those run in detail
    # (they name the reason), so a move that passes costs nothing more.
    if flags is None:
        flags = _flags(kind, source, target, now)
    if flags["suspended"]:
        _check_switch(kind)
    if flags["frozen"]:
        _check_freezes(source, pieces, now)
    if kind == Kind.TRANSFER and flags["limited"]:
        _check_limits(source, quantity, now)
    if flags["kyc"]:
        check_kyc(kind, source, target, now)
    if flags["held"]:
        check_aml_hold(source)
    needs_approval = kind in APPROVAL_KINDS and kind in settings.TONNE_FOUR_EYES
    execute_at: dt.datetime | None = None
    if kind == Kind.TRANSFER and settings.TONNE_DELAY_NON_TRUSTED and not is_trusted(source, target, now):
        execute_at = calendar().noon_of_working_day(now, settings.TONNE_SETTLEMENT_WORKING_DAYS)
    if not needs_approval and execute_at is None:
        return None
    return _wait(kind, actor, source, target, pieces, quantity, key, request_hash, details, needs_approval, execute_at, now)


def _wait(
    kind: str,
    actor: User,
    source: Account,
    target: Account,
    pieces: Sequence[Any],
    quantity: int,
    key: str,
    request_hash: str,
    details: dict[str, str],
    needs_approval: bool,
    execute_at: dt.datetime | None,
    now: dt.datetime,
) -> Transaction:
    from tonne.audit.models import AuditEvent
    from tonne.audit.services import record
    from tonne.units.services import _new_identifier

    projects = {p.block.project_id for p in pieces}
    fields = {"reason": "", "beneficiary": "", "purpose": "", "jurisdiction": "", **details}
    txn = Transaction.objects.create(
        identifier=_new_identifier(now),
        kind=kind,
        status=Status.AWAITING_APPROVAL if needs_approval else Status.DELAYED,
        initiated_by=actor,
        organisation_id=actor.organisation_id,
        idempotency_key=key,
        request_hash=request_hash,
        from_account_id=source.pk,
        to_account_id=target.pk,
        quantity=quantity,
        project_id=projects.pop() if len(projects) == 1 else None,
        created_at=now,
        **fields,
    )
    ranges = _ranges(pieces)
    PendingMove.objects.create(transaction=txn, ranges=ranges, details=details, execute_at=execute_at)
    # The serials are this transaction's until it completes or stops waiting.
    # One plain INSERT: bulk_create would open an atomic block, which the
    # pipelined move path (its own transaction, outside Django's) cannot.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {UnitReservation._meta.db_table} (transaction_id, serial_start, serial_end) VALUES "  # noqa: S608
            + ", ".join(["(%s, %s, %s)"] * len(ranges)),
            [value for start, end in ranges for value in (txn.pk, start, end)],
        )
    if needs_approval:
        Approval.objects.create(
            uid=uuid.uuid4(),
            action=kind,
            organisation_id=actor.organisation_id,
            account_id=source.pk,
            transaction=txn,
            payload={"transaction": txn.identifier, "from": source.identifier, "to": target.identifier, "quantity": quantity},
            request_hash=request_hash,
            initiated_by=actor,
            created_at=now,
            expires_at=now + dt.timedelta(hours=settings.TONNE_APPROVAL_HOURS),
        )
    record(
        AuditEvent.Category.CONTROL,
        f"{kind}.{txn.status}",
        actor=actor,
        target=txn.identifier,
        detail={"execute_at": execute_at.isoformat() if execute_at else None, "quantity": quantity},
    )
    return txn


def check_settlement(kind: str, source: Account, target: Account, pieces: Sequence[Any]) -> None:
    """At settlement, what may have changed since the request: freezes, the
    kill switch, the holder's standing."""
    now = clock.now()
    _check_switch(kind)
    _check_freezes(source, pieces, now)
    from tonne.kyc.services import check_move as check_kyc

    check_kyc(kind, source, target, now)
    from tonne.aml.services import check_move as check_aml_hold

    check_aml_hold(source)


def require_not_initiator(user: User, initiator_id: int) -> None:
    if user.pk == initiator_id:
        raise PermissionDenied("SELF_APPROVAL_NOT_ALLOWED", "The person who initiated a request may not approve it.")


# -- issuance ------------------------------------------------------------------------------

_issuance_approved: contextvars.ContextVar[bool] = contextvars.ContextVar("tonne_issuance_approved", default=False)


@contextmanager
def approved_issuance() -> Iterator[None]:
    """Issuance carried out by the second administrator's approval."""
    token = _issuance_approved.set(True)
    try:
        yield
    finally:
        _issuance_approved.reset(token)


def check_issuance() -> None:
    """Called by MRV before issuing: with four-eyes on, only an approved request issues."""
    if "issuance" in settings.TONNE_FOUR_EYES and not _issuance_approved.get():
        raise PermissionDenied(
            "FOUR_EYES_REQUIRED",
            "Issuance needs a second administrator: request it (POST /api/v1/issuance-approvals) "
            "and have another administrator approve it.",
        )
