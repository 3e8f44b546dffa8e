"""`verify_ledger` has two paths: everything in this process (``workers=1``,
what runs inside a transaction) and the chain check here with the replay in a
forked process (``workers=2``, PostgreSQL, committed rows only). Both must
report the same first divergence, named by the same code and seq.

The parallel tests commit real data (transactional test case) and run with
tiny batches, so entries cross the pipe in many messages and the two checks
stop each other early."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from tonne.ledger.models import Checkpoint, LedgerEntry, LedgerHead
from tonne.ledger.replay import Holdings, ReplayError
from tonne.ledger.tests import test_tamper
from tonne.ledger.tests.test_tamper import drop_guards, rewrite_chain, seq_of, sql, write_body
from tonne.ledger.verify import PARALLEL_MIN_ENTRIES, verify_ledger
from tonne.organisations.models import Account
from tonne.organisations.services import system_account
from tonne.units.models import UnitBlock

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


# -- the parallel path (PostgreSQL, committed rows) ----------------------------------------


@pytest.fixture
def guards():
    """Drop the ledger's guards the way test_tamper does, but for committed
    changes: put them back afterwards."""
    dropped: list[str] = []

    def drop(*tables: str) -> None:
        for table in tables:
            sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            dropped.append(table)

    yield drop
    for table in dropped:
        sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def both(chunk_size: int = 3):
    here = verify_ledger(workers=1, chunk_size=chunk_size)
    apart = verify_ledger(workers=2, chunk_size=chunk_size)
    assert here.workers == 1 and apart.workers == 2
    assert outcome(apart) == outcome(here)
    return apart


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("chunk_size", [1, 3, 20000])
def test_parallel_verification_of_a_valid_ledger(world, chunk_size):
    result = both(chunk_size)
    assert result.ok
    assert result.entries == LedgerHead.objects.get(pk=1).size
    assert result.checkpoints == Checkpoint.objects.count() == 1
    assert result.blocks == UnitBlock.objects.count()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_cli_uses_two_processes_on_a_large_ledger(world, monkeypatch):
    from tonne.ledger import verify as verify_module

    out = io.StringIO()
    call_command("ledger", "verify", "--json", "--python", stdout=out)
    assert json.loads(out.getvalue())["workers"] == 1  # small ledger: one process
    monkeypatch.setattr(verify_module, "PARALLEL_MIN_ENTRIES", 3)
    out = io.StringIO()
    call_command("ledger", "verify", "--json", "--python", stdout=out)
    report = json.loads(out.getvalue())
    assert report["ok"] and report["workers"] == 2 and report["path"] == "python"
    if verify_module.compiled_available():  # the compiled path is one process, whatever the size
        out = io.StringIO()
        call_command("ledger", "verify", "--json", stdout=out)
        report = json.loads(out.getvalue())
        assert report["ok"] and report["workers"] == 1 and report["path"] == "compiled"
    assert PARALLEL_MIN_ENTRIES >= 1000


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_edit_of_a_body_is_named(world, guards):
    seq = seq_of(world, "sale")
    guards("ledger_ledgerentry")
    doc = json.loads(LedgerEntry.objects.get(seq=seq).body)
    doc["data"]["quantity"] += 1
    write_body(seq, doc)
    d = both().first
    assert (d.code, d.seq) == ("LEDGER_ENTRY_ALTERED", seq)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_deleted_entry_is_named(world, guards):
    seq = seq_of(world, "ranges")
    guards("ledger_ledgerentry")
    sql("DELETE FROM ledger_ledgerentry WHERE seq = %s", [seq])
    d = both().first
    assert (d.code, d.seq) == ("LEDGER_ENTRY_MISSING", seq)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_replay_failure_is_named(world, guards):
    seq = seq_of(world, "late2")
    guards("ledger_ledgerentry")
    retirement = system_account(Account.Type.RETIREMENT).identifier
    rewrite_chain(seq, lambda doc: doc["data"].update({"from": retirement}))
    d = both().first
    assert (d.code, d.seq) == ("LEDGER_REPLAY_FAILED", seq)
    assert "terminal" in d.message


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_replay_failure_before_a_broken_hash_wins(world, guards):
    """The replay (child) fails first; the chain check (parent) fails later:
    the earlier one is reported, as the one-pass verifier would."""
    late1, late2 = seq_of(world, "late1"), seq_of(world, "late2")
    assert late1 < late2
    guards("ledger_ledgerentry")
    retirement = system_account(Account.Type.RETIREMENT).identifier
    rewrite_chain(late1, lambda doc: doc["data"].update({"from": retirement}))
    doc = json.loads(LedgerEntry.objects.get(seq=late2).body)
    doc["data"]["quantity"] += 1
    write_body(late2, doc)  # leaf hash no longer matches
    d = both().first
    assert (d.code, d.seq) == ("LEDGER_REPLAY_FAILED", late1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_broken_hash_before_a_replay_failure_wins(world, guards):
    sale, late2 = seq_of(world, "sale"), seq_of(world, "late2")
    guards("ledger_ledgerentry")
    retirement = system_account(Account.Type.RETIREMENT).identifier
    rewrite_chain(late2, lambda doc: doc["data"].update({"from": retirement}))
    doc = json.loads(LedgerEntry.objects.get(seq=sale).body)
    doc["data"]["quantity"] += 1
    write_body(sale, doc)
    d = both().first
    assert (d.code, d.seq) == ("LEDGER_ENTRY_ALTERED", sale)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_same_entry_hash_beats_replay(world, guards):
    """A body edited so that it cannot be replayed, without its hash: at the
    same seq the chain check's finding comes first."""
    seq = seq_of(world, "late2")
    guards("ledger_ledgerentry")
    doc = json.loads(LedgerEntry.objects.get(seq=seq).body)
    doc["data"]["from"] = system_account(Account.Type.RETIREMENT).identifier
    write_body(seq, doc)
    d = both().first
    assert (d.code, d.seq) == ("LEDGER_ENTRY_ALTERED", seq)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_checkpoint_root_edit_is_named(world, guards):
    checkpoint = world.extra["checkpoint"]
    guards("ledger_checkpoint")
    sql("UPDATE ledger_checkpoint SET root_hash = %s WHERE size = %s", ["0" * 64, checkpoint.size])
    d = both().first
    assert (d.code, d.seq) == ("CHECKPOINT_ROOT_MISMATCH", checkpoint.size - 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_rewrite_before_the_checkpoint_is_caught_by_it(world, guards):
    """A chain-consistent rewrite before the checkpoint that the replay also
    rejects: the replay's failure (earlier) is named, not the checkpoint's."""
    seq = seq_of(world, "sale")
    guards("ledger_ledgerentry")
    retirement = system_account(Account.Type.RETIREMENT).identifier
    rewrite_chain(seq, lambda doc: doc["data"].update({"from": retirement}))
    d = both().first
    assert (d.code, d.seq) == ("LEDGER_REPLAY_FAILED", seq)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_truncation_and_head(world, guards):
    guards("ledger_ledgerentry")
    size = LedgerHead.objects.get(pk=1).size
    sql("DELETE FROM ledger_ledgerentry WHERE seq = %s", [size - 1])
    d = both().first
    assert (d.code, d.seq) == ("LEDGER_HEAD_MISMATCH", size - 1)
    checkpoint = world.extra["checkpoint"]
    sql("DELETE FROM ledger_ledgerentry WHERE seq >= %s", [checkpoint.size - 1])
    d = both().first
    assert d.code == "LEDGER_TRUNCATED"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_holdings_divergence_is_named(world):
    block = UnitBlock.objects.filter(account=world.developer_account).first()
    sql(
        "UPDATE units_unitblock SET account_id = %s WHERE id = %s",
        [world.buyer_account.pk, block.pk],
    )
    d = both().first
    assert d.code == "HOLDINGS_DIVERGE"
    assert f"{block.serial_start}-{block.serial_end}" in d.message


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "mutate",
    [
        lambda data: data.update(quantity=str(data["quantity"])),  # not a number
        lambda data: data.update(ranges=[[str(a), b] for a, b in data["ranges"]]),
        lambda data: data.update(ranges=data["ranges"] + [[2**70, 2**70]]),  # beyond 64 bits
        lambda data: data.pop("to"),
    ],
    ids=["quantity-string", "string-serial", "huge-serial", "no-target"],
)
def test_parallel_odd_data_is_judged_alike(world, guards, mutate):
    seq = seq_of(world, "late1")
    guards("ledger_ledgerentry")
    rewrite_chain(seq, lambda doc: mutate(doc["data"]))
    both()
