"""The transaction controls over HTTP: approvals, waiting moves, trusted
lists, limits, freezes, the kill switch and the configuration in force."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from tonne.access.policy import require_step_up
from tonne.controls import destinations, holidays, selectors
from tonne.controls import services as controls
from tonne.controls.models import (
    AccountLimit,
    Approval,
    Freeze,
    Holiday,
    PendingMove,
    TrustedAccount,
    TrustedDestination,
)
from tonne.core import clock
from tonne.core.api_support import ERRORS, ListQuery, Page, StrictSchema, get_or_404, paginate
from tonne.organisations import services as orgs
from tonne.organisations.api_auth import AUTH, actor, require_scope
from tonne.organisations.models import ApiToken, User
from tonne.units.api import TransactionOut, transaction_out

router = Router(tags=["controls"])


# -- schemas ---------------------------------------------------------------------------


class ControlsConfigOut(Schema):
    four_eyes: list[str]
    approval_hours: int
    delay_non_trusted: bool
    settlement_working_days: int
    trusted_delay_working_days: int
    trust_own_accounts: bool
    calendar_timezone: str
    holidays: list[str]
    weekend: list[int]
    max_transfer_quantity: int | None
    max_daily_quantity: int | None
    freeze_max_days: int
    mfa_required: bool
    step_up_minutes: int | None


class SwitchOut(Schema):
    transfers_suspended: bool
    reason: str
    changed_at: dt.datetime | None


class SwitchIn(StrictSchema):
    transfers_suspended: bool
    reason: str = Field(..., max_length=2000)


class PendingOut(Schema):
    ranges: list[list[int]]
    execute_at: dt.datetime | None
    executed_at: dt.datetime | None


class ApprovalOut(Schema):
    uid: uuid.UUID
    action: str
    status: str
    account: str | None
    payload: dict[str, Any]
    request_hash: str = Field(..., description="Send it back to approve: the approval is bound to this exact request.")
    initiated_by: str
    created_at: dt.datetime
    expires_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    reason: str
    transaction: TransactionOut | None
    pending: PendingOut | None


class ApprovalQuery(ListQuery):
    status: str | None = Field(None, description="pending, approved, rejected, expired or cancelled")
    action: str | None = None


class ApproveIn(StrictSchema):
    request_hash: str = Field(..., min_length=64, max_length=64)


class RejectIn(StrictSchema):
    reason: str = Field(..., max_length=2000)


class TrustedOut(Schema):
    account: str
    trusted: str
    trusted_holder: str | None
    requested_at: dt.datetime
    effective_at: dt.datetime
    removed_at: dt.datetime | None
    active: bool


class TrustedIn(StrictSchema):
    account: str = Field(..., max_length=40, description="The account to trust.")


class DestinationOut(Schema):
    account: str
    party: str
    registry: str
    destination_account: str = Field(..., description="Blank: every account of that registry")
    requested_at: dt.datetime
    effective_at: dt.datetime
    removed_at: dt.datetime | None
    active: bool


class DestinationIn(StrictSchema):
    party: str = Field(..., max_length=2, description="The destination Party (ISO 3166 alpha-2)")
    registry: str = Field(..., max_length=100, description="The destination registry's identifier")
    destination_account: str = Field("", max_length=40, description="One account there, or blank for any")


def destination_out(entry: TrustedDestination) -> dict[str, Any]:
    return {
        "account": entry.account.identifier, "party": entry.party, "registry": entry.registry,
        "destination_account": entry.destination_account, "requested_at": entry.requested_at,
        "effective_at": entry.effective_at, "removed_at": entry.removed_at,
        "active": entry.removed_at is None and entry.effective_at <= clock.now(),
    }


class LimitsOut(Schema):
    account: str
    per_transfer: int | None
    per_day: int | None
    updated_at: dt.datetime | None


class LimitsIn(StrictSchema):
    per_transfer: int | None = Field(None, ge=1, le=2**62)
    per_day: int | None = Field(None, ge=1, le=2**62)


class ChangeOut(Schema):
    """Either the change took effect, or it waits for a second person."""

    status: str = Field(..., description="'applied' or 'awaiting_approval'")
    approval: uuid.UUID | None
    trusted: TrustedOut | None = None
    limits: LimitsOut | None = None
    destination: DestinationOut | None = None


class FreezeOut(Schema):
    uid: uuid.UUID
    scope: str
    account: str | None
    project: str | None
    serial_start: int | None
    serial_end: int | None
    reason: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    lifted_at: dt.datetime | None
    created_by: str


class FreezeIn(StrictSchema):
    scope: str = Field(..., description="account, project or serials")
    reason: str = Field(..., max_length=2000)
    account: str | None = Field(None, max_length=40)
    project: str | None = Field(None, max_length=40)
    serial_start: int | None = Field(None, ge=1, le=2**62)
    serial_end: int | None = Field(None, ge=1, le=2**62)
    expires_at: dt.datetime | None = None


class FreezeQuery(ListQuery):
    active: bool = False


# -- renderers -------------------------------------------------------------------------


def approval_out(approval: Approval, user: User) -> dict[str, Any]:
    pending = PendingMove.objects.filter(transaction_id=approval.transaction_id).first() if approval.transaction_id else None
    return {
        "uid": approval.uid,
        "action": approval.action,
        "status": approval.status,
        "account": approval.account.identifier if approval.account else None,
        "payload": approval.payload,
        "request_hash": approval.request_hash,
        "initiated_by": approval.initiated_by.username,
        "created_at": approval.created_at,
        "expires_at": approval.expires_at,
        "decided_by": approval.decided_by.username if approval.decided_by else None,
        "decided_at": approval.decided_at,
        "reason": approval.reason,
        "transaction": transaction_out(approval.transaction, user) if approval.transaction else None,
        "pending": pending_out(pending) if pending else None,
    }


def pending_out(pending: PendingMove) -> dict[str, Any]:
    return {"ranges": pending.ranges, "execute_at": pending.execute_at, "executed_at": pending.executed_at}


def trusted_out(entry: TrustedAccount) -> dict[str, Any]:
    now = clock.now()
    return {
        "account": entry.account.identifier,
        "trusted": entry.trusted.identifier,
        "trusted_holder": entry.trusted.organisation.name if entry.trusted.organisation else None,
        "requested_at": entry.requested_at,
        "effective_at": entry.effective_at,
        "removed_at": entry.removed_at,
        "active": entry.removed_at is None and entry.effective_at <= now,
    }


def limits_out(account_identifier: str, limit: AccountLimit | None) -> dict[str, Any]:
    return {
        "account": account_identifier,
        "per_transfer": limit.per_transfer if limit else None,
        "per_day": limit.per_day if limit else None,
        "updated_at": limit.updated_at if limit else None,
    }


def freeze_out(frozen: Freeze) -> dict[str, Any]:
    return {
        "uid": frozen.uid,
        "scope": frozen.scope,
        "account": frozen.account.identifier if frozen.account else None,
        "project": frozen.project.project_id if frozen.project else None,
        "serial_start": frozen.serial_start,
        "serial_end": frozen.serial_end,
        "reason": frozen.reason,
        "created_at": frozen.created_at,
        "expires_at": frozen.expires_at,
        "lifted_at": frozen.lifted_at,
        "created_by": frozen.created_by.username if frozen.created_by else "",
    }


def _holder_account(request: HttpRequest, identifier: str) -> Any:
    user = actor(request)
    account = orgs.get_account(identifier)
    orgs.require_can_view_account(user, account)
    return user, account


# -- configuration and the kill switch -------------------------------------------------


@router.get("/controls", response={200: ControlsConfigOut, **ERRORS}, auth=AUTH)
def get_configuration(request: HttpRequest):
    """The controls in force in this registry (four-eyes, delays, calendar, limits)."""
    actor(request)
    return selectors.configuration()


@router.get("/controls/switch", response={200: SwitchOut, **ERRORS}, auth=AUTH)
def get_switch(request: HttpRequest):
    """Whether outgoing transfers are suspended registry-wide."""
    actor(request)
    switch = controls.registry_switch()
    return {"transfers_suspended": switch.transfers_suspended, "reason": switch.reason, "changed_at": switch.changed_at}


@router.put("/controls/switch", response={200: SwitchOut, **ERRORS}, auth=AUTH)
def set_switch(request: HttpRequest, payload: SwitchIn):
    """Suspend or resume every outgoing transfer (registry administrator)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    if not payload.transfers_suspended:
        require_step_up(request, user)  # resuming transfers needs a recent second factor; suspending never waits
    switch = controls.set_transfers_suspended(actor=user, suspended=payload.transfers_suspended, reason=payload.reason)
    return {"transfers_suspended": switch.transfers_suspended, "reason": switch.reason, "changed_at": switch.changed_at}


# -- approvals -------------------------------------------------------------------------


@router.get("/approvals", response={200: Page[ApprovalOut], **ERRORS}, auth=AUTH)
def list_approvals(request: HttpRequest, query: Query[ApprovalQuery]):
    """Requests of your organisation waiting for (or decided by) a second person."""
    user = actor(request)
    qs = selectors.approvals_for(user)
    if query.status:
        qs = qs.filter(status=query.status)
    if query.action:
        qs = qs.filter(action=query.action)
    return paginate(
        qs, query, lambda a: approval_out(a, user), allowed={"created_at": "created_at", "expires_at": "expires_at"},
        default="-created_at",
    )


@router.get("/approvals/{uuid:uid}", response={200: ApprovalOut, **ERRORS}, auth=AUTH)
def get_approval(request: HttpRequest, uid: uuid.UUID):
    user = actor(request)
    approval = get_or_404(selectors.approvals_for(user), "APPROVAL_NOT_FOUND", "No such approval request.", uid=uid)
    return approval_out(approval, user)


@router.post("/approvals/{uuid:uid}/approve", response={200: ApprovalOut, **ERRORS}, auth=AUTH)
def approve(request: HttpRequest, uid: uuid.UUID, payload: ApproveIn):
    """Approve the exact request (send its request_hash). Never your own."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.TRADE)
    require_step_up(request, user)
    get_or_404(selectors.approvals_for(user), "APPROVAL_NOT_FOUND", "No such approval request.", uid=uid)
    approval = controls.approve(actor=user, uid=uid, request_hash=payload.request_hash)
    approval.refresh_from_db()
    return approval_out(approval, user)


@router.post("/approvals/{uuid:uid}/reject", response={200: ApprovalOut, **ERRORS}, auth=AUTH)
def reject(request: HttpRequest, uid: uuid.UUID, payload: RejectIn):
    user = actor(request)
    require_scope(request, ApiToken.Scope.TRADE)
    require_step_up(request, user)
    get_or_404(selectors.approvals_for(user), "APPROVAL_NOT_FOUND", "No such approval request.", uid=uid)
    approval = controls.reject(actor=user, uid=uid, reason=payload.reason)
    return approval_out(approval, user)


@router.post("/transactions/{identifier}/cancel", response={200: TransactionOut, **ERRORS}, auth=AUTH)
def cancel_transaction(request: HttpRequest, identifier: str):
    """Cancel a transaction still waiting for approval or settlement."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.TRADE)
    return transaction_out(controls.cancel_waiting(actor=user, identifier=identifier), user)


class IssuanceRequestIn(StrictSchema):
    report: uuid.UUID


@router.post("/issuance-approvals", response={202: ApprovalOut, **ERRORS}, auth=AUTH)
def request_issuance(request: HttpRequest, payload: IssuanceRequestIn):
    """Ask for issuance of a verified report; another administrator approves it."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    require_step_up(request, user)
    approval = controls.request_issuance(actor=user, report_uid=payload.report)
    return Status(202, approval_out(approval, user))


# -- trusted lists and limits ----------------------------------------------------------


@router.get("/accounts/{identifier}/trusted", response={200: list[TrustedOut], **ERRORS}, auth=AUTH, tags=["accounts"])
def list_trusted(request: HttpRequest, identifier: str):
    """The account's trusted list, with pending additions and their effective time."""
    _, account = _holder_account(request, identifier)
    return [trusted_out(t) for t in selectors.trusted_of(account).order_by("effective_at", "pk")[:1000]]


@router.post("/accounts/{identifier}/trusted", response={201: ChangeOut, 202: ChangeOut, **ERRORS}, auth=AUTH, tags=["accounts"])
def add_trusted(request: HttpRequest, identifier: str, payload: TrustedIn):
    """Ask to add an account; it takes effect after the country's delay (and approval)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.TRADE)
    require_step_up(request, user)
    _holder_account(request, identifier)
    result = controls.request_trusted_addition(actor=user, account=identifier, trusted=payload.account)
    if isinstance(result, Approval):
        return Status(202, {"status": "awaiting_approval", "approval": result.uid})
    return Status(201, {"status": "applied", "approval": None, "trusted": trusted_out(result)})


@router.delete(
    "/accounts/{identifier}/trusted/{trusted}", response={200: TrustedOut, **ERRORS}, auth=AUTH, tags=["accounts"]
)
def remove_trusted(request: HttpRequest, identifier: str, trusted: str):
    """Remove an account from the trusted list, at once."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.TRADE)
    _holder_account(request, identifier)
    return trusted_out(controls.remove_trusted(actor=user, account=identifier, trusted=trusted))


@router.get(
    "/accounts/{identifier}/trusted-destinations", response={200: list[DestinationOut], **ERRORS}, auth=AUTH,
    tags=["accounts"],
)
def list_destinations(request: HttpRequest, identifier: str):
    """The destinations abroad this account may export to, with pending additions and their effective time."""
    _, account = _holder_account(request, identifier)
    found = selectors.destinations_of(account).order_by("effective_at", "pk")[:1000]
    return [destination_out(t) for t in found]


@router.post(
    "/accounts/{identifier}/trusted-destinations", response={201: ChangeOut, 202: ChangeOut, **ERRORS}, auth=AUTH,
    tags=["accounts"],
)
def add_destination(request: HttpRequest, identifier: str, payload: DestinationIn):
    """Ask to trust a destination abroad for exports; it takes effect after the country's delay (and approval)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.TRADE)
    require_step_up(request, user)
    _holder_account(request, identifier)
    result = destinations.request_addition(
        actor=user, account=identifier, party=payload.party, registry=payload.registry,
        destination_account=payload.destination_account,
    )
    if isinstance(result, Approval):
        return Status(202, {"status": "awaiting_approval", "approval": result.uid})
    return Status(201, {"status": "applied", "approval": None, "destination": destination_out(result)})


@router.delete(
    "/accounts/{identifier}/trusted-destinations/{registry}", response={200: DestinationOut, **ERRORS}, auth=AUTH,
    tags=["accounts"],
)
def remove_destination(request: HttpRequest, identifier: str, registry: str, destination_account: str = ""):
    """Remove a destination from the list, at once (`destination_account` blank: the whole-registry entry)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.TRADE)
    _holder_account(request, identifier)
    entry = destinations.remove(actor=user, account=identifier, registry=registry, destination_account=destination_account)
    return destination_out(entry)


@router.get("/accounts/{identifier}/limits", response={200: LimitsOut, **ERRORS}, auth=AUTH, tags=["accounts"])
def get_limits(request: HttpRequest, identifier: str):
    _, account = _holder_account(request, identifier)
    return limits_out(account.identifier, selectors.limits_of(account))


@router.put("/accounts/{identifier}/limits", response={200: ChangeOut, 202: ChangeOut, **ERRORS}, auth=AUTH, tags=["accounts"])
def set_limits(request: HttpRequest, identifier: str, payload: LimitsIn):
    """Set the account's per-transfer and 24-hour limits (null: none); needs a second person."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.TRADE)
    require_step_up(request, user)
    _, account = _holder_account(request, identifier)
    result = controls.request_limits(
        actor=user, account=identifier, per_transfer=payload.per_transfer, per_day=payload.per_day
    )
    if isinstance(result, Approval):
        return Status(202, {"status": "awaiting_approval", "approval": result.uid})
    return Status(200, {"status": "applied", "approval": None, "limits": limits_out(account.identifier, result)})


# -- freezes ---------------------------------------------------------------------------


@router.get("/freezes", response={200: Page[FreezeOut], **ERRORS}, auth=AUTH)
def list_freezes(request: HttpRequest, query: Query[FreezeQuery]):
    """Freezes that bind your accounts or units (all, for the registry administrator)."""
    user = actor(request)
    qs = selectors.freezes_for(user, active_only=query.active)
    return paginate(qs, query, freeze_out, allowed={"created_at": "created_at"}, default="-created_at")


@router.post("/freezes", response={201: FreezeOut, **ERRORS}, auth=AUTH)
def create_freeze(request: HttpRequest, payload: FreezeIn):
    """Freeze an account, a project or a serial range (registry administrator)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    frozen = controls.freeze(actor=user, **payload.model_dump())
    return Status(201, freeze_out(frozen))


@router.post("/freezes/{uuid:uid}/lift", response={200: FreezeOut, **ERRORS}, auth=AUTH)
def lift_freeze(request: HttpRequest, uid: uuid.UUID):
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    require_step_up(request, user)  # lifting a freeze needs a recent second factor
    return freeze_out(controls.lift_freeze(actor=user, uid=uid))


# -- holidays ----------------------------------------------------------------------------


class HolidayOut(Schema):
    day: dt.date
    name: str
    added_at: dt.datetime


class HolidayIn(StrictSchema):
    day: str = Field(max_length=10, description="YYYY-MM-DD")
    name: str = Field(max_length=200)


@router.get("/controls/holidays", response={200: list[HolidayOut], **ERRORS}, auth=AUTH)
def list_holidays(request: HttpRequest):
    """The holidays the registry administrator declared (the settings' own are in /controls)."""
    actor(request)
    return list(Holiday.objects.all())


@router.post("/controls/holidays", response={201: HolidayOut, **ERRORS}, auth=AUTH)
def add_holiday(request: HttpRequest, payload: HolidayIn):
    """Declare a public holiday: no delay counts it as a working day (registry administrator)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    return Status(201, holidays.add_holiday(actor=user, day=payload.day, name=payload.name))


@router.delete("/controls/holidays/{day}", response={204: None, **ERRORS}, auth=AUTH)
def remove_holiday(request: HttpRequest, day: str):
    """Take back a holiday still to come (it shortens delays: a recent second factor is asked)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    require_step_up(request, user)
    holidays.remove_holiday(actor=user, day=day)
    return Status(204, None)
