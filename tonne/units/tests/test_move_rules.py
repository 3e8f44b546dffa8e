"""The pure rules of a move, without a database: which accounts may send and
receive, which pieces a serial range takes, what selection by criteria
takes from a block, and how blocks split (every serial kept, once)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tonne.core.errors import ValidationFailed
from tonne.organisations.models import Account
from tonne.units.domain import (
    BlockRow,
    Piece,
    SerialRange,
    check_acquiring,
    check_transferring,
    free_parts,
    pieces_of_range,
    split_blocks,
    take,
)

SOURCE, TARGET = 1, 2


def block(id_: int, start: int, end: int) -> BlockRow:
    return BlockRow(id=id_, issuance_id=7, project_id=3, vintage=2024, unit_class="VCU", serial_start=start,
                    serial_end=end, acquired_at="then")


def account(pk: int, type_: str = Account.Type.HOLDING, status: str = Account.Status.OPEN, terminal: bool = False) -> Account:
    return Account(pk=pk, identifier=f"CI-{pk}", type=type_, status=status, is_terminal=terminal, organisation_id=None)


@pytest.mark.parametrize(
    ("sender", "code"),
    [
        (account(1, Account.Type.RETIREMENT, terminal=True), "TRANSFERRING_ACCOUNT_TERMINAL"),
        (account(1, status=Account.Status.CLOSED), "TRANSFERRING_ACCOUNT_CLOSED"),
        (account(1, status=Account.Status.SUSPENDED), "TRANSFERRING_ACCOUNT_SUSPENDED"),
        (account(1, Account.Type.BUFFER), "TRANSFERRING_ACCOUNT_TYPE_NOT_ALLOWED"),
    ],
)
def test_who_may_send(sender, code):  # noqa: ANN001
    with pytest.raises(ValidationFailed) as refused:
        check_transferring("transfer", sender)
    assert refused.value.code == code


def test_who_may_receive():
    source = account(SOURCE)
    check_acquiring("transfer", source, account(TARGET))
    check_acquiring("retirement", source, account(TARGET, Account.Type.RETIREMENT, terminal=True))
    for receiver, code in [
        (source, "SAME_ACCOUNT"),
        (account(TARGET, status=Account.Status.CLOSED), "ACQUIRING_ACCOUNT_NOT_OPEN"),
        (account(TARGET, Account.Type.CANCELLATION), "ACQUIRING_ACCOUNT_TYPE_NOT_ALLOWED"),
    ]:
        with pytest.raises(ValidationFailed) as refused:
            check_acquiring("transfer", source, receiver)
        assert refused.value.code == code


def test_a_range_takes_the_pieces_of_the_blocks_that_hold_it():
    blocks = [block(1, 1, 10), block(2, 11, 20), block(3, 21, 30)]
    pieces = pieces_of_range(SerialRange(5, 25), blocks, "CI-1")
    assert [(p.block.id, p.serials.start, p.serials.end) for p in pieces] == [(1, 5, 10), (2, 11, 20), (3, 21, 25)]
    with pytest.raises(ValidationFailed) as refused:
        pieces_of_range(SerialRange(5, 25), [block(1, 1, 10), block(3, 21, 30)], "CI-1")
    assert refused.value.code == "SERIAL_RANGE_NOT_HELD" and refused.value.details.items() >= {"first_missing_serial": 11}.items()


def test_selection_by_criteria_passes_over_held_back_serials():
    held = block(1, 1, 100)
    parts = free_parts(held, [(10, 19), (50, 200)])
    assert parts == [SerialRange(1, 9), SerialRange(20, 49)]
    pieces: list[Piece] = []
    assert take(held, parts, 15, pieces) == 0
    assert [p.serials for p in pieces] == [SerialRange(1, 9), SerialRange(20, 25)]
    assert take(held, parts, 100, []) == 100 - 9 - 30


@given(
    st.lists(st.tuples(st.integers(1, 50), st.integers(0, 50)), min_size=1, max_size=5),
    st.integers(0, 2**30),
)
def test_splitting_keeps_every_serial_once(gaps, seed):  # noqa: ANN001
    """Blocks from (gap, length) pairs; pieces from some of each block:
    the rows after the move cover the same serials, without overlap, and
    exactly the pieces went to the acquiring account."""
    blocks, at = [], 1
    for i, (gap, length) in enumerate(gaps):
        at += gap
        blocks.append(block(i + 1, at, at + length))
        at += length + 1
    pieces = []
    for i, b in enumerate(blocks):
        width = b.quantity
        start = b.serial_start + (seed >> i) % width
        end = min(b.serial_end, start + (seed >> (i + 3)) % width)
        pieces.append(Piece(b, SerialRange(start, end)))
    shrunk, remainders = split_blocks(pieces, SOURCE, TARGET, "now")
    rows = [(s, e, acct) for _id, s, e, acct, _at in shrunk] + [(s, e, acct) for *_, s, e, acct, _at in remainders]
    serials = sorted((n, acct) for s, e, acct in rows for n in range(s, e + 1))
    assert [n for n, _ in serials] == sorted(n for b in blocks for n in range(b.serial_start, b.serial_end + 1))
    moved = {n for n, acct in serials if acct == TARGET}
    assert moved == {n for p in pieces for n in range(p.serials.start, p.serials.end + 1)}
    assert len(shrunk) == len(blocks)  # every block row is kept; its other parts are new rows
