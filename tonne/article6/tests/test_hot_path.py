"""What Article 6 costs the unit-moving path: nothing for a transfer between
holding accounts (decided from the acquiring account already read); one
statement for a move into a terminal account, two more (first transfers and
their adjustments) only when authorised units are first-transferred by it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tonne import testing
from tonne.article6.tests.conftest import T0, key
from tonne.core import clock
from tonne.units import services as units
from tonne.units import store
from tonne.units.domain import Selection
from tonne.units.reactions import reactions

pytestmark = pytest.mark.django_db


class Counting:
    """The move's cursor, counting its statements (on PostgreSQL the hot
    path's own psycopg cursor, which Django's query log does not see)."""

    def __init__(self, cursor: Any) -> None:
        self.cursor, self.count = cursor, 0

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        self.count += 1
        return self.cursor.execute(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cursor, name)


def statements(monkeypatch, hooks: bool, move) -> int:  # noqa: ANN001
    original = store.hot_cursor
    seen: list[Counting] = []

    @contextmanager
    def counting() -> Iterator[Counting]:
        with original() as cursor:
            seen.append(Counting(cursor))
            yield seen[-1]

    monkeypatch.setattr(store, "hot_cursor", counting)
    if not hooks:
        without = dataclasses.replace(reactions(), on_terminal_move=())
        monkeypatch.setattr(units, "reactions", lambda: without)
    move()
    monkeypatch.undo()
    return sum(c.count for c in seen)


def test_cost_of_article6_in_moves(world, monkeypatch):
    world.authorise(first_transfer_definition="use_or_cancellation", quantity=100, purposes=["ndc", "oimp"],
                    oimp_purposes="CORSIA")
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(world.reg, world.project, {2024: 1000})
    s = issuance.serial_start
    dev = world.reg.developer_account.identifier

    def transfer(start: int):  # noqa: ANN202
        return lambda: units.transfer(actor=world.reg.developer, from_account=dev,
                                      to_account=world.reg.buyer_account.identifier,
                                      selection=Selection.build(ranges=[(start, start)]), idempotency_key=key())

    def retire(start: int):  # noqa: ANN202
        return lambda: units.retire(actor=world.reg.developer, from_account=dev,
                                    selection=Selection.build(ranges=[(start, start)]), beneficiary="Town",
                                    purpose="voluntary", idempotency_key=key())

    # Authorised units moving between holding accounts: no extra statement.
    assert statements(monkeypatch, True, transfer(s + 10)) == statements(monkeypatch, False, transfer(s + 20))
    # Mitigation contribution units retired: one.
    assert statements(monkeypatch, True, retire(s + 500)) == statements(monkeypatch, False, retire(s + 510)) + 1
    # Authorised units retired (a first transfer under this definition): three.
    assert statements(monkeypatch, True, retire(s + 30)) == statements(monkeypatch, False, retire(s + 520)) + 3
