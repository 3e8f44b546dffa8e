"""REST endpoints for organisations, users, API tokens and accounts."""

from __future__ import annotations

import datetime as dt
import uuid

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from tonne.core.api_support import ERRORS, ListQuery, Page, StrictSchema, get_or_404, paginate
from tonne.core.errors import NotFound, PermissionDenied
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


class MemberIn(StrictSchema):
    role: str = Field(..., description="admin, initiator, approver or viewer")
    is_active: bool


class MemberChangeOut(Schema):
    """Either the change took effect, or it waits for a second person of the organisation."""

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


def _organisation(user: User | None, uid: uuid.UUID) -> Organisation:
    return get_or_404(
        selectors.organisations_for(user),
        "ORGANISATION_NOT_FOUND",
        f"Organisation {uid} does not exist.",
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
    return organisation_out(_organisation(user, uid), user)


@router.post(
    "/organisations/{uuid:uid}/status", response={200: OrganisationOut, **ERRORS}, auth=AUTH
)
def decide_organisation(request: HttpRequest, uid: uuid.UUID, payload: DecisionIn):
    """Approve, reject, suspend, reinstate or close (registry administrator)."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.ADMIN)
    org = _organisation(user, uid)
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
        actor=user, organisation=_organisation(user, uid), accredited=payload.accredited
    )
    return organisation_out(org, user)


# -- users --------------------------------------------------------------------------------


@router.get("/organisations/{uuid:uid}/users", response={200: Page[UserOut], **ERRORS}, auth=AUTH)
def list_users(request: HttpRequest, uid: uuid.UUID, query: Query[ListQuery]):
    user = actor(request)
    org = _organisation(user, uid)
    if not (selectors.is_admin(user) or user.organisation_id == org.pk):
        raise PermissionDenied(
            "ORGANISATION_NOT_YOURS", "You may list only your own organisation's users."
        )
    qs = selectors.users_for(user, org).select_related("organisation")
    return paginate(
        qs, query, user_out, allowed={"username": "username", "role": "role"}, default="username"
    )


@router.post("/organisations/{uuid:uid}/users", response={201: UserOut, 202: MemberChangeOut, **ERRORS}, auth=AUTH)
def create_user(request: HttpRequest, uid: uuid.UUID, payload: UserIn):
    """Add a person to an organisation (its admin, or the registry administrator).
    A new authorised representative (admin, initiator, approver) added by the
    organisation's admin stays inactive until a second person approves (202)."""
    from tonne.controls import services as controls

    user = actor(request)
    require_scope(request, ApiToken.Scope.TRADE)
    org = _organisation(user, uid)
    created = orgs.create_user(
        actor=user,
        organisation=org,
        username=payload.username,
        email=payload.email,
        password=payload.password,
        role=payload.role,
    )
    pending = controls.pending_representative_change(created)
    if pending is not None:
        return Status(202, {"status": "awaiting_approval", "approval": pending.uid, "user": user_out(created)})
    return Status(201, user_out(created))


@router.patch("/organisations/{uuid:uid}/users/{username}", response={200: MemberChangeOut, 202: MemberChangeOut, **ERRORS}, auth=AUTH)
def change_user(request: HttpRequest, uid: uuid.UUID, username: str, payload: MemberIn):
    """Change a person's role or deactivate them. Changes of the organisation's
    authorised representatives wait for a second person of it (202)."""
    from tonne.controls import services as controls

    user = actor(request)
    require_scope(request, ApiToken.Scope.TRADE)
    org = _organisation(user, uid)
    member = selectors.users_for(user, org).select_related("organisation").filter(username=username).first()
    if member is None:
        raise NotFound("USER_NOT_FOUND", f"No user {username} in this organisation.")
    result = controls.change_member(actor=user, member=member, role=payload.role, active=payload.is_active)
    if isinstance(result, User):
        return Status(200, {"status": "applied", "approval": None, "user": user_out(result)})
    member.refresh_from_db()
    return Status(202, {"status": "awaiting_approval", "approval": result.uid, "user": user_out(member)})


@router.get("/me", response={200: MeOut, **ERRORS}, auth=AUTH)
def me(request: HttpRequest):
    user = actor(request)
    token = token_of(request)
    return {**user_out(user), "token_scope": token.scope if token else None}


# -- API tokens ---------------------------------------------------------------------------


@router.post("/tokens", response={201: TokenCreatedOut, **ERRORS}, auth=AUTH, tags=["tokens"])
def create_token(request: HttpRequest, payload: TokenIn):
    """Create a personal API token. The secret is in this response only."""
    user = actor(request)
    # A token never mints a token stronger than itself.
    require_scope(
        request, payload.scope if payload.scope in ApiToken.Scope.values else ApiToken.Scope.ADMIN
    )
    if payload.scope != ApiToken.Scope.READ:
        # Trade and admin tokens are born from a fresh second factor (see tonne.access.policy).
        from tonne.access.policy import require_step_up

        require_step_up(request, user)
    token, secret = orgs.issue_api_token(
        actor=user, name=payload.name, scope=payload.scope, days=payload.days
    )
    return Status(201, {**token_out(token), "secret": secret})


@router.get("/tokens", response={200: Page[TokenOut], **ERRORS}, auth=AUTH, tags=["tokens"])
def list_tokens(request: HttpRequest, query: Query[ListQuery]):
    user = actor(request)
    return paginate(
        selectors.tokens_for(user),
        query,
        token_out,
        allowed={"created_at": "created_at", "expires_at": "expires_at", "name": "name"},
        default="-created_at",
    )


@router.delete(
    "/tokens/{int:token_id}", response={200: TokenOut, **ERRORS}, auth=AUTH, tags=["tokens"]
)
def revoke_token(request: HttpRequest, token_id: int):
    """Revoke one of your tokens (it stops working at once)."""
    user = actor(request)
    token = ApiToken.objects.filter(pk=token_id).first()
    if token is None or (token.user_id != user.pk and not selectors.is_admin(user)):
        raise NotFound("TOKEN_NOT_FOUND", f"You have no API token {token_id}.")
    return token_out(orgs.revoke_api_token(actor=user, token=token))


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


@router.get(
    "/accounts/{identifier}",
    response={200: AccountDetailOut, **ERRORS},
    auth=AUTH,
    tags=["accounts"],
)
def get_account(request: HttpRequest, identifier: str):
    """An account with its holdings as serial blocks."""
    from tonne.units.selectors import holding_out

    user = actor(request)
    account = orgs.get_account(identifier)
    orgs.require_can_view_account(user, account)
    account = selectors.accounts_for(user).get(pk=account.pk)
    blocks = account.blocks.select_related("issuance", "project").order_by("serial_start")
    count = blocks.count()
    return {
        **account_out(account),
        "holdings": [holding_out(b, account.type) for b in blocks[:HOLDINGS_SHOWN]],
        "holdings_count": count,
        "holdings_truncated": count > HOLDINGS_SHOWN,
    }


@router.post("/accounts", response={201: AccountOut, **ERRORS}, auth=AUTH, tags=["accounts"])
def open_account(request: HttpRequest, payload: AccountIn):
    """Open a holding account for your organisation."""
    user = actor(request)
    if payload.organisation is not None:
        org = _organisation(user, payload.organisation)
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
