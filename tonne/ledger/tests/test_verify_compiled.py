"""The compiled verifier (optional C extension) against the pure-Python
reference. It may give up on anything (then the reference decides), but it
must never accept a ledger the reference refuses, and when it accepts, the
holdings must be the reference's.

The careful attacker here rewrites an entry's body and then the whole chain
after it (prev links, leaf hashes, head), so the change reaches the content
and replay checks; bodies are written as raw text, not only canonical JSON."""

from __future__ import annotations

import json
import random

import pytest
from django.db import transaction

from tonne.core.canonical import canonical_json
from tonne.ledger import verify as verify_module
from tonne.ledger.models import LedgerEntry, LedgerHead
from tonne.ledger.replay import Holdings
from tonne.ledger.services import GENESIS_HASH
from tonne.ledger.tests import test_tamper
from tonne.ledger.tests.test_tamper import drop_guards, leaf, outcome, seq_of, sql

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not verify_module.compiled_available(), reason="the compiled verifier is not built"),
]

world = test_tamper.world


def rewrite_raw(seq: int, text: str) -> None:
    """Put `text` as entry seq's body, then re-chain every later entry."""
    prev = GENESIS_HASH if seq == 0 else LedgerEntry.objects.get(seq=seq - 1).leaf_hash
    for entry in LedgerEntry.objects.filter(seq__gte=seq).order_by("seq"):
        if entry.seq == seq:
            body = text
        else:
            doc = json.loads(entry.body)
            doc["prev"] = prev
            body = canonical_json(doc).decode()
        new_leaf = leaf(body.encode())
        sql(
            "UPDATE ledger_ledgerentry SET body = %s, prev_hash = %s, leaf_hash = %s WHERE seq = %s",
            [body, prev, new_leaf, entry.seq],
        )
        prev = new_leaf
    LedgerHead.objects.filter(pk=1).update(last_hash=prev)


def both():
    reference = verify_module.verify_ledger(compiled=False)
    compiled = verify_module.verify_ledger(compiled=True)
    assert outcome(compiled) == outcome(reference)
    if not reference.ok:
        assert compiled.path == "python"
    return reference, compiled


def test_a_valid_ledger_is_accepted_by_the_compiled_path(world):
    reference, compiled = both()
    assert reference.ok and compiled.path == "compiled"
    assert reference.path == "python"


def test_the_compiled_replay_gives_the_reference_holdings(world):
    from tonne.ledger import _fastverify  # type: ignore[attr-defined]

    holdings = Holdings()
    verifier = _fastverify.Verifier([])
    for entry in LedgerEntry.objects.order_by("seq"):
        holdings.apply(json.loads(entry.body))
        assert verifier.feed_row(entry.seq, entry.kind, entry.body.encode(), entry.prev_hash, entry.leaf_hash)
    assert verifier.finish_rows()
    assert verifier.blocks() == list(holdings.blocks())


def _respell(seq: int, how: str) -> str:
    """The same entry in JSON that reads the same but is not canonical."""
    doc = json.loads(LedgerEntry.objects.get(seq=seq).body)
    if how == "spaces":
        return json.dumps(doc, sort_keys=True, indent=1)
    if how == "unsorted":
        return json.dumps(dict(reversed(list(doc.items()))), separators=(",", ":"))
    if how == "escaped":
        return canonical_json(doc).decode().replace('"from":', '"fr\\u006fm":')
    if how == "escaped-value":
        text = canonical_json(doc).decode()
        account = doc["data"]["from"]
        return text.replace(f'"{account}"', '"' + account[0] + "\\u00" + f"{ord(account[1]):02x}" + account[2:] + '"', 1)
    if how == "float":
        return canonical_json(doc).decode().replace(f'"quantity":{doc["data"]["quantity"]}', f'"quantity":{doc["data"]["quantity"]}.0')
    if how == "duplicate-key":
        text = canonical_json(doc).decode()
        return text[:-1] + f',"seq":{seq}}}'
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["spaces", "unsorted", "escaped", "escaped-value", "float", "duplicate-key"])
def test_unusual_spellings_of_a_move_get_the_reference_verdict(world, how):
    seq = seq_of(world, "sale")
    drop_guards("ledger_ledgerentry")
    rewrite_raw(seq, _respell(seq, how))
    both()


def _mutate(text: str, rng: random.Random) -> str:
    chars = list(text)
    i = rng.randrange(len(chars))
    choice = rng.random()
    alphabet = '0123456789-+.eE"\\{}[]:, abtnuf\u00e9\x01'
    if choice < 0.4:
        chars[i] = rng.choice(alphabet)
    elif choice < 0.7:
        chars.insert(i, rng.choice(alphabet))
    elif choice < 0.85:
        del chars[i]
    else:  # a digit changed: still valid JSON, different meaning
        digits = [n for n, c in enumerate(chars) if c.isdigit()]
        if digits:
            n = rng.choice(digits)
            chars[n] = str((int(chars[n]) + rng.randrange(1, 10)) % 10)
    return "".join(chars)


def test_random_edits_of_entries_get_the_same_verdict_from_both(world):
    drop_guards("ledger_ledgerentry")
    rng = random.Random(20261201)
    entries = list(LedgerEntry.objects.order_by("seq").values_list("seq", "body"))
    accepted = 0
    for _ in range(60):
        seq, body = rng.choice(entries)
        text = body
        for _ in range(rng.randrange(1, 3)):
            text = _mutate(text, rng)
        with transaction.atomic():
            rewrite_raw(seq, text)
            reference, _compiled = both()
            accepted += reference.ok
            transaction.set_rollback(True)
    assert accepted < 60  # most edits are caught (the rest change nothing the replay reads)
