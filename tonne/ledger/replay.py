"""Rebuild every holding from the ledger alone (pure; no database).

Blocks are kept per issuance, since every range an entry moves lies inside one
issuance's allocation; that keeps each split cheap on very long ledgers.

The verifier replays every entry of the ledger through :meth:`Holdings.apply`,
so the common case (a range that starts a block and lies inside it) takes a
short path through a dict of blocks by first serial; anything else goes
through the general search and :meth:`_reassign`, which checks and splits
block by block. The short path is taken only when none of those checks could
fail, so both give the same outcome."""

from __future__ import annotations

from bisect import bisect_right, insort
from typing import Any

TERMINAL_TYPES = frozenset({"retirement", "cancellation", "omge", "export"})


class ReplayError(Exception):
    pass


class _Issuance:
    """One issuance's allocation: the first serial of each of its blocks, in
    order (`starts`), plus those added since they were last sorted (`pending`:
    splits that did not need a search append there, and the next search sorts
    them in)."""

    __slots__ = ("start", "end", "project", "vintage", "unit_class", "_starts", "pending")

    def __init__(self, start: int, end: int, project: str, vintage: int, unit_class: str) -> None:
        self.start = start
        self.end = end
        self.project = project
        self.vintage = vintage
        self.unit_class = unit_class
        self._starts: list[int] = []
        self.pending: list[int] = []

    @property
    def starts(self) -> list[int]:
        pending = self.pending
        if pending:
            starts = self._starts
            if len(pending) < 8:
                for start in pending:
                    insort(starts, start)
            else:
                starts.extend(pending)
                starts.sort()
            pending.clear()
        return self._starts


class Holdings:
    __slots__ = (
        "account_types",
        "_index",
        "_names",
        "_terminal",
        "_issuance_starts",
        "_issuances",
        "_blocks",
    )

    def __init__(self) -> None:
        self.account_types: dict[str, str] = {}
        # Every account opened gets a number; blocks hold numbers.
        self._index: dict[str, int] = {}
        self._names: list[str] = []
        self._terminal: list[bool | None] = []  # by number: its type is terminal
        self._issuance_starts: list[int] = []
        self._issuances: list[_Issuance] = []  # in the order of _issuance_starts
        # Every block, by its first serial: [last serial, holder, issuance].
        # A range that starts where a block starts (most do) is found here
        # without a search.
        self._blocks: dict[int, list[Any]] = {}

    def apply(self, entry: dict[str, Any]) -> None:
        kind = entry["kind"]
        data = entry["data"]
        if kind == "account.opened":
            self._open(data["account"], data["type"])
        elif kind == "units.issued":
            self._issue(data)
        elif kind.startswith("units."):
            self._move(data)

    def _open(self, identifier: str, type_: str) -> None:
        self.account_types[identifier] = type_
        number = self._index.get(identifier)
        if number is None:
            number = self._index[identifier] = len(self._names)
            self._names.append(identifier)
            self._terminal.append(False)
        try:
            terminal: bool | None = type_ in TERMINAL_TYPES
        except TypeError:  # not a string: fails when units move out of it
            terminal = None
        self._terminal[number] = terminal

    def _account(self, identifier: str) -> int:
        number = self._index.get(identifier)
        if number is None:
            raise ReplayError(f"account {identifier} was never opened in the ledger")
        return number

    def _issue(self, data: dict[str, Any]) -> None:
        info = data["issuance"]
        blocks = sorted(data["blocks"], key=lambda b: b["start"])
        start, end = blocks[0]["start"], blocks[0]["start"] + info["quantity"] - 1
        if self._issuances:
            last = self._issuances[-1]
            if start <= last.end:
                raise ReplayError(
                    f"issuance at serial {start} overlaps serials already issued (up to {last.end})"
                )
        issuance = _Issuance(start, end, info["project"], info["vintage"], info["unit_class"])
        rows = []
        cursor = start
        for block in blocks:
            if block["start"] != cursor or block["end"] < block["start"]:
                raise ReplayError(f"issuance blocks do not tile serials {start}-{end}")
            rows.append((block["start"], [block["end"], self._account(block["account"]), issuance]))
            cursor = block["end"] + 1
        if cursor != end + 1:
            raise ReplayError(f"issuance blocks do not add up to {info['quantity']} units")
        for block_start, row in rows:
            issuance.pending.append(block_start)
            self._blocks[block_start] = row
        self._issuance_starts.append(start)
        self._issuances.append(issuance)

    def _find_issuance(self, serial: int) -> _Issuance:
        i = bisect_right(self._issuance_starts, serial) - 1
        if i < 0 or self._issuances[i].end < serial:
            raise ReplayError(f"serial {serial} was never issued")
        return self._issuances[i]

    def _move(self, data: dict[str, Any]) -> None:
        index = self._index
        name = data["from"]
        source = index.get(name)
        if source is None:
            raise ReplayError(f"account {name} was never opened in the ledger")
        target = index.get(data["to"])
        if target is None:
            raise ReplayError(f"account {data['to']} was never opened in the ledger")
        terminal = self._terminal[source]
        if terminal is not False:
            if terminal is None:
                raise TypeError(f"account {name} has a type that is not a string")
            raise ReplayError(f"units moved out of terminal account {name}")
        moved = 0
        blocks = self._blocks
        for start, end in data["ranges"]:
            if end < start:
                raise ReplayError(f"empty range {start}-{end}")
            block = blocks.get(start)
            if block is not None:
                # The range starts a block: if that block holds all of it, in
                # the source, none of the checks below can fail.
                block_end, holder, issuance = block
                if holder == source and end <= block_end:
                    if end < block_end:  # the right remainder stays
                        blocks[end + 1] = [block_end, source, issuance]
                        issuance.pending.append(end + 1)
                        block[0] = end
                    block[1] = target
                    moved += end - start + 1
                    continue
            issuance = self._find_issuance(start)
            if end > issuance.end:
                raise ReplayError(f"range {start}-{end} crosses the end of an issuance")
            self._reassign(issuance, start, end, source, target, name)
            moved += end - start + 1
        if moved != data["quantity"]:
            raise ReplayError(f"ranges hold {moved} units but the entry says {data['quantity']}")

    def _reassign(
        self, issuance: _Issuance, start: int, end: int, source: int, target: int, name: str
    ) -> None:
        blocks = self._blocks
        starts = issuance.starts
        cursor = start
        while cursor <= end:
            i = bisect_right(starts, cursor) - 1
            block_start = starts[i]
            block = blocks[block_start]
            block_end, account, _ = block
            if block_end < cursor or account != source:
                raise ReplayError(f"serial {cursor} is not held in {name}")
            piece_end = min(end, block_end)
            if block_start < cursor:  # keep the left remainder where it was
                block[0] = cursor - 1
                i += 1
                starts.insert(i, cursor)
                blocks[cursor] = [piece_end, target, issuance]
            else:
                block[0] = piece_end
                block[1] = target
            if piece_end < block_end:  # and the right remainder
                starts.insert(i + 1, piece_end + 1)
                blocks[piece_end + 1] = [block_end, account, issuance]
            cursor = piece_end + 1

    def blocks(self):
        """Every block, in serial order: (start, end, account, project, vintage, unit class)."""
        names = self._names
        blocks = self._blocks
        for issuance in self._issuances:
            project, vintage, unit_class = issuance.project, issuance.vintage, issuance.unit_class
            for start in issuance.starts:
                end, owner, _ = blocks[start]
                yield (start, end, names[owner], project, vintage, unit_class)
