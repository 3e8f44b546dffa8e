"""The public ledger endpoints: entries, checkpoints, key and proofs."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client

from tonne.core.tests.test_api_core import assert_problem, get
from tonne.ledger import proofs
from tonne.ledger.models import LedgerHead
from tonne.ledger.services import make_checkpoint


def test_entries_are_public_with_hashes(registry, client: Client) -> None:
    size = LedgerHead.objects.get(pk=1).size
    body = get(client, "/ledger/entries", **{"from": 2, "limit": 3}).json()
    assert body["size"] == size and body["from"] == 2 and body["limit"] == 3
    assert [e["seq"] for e in body["items"]] == [2, 3, 4]
    entry = body["items"][0]
    assert hashlib.sha256(b"\x00" + entry["body"].encode()).hexdigest() == entry["leaf_hash"]
    assert body["items"][1]["prev_hash"] == entry["leaf_hash"]
    assert get(client, "/ledger/entries/2").json() == entry
    assert_problem(get(client, "/ledger/entries/999999"), 404, "LEDGER_ENTRY_NOT_FOUND")
    assert_problem(get(client, "/ledger/entries", limit=100000), 422, "REQUEST_INVALID")
    assert get(client, "/ledger").json()["size"] == size


def test_checkpoints_key_and_proofs(registry, client: Client) -> None:
    assert_problem(get(client, "/ledger/checkpoints/latest"), 404, "CHECKPOINT_NOT_FOUND")
    first = make_checkpoint()
    from tonne.organisations.services import issue_api_token  # noqa: F401  (no ledger entry)
    from tonne.testing import make_org

    make_org(registry.admin, "Later Ltd", "trader")
    second = make_checkpoint()
    listed = get(client, "/ledger/checkpoints").json()
    assert listed["count"] == 2 and listed["items"][0]["size"] == second.size
    latest = get(client, "/ledger/checkpoints/latest").json()
    assert latest["size"] == second.size and latest["note"].startswith("tonne.registry/")
    assert get(client, f"/ledger/checkpoints/{first.size}").json()["root_hash"] == first.root_hash
    key = get(client, "/ledger/key").json()
    assert key["key_name"] and key["verifier_key"].startswith(key["key_name"] + "+")
    bundle = get(client, "/ledger/proofs/inclusion/0", size=first.size).json()
    assert proofs.verify_bundle(bundle, key["verifier_key"])["seq"] == 0
    bundle = get(client, "/ledger/proofs/consistency", old=first.size).json()
    assert proofs.verify_bundle(bundle, key["verifier_key"])["new_size"] == second.size
    # A tampered proof fails verification.
    bundle["proof"] = bundle["proof"][:-1] + ["00" * 32] if bundle["proof"] else ["00" * 32]
    with pytest.raises(proofs.ProofInvalid):
        proofs.verify_bundle(bundle, key["verifier_key"])
    assert_problem(get(client, "/ledger/proofs/inclusion/999999"), 404, "LEDGER_ENTRY_NOT_FOUND")
    assert_problem(
        get(client, f"/ledger/proofs/inclusion/{second.size - 1}", size=first.size),
        409,
        "LEDGER_ENTRY_NOT_YET_CHECKPOINTED",
    )
    assert_problem(
        get(client, "/ledger/proofs/consistency", old=second.size, new=first.size),
        422,
        "CONSISTENCY_SIZES_INVALID",
    )
    assert_problem(get(client, "/ledger/proofs/consistency"), 422, "REQUEST_INVALID")
