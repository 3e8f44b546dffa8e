"""REST endpoint for the opening of a ledger entry's private fields (the
ledger keeps them; who may see them depends on organisations)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from tonne.core.api_support import ERRORS
from tonne.ledger import openings
from tonne.organisations.api_auth import AUTH, actor

router = Router(tags=["ledger"])


class OpenedFieldOut(Schema):
    field: str = Field(description="Where the value sits in the entry's data, or account / user for a pseudonym.")
    commitment: str = Field(description="What the public entry shows: p:… (pseudonym) or c:… (commitment).")
    kind: str = Field(description="account, user (pseudonyms) or secret (a value committed to in this entry).")
    value: Any = Field(description="The private value.")
    salt: str = Field(description="Hex; the commitment is its prefix and HMAC-SHA256(salt, prefix + canonical JSON "
                                  "of value).")


class OpeningOut(Schema):
    seq: int
    leaf_hash: str
    fields: list[OpenedFieldOut]


@router.get("/ledger/entries/{int:seq}/opening", response={200: OpeningOut, **ERRORS}, auth=AUTH,
            operation_id="ledger_entry_opening")
def entry_opening(request: HttpRequest, seq: int):
    """The private fields of entry `seq`, each with the salt that opens its
    commitment: for the holders the entry concerns and the registry
    administrator. Check each with `tonne ledger opening verify`."""
    return openings.opening_for(seq, actor(request))
