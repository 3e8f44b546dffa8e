"""Rebuild every holding from the ledger alone (pure; no database).

Blocks are kept per issuance, since every range an entry moves lies inside one
issuance's allocation; that keeps each split cheap on very long ledgers."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

TERMINAL_TYPES = frozenset({"retirement", "cancellation", "omge", "export"})


class ReplayError(Exception):
    pass


@dataclass
class _Issuance:
    start: int
    end: int
    project: str
    vintage: int
    unit_class: str
    starts: list[int] = field(default_factory=list)
    blocks: dict[int, list[Any]] = field(default_factory=dict)  # start -> [end, account]


class Holdings:
    def __init__(self) -> None:
        self.account_types: dict[str, str] = {}
        self._issuance_starts: list[int] = []
        self._issuances: dict[int, _Issuance] = {}

    def apply(self, entry: dict[str, Any]) -> None:
        kind = entry["kind"]
        data = entry["data"]
        if kind == "account.opened":
            self.account_types[data["account"]] = data["type"]
        elif kind == "units.issued":
            self._issue(data)
        elif kind.startswith("units."):
            self._move(data)

    def _account(self, identifier: str) -> str:
        if identifier not in self.account_types:
            raise ReplayError(f"account {identifier} was never opened in the ledger")
        return identifier

    def _issue(self, data: dict[str, Any]) -> None:
        info = data["issuance"]
        blocks = sorted(data["blocks"], key=lambda b: b["start"])
        start, end = blocks[0]["start"], blocks[0]["start"] + info["quantity"] - 1
        if self._issuance_starts:
            last = self._issuances[self._issuance_starts[-1]]
            if start <= last.end:
                raise ReplayError(f"issuance at serial {start} overlaps serials already issued (up to {last.end})")
        issuance = _Issuance(start, end, info["project"], info["vintage"], info["unit_class"])
        cursor = start
        for block in blocks:
            if block["start"] != cursor or block["end"] < block["start"]:
                raise ReplayError(f"issuance blocks do not tile serials {start}-{end}")
            issuance.starts.append(block["start"])
            issuance.blocks[block["start"]] = [block["end"], self._account(block["account"])]
            cursor = block["end"] + 1
        if cursor != end + 1:
            raise ReplayError(f"issuance blocks do not add up to {info['quantity']} units")
        self._issuance_starts.append(start)
        self._issuances[start] = issuance

    def _find_issuance(self, serial: int) -> _Issuance:
        i = bisect.bisect_right(self._issuance_starts, serial) - 1
        if i < 0 or self._issuances[self._issuance_starts[i]].end < serial:
            raise ReplayError(f"serial {serial} was never issued")
        return self._issuances[self._issuance_starts[i]]

    def _move(self, data: dict[str, Any]) -> None:
        source, target = self._account(data["from"]), self._account(data["to"])
        if self.account_types[source] in TERMINAL_TYPES:
            raise ReplayError(f"units moved out of terminal account {source}")
        moved = 0
        for start, end in data["ranges"]:
            if end < start:
                raise ReplayError(f"empty range {start}-{end}")
            issuance = self._find_issuance(start)
            if end > issuance.end:
                raise ReplayError(f"range {start}-{end} crosses the end of an issuance")
            self._reassign(issuance, start, end, source, target)
            moved += end - start + 1
        if moved != data["quantity"]:
            raise ReplayError(f"ranges hold {moved} units but the entry says {data['quantity']}")

    @staticmethod
    def _reassign(issuance: _Issuance, start: int, end: int, source: str, target: str) -> None:
        cursor = start
        while cursor <= end:
            i = bisect.bisect_right(issuance.starts, cursor) - 1
            block_start = issuance.starts[i]
            block_end, account = issuance.blocks[block_start]
            if block_end < cursor or account != source:
                raise ReplayError(f"serial {cursor} is not held in {source}")
            piece_end = min(end, block_end)
            if block_start < cursor:  # keep the left remainder where it was
                issuance.blocks[block_start] = [cursor - 1, account]
                bisect.insort(issuance.starts, cursor)
            issuance.blocks[cursor] = [piece_end, target]
            if piece_end < block_end:  # and the right remainder
                bisect.insort(issuance.starts, piece_end + 1)
                issuance.blocks[piece_end + 1] = [block_end, account]
            cursor = piece_end + 1

    def blocks(self):
        """Every block, in serial order: (start, end, account, project, vintage, unit class)."""
        for issuance_start in self._issuance_starts:
            issuance = self._issuances[issuance_start]
            for start in issuance.starts:
                end, account = issuance.blocks[start]
                yield (start, end, account, issuance.project, issuance.vintage, issuance.unit_class)
