"""POST /transfer-and-retire: an exchange or broker moves units to its
client's account and retires them there in one request (units.onward)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Field, Header, Router, Schema, Status

from tonne.core.api_support import ERRORS
from tonne.organisations.api_auth import AUTH
from tonne.units import as_stated, onward
from tonne.units.api import (
    IDEMPOTENCY_HELP,
    SelectionIn,
    TransactionOut,
    move_request,
    transaction_out,
)

router = Router(tags=["units"])


class TransferAndRetireIn(SelectionIn):
    from_account: str = Field(description="The exchange's or broker's own holding account.")
    to_account: str = Field(description="The client's holding account, where the units are retired.")
    beneficiary: str
    purpose: str = Field(description="voluntary, ndc, corsia, other_compliance or other")
    jurisdiction: str = ""
    reason: str = ""
    compliance_period: str = Field("", description="Reporting year (2025) or compliance period (2024-2026).")
    using_entity: str = Field("", description="The entity using the units for compliance (e.g. an airline).")


class TransferAndRetireOut(Schema):
    transfer: TransactionOut
    retirement: TransactionOut | None = Field(
        description="The retirement, once the transfer is done (null while it awaits approval or settlement)."
    )


@router.post(
    "/transfer-and-retire", response={200: TransferAndRetireOut, 201: TransferAndRetireOut, **ERRORS}, auth=AUTH
)
def transfer_and_retire(
    request: HttpRequest,
    payload: TransferAndRetireIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", description=IDEMPOTENCY_HELP),
):
    """Transfer units to a client's account and retire them there, in one
    request (exchanges and brokers the registry lets act for clients). Needs
    an Idempotency-Key; if either step is refused, nothing is done."""
    user, key = move_request(request, idempotency_key)
    moved, retired = onward.transfer_and_retire(
        actor=user, from_account=payload.from_account, to_account=payload.to_account, selection=payload.selection(),
        beneficiary=payload.beneficiary, purpose=payload.purpose, jurisdiction=payload.jurisdiction,
        reason=payload.reason, compliance_period=payload.compliance_period, using_entity=payload.using_entity,
        idempotency_key=key,
    )
    if moved.replayed:  # a replay states the stored rows: held to their ledger entries first
        as_stated.require_as_stated([t for t in (moved, retired) if t is not None])
    return Status(200 if moved.replayed else 201, {
        "transfer": transaction_out(moved, user),
        "retirement": transaction_out(retired, user) if retired is not None else None,
    })
