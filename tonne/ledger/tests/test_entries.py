"""Every ledger entry, whoever rendered it (the client, or PostgreSQL in the
one-statement append of unit moves), is canonical JSON that hashes to its leaf
and chains to the entry before it."""

import hashlib
import json

from tonne import testing
from tonne.core.canonical import canonical_json
from tonne.ledger.models import LedgerEntry
from tonne.ledger.services import GENESIS_HASH
from tonne.units import services as units
from tonne.units.domain import Selection


def test_every_entry_is_canonical_and_chained(registry):
    reg = registry
    project = testing.registered_project(reg, buffer_basis_points=500)
    testing.issue(reg, project, {2022: 300})
    units.transfer(
        actor=reg.developer,
        from_account=reg.developer_account.identifier,
        to_account=reg.buyer_account.identifier,
        selection=Selection.build(quantity=40),
        idempotency_key="t1",
    )
    units.retire(
        actor=reg.buyer,
        from_account=reg.buyer_account.identifier,
        selection=Selection.build(quantity=7),
        beneficiary='Zoë "quoted" \\ \u0001 beneficiary',  # escapes must survive
        purpose="voluntary",
        reason="prev seq transaction",
        idempotency_key="r1",
    )
    prev = GENESIS_HASH
    entries = list(LedgerEntry.objects.order_by("seq"))
    assert [e.seq for e in entries] == list(range(len(entries)))
    for entry in entries:
        parsed = json.loads(entry.body)
        assert canonical_json(parsed).decode("utf-8") == entry.body
        assert parsed["seq"] == entry.seq and parsed["prev"] == prev == entry.prev_hash
        assert hashlib.sha256(b"\x00" + entry.body.encode("utf-8")).hexdigest() == entry.leaf_hash
        prev = entry.leaf_hash
    retirement = json.loads(entries[-1].body)
    assert retirement["kind"] == "units.retirement"
    assert retirement["data"]["beneficiary"] == 'Zoë "quoted" \\ \u0001 beneficiary'
