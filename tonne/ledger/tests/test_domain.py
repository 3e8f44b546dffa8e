"""The pure rules of the ledger, without a database."""

import datetime as dt
import hashlib
import json
from types import SimpleNamespace

from tonne.ledger import domain

AT = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def test_an_entry_body_is_canonical_and_chained() -> None:
    body = domain.entry_body(
        seq=3, prev="ab" * 32, at=AT, kind="unit.transfer", actor="user:ana",
        data={"b": 1, "a": 2}, transaction_ref="T-1",
    )
    parsed = json.loads(body)
    assert parsed["seq"] == 3 and parsed["prev"] == "ab" * 32 and parsed["actor"] == "user:ana"
    assert parsed["v"] == domain.ENTRY_VERSION and list(parsed) == sorted(parsed)
    assert domain.leaf_hash(body) == hashlib.sha256(b"\x00" + body).hexdigest()
    assert domain.actor_ref(None) == "system"
    assert domain.actor_ref(SimpleNamespace(username="ana")) == "user:ana"


def test_a_checkpoint_is_due_by_growth_or_by_age() -> None:
    rule = {"every_entries": 100, "every_minutes": 10}
    assert not domain.checkpoint_is_due(size=0, checkpoint_size=None, checkpoint_age=None, **rule)
    assert domain.checkpoint_is_due(size=1, checkpoint_size=None, checkpoint_age=None, **rule)
    assert not domain.checkpoint_is_due(size=50, checkpoint_size=50, checkpoint_age=dt.timedelta(hours=1), **rule)
    assert domain.checkpoint_is_due(size=150, checkpoint_size=50, checkpoint_age=dt.timedelta(0), **rule)
    assert not domain.checkpoint_is_due(size=51, checkpoint_size=50, checkpoint_age=dt.timedelta(minutes=9), **rule)
    assert domain.checkpoint_is_due(size=51, checkpoint_size=50, checkpoint_age=dt.timedelta(minutes=10), **rule)
