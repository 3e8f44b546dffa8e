"""REST endpoint for one account with the units it holds (the account is
organisations', the serial blocks are units')."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from tonne.core.api_support import ERRORS
from tonne.organisations import selectors
from tonne.organisations import services as orgs
from tonne.organisations.api import HOLDINGS_SHOWN, AccountDetailOut, account_out
from tonne.organisations.api_auth import AUTH, actor
from tonne.units.selectors import holding_out

router = Router(tags=["accounts"])


@router.get(
    "/accounts/{identifier}",
    response={200: AccountDetailOut, **ERRORS},
    auth=AUTH,
    tags=["accounts"], operation_id="organisations_get_account")
def get_account(request: HttpRequest, identifier: str):
    """An account with its holdings as serial blocks."""
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
