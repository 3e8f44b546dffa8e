"""`verify_ledger` runs in one process, inside the caller's transaction if
any; its outcome does not depend on how the entries are batched, and the
replay names accounts and blocks as the ledger does."""

from __future__ import annotations

import json

import pytest

from tonne.ledger.models import LedgerEntry
from tonne.ledger.replay import Holdings, ReplayError
from tonne.ledger.tests import test_tamper
from tonne.ledger.tests.test_tamper import drop_guards, seq_of, write_body
from tonne.ledger.verify import verify_ledger

world = test_tamper.world  # the same registry under attack


def outcome(result):
    first = result.first
    return (
        result.ok,
        None if first is None else (first.code, first.seq, first.message),
        result.entries,
        result.checkpoints,
        result.blocks,
    )


# -- both paths, any database ------------------------------------------------------------


@pytest.mark.django_db
def test_in_a_transaction_the_verifier_stays_in_process(world):
    result = verify_ledger(workers=None)
    assert result.ok and result.workers == 1
    with pytest.raises(ValueError):
        verify_ledger(workers=2)  # its rows are not committed: another process would not see them
    with pytest.raises(ValueError):
        verify_ledger(workers=3)


@pytest.mark.django_db
@pytest.mark.parametrize("chunk_size", [1, 2, 7, 20000])
def test_batch_size_does_not_change_the_outcome(world, chunk_size):
    assert outcome(verify_ledger(chunk_size=chunk_size)) == outcome(verify_ledger())
    seq = seq_of(world, "ranges")
    doc = json.loads(LedgerEntry.objects.get(seq=seq).body)
    doc["data"]["quantity"] += 1
    drop_guards("ledger_ledgerentry")
    write_body(seq, doc)
    d = verify_ledger(chunk_size=chunk_size).first
    assert (d.code, d.seq) == ("LEDGER_ENTRY_ALTERED", seq)


def test_the_replay_names_accounts_and_blocks_like_the_ledger():
    holdings = Holdings()
    holdings.apply({"kind": "account.opened", "data": {"account": "A", "type": "holding"}})
    holdings.apply({"kind": "account.opened", "data": {"account": "B", "type": "holding"}})
    holdings.apply({"kind": "account.opened", "data": {"account": "R", "type": "retirement"}})
    holdings.apply(
        {
            "kind": "units.issued",
            "data": {
                "issuance": {"project": "P", "vintage": 2020, "unit_class": "VER", "quantity": 100},
                "blocks": [
                    {"start": 1, "end": 80, "account": "A"},
                    {"start": 81, "end": 100, "account": "B"},
                ],
            },
        }
    )
    moves = [
        ("A", "B", [[1, 10]], 10),  # head of a block
        ("A", "B", [[20, 29]], 10),  # middle of a block
        ("A", "R", [[71, 80]], 10),  # tail of a block
        ("A", "B", [[11, 19]], 9),  # a whole block
        ("B", "A", [[5, 25]], 21),  # across three blocks
        ("B", "A", [[81, 100]], 20),  # a whole block
    ]
    for source, target, ranges, quantity in moves:
        holdings.apply(
            {
                "kind": "units.transfer",
                "data": {"from": source, "to": target, "ranges": ranges, "quantity": quantity},
            }
        )
    assert list(holdings.blocks()) == [
        (1, 4, "B", "P", 2020, "VER"),
        (5, 10, "A", "P", 2020, "VER"),
        (11, 19, "A", "P", 2020, "VER"),
        (20, 25, "A", "P", 2020, "VER"),
        (26, 29, "B", "P", 2020, "VER"),
        (30, 70, "A", "P", 2020, "VER"),
        (71, 80, "R", "P", 2020, "VER"),
        (81, 100, "A", "P", 2020, "VER"),
    ]
    refused = [
        ("R", "A", [[71, 72]], 2, "terminal"),
        ("B", "A", [[1, 5]], 5, "serial 5 is not held in B"),
        ("A", "B", [[90, 101]], 12, "crosses the end"),
        ("A", "B", [[101, 101]], 1, "never issued"),
        ("A", "B", [[30, 31]], 3, "entry says 3"),
        ("A", "X", [[30, 31]], 2, "never opened"),
    ]
    for source, target, ranges, quantity, message in refused:
        with pytest.raises(ReplayError, match=message):
            Holdings._move(
                holdings, {"from": source, "to": target, "ranges": ranges, "quantity": quantity}
            )
