"""REST endpoints for unit blocks, serial lookup, issuances, transactions,
transfers, retirements, cancellations and reversals."""

from __future__ import annotations

import datetime as dt
import uuid

from django.http import HttpRequest, HttpResponse
from ninja import Field, Header, Query, Router, Schema
from pydantic import StrictInt, field_validator

from tonne.access.policy import require_step_up
from tonne.core.api_support import (
    ERRORS,
    ListQuery,
    Page,
    StrictSchema,
    get_or_404,
    json_response,
    paginate,
    require_idempotency_key,
)
from tonne.organisations.api_auth import AUTH, actor, require_scope, viewer
from tonne.organisations.models import ApiToken, User
from tonne.projects.api import IssuanceOut
from tonne.units import as_stated, selectors
from tonne.units import services as units
from tonne.units.domain import Selection, check_quantity, unit_state
from tonne.units.models import Issuance, Transaction, UnitBlock

router = Router(tags=["units"])

IDEMPOTENCY_HELP = "A client-chosen key; a retry with the same key returns the first result."

# -- schemas ------------------------------------------------------------------------------


class BlockOut(Schema):
    id: int
    serial: str
    serial_start: int
    serial_end: int
    quantity: int
    project_id: str
    vintage: int
    unit_class: str
    issuance: uuid.UUID
    state: str
    account: str | None = Field(None, description="Shown only to those who may see the account.")
    acquired_at: dt.datetime


class BlockQuery(ListQuery):
    project: str | None = Field(None, description="Project id, e.g. CI-0001")
    vintage: int | None = None
    state: str | None = Field(None, description="held, buffer, retired, cancelled or exported")
    issuance: uuid.UUID | None = None


class HistoryOut(Schema):
    transaction: str
    kind: str
    serial_start: int
    serial_end: int
    from_account: str | None
    to_account: str | None
    completed_at: dt.datetime | None
    ledger_seq: int | None


class LookupBlockOut(Schema):
    serial: str
    serial_start: int
    serial_end: int
    quantity: int
    project_id: str
    project_name: str
    vintage: int
    unit_class: str
    issuance: uuid.UUID
    state: str
    account: str | None
    history: list[HistoryOut]


class LookupOut(Schema):
    query: str
    serial_start: int
    serial_end: int
    truncated: bool
    blocks: list[LookupBlockOut]


class IssuanceQuery(ListQuery):
    project: str | None = None
    vintage: int | None = None


class TxBlockOut(Schema):
    serial: str
    serial_start: int
    serial_end: int
    quantity: int
    project_id: str
    vintage: int


class TransactionOut(Schema):
    identifier: str
    kind: str
    status: str
    quantity: int
    from_account: str | None
    to_account: str | None
    project_id: str | None
    beneficiary: str
    purpose: str
    jurisdiction: str
    reason: str
    created_at: dt.datetime
    completed_at: dt.datetime | None
    ledger_seq: int | None
    blocks: list[TxBlockOut]


class TransactionQuery(ListQuery):
    kind: str | None = None
    status: str | None = None
    account: str | None = Field(None, description="Transactions from or to this account.")
    project: str | None = None
    idempotency_key: str | None = Field(
        None, max_length=200, description="Your own request with this Idempotency-Key (to learn its outcome)."
    )


class RetirementOut(Schema):
    identifier: str
    quantity: int
    beneficiary: str
    purpose: str
    jurisdiction: str
    reason: str
    compliance_period: str = Field(description="Reporting year or compliance period the units count for.")
    using_entity: str = Field(description="The entity using the units for compliance.")
    on_behalf_of: str = Field(description="The client an exchange or broker retired for.")
    project_id: str | None
    serials: list[TxBlockOut]
    retired_at: dt.datetime | None
    ledger_seq: int | None


class RetirementQuery(ListQuery):
    project: str | None = None
    purpose: str | None = None
    beneficiary: str | None = Field(None, description="Search in the beneficiary.")
    year: int | None = Field(None, ge=1, le=9999, description="Year of retirement.")


class RangeIn(StrictSchema):
    start: StrictInt
    end: StrictInt


def _quantity(value: object) -> object:
    # The registry's own rule and code (QUANTITY_INVALID...), not the schema's
    # REQUEST_INVALID: one code per rule, whichever door the request came in by.
    return value if value is None else check_quantity(value)


class SelectionFields(StrictSchema):
    """Which units a move takes; `selection()` applies the registry's rules
    (a batch item calls it itself, so that a bad selection refuses only that item)."""

    ranges: list[RangeIn] | None = Field(None, description="Explicit serial ranges (inclusive).")
    quantity: StrictInt | None = Field(
        None, description="Or a quantity chosen by the criteria below."
    )
    project: str | None = None
    vintage: StrictInt | None = None
    unit_class: str | None = None
    issuance: str | None = Field(None, description="Only units of this issuance (its uid, as /issuances/{uid} shows it).")

    def selection(self) -> Selection:
        return Selection.build(
            ranges=[(r.start, r.end) for r in self.ranges] if self.ranges else None,
            quantity=self.quantity,
            project=self.project,
            vintage=self.vintage,
            unit_class=self.unit_class,
            issuance=self.issuance,
        )


class SelectionIn(SelectionFields):
    check_quantity = field_validator("quantity", mode="before")(_quantity)


class TransferIn(SelectionIn):
    from_account: str
    to_account: str


class RetirementIn(SelectionIn):
    from_account: str
    beneficiary: str
    purpose: str = Field(description="voluntary, ndc, corsia, other_compliance or other")
    jurisdiction: str = ""
    reason: str = ""
    compliance_period: str = Field("", description="Reporting year (2025) or compliance period (2024-2026).")
    using_entity: str = Field("", description="The entity using the units for compliance (e.g. an airline).")
    on_behalf_of: str = Field("", description="The client an exchange or broker retires for (only holders the registry marks as acting for clients: ON_BEHALF_NOT_PERMITTED otherwise).")


class CancellationIn(SelectionIn):
    from_account: str
    reason: str


class ReversalIn(StrictSchema):
    project: str
    quantity: StrictInt
    reason: str

    check_quantity = field_validator("quantity", mode="before")(_quantity)


# -- rendering --------------------------------------------------------------------------


def block_out(block: UnitBlock, user: User | None) -> dict:
    return {
        "id": block.pk,
        "serial": selectors.serial_text(block.issuance, block.serial_start, block.serial_end),
        "serial_start": block.serial_start,
        "serial_end": block.serial_end,
        "quantity": block.quantity,
        "project_id": block.project.project_id,
        "vintage": block.vintage,
        "unit_class": block.unit_class,
        "issuance": block.issuance.uid,
        "state": unit_state(block.account.type),
        "account": selectors.account_label(user, block.account),
        "acquired_at": block.acquired_at,
    }


def issuance_out(issuance: Issuance) -> dict:
    return {
        "uid": issuance.uid,
        "project_id": issuance.project.project_id,
        "number": issuance.number,
        "vintage": issuance.vintage,
        "unit_class": issuance.unit_class,
        "quantity": issuance.quantity,
        "buffer_quantity": issuance.buffer_quantity,
        "serial": selectors.serial_text(issuance, issuance.serial_start, issuance.serial_end),
        "serial_start": issuance.serial_start,
        "serial_end": issuance.serial_end,
        "report": issuance.report.uid,
        "issued_at": issuance.issued_at,
    }


def transaction_out(
    txn: Transaction, user: User | None, blocks_and_project: tuple[list[dict], str | None] | None = None
) -> dict:
    """`blocks_and_project`: when read already (a batch reads every item's in one query)."""
    blocks, project_id = blocks_and_project or selectors.transaction_blocks_and_project(txn)
    return {
        "identifier": txn.identifier,
        "kind": txn.kind,
        "status": txn.status,
        "quantity": txn.quantity,
        # Parties to a transaction see both of its accounts.
        "from_account": txn.from_account.identifier if txn.from_account else None,
        "to_account": txn.to_account.identifier,
        "project_id": project_id,
        "beneficiary": txn.beneficiary,
        "purpose": txn.purpose,
        "jurisdiction": txn.jurisdiction,
        "reason": txn.reason,
        "created_at": txn.created_at,
        "completed_at": txn.completed_at,
        "ledger_seq": txn.ledger_seq,
        "blocks": blocks,
    }


def retirement_out(txn: Transaction) -> dict:
    return {
        "identifier": txn.identifier,
        "quantity": txn.quantity,
        "beneficiary": txn.beneficiary,
        "purpose": txn.purpose,
        "jurisdiction": txn.jurisdiction,
        "reason": txn.reason,
        "compliance_period": txn.compliance_period,
        "using_entity": txn.using_entity,
        "on_behalf_of": txn.on_behalf_of,
        "project_id": txn.project.project_id if txn.project else None,
        "serials": selectors.transaction_blocks(txn),
        "retired_at": txn.completed_at,
        "ledger_seq": txn.ledger_seq,
    }


# -- public reads ----------------------------------------------------------------------------


@router.get("/blocks", response={200: Page[BlockOut], **ERRORS}, auth=None)
def list_blocks(request: HttpRequest, query: Query[BlockQuery]):
    """Unit blocks (public): serial ranges with project, vintage and state."""
    user = viewer(request)
    qs = selectors.blocks_for(user)
    if query.project:
        qs = qs.filter(project__project_id=query.project)
    if query.vintage:
        qs = qs.filter(vintage=query.vintage)
    if query.state:
        qs = selectors.filter_state(qs, query.state)
    if query.issuance:
        qs = qs.filter(issuance__uid=query.issuance)
    return paginate(
        qs,
        query,
        lambda b: block_out(b, user),
        allowed={
            "serial_start": "serial_start",
            "vintage": "vintage",
            "acquired_at": "acquired_at",
        },
        default="serial_start",
    )


@router.get("/blocks/{int:block_id}", response={200: BlockOut, **ERRORS}, auth=None)
def get_block(request: HttpRequest, block_id: int):
    user = viewer(request)
    block = get_or_404(
        selectors.blocks_for(user),
        "BLOCK_NOT_FOUND",
        f"Unit block {block_id} does not exist.",
        details={"block": block_id},
        pk=block_id,
    )
    return block_out(block, user)


@router.get("/serials", response={200: LookupOut, **ERRORS}, auth=None)
def search_serials(
    request: HttpRequest, q: str = Query(..., description="A serial string, a number, or a-b")
):
    """Look up a serial number or range (public); empty if nothing matches."""
    return selectors.lookup_serials_as_stated(viewer(request), q, require_match=False)


@router.get("/serials/{text}", response={200: LookupOut, **ERRORS}, auth=None)
def lookup_serial(request: HttpRequest, text: str):
    """Look up a serial number or range (public): its blocks, state and history."""
    return selectors.lookup_serials_as_stated(viewer(request), text, require_match=True)


@router.get("/issuances", response={200: Page[IssuanceOut], **ERRORS}, auth=None)
def list_issuances(request: HttpRequest, query: Query[IssuanceQuery]):
    qs = Issuance.objects.select_related("project", "report")
    if query.project:
        qs = qs.filter(project__project_id=query.project)
    if query.vintage:
        qs = qs.filter(vintage=query.vintage)
    return paginate(
        qs,
        query,
        issuance_out,
        allowed={
            "issued_at": "issued_at",
            "vintage": "vintage",
            "quantity": "quantity",
            "serial_start": "serial_start",
        },
        default="-issued_at",
    )


class SupplyOut(Schema):
    held: int
    buffer: int
    retired: int
    cancelled: int
    exported: int


class IssuanceDetailOut(IssuanceOut):
    supply: SupplyOut = Field(description="Where its units are now; the parts add up to its quantity.")


@router.get("/issuances/{uuid:uid}", response={200: IssuanceDetailOut, **ERRORS}, auth=None)
def get_issuance(request: HttpRequest, uid: uuid.UUID):
    qs = Issuance.objects.select_related("project", "report")
    issuance = get_or_404(qs, "ISSUANCE_NOT_FOUND", f"Issuance {uid} does not exist.", details={"issuance": str(uid)},
                          uid=uid)
    return {**issuance_out(issuance), "supply": selectors.issuance_supply(issuance)}


@router.get("/retirements", response={200: Page[RetirementOut], **ERRORS}, auth=None)
def list_retirements(request: HttpRequest, query: Query[RetirementQuery]):
    """Completed retirements (public): who benefits, why, which serials."""
    qs = selectors.retirements()
    if query.project:
        qs = qs.filter(project__project_id=query.project)
    if query.purpose:
        qs = qs.filter(purpose=query.purpose)
    if query.beneficiary:
        qs = qs.filter(beneficiary__icontains=query.beneficiary)
    if query.year:
        qs = qs.filter(completed_at__year=query.year)
    return _as_stated(paginate(
        qs,
        query,
        retirement_out,
        allowed={"retired_at": "completed_at", "quantity": "quantity", "ledger_seq": "ledger_seq"},
        default="-retired_at",
    ))


@router.get("/retirements/{identifier}", response={200: RetirementOut, **ERRORS}, auth=None)
def get_retirement(request: HttpRequest, identifier: str):
    txn = get_or_404(
        selectors.retirements(),
        "RETIREMENT_NOT_FOUND",
        f"No retirement {identifier}.",
        details={"transaction": identifier},
        identifier=identifier,
    )
    as_stated.require_as_stated([txn])
    return retirement_out(txn)


# -- transactions ---------------------------------------------------------------------------


@router.get("/transactions", response={200: Page[TransactionOut], **ERRORS}, auth=AUTH)
def list_transactions(request: HttpRequest, query: Query[TransactionQuery]):
    """Transactions of your organisation (all for the registry administrator)."""
    user = actor(request)
    qs = selectors.transactions_for(user)
    if query.kind:
        qs = qs.filter(kind=query.kind)
    if query.status:
        qs = qs.filter(status=query.status)
    if query.account:
        text = query.account.strip().upper()
        qs = qs.filter(from_account__identifier=text) | qs.filter(to_account__identifier=text)
    if query.project:
        qs = qs.filter(project__project_id=query.project)
    if query.idempotency_key and query.idempotency_key.strip():
        # Keys are the caller's own: someone else's key finds nothing.
        qs = qs.filter(initiated_by=user, idempotency_key=query.idempotency_key.strip())
    return _as_stated(paginate(
        qs,
        query,
        lambda t: transaction_out(t, user),
        allowed={
            "created_at": "created_at",
            "completed_at": "completed_at",
            "quantity": "quantity",
        },
        default="-created_at",
    ))


@router.get("/transactions/{identifier}", response={200: TransactionOut, **ERRORS}, auth=AUTH)
def get_transaction(request: HttpRequest, identifier: str):
    user = actor(request)
    txn = get_or_404(
        selectors.transactions_for(user),
        "TRANSACTION_NOT_FOUND",
        f"Transaction {identifier} does not exist or is not yours to see.",
        details={"transaction": identifier},
        identifier=identifier,
    )
    as_stated.require_as_stated([txn])
    return transaction_out(txn, user)


def _as_stated(page: dict) -> dict:
    """A page of transactions, once every one is held to its ledger entry (units.as_stated)."""
    as_stated.require_as_stated(list(Transaction.objects.filter(
        identifier__in=[item["identifier"] for item in page["items"]])))
    return page


def move_request(
    request: HttpRequest, idempotency_key: str | None, scope: str = ApiToken.Scope.TRADE
) -> tuple[User, str]:
    """What every request to move units needs before the service runs: a
    token with the scope, a recent second factor and an Idempotency-Key.
    Returns the actor and the key."""
    user = actor(request)
    require_scope(request, scope)
    require_step_up(request, user)
    return user, require_idempotency_key(idempotency_key)


def move_response(user: User, txn: Transaction) -> HttpResponse:
    """201 with the transaction; 200 when the service replayed the answer to
    an earlier request with the same key. (The schema tests hold it to TransactionOut.)
    A replay states the stored row: held to its ledger entry first (units.as_stated)."""
    if txn.replayed:
        as_stated.require_as_stated([txn])
    return json_response(transaction_out(txn, user), 200 if txn.replayed else 201)


@router.post("/transfers", response={200: TransactionOut, 201: TransactionOut, **ERRORS}, auth=AUTH)
def create_transfer(
    request: HttpRequest,
    payload: TransferIn,
    idempotency_key: str | None = Header(
        None, alias="Idempotency-Key", description=IDEMPOTENCY_HELP
    ),
):
    """Transfer units between holding accounts. Needs an Idempotency-Key."""
    user, key = move_request(request, idempotency_key)
    selection = payload.selection()
    return move_response(user, units.transfer(
        actor=user,
        from_account=payload.from_account,
        to_account=payload.to_account,
        selection=selection,
        idempotency_key=key,
    ))


@router.post(
    "/retirements", response={200: TransactionOut, 201: TransactionOut, **ERRORS}, auth=AUTH
)
def create_retirement(
    request: HttpRequest,
    payload: RetirementIn,
    idempotency_key: str | None = Header(
        None, alias="Idempotency-Key", description=IDEMPOTENCY_HELP
    ),
):
    """Retire units on behalf of a beneficiary. Needs an Idempotency-Key."""
    user, key = move_request(request, idempotency_key)
    selection = payload.selection()
    return move_response(user, units.retire(
        actor=user,
        from_account=payload.from_account,
        selection=selection,
        beneficiary=payload.beneficiary,
        purpose=payload.purpose,
        jurisdiction=payload.jurisdiction,
        reason=payload.reason,
        compliance_period=payload.compliance_period,
        using_entity=payload.using_entity,
        on_behalf_of=payload.on_behalf_of,
        idempotency_key=key,
    ))


@router.post(
    "/cancellations", response={200: TransactionOut, 201: TransactionOut, **ERRORS}, auth=AUTH
)
def create_cancellation(
    request: HttpRequest,
    payload: CancellationIn,
    idempotency_key: str | None = Header(
        None, alias="Idempotency-Key", description=IDEMPOTENCY_HELP
    ),
):
    """Cancel units voluntarily. Needs an Idempotency-Key."""
    user, key = move_request(request, idempotency_key)
    selection = payload.selection()
    return move_response(user, units.cancel(
        actor=user,
        from_account=payload.from_account,
        selection=selection,
        reason=payload.reason,
        idempotency_key=key,
    ))


@router.post("/reversals", response={200: TransactionOut, 201: TransactionOut, **ERRORS}, auth=AUTH)
def create_reversal(
    request: HttpRequest,
    payload: ReversalIn,
    idempotency_key: str | None = Header(
        None, alias="Idempotency-Key", description=IDEMPOTENCY_HELP
    ),
):
    """Cancel a project's units from the buffer pool after a reversal (registry administrator)."""
    user, key = move_request(request, idempotency_key, ApiToken.Scope.ADMIN)
    return move_response(user, units.reverse(
        actor=user,
        project=payload.project,
        quantity=payload.quantity,
        reason=payload.reason,
        idempotency_key=key,
    ))
