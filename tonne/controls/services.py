"""State changes of the transaction controls: deciding approvals, settling
and cancelling waiting moves, trusted lists, limits, freezes and the
registry-wide switch. Each runs in one database transaction and is audited;
what changes registry data (a settled move) is in the ledger too."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction

from tonne.audit.models import AuditEvent
from tonne.audit.services import record
from tonne.controls import domain, gate
from tonne.controls.handlers import carry_out, handlers, settled
from tonne.controls.models import (
    AccountHold,
    AccountLimit,
    Approval,
    Freeze,
    PendingMove,
    RegistrySwitch,
    TrustedAccount,
)
from tonne.core import clock
from tonne.core.errors import Conflict, NotFound, PermissionDenied, RuleChecks, ValidationFailed
from tonne.ledger.services import append_entry
from tonne.organisations.models import Account, User
from tonne.organisations.services import (
    get_account,
    is_registry_administrator,
    require_active_member,
    require_in_force,
    require_registry_administrator,
)
from tonne.projects.models import Project
from tonne.units import services as units
from tonne.units.models import WAITING, Transaction

log = logging.getLogger("tonne.controls")
Status = Transaction.Status
Category = AuditEvent.Category
APPROVER_ROLES = (User.Role.ADMIN, User.Role.APPROVER)
OPERATOR_ROLES = (User.Role.ADMIN, User.Role.INITIATOR)
# Requests a second registry administrator approves: what creates units or takes them from the buffer.
REGISTRY_ACTIONS = (Approval.Action.ISSUANCE, Approval.Action.REVERSAL, Transaction.Kind.IMPORT)


# -- who may do what -------------------------------------------------------------------


def require_account_holder(actor: User, account: Account, roles: tuple[str, ...] = OPERATOR_ROLES) -> None:
    """A member of the holding organisation with one of `roles`, or the registry administrator."""
    if is_registry_administrator(actor):
        return
    org = require_active_member(actor, roles)
    if account.organisation_id != org.id:
        raise NotFound("ACCOUNT_NOT_FOUND", f"Account {account.identifier} is not yours.", field="account",
                       details={"account": account.identifier})


def require_approver(actor: User, approval: Approval) -> None:
    gate.require_not_initiator(actor, approval.initiated_by_id)
    require_in_force(actor)
    if approval.action == Approval.Action.REPRESENTATIVE_CHANGE:
        representatives.require_approver(actor, approval)
        return
    if approval.action in REGISTRY_ACTIONS or approval.organisation_id is None:
        require_registry_administrator(actor)
        if not actor.is_superuser and actor.role not in APPROVER_ROLES:
            raise PermissionDenied("ROLE_NOT_ALLOWED", f"Your role ({actor.role}) may not approve.", details={"role": actor.role})
        return
    org = require_active_member(actor, APPROVER_ROLES)
    if org.id != approval.organisation_id:
        raise NotFound("APPROVAL_NOT_FOUND", "No such approval request.")


def _locked_approval(uid: Any) -> Approval:
    try:
        return Approval.objects.select_for_update(of=("self",)).select_related("transaction").get(uid=uid)
    except (Approval.DoesNotExist, ValueError):
        raise NotFound("APPROVAL_NOT_FOUND", "No such approval request.") from None


def _expire_if_due(approval: Approval, now: dt.datetime) -> bool:
    if approval.status == Approval.Status.PENDING and approval.expires_at <= now:
        approval.status = Approval.Status.EXPIRED
        approval.decided_at = now
        approval.save(update_fields=["status", "decided_at"])
        gate.state_decided(approval, actor=None)
        if approval.transaction_id:
            Transaction.objects.filter(pk=approval.transaction_id, status__in=WAITING).update(
                status=Status.FAILED, failure_code="APPROVAL_EXPIRED"
            )
            gate.release(approval.transaction_id)
        record(Category.CONTROL, f"{approval.action}.approval_expired", target=str(approval.uid))
        return True
    return False


# -- approvals -------------------------------------------------------------------------


def approve(*, actor: User, uid: Any, request_hash: str) -> Approval:
    """A second person approves the exact request they saw (its hash)."""
    with transaction.atomic():
        approval = _locked_approval(uid)
        require_approver(actor, approval)
        now = clock.now()
        expired = _expire_if_due(approval, now)
        if not expired:
            _approve_locked(approval, actor, request_hash, now)
    if expired:
        raise Conflict("APPROVAL_EXPIRED", "This request expired before it was approved; nothing was done.")
    return approval


def _approve_locked(approval: Approval, actor: User, request_hash: str, now: dt.datetime) -> None:
    if approval.status != Approval.Status.PENDING:
        raise Conflict("APPROVAL_NOT_PENDING", f"This request is already {approval.status}.", details={"status": approval.status})
    if (request_hash or "").strip().lower() != approval.request_hash:
        raise Conflict(
            "APPROVAL_HASH_MISMATCH",
            "The request changed or is not the one you reviewed; nothing was approved.",
            field="request_hash",
        )
    approval.status = Approval.Status.APPROVED
    approval.decided_by = actor
    approval.decided_at = now
    approval.save(update_fields=["status", "decided_by", "decided_at"])
    gate.state_decided(approval, actor=actor)
    record(Category.CONTROL, f"{approval.action}.approved", actor=actor, target=str(approval.uid))
    _carry_out(approval, actor, now)


def reject(*, actor: User, uid: Any, reason: str) -> Approval:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("REASON_REQUIRED", "A rejection needs a reason.", field="reason")
    with transaction.atomic():
        approval = _locked_approval(uid)
        # The initiator withdraws with cancel; rejecting is the other person's call.
        require_approver(actor, approval)
        now = clock.now()
        expired = _expire_if_due(approval, now)
        if not expired:
            _reject_locked(approval, actor, reason, now)
    if expired:
        raise Conflict("APPROVAL_EXPIRED", "This request had already expired.")
    return approval


def _reject_locked(approval: Approval, actor: User, reason: str, now: dt.datetime) -> None:
    if approval.status != Approval.Status.PENDING:
        raise Conflict("APPROVAL_NOT_PENDING", f"This request is already {approval.status}.", details={"status": approval.status})
    approval.status = Approval.Status.REJECTED
    approval.decided_by = actor
    approval.decided_at = now
    approval.reason = reason
    approval.save(update_fields=["status", "decided_by", "decided_at", "reason"])
    gate.state_decided(approval, actor=actor)
    if approval.transaction_id:
        Transaction.objects.filter(pk=approval.transaction_id).update(status=Status.REJECTED)
        gate.release(approval.transaction_id)
    record(Category.CONTROL, f"{approval.action}.rejected", actor=actor, target=str(approval.uid), detail={"reason": reason})


def _carry_out(approval: Approval, approver: User, now: dt.datetime) -> None:
    if approval.transaction_id:
        txn = approval.transaction
        assert txn is not None
        pending = PendingMove.objects.get(transaction=txn)
        if pending.execute_at is not None and pending.execute_at > now:
            Transaction.objects.filter(pk=txn.pk).update(status=Status.DELAYED)
            return
        settled(units.settle_waiting(txn.pk))  # e.g. an export's transfer file, once its units left
    elif approval.action == Approval.Action.TRUSTED_ADD:
        _add_trusted(approval.payload, requested_by=approval.initiated_by, approved_by=approver, now=now)
    elif approval.action == Approval.Action.LIMIT_CHANGE:
        _apply_limits(approval.payload, set_by=approval.initiated_by, approved_by=approver, now=now)
    elif approval.action == Approval.Action.REPRESENTATIVE_CHANGE:
        representatives.apply_change(approval.payload, requested_by=approval.initiated_by, approved_by=approver)
    else:  # another app's request (issuance, Article 6): its handler, listed in the wiring
        carry_out(approval, approver, now)


def new_approval(
    *, actor: User, action: str, account: Account | None, payload: dict[str, Any], organisation_id: int | None = None
) -> Approval:
    now = clock.now()
    if organisation_id is None:
        organisation_id = account.organisation_id if account is not None else actor.organisation_id
    approval = Approval.objects.create(
        uid=uuid.uuid4(),
        action=action,
        organisation_id=organisation_id,
        account=account,
        payload=payload,
        request_hash=domain.request_hash(action, payload),
        initiated_by=actor,
        created_at=now,
        expires_at=now + dt.timedelta(hours=settings.TONNE_APPROVAL_HOURS),
    )
    gate.state_requested(approval, actor=actor)
    record(Category.CONTROL, f"{action}.requested", actor=actor, target=str(approval.uid), detail=payload)
    return approval


# -- issuance --------------------------------------------------------------------------


def request_issuance(*, actor: User, report_uid: Any) -> Approval:
    """The first administrator asks for issuance of a verified report."""
    require_registry_administrator(actor)
    with transaction.atomic():
        payload = handlers().issuance_payload(report_uid)  # refuses a report that cannot be issued
        if Approval.objects.filter(
            action=Approval.Action.ISSUANCE, status=Approval.Status.PENDING, payload__report=payload["report"]
        ).exists():
            raise Conflict("ISSUANCE_ALREADY_REQUESTED", "Issuance of this report already waits for approval.")
        if not payload["vintages"]:
            raise ValidationFailed("NOTHING_TO_ISSUE", "No verified quantity remains to be issued for this report.")
        return new_approval(actor=actor, action=Approval.Action.ISSUANCE, account=None, payload=payload)


# -- waiting moves ---------------------------------------------------------------------


def cancel_waiting(*, actor: User, identifier: str) -> Transaction:
    """Stop a move that is waiting for approval or settlement."""
    with transaction.atomic():
        txn = (
            Transaction.objects.select_for_update(of=("self",))
            .select_related("from_account")
            .filter(identifier=(identifier or "").strip().upper())
            .first()
        )
        if txn is None or txn.from_account is None:
            raise NotFound("TRANSACTION_NOT_FOUND", f"No transaction {identifier}.", details={"transaction": identifier})
        if txn.initiated_by_id != actor.pk:
            try:
                require_account_holder(actor, txn.from_account)
            except (NotFound, PermissionDenied):
                raise NotFound("TRANSACTION_NOT_FOUND", f"No transaction {identifier}.", details={"transaction": identifier}) from None
        if txn.status not in WAITING:
            raise Conflict("TRANSACTION_NOT_WAITING", f"Transaction {txn.identifier} is {txn.status}; it cannot be cancelled.", details={"transaction": txn.identifier, "status": txn.status})
        txn.status = Status.CANCELLED
        txn.save(update_fields=["status"])
        PendingMove.objects.filter(transaction=txn).update(cancelled_by=actor)
        gate.release(txn.pk)
        for approval in Approval.objects.select_for_update().filter(transaction=txn, status=Approval.Status.PENDING):
            approval.status = Approval.Status.CANCELLED
            approval.decided_at = clock.now()
            approval.save(update_fields=["status", "decided_at"])
            gate.state_decided(approval, actor=actor)
        record(Category.CONTROL, f"{txn.kind}.cancelled", actor=actor, target=txn.identifier)
    return txn


def run_due(limit: int = 100) -> list[Transaction]:
    """The worker's share: expire stale approvals, settle moves whose time came."""
    now = clock.now()
    for uid in Approval.objects.filter(status=Approval.Status.PENDING, expires_at__lte=now).values_list("uid", flat=True)[:limit]:
        with transaction.atomic():
            _expire_if_due(_locked_approval(uid), now)
    due_moves = []
    due = PendingMove.objects.filter(
        transaction__status=Status.DELAYED, execute_at__lte=now, executed_at__isnull=True
    ).order_by("execute_at", "pk").values_list("transaction_id", flat=True)[:limit]
    for txn_id in due:
        with transaction.atomic():
            try:
                done = units.settle_waiting(txn_id)
            except Conflict:  # cancelled or settled meanwhile
                continue
            settled(done)
            due_moves.append(done)
    return due_moves


# -- trusted account lists -------------------------------------------------------------


def request_trusted_addition(*, actor: User, account: str, trusted: str) -> Approval | TrustedAccount:
    with transaction.atomic():
        source = get_account(account, field="account")
        require_account_holder(actor, source)
        target = get_account(trusted, field="trusted")
        if target.pk == source.pk:
            raise ValidationFailed("TRUSTED_SELF", "An account cannot trust itself.", field="trusted")
        if target.type != Account.Type.HOLDING:
            raise ValidationFailed("TRUSTED_ACCOUNT_TYPE", "Only holding accounts go on a trusted list.", field="trusted")
        if TrustedAccount.objects.filter(account=source, trusted=target, removed_at__isnull=True).exists():
            raise Conflict("TRUSTED_ALREADY", f"{target.identifier} is already on the list.", field="trusted", details={"account": target.identifier})
        payload = {"account": source.identifier, "trusted": target.identifier}
        if "trusted_list" in settings.TONNE_FOUR_EYES:
            return new_approval(actor=actor, action=Approval.Action.TRUSTED_ADD, account=source, payload=payload)
        return _add_trusted(payload, requested_by=actor, approved_by=None, now=clock.now())


def _add_trusted(payload: dict[str, Any], *, requested_by: User, approved_by: User | None, now: dt.datetime) -> TrustedAccount:
    source = Account.objects.get(identifier=payload["account"])
    target = Account.objects.get(identifier=payload["trusted"])
    if TrustedAccount.objects.filter(account=source, trusted=target, removed_at__isnull=True).exists():
        raise Conflict("TRUSTED_ALREADY", f"{target.identifier} is already on the list.", field="trusted", details={"account": target.identifier})
    entry = TrustedAccount.objects.create(
        account=source,
        trusted=target,
        requested_by=requested_by,
        approved_by=approved_by,
        requested_at=now,
        effective_at=gate.trusted_from(now),
    )
    append_entry(kind="control.trusted_added", actor=approved_by or requested_by,
                 data={"account": source.identifier, "trusted": target.identifier,
                       "effective_at": entry.effective_at.isoformat()})
    record(Category.CONTROL, "trusted_list.added", actor=approved_by or requested_by, target=source.identifier,
           detail={**payload, "effective_at": entry.effective_at.isoformat()})
    return entry


def remove_trusted(*, actor: User, account: str, trusted: str) -> TrustedAccount:
    """Removals take effect at once and need no second person: they only protect."""
    with transaction.atomic():
        source = get_account(account, field="account")
        require_account_holder(actor, source)
        target = get_account(trusted, field="trusted")
        entry = TrustedAccount.objects.select_for_update().filter(account=source, trusted=target, removed_at__isnull=True).first()
        if entry is None:
            raise NotFound("TRUSTED_NOT_FOUND", f"{target.identifier} is not on the trusted list of {source.identifier}.", details={"account": target.identifier, "source": source.identifier})
        entry.removed_at = clock.now()
        entry.removed_by = actor
        entry.save(update_fields=["removed_at", "removed_by"])
        append_entry(kind="control.trusted_removed", actor=actor,
                     data={"account": source.identifier, "trusted": target.identifier})
        record(Category.CONTROL, "trusted_list.removed", actor=actor, target=source.identifier, detail={"trusted": target.identifier})
    return entry


# -- limits ----------------------------------------------------------------------------


def request_limits(*, actor: User, account: str, per_transfer: int | None, per_day: int | None) -> Approval | AccountLimit:
    with transaction.atomic():
        source = get_account(account, field="account")
        require_account_holder(actor, source, (User.Role.ADMIN,))
        payload: dict[str, Any] = {"account": source.identifier}
        checks = RuleChecks()  # both limits' rules at once
        for field, value in (("per_transfer", per_transfer), ("per_day", per_day)):
            with checks.rule():
                payload[field] = domain.check_quantity_limit(value, field)
        checks.done()
        if "limits" in settings.TONNE_FOUR_EYES:
            return new_approval(actor=actor, action=Approval.Action.LIMIT_CHANGE, account=source, payload=payload)
        return _apply_limits(payload, set_by=actor, approved_by=None, now=clock.now())


def _apply_limits(payload: dict[str, Any], *, set_by: User, approved_by: User | None, now: dt.datetime) -> AccountLimit:
    account = Account.objects.get(identifier=payload["account"])
    limit, _ = AccountLimit.objects.update_or_create(
        account=account,
        defaults={
            "per_transfer": payload["per_transfer"],
            "per_day": payload["per_day"],
            "set_by": set_by,
            "approved_by": approved_by,
            "updated_at": now,
        },
    )
    append_entry(kind="control.limits", actor=approved_by or set_by, data={
        "account": account.identifier, "per_transfer": payload["per_transfer"], "per_day": payload["per_day"],
    })
    record(Category.CONFIGURATION, "limits.changed", actor=approved_by or set_by, target=account.identifier, detail=payload)
    return limit


# -- freezes ---------------------------------------------------------------------------


def freeze(
    *,
    actor: User,
    scope: str,
    reason: str,
    account: str | None = None,
    project: str | None = None,
    serial_start: int | None = None,
    serial_end: int | None = None,
    expires_at: dt.datetime | None = None,
) -> Freeze:
    require_registry_administrator(actor)
    return _freeze(actor, scope, reason, account, project, serial_start, serial_end, expires_at)


def freeze_serials_found(*, serial_start: int, serial_end: int, reason: str) -> Freeze:
    """A serial range the registry itself freezes when it finds something
    wrong with it (a reconciliation mismatch): no person placed it, an
    administrator lifts it. It has no end date: it lasts while the mismatch
    is open and its resolution lifts it; a date would free units still in
    dispute, and a job renewing it would free them whenever the job stops."""
    if not reason.strip() or not 1 <= serial_start <= serial_end:
        raise ValidationFailed("SERIAL_RANGE_INVALID", "Give serial_start ≤ serial_end, both ≥ 1, and a reason.",
                               field="serial_start")
    with transaction.atomic():
        return _until_lifted(None, serial_start, serial_end, reason.strip())


def _freeze(
    actor: User | None, scope: str, reason: str, account: str | None, project: str | None,
    serial_start: int | None, serial_end: int | None, expires_at: dt.datetime | None,
) -> Freeze:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("REASON_REQUIRED", "A freeze needs a reason.", field="reason")
    now = clock.now()
    longest = now + dt.timedelta(days=settings.TONNE_FREEZE_MAX_DAYS)
    if expires_at is None:
        expires_at = longest
    if expires_at <= now or expires_at > longest:
        raise ValidationFailed(
            "FREEZE_EXPIRY_INVALID",
            f"A freeze ends in the future and lasts at most {settings.TONNE_FREEZE_MAX_DAYS} days.",
            field="expires_at",
            details={"days": settings.TONNE_FREEZE_MAX_DAYS},
        )
    target: dict[str, Any] = {}
    if scope == Freeze.Scope.ACCOUNT:
        target["account"] = get_account(account or "", field="account")
    elif scope == Freeze.Scope.PROJECT:
        found = Project.objects.filter(project_id=(project or "").strip()).first()
        if found is None:
            raise NotFound("PROJECT_NOT_FOUND", f"Project {project} does not exist.", field="project", details={"project": project})
        target["project"] = found
    elif scope == Freeze.Scope.SERIALS:
        if serial_start is None or serial_end is None or not 1 <= serial_start <= serial_end:
            raise ValidationFailed("SERIAL_RANGE_INVALID", "Give serial_start ≤ serial_end, both ≥ 1.", field="serial_start")
        target.update(serial_start=serial_start, serial_end=serial_end)
    else:
        raise ValidationFailed("FREEZE_SCOPE_INVALID", "scope must be account, project or serials.", field="scope")
    with transaction.atomic():
        frozen = Freeze.objects.create(
            uid=uuid.uuid4(), scope=scope, reason=reason, created_by=actor, created_at=now, expires_at=expires_at, **target
        )
        append_entry(kind="control.freeze", actor=actor, data={"freeze": str(frozen.uid), **freeze_target(frozen)})
        record(Category.CONTROL, "freeze.created", actor=actor, target=str(frozen.uid), detail=freeze_target(frozen))
    return frozen


def freeze_target(frozen: Freeze) -> dict[str, Any]:
    return {
        "scope": frozen.scope,
        "account": frozen.account.identifier if frozen.account_id and frozen.account else None,
        "project": frozen.project.project_id if frozen.project_id and frozen.project else None,
        "serial_start": frozen.serial_start,
        "serial_end": frozen.serial_end,
        "reason": frozen.reason,
    }


def lift_freeze(*, actor: User, uid: Any) -> Freeze:
    require_registry_administrator(actor)
    with transaction.atomic():
        try:
            frozen = Freeze.objects.select_for_update().get(uid=uid)
        except (Freeze.DoesNotExist, ValueError):
            raise NotFound("FREEZE_NOT_FOUND", "No such freeze.") from None
        if frozen.lifted_at is not None:
            raise Conflict("FREEZE_LIFTED", "This freeze was already lifted.")
        _lift(frozen, actor)
    return frozen


def _lift(frozen: Freeze, actor: User) -> None:
    frozen.lifted_at = clock.now()
    frozen.lifted_by = actor
    frozen.save(update_fields=["lifted_at", "lifted_by"])
    append_entry(kind="control.freeze_lifted", actor=actor, data={"freeze": str(frozen.uid)})
    record(Category.CONTROL, "freeze.lifted", actor=actor, target=str(frozen.uid))


def hold_serials(*, on_behalf_of: User, serial_start: int, serial_end: int, reason: str) -> Freeze:
    """Units the registry had to create while a control refused moving them
    (units a partner sent after this registry accepted them): a serials
    freeze in the name of the administrator who accepted, with no end, until
    `release_serials` once the control no longer refuses. Runs in the
    caller's transaction; an administrator may also lift it as any freeze."""
    return _until_lifted(on_behalf_of, serial_start, serial_end, reason)


def _until_lifted(actor: User | None, serial_start: int, serial_end: int, reason: str) -> Freeze:
    """A serials freeze with no end date (TONNE_FREEZE_MAX_DAYS bounds what a person places, not these)."""
    frozen = Freeze.objects.create(uid=uuid.uuid4(), scope=Freeze.Scope.SERIALS, reason=reason, created_by=actor,
                                   created_at=clock.now(), expires_at=None, serial_start=serial_start,
                                   serial_end=serial_end)
    append_entry(kind="control.freeze", actor=actor, data={"freeze": str(frozen.uid), **freeze_target(frozen)})
    record(Category.CONTROL, "freeze.created", actor=actor, target=str(frozen.uid), detail=freeze_target(frozen))
    return frozen


def release_serials(*, on_behalf_of: User, serial_start: int, serial_end: int, reason: str) -> int:
    """Lift the holds `hold_serials` placed on exactly these serials with this reason. Runs in the caller's transaction."""
    held = list(Freeze.objects.select_for_update().filter(
        scope=Freeze.Scope.SERIALS, serial_start=serial_start, serial_end=serial_end, reason=reason,
        lifted_at__isnull=True))
    for frozen in held:
        _lift(frozen, on_behalf_of)
    return len(held)


# -- the registry-wide switch ----------------------------------------------------------


def registry_switch() -> RegistrySwitch:
    switch, _ = RegistrySwitch.objects.get_or_create(pk=1)
    return switch


def set_transfers_suspended(*, actor: User, suspended: bool, reason: str) -> RegistrySwitch:
    require_registry_administrator(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("REASON_REQUIRED", "Say why.", field="reason")
    with transaction.atomic():
        RegistrySwitch.objects.get_or_create(pk=1)
        switch = RegistrySwitch.objects.select_for_update().get(pk=1)
        switch.transfers_suspended = suspended
        switch.reason = reason
        switch.changed_by = actor
        switch.changed_at = clock.now()
        switch.save()
        append_entry(kind="control.transfers", actor=actor, data={"suspended": suspended, "reason": reason})
        record(Category.CONFIGURATION, "transfers.suspended" if suspended else "transfers.resumed", actor=actor,
               detail={"reason": reason})
    return switch


# -- holds (placed by the monitoring) ------------------------------------------------------


def place_hold(*, account_id: int, alert_id: int, rule: str) -> AccountHold:
    """Units may not leave the account until the hold is released (the
    monitoring's alert asked for it). Runs in the caller's transaction."""
    hold = AccountHold.objects.create(account_id=account_id, alert_id=alert_id, rule=rule, created_at=clock.now())
    account = Account.objects.values_list("identifier", flat=True).get(pk=account_id)
    append_entry(kind="control.hold", actor=None, data={"alert": alert_id, "account": account, "rule": rule})
    return hold


def release_hold(*, alert_id: int, actor: User | None = None) -> None:
    """Runs in the caller's transaction."""
    if AccountHold.objects.filter(alert_id=alert_id, released_at__isnull=True).update(released_at=clock.now()):
        append_entry(kind="control.hold_released", actor=actor, data={"alert": alert_id})


# Changes of representatives live in their own module, which builds on this
# one (approvals); their names are the controls' services all the same.
from tonne.controls import representatives  # noqa: E402
from tonne.controls.representatives import (  # noqa: E402
    change_member,
    member_state,
    pending_representative_change,
    representative_change_needs_approval,
    request_representative_change,
)

__all__ = [
    "change_member",
    "member_state",
    "pending_representative_change",
    "representative_change_needs_approval",
    "request_representative_change",
]
