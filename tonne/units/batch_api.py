"""REST endpoints for batches of moves: many transfers, or many retirements,
in one request (exchanges, MRV systems). Each item is answered as
POST /transfers or POST /retirements would answer it alone: its status
(201 new, 200 replayed, or the refusal's), its transaction or its problem
document with the same stable code.

Mounted before the units router: /retirements/batch must not be taken for
/retirements/{identifier}."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from tonne.access.middleware import count_batch_writes
from tonne.access.policy import require_step_up
from tonne.audit.services import record_denial
from tonne.core.api_support import (
    ERRORS,
    ProblemOut,
    StrictSchema,
    json_response,
    problem_response,
    reader_problem,
)
from tonne.core.errors import NotAuthenticated, PermissionDenied
from tonne.organisations.api_auth import AUTH, actor, require_scope
from tonne.organisations.models import ApiToken, User
from tonne.units import as_stated, batches, selectors
from tonne.units.api import SelectionFields, TransactionOut, transaction_out
from tonne.units.batches import BatchItem, BatchResult

router = Router(tags=["units"])

KEY_HELP = "This item's own Idempotency-Key: a retry of the batch with the same key returns its first result."
ALL_OR_NOTHING_HELP = (
    "One transaction for every item: the first refusal rolls every item back, and the answer is that item's "
    "problem document with its index (`item`) and key. Otherwise each item stands or falls on its own."
)
ITEMS_HELP = "At most TONNE_MAX_BATCH_ITEMS items (200 by default; more: BATCH_TOO_LARGE), each with its own key."


class TransferItemIn(SelectionFields):
    idempotency_key: str = Field(description=KEY_HELP)
    from_account: str
    to_account: str


class RetirementItemIn(SelectionFields):
    idempotency_key: str = Field(description=KEY_HELP)
    from_account: str
    beneficiary: str
    purpose: str = Field(description="voluntary, ndc, corsia, other_compliance or other")
    jurisdiction: str = ""
    reason: str = ""
    compliance_period: str = Field("", description="Reporting year (2025) or compliance period (2024-2026).")
    using_entity: str = Field("", description="The entity using the units for compliance (e.g. an airline).")
    on_behalf_of: str = Field("", description="The client an exchange or broker retires for (only holders the registry marks as acting for clients: ON_BEHALF_NOT_PERMITTED otherwise).")


class TransferBatchIn(StrictSchema):
    items: list[TransferItemIn] = Field(description=ITEMS_HELP)
    all_or_nothing: bool = Field(False, description=ALL_OR_NOTHING_HELP)


class RetirementBatchIn(StrictSchema):
    items: list[RetirementItemIn] = Field(description=ITEMS_HELP)
    all_or_nothing: bool = Field(False, description=ALL_OR_NOTHING_HELP)


class ItemResultOut(Schema):
    index: int
    idempotency_key: str
    status: int = Field(description="What the single request would have answered: 201, 200 (replayed) or 4xx.")
    transaction: TransactionOut | None = None
    problem: ProblemOut | None = None


class BatchOut(Schema):
    all_or_nothing: bool
    completed_or_waiting: int = Field(description="Items with a transaction (moved, or waiting for approval or settlement).")
    refused: int
    items: list[ItemResultOut]


def _selection(item: SelectionFields) -> dict[str, Any]:
    return {
        "ranges": [(r.start, r.end) for r in item.ranges] if item.ranges else None,
        "quantity": item.quantity, "project": item.project, "vintage": item.vintage,
        "unit_class": item.unit_class, "issuance": item.issuance,
    }


def _batch_user(request: HttpRequest) -> User:
    """What a single move needs before the service runs (a trade-scoped
    token, a recent second factor), once for the batch."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.TRADE)
    require_step_up(request, user)
    return user


def _answer(
    request: HttpRequest, user: User, keys: list[str], result: BatchResult, all_or_nothing: bool
) -> HttpResponse:
    for outcome in result.outcomes:
        if isinstance(outcome.refusal, PermissionDenied | NotAuthenticated):
            record_denial(request, outcome.refusal)  # as the single endpoint's refusal is recorded
    if result.refused_item is not None:
        index = result.refused_item
        refused = result.outcomes[index].refusal
        assert refused is not None
        body = reader_problem(refused)
        body["detail"] = _("Item %(index)s refused, so no item of the batch was carried out: %(refusal)s") % {
            "index": index, "refusal": body["detail"]}
        body.update(item=index, idempotency_key=keys[index])
        return problem_response(body)
    # Replays state the stored rows: held to their ledger entries first (units.as_stated).
    as_stated.require_as_stated([o.transaction for o in result.outcomes if o.transaction and o.transaction.replayed])
    items = []
    read = selectors.transactions_blocks_and_projects([o.transaction for o in result.outcomes if o.transaction])
    for index, (key, outcome) in enumerate(zip(keys, result.outcomes, strict=True)):
        if outcome.transaction is not None:
            txn = outcome.transaction
            items.append({"index": index, "idempotency_key": key, "status": 200 if txn.replayed else 201,
                          "transaction": transaction_out(txn, user, read[txn.pk]), "problem": None})
        else:
            refusal = outcome.refusal
            assert refusal is not None
            items.append({"index": index, "idempotency_key": key, "status": refusal.status,
                          "transaction": None, "problem": reader_problem(refusal)})
    done = sum(1 for outcome in result.outcomes if outcome.transaction is not None)
    body = {"all_or_nothing": all_or_nothing, "completed_or_waiting": done, "refused": len(items) - done, "items": items}
    # Without validating a hundred TransactionOut again: the rows are the moves just made.
    return json_response(body)


@router.post("/transfers/batch", response={200: BatchOut, **ERRORS}, auth=AUTH)
def create_transfer_batch(request: HttpRequest, payload: TransferBatchIn):
    """Many transfers in one request, each with its own idempotency_key and
    result, through the same checks and controls as POST /transfers."""
    user = _batch_user(request)
    if (limited := count_batch_writes(request, len(payload.items))) is not None:
        return limited
    items = [
        BatchItem(idempotency_key=i.idempotency_key, from_account=i.from_account, to_account=i.to_account,
                  selection=_selection(i))
        for i in payload.items
    ]
    result = batches.move_batch(actor=user, kind=batches.TRANSFER, items=items, all_or_nothing=payload.all_or_nothing)
    return _answer(request, user, [i.idempotency_key for i in payload.items], result, payload.all_or_nothing)


@router.post("/retirements/batch", response={200: BatchOut, **ERRORS}, auth=AUTH)
def create_retirement_batch(request: HttpRequest, payload: RetirementBatchIn):
    """Many retirements in one request (e.g. several blocks retired for one
    beneficiary), each with its own idempotency_key and result, through the
    same checks and controls as POST /retirements."""
    user = _batch_user(request)
    if (limited := count_batch_writes(request, len(payload.items))) is not None:
        return limited
    items = [
        BatchItem(idempotency_key=i.idempotency_key, from_account=i.from_account, selection=_selection(i),
                  retirement={"beneficiary": i.beneficiary, "purpose": i.purpose, "jurisdiction": i.jurisdiction,
                              "reason": i.reason, "compliance_period": i.compliance_period,
                              "using_entity": i.using_entity, "on_behalf_of": i.on_behalf_of})
        for i in payload.items
    ]
    result = batches.move_batch(actor=user, kind=batches.RETIREMENT, items=items, all_or_nothing=payload.all_or_nothing)
    return _answer(request, user, [i.idempotency_key for i in payload.items], result, payload.all_or_nothing)
