"""REST endpoints for organisations, users, API tokens and accounts."""

from __future__ import annotations

import datetime as dt
import uuid

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from tonne.core.api_support import ERRORS, ListQuery, Page, StrictSchema, get_or_404, paginate
from tonne.core.errors import NotFound
from tonne.organisations import selectors
from tonne.organisations import services as orgs
from tonne.organisations.api_auth import AUTH, actor, require_scope, token_of, viewer
from tonne.organisations.models import Account, ApiToken, Organisation, User

router = Router(tags=["organisations"])

# -- schemas ------------------------------------------------------------------------


class OrganisationRef(Schema):
    uid: uuid.UUID
    name: str


class OrganisationOut(Schema):
    uid: uuid.UUID
    name: str
    kind: str
    status: str
    country: str
    website: str
    accredited: bool
    acts_for_clients: bool = Field(False, description="An exchange or broker that retires units for its clients.")
    created_at: dt.datetime
    # Visible to the organisation itself and the registry administrator only.
    registration_number: str | None = None
    address: str | None = None
    contact_email: str | None = None
    status_reason: str | None = None
    status_changed_at: dt.datetime | None = None


class OrganisationIn(StrictSchema):
    name: str
    kind: str = Field(description="government, ministry, developer, vvb, trader or observer")
    country: str = Field(description="ISO 3166-1 alpha-2")
    registration_number: str = ""
    address: str = ""
    contact_email: str = ""
    website: str = ""


class OrganisationQuery(ListQuery):
    kind: str | None = None
    status: str | None = None
    country: str | None = None
    q: str | None = Field(None, description="Search in the name.")


class DecisionIn(StrictSchema):
    status: str = Field(description="approved, rejected, suspended or closed")
    reason: str


class AccreditationIn(StrictSchema):
    accredited: bool


class ActsForClientsIn(StrictSchema):
    acts_for_clients: bool


class UserIn(StrictSchema):
    username: str
    email: str = ""
    password: str
    role: str = User.Role.VIEWER


class UserOut(Schema):
    username: str
    email: str
    role: str
    organisation: OrganisationRef | None
    is_active: bool
    is_registry_administrator: bool
    in_force_from: dt.datetime | None = Field(
        None, description="A new representative approves nothing before this time (the representative delay)."
    )


class MemberIn(StrictSchema):
    role: str = Field(..., description="admin, initiator, approver or viewer")
    is_active: bool


class MemberChangeOut(Schema):
    """Either the change took effect, or it waits for a second, different person."""

    status: str = Field(..., description="'applied' or 'awaiting_approval'")
    approval: uuid.UUID | None
    user: UserOut


class MeOut(UserOut):
    token_scope: str | None = Field(
        None, description="Scope of the token used, or null for a session."
    )


class TokenIn(StrictSchema):
    name: str = "API token"
    scope: str = Field(ApiToken.Scope.TRADE, description="read, trade or admin")
    days: int | None = Field(None, description="Lifetime in days (1–366).")


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    scope: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class TokenCreatedOut(TokenOut):
    secret: str = Field(description="Shown once; only its hash is stored.")


class AccountOut(Schema):
    identifier: str
    type: str
    name: str
    status: str
    is_terminal: bool
    organisation: OrganisationRef | None
    balance: int
    created_at: dt.datetime


class HoldingOut(Schema):
    serial: str
    serial_start: int
    serial_end: int
    quantity: int
    project_id: str
    vintage: int
    unit_class: str
    state: str
    acquired_at: dt.datetime


class AccountDetailOut(AccountOut):
    holdings: list[HoldingOut]
    holdings_count: int
    holdings_truncated: bool


class AccountIn(StrictSchema):
    name: str = ""
    organisation: uuid.UUID | None = Field(
        None, description="For the registry administrator; defaults to your organisation."
    )


class AccountQuery(ListQuery):
    type: str | None = None
    status: str | None = None
    organisation: uuid.UUID | None = None


# -- rendering ------------------------------------------------------------------------


def org_ref(org: Organisation | None) -> dict | None:
    return None if org is None else {"uid": org.uid, "name": org.name}


def organisation_out(org: Organisation, user: User | None) -> dict:
    out = {
        "uid": org.uid,
        "name": org.name,
        "kind": org.kind,
        "status": org.status,
        "country": org.country,
        "website": org.website,
        "accredited": org.accredited,
        "acts_for_clients": org.acts_for_clients,
        "created_at": org.created_at,
    }
    if selectors.may_see_private_fields(user, org):
        out.update(
            registration_number=org.registration_number,
            address=org.address,
            contact_email=org.contact_email,
            status_reason=org.status_reason,
            status_changed_at=org.status_changed_at,
        )
    return out


def user_out(user: User) -> dict:
    return {
        "username": user.username,
        "email": user.email,
        "role": user.role,
        "organisation": org_ref(user.organisation),
        "is_active": user.is_active,
        "is_registry_administrator": orgs.is_registry_administrator(user),
        "in_force_from": user.in_force_from,
    }


def token_out(token: ApiToken) -> dict:
    return {
        "id": token.pk,
        "name": token.name,
        "prefix": token.prefix,
        "scope": token.scope,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
        "last_used_at": token.last_used_at,
    }


def account_out(account: Account) -> dict:
    balance = getattr(account, "balance", None)
    if balance is None:
        balance = sum(b.quantity for b in account.blocks.all())
    return {
        "identifier": account.identifier,
        "type": account.type,
        "name": account.name,
        "status": account.status,
        "is_terminal": account.is_terminal,
        "organisation": org_ref(account.organisation),
        "balance": int(balance or 0),
        "created_at": account.created_at,
    }


def organisation_for(user: User | None, uid: uuid.UUID) -> Organisation:
    return get_or_404(
        selectors.organisations_for(user),
        "ORGANISATION_NOT_FOUND",
        f"Organisation {uid} does not exist.",
        details={"organisation": str(uid)},
        uid=uid,
    )


# -- organisations ---------------------------------------------------------------------


@router.post("/organisations", response={201: OrganisationOut, **ERRORS}, auth=None)
def apply_organisation(request: HttpRequest, payload: OrganisationIn):
    """Apply to join the registry (public). The administrator decides."""
    user = viewer(request)
    org = orgs.apply_for_organisation(actor=user, **payload.dict())
    out = organisation_out(org, user)
    # The applicant sees back what they sent.
    out.update(
        registration_number=org.registration_number,
        address=org.address,
        contact_email=org.contact_email,
        status_reason=org.status_reason,
    )
    return Status(201, out)


@router.get("/organisations", response={200: Page[OrganisationOut], **ERRORS}, auth=None)
def list_organisations(request: HttpRequest, query: Query[OrganisationQuery]):
    user = viewer(request)
    qs = selectors.organisations_for(user)
    if query.kind:
        qs = qs.filter(kind=query.kind)
    if query.status:
        qs = qs.filter(status=query.status)
    if query.country:
        qs = qs.filter(country=query.country.upper())
    if query.q:
        qs = qs.filter(name__icontains=query.q)
    return paginate(
        qs,
        query,
        lambda o: organisation_out(o, user),
        allowed={"name": "name", "created_at": "created_at", "kind": "kind", "status": "status"},
        default="name",
    )


@router.get("/organisations/{uuid:uid}", response={200: OrganisationOut, **ERRORS}, auth=None)
def get_organisation(request: HttpRequest, uid: uuid.UUID):
    user = viewer(request)
    return organisation_out(organisation_for(user, uid), user)


@router.post(
    "/organisations/{uuid:uid}/status", response={200: OrganisationOut, **ERRORS}, auth=AUTH
)
def decide_organisation(request: HttpRequest, uid: uuid.UUID, payload: DecisionIn):
    """Approve, reject, suspend, reinstate or close (registry administrator)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    org = organisation_for(user, uid)
    org = orgs.decide_organisation(
        actor=user, organisation=org, status=payload.status, reason=payload.reason
    )
    return organisation_out(org, user)


@router.post(
    "/organisations/{uuid:uid}/accreditation", response={200: OrganisationOut, **ERRORS}, auth=AUTH
)
def accredit_organisation(request: HttpRequest, uid: uuid.UUID, payload: AccreditationIn):
    """Accredit or de-accredit a VVB (registry administrator)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    org = orgs.set_accreditation(
        actor=user, organisation=organisation_for(user, uid), accredited=payload.accredited
    )
    return organisation_out(org, user)


@router.post(
    "/organisations/{uuid:uid}/acts-for-clients", response={200: OrganisationOut, **ERRORS}, auth=AUTH
)
def set_acts_for_clients(request: HttpRequest, uid: uuid.UUID, payload: ActsForClientsIn):
    """Let a buyer, trader or exchange retire units on behalf of its clients, or stop it (registry administrator)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    org = orgs.set_acts_for_clients(
        actor=user, organisation=organisation_for(user, uid), acts_for_clients=payload.acts_for_clients
    )
    return organisation_out(org, user)


# -- users --------------------------------------------------------------------------------


@router.get("/me", response={200: MeOut, **ERRORS}, auth=AUTH)
def me(request: HttpRequest):
    user = actor(request)
    token = token_of(request)
    return {**user_out(user), "token_scope": token.scope if token else None}


# -- API tokens ---------------------------------------------------------------------------


# -- accounts -----------------------------------------------------------------------------

HOLDINGS_SHOWN = 1000


@router.get("/accounts", response={200: Page[AccountOut], **ERRORS}, auth=AUTH, tags=["accounts"])
def list_accounts(request: HttpRequest, query: Query[AccountQuery]):
    """Your organisation's accounts (all accounts for the registry administrator)."""
    user = actor(request)
    qs = selectors.accounts_for(user)
    if query.type:
        qs = qs.filter(type=query.type)
    if query.status:
        qs = qs.filter(status=query.status)
    if query.organisation:
        qs = qs.filter(organisation__uid=query.organisation)
    return paginate(
        qs,
        query,
        account_out,
        allowed={
            "number": "number",
            "identifier": "identifier",
            "name": "name",
            "created_at": "created_at",
        },
        default="number",
    )


@router.post("/accounts", response={201: AccountOut, **ERRORS}, auth=AUTH, tags=["accounts"])
def open_account(request: HttpRequest, payload: AccountIn):
    """Open a holding account for your organisation."""
    user = actor(request)
    if payload.organisation is not None:
        org = organisation_for(user, payload.organisation)
    elif user.organisation is not None:
        org = user.organisation
    else:
        raise NotFound(
            "ORGANISATION_NOT_FOUND",
            "Say which organisation the account is for.",
            field="organisation",
        )
    account = orgs.open_holding_account(actor=user, organisation=org, name=payload.name)
    return Status(201, account_out(account))
