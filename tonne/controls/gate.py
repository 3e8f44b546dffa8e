"""The controls' one entry point in the unit-moving path, asked under the
transferring account's lock once the units are chosen. It decides and does
not act: the rules (controls.rules) refuse; four-eyes approval and delayed
settlement make the move wait. The units service carries the decision out,
and asks `wait` to record what the controls keep of a waiting move."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.conf import settings
from django.db import connection

from tonne.audit.models import AuditEvent
from tonne.audit.services import record
from tonne.controls import holidays, rules
from tonne.controls.domain import Calendar
from tonne.controls.models import (
    Approval,
    PendingMove,
    TrustedAccount,
    TrustedDestination,
    UnitReservation,
)
from tonne.core import clock
from tonne.core.errors import PermissionDenied, ValidationFailed
from tonne.ledger.services import append
from tonne.organisations.models import Account, User
from tonne.units.controls_port import Waiting
from tonne.units.domain import PROCEED, Decision, Flags, MoveFacts
from tonne.units.models import Transaction

Kind = Transaction.Kind
Status = Transaction.Status
# Moves whose initiation a second person must approve, when the country says
# so (Article 6 uses are retirements or cancellations; imports create units).
APPROVAL_KINDS = frozenset({Kind.TRANSFER, Kind.RETIREMENT, Kind.CANCELLATION, Kind.REVERSAL, Kind.EXPORT, Kind.IMPORT})


def calendar() -> Calendar:
    return Calendar(
        timezone=settings.TONNE_CALENDAR_TIMEZONE,
        holidays=holidays.declared(),
        weekend=settings.TONNE_WEEKEND,
    )


def is_trusted(source: Account, target: Account, at: dt.datetime) -> bool:
    if settings.TONNE_TRUST_OWN_ACCOUNTS and source.organisation_id and source.organisation_id == target.organisation_id:
        if own_account_trusted(target, at):
            return True
    return TrustedAccount.objects.filter(
        account_id=source.pk, trusted_id=target.pk, removed_at__isnull=True, effective_at__lte=at
    ).exists()


def destination_trusted(source: Account, registry: str, destination_account: str, at: dt.datetime) -> bool:
    """On the exporting account's list: the registry with that account, or the whole registry."""
    return TrustedDestination.objects.filter(
        account_id=source.pk, registry=registry, destination_account__in=(destination_account, ""),
        removed_at__isnull=True, effective_at__lte=at,
    ).exists()


def check_destination(source: Account, registry: str, destination_account: str, at: dt.datetime) -> None:
    """Exports leave the registry for good: only to a destination on the
    exporting account's trusted list (when the country says so)."""
    if settings.TONNE_EXPORT_TRUSTED_ONLY and not destination_trusted(source, registry, destination_account, at):
        raise ValidationFailed(
            "DESTINATION_NOT_TRUSTED",
            f"{registry} account {destination_account} is not on the trusted destinations of {source.identifier} "
            "(or not yet in force): ask for it (POST /api/v1/accounts/{account}/trusted-destinations) "
            "and wait until it takes effect.",
            field="destination_account",
            details={"registry": registry, "destination": destination_account, "account": source.identifier},
        )


def decide_import(account: Account, quantity: int, at: dt.datetime) -> Decision:
    """Units arriving from another registry, into `account`: the same rules
    as a move (the kill switch, a freeze or hold of the account, sanctions on
    its holder), then four-eyes, as for a local issuance."""
    facts = MoveFacts(kind=Kind.IMPORT, source=account, target=account, ranges=(), projects=frozenset(),
                      quantity=quantity, at=at)
    return decide_move(facts)  # never delayed (settles_at): nothing leaves


def trusted_from(now: dt.datetime) -> dt.datetime:
    """When a line added to a trusted list now takes effect: noon of the Nth working day."""
    return calendar().noon_of_working_day(now, settings.TONNE_TRUSTED_DELAY_WORKING_DAYS)


def own_account_trusted(target: Account, at: dt.datetime) -> bool:
    """A holder's account opened recently is not yet trusted as its own
    (TONNE_NEW_ACCOUNT_TRUST_WORKING_DAYS): an account opened by someone
    who took over the holder cannot receive its units at once."""
    days = settings.TONNE_NEW_ACCOUNT_TRUST_WORKING_DAYS
    return days <= 0 or calendar().noon_of_working_day(target.created_at, days) <= at


def needs_approval(kind: str) -> bool:
    """Four-eyes: the country names the kinds of move a second person approves."""
    return kind in APPROVAL_KINDS and kind in settings.TONNE_FOUR_EYES


def settles_at(kind: str, source: Account, target: Account, at: dt.datetime) -> dt.datetime | None:
    """Delayed settlement: transfers to accounts not on the trusted list wait for a working day's noon."""
    if kind == Kind.TRANSFER and settings.TONNE_DELAY_NON_TRUSTED and not is_trusted(source, target, at):
        return calendar().noon_of_working_day(at, settings.TONNE_SETTLEMENT_WORKING_DAYS)
    return None


def decide_move(facts: MoveFacts, flags: Flags | None = None) -> Decision:
    """Refuse, wait or proceed. `flags`: what `rules.flags_statement` said,
    when the caller already sent it; only the rules it flags run in detail."""
    if flags is None:
        flags = rules.flags_of(facts.kind, facts.source, facts.target, facts.at)
    try:
        rules.check_flagged(facts, flags)
    except ValidationFailed as refusal:
        return Decision(refusal=refusal)
    approval = needs_approval(facts.kind)
    execute_at = settles_at(facts.kind, facts.source, facts.target, facts.at)
    if not approval and execute_at is None:
        return PROCEED
    return Decision(needs_approval=approval, execute_at=execute_at)


def decide_settlement(facts: MoveFacts) -> Decision:
    """At settlement, what may have changed since the request: every rule but the limits."""
    try:
        rules.check_all(facts, settlement=True)
    except ValidationFailed as refusal:
        return Decision(refusal=refusal)
    return PROCEED


def wait(
    decision: Decision, txn: Transaction, facts: MoveFacts, *, actor: User, details: dict[str, str]
) -> None:
    """What the controls keep of a move that waits (`txn`, written by the
    units service): its serials and settlement time, the reservation of its
    serials, the approval request, and the audit event."""
    ranges = [list(r) for r in facts.ranges]
    PendingMove.objects.create(transaction=txn, ranges=ranges, details=details, execute_at=decision.execute_at)
    # The serials are this transaction's until it completes or stops waiting.
    # One plain INSERT: bulk_create would open an atomic block, which the
    # pipelined move path (its own transaction, outside Django's) cannot.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {UnitReservation._meta.db_table} (transaction_id, serial_start, serial_end) VALUES "  # noqa: S608
            + ", ".join(["(%s, %s, %s)"] * len(ranges)),
            [value for start, end in ranges for value in (txn.pk, start, end)],
        )
    if decision.needs_approval:
        approval = Approval.objects.create(
            uid=uuid.uuid4(),
            action=facts.kind,
            organisation_id=actor.organisation_id,
            account_id=facts.source.pk,
            transaction=txn,
            payload={
                "transaction": txn.identifier, "from": facts.source.identifier, "to": facts.target.identifier,
                "quantity": facts.quantity,
            },
            request_hash=txn.request_hash,
            initiated_by=actor,
            created_at=facts.at,
            expires_at=facts.at + dt.timedelta(hours=settings.TONNE_APPROVAL_HOURS),
        )
        state_requested(approval, actor=actor, transaction_ref=txn.identifier)
    record(
        AuditEvent.Category.CONTROL,
        f"{facts.kind}.{txn.status}",
        actor=actor,
        target=txn.identifier,
        detail={"execute_at": decision.execute_at.isoformat() if decision.execute_at else None, "quantity": facts.quantity},
    )


# The ledger states every four-eyes request and its decision, and verify
# holds the approvals table to them (who asked, who decided, what). Appended
# on a cursor, not append_entry: a waiting move's own transaction may be the
# move path's, outside Django's atomic blocks.


def state_requested(approval: Approval, *, actor: User, transaction_ref: str = "") -> None:
    organisation = approval.organisation
    account = approval.account
    data = {
        "approval": str(approval.uid), "action": approval.action,
        "organisation": str(organisation.uid) if organisation is not None else None,
        "account": account.identifier if account is not None else None,
        "initiated_by": approval.initiated_by.username, "request_hash": approval.request_hash,
    }
    with connection.cursor() as cursor:
        append(cursor, kind="control.approval_requested", actor=actor, data=data, transaction_ref=transaction_ref)()


def state_decided(approval: Approval, *, actor: User | None) -> None:
    decided_by = approval.decided_by
    data = {"approval": str(approval.uid), "status": approval.status,
            "decided_by": decided_by.username if decided_by is not None else None}
    with connection.cursor() as cursor:
        append(cursor, kind="control.approval_decided", actor=actor, data=data)()


def release(txn_id: int) -> None:
    """The serials a waiting transaction held go back to its account's pool."""
    UnitReservation.objects.filter(transaction_id=txn_id).delete()


def require_not_initiator(user: User, initiator_id: int) -> None:
    if user.pk == initiator_id:
        raise PermissionDenied("SELF_APPROVAL_NOT_ALLOWED", "The person who initiated a request may not approve it.")


def check_approved(approval: Approval) -> None:
    """An approval's handler acts only on a request a second person approved."""
    if approval.status != Approval.Status.APPROVED or approval.decided_by_id in (None, approval.initiated_by_id):
        raise PermissionDenied(
            "FOUR_EYES_REQUIRED", "This request needs a second person's approval (POST /api/v1/approvals/{uid}/approve).",
        )


def issuance_needs_approval() -> bool:
    """Four-eyes on issuance: only an approved request issues."""
    return "issuance" in settings.TONNE_FOUR_EYES


def check_issuance(*, approval: Approval | None = None) -> None:
    """Called by MRV before issuing: with four-eyes on, only a request a second
    administrator approved (`approval`, passed by the approval's handler)
    issues; under the kill switch, nothing does."""
    rules.refuse_if_suspended()
    if issuance_needs_approval() and (approval is None or approval.status != Approval.Status.APPROVED):
        raise PermissionDenied(
            "FOUR_EYES_REQUIRED",
            "Issuance needs a second administrator: request it (POST /api/v1/issuance-approvals) "
            "and have another administrator approve it.",
        )


class MoveControls:
    """The controls in the unit-moving path (units.controls_port.ControlsPort):
    installed by the registry's wiring at start-up."""

    def active_freeze_sql(self) -> str:
        return rules.ACTIVE_FREEZE_SQL

    def flags_statement(self, source: str, target: str, at: dt.datetime) -> tuple[str, list[Any]]:
        return rules.flags_statement(source, target, at)

    def read_flags(self, kind: str, source: Account, row: Any) -> Flags:
        return rules.read_flags(kind, source, row)

    def decide_move(self, facts: MoveFacts, flags: Flags | None) -> Decision:
        return decide_move(facts, flags)

    def decide_settlement(self, facts: MoveFacts) -> Decision:
        return decide_settlement(facts)

    def wait(self, decision: Decision, txn: Transaction, facts: MoveFacts, *, actor: User, details: dict[str, str]) -> None:
        wait(decision, txn, facts, actor=actor, details=details)

    def take_waiting(self, txn: Transaction) -> Waiting:
        pending = PendingMove.objects.get(transaction_id=txn.pk)
        release(txn.pk)  # settled or failed, the serials are no longer held for it
        return Waiting(ranges=[(start, end) for start, end in pending.ranges], details=dict(pending.details))

    def record_settlement(self, txn: Transaction, *, failure: str = "") -> None:
        if failure:
            record(AuditEvent.Category.CONTROL, f"{txn.kind}.failed", target=txn.identifier, outcome="failure", detail={"code": failure})
            return
        PendingMove.objects.filter(transaction_id=txn.pk).update(executed_at=clock.now())
        record(AuditEvent.Category.CONTROL, f"{txn.kind}.settled", target=txn.identifier)
