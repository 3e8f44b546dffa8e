"""REST endpoints for personal API tokens: a token above the read scope is
born from a fresh second factor (tonne.access.policy)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Status

from tonne.access.policy import require_step_up
from tonne.core.api_support import ERRORS, ListQuery, Page, paginate
from tonne.core.errors import NotFound
from tonne.organisations import selectors
from tonne.organisations import services as orgs
from tonne.organisations.api import TokenCreatedOut, TokenIn, TokenOut, token_out
from tonne.organisations.api_auth import AUTH, actor, require_scope
from tonne.organisations.models import ApiToken

router = Router(tags=["tokens"])


@router.post("/tokens", response={201: TokenCreatedOut, **ERRORS}, auth=AUTH, tags=["tokens"], operation_id="organisations_create_token")
def create_token(request: HttpRequest, payload: TokenIn):
    """Create a personal API token. The secret is in this response only."""
    user = actor(request)
    # A token never mints a token stronger than itself.
    require_scope(
        request, payload.scope if payload.scope in ApiToken.Scope.values else ApiToken.Scope.ADMIN
    )
    if payload.scope != ApiToken.Scope.READ:
        # Trade and admin tokens are born from a fresh second factor (see tonne.access.policy).
        require_step_up(request, user)
    token, secret = orgs.issue_api_token(
        actor=user, name=payload.name, scope=payload.scope, days=payload.days
    )
    return Status(201, {**token_out(token), "secret": secret})


@router.get("/tokens", response={200: Page[TokenOut], **ERRORS}, auth=AUTH, tags=["tokens"], operation_id="organisations_list_tokens")
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
    "/tokens/{int:token_id}", response={200: TokenOut, **ERRORS}, auth=AUTH, tags=["tokens"], operation_id="organisations_revoke_token")
def revoke_token(request: HttpRequest, token_id: int):
    """Revoke one of your tokens (it stops working at once)."""
    user = actor(request)
    token = ApiToken.objects.filter(pk=token_id).first()
    if token is None or (token.user_id != user.pk and not selectors.is_admin(user)):
        raise NotFound("TOKEN_NOT_FOUND", f"You have no API token {token_id}.", details={"token": str(token_id)})
    return token_out(orgs.revoke_api_token(actor=user, token=token))
