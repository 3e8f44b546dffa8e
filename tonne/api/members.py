"""REST endpoints for an organisation's people. A change of its authorised
representatives waits for a second, different person (tonne.controls), so
these sit above both apps."""

from __future__ import annotations

import uuid

from django.http import HttpRequest
from ninja import Query, Router, Status

from tonne.access.policy import require_step_up
from tonne.controls import services as controls
from tonne.core.api_support import ERRORS, ListQuery, Page, paginate
from tonne.core.errors import NotFound, PermissionDenied
from tonne.organisations import selectors
from tonne.organisations import services as orgs
from tonne.organisations.api import (
    MemberChangeOut,
    MemberIn,
    UserIn,
    UserOut,
    organisation_for,
    user_out,
)
from tonne.organisations.api_auth import AUTH, actor, require_scope
from tonne.organisations.models import ApiToken, User

router = Router(tags=["organisations"])


@router.get("/organisations/{uuid:uid}/users", response={200: Page[UserOut], **ERRORS}, auth=AUTH, operation_id="organisations_list_users")
def list_users(request: HttpRequest, uid: uuid.UUID, query: Query[ListQuery]):
    user = actor(request)
    org = organisation_for(user, uid)
    if not (selectors.is_admin(user) or user.organisation_id == org.pk):
        raise PermissionDenied(
            "ORGANISATION_NOT_YOURS", "You may list only your own organisation's users."
        )
    qs = selectors.users_for(user, org).select_related("organisation")
    return paginate(
        qs, query, user_out, allowed={"username": "username", "role": "role"}, default="username"
    )


@router.post("/organisations/{uuid:uid}/users", response={201: UserOut, 202: MemberChangeOut, **ERRORS}, auth=AUTH, operation_id="organisations_create_user")
def create_user(request: HttpRequest, uid: uuid.UUID, payload: UserIn):
    """Add a person to an organisation (its admin, or the registry administrator).
    A new authorised representative (admin, initiator, approver) added by the
    organisation's admin or the registry administrator stays inactive until a
    second, different person approves (202). Needs a recent second factor."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.TRADE)
    require_step_up(request, user)
    org = organisation_for(user, uid)
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


@router.patch("/organisations/{uuid:uid}/users/{username}", response={200: MemberChangeOut, 202: MemberChangeOut, **ERRORS}, auth=AUTH, operation_id="organisations_change_user")
def change_user(request: HttpRequest, uid: uuid.UUID, username: str, payload: MemberIn):
    """Change a person's role or deactivate them. Changes of the organisation's
    authorised representatives wait for a second, different person (202).
    Needs a recent second factor."""
    user = actor(request)
    require_scope(request, ApiToken.Scope.TRADE)
    require_step_up(request, user)
    org = organisation_for(user, uid)
    member = selectors.users_for(user, org).select_related("organisation").filter(username=username).first()
    if member is None:
        raise NotFound("USER_NOT_FOUND", f"No user {username} in this organisation.", details={"username": username})
    result = controls.change_member(actor=user, member=member, role=payload.role, active=payload.is_active)
    if isinstance(result, User):
        return Status(200, {"status": "applied", "approval": None, "user": user_out(result)})
    member.refresh_from_db()
    return Status(202, {"status": "awaiting_approval", "approval": result.uid, "user": user_out(member)})
