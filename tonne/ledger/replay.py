"""Rebuild every holding from the ledger alone (pure; no database).

Blocks are kept per issuance, since every range an entry moves lies inside one
issuance's allocation; that keeps each split cheap on very long ledgers.

The verifier replays every entry of the ledger through :meth:`Holdings.apply`,
so the common case (one range that lies inside one block) takes a short,
inlined path; anything else goes through the general :meth:`_reassign`, which
checks and splits block by block. Both paths make the same checks."""

from __future__ import annotations

from array import array
from bisect import bisect_right
from typing import Any

TERMINAL_TYPES = frozenset({"retirement", "cancellation", "omge", "export"})


class ReplayError(Exception):
    pass


class _Issuance:
    """One issuance's allocation: its blocks as parallel columns, sorted by
    start (starts/ends are packed arrays, so a search touches few cache lines
    even when the replay holds hundreds of thousands of blocks)."""

    __slots__ = ("start", "end", "project", "vintage", "unit_class", "starts", "ends", "owners")

    def __init__(self, start: int, end: int, project: str, vintage: int, unit_class: str) -> None:
        self.start = start
        self.end = end
        self.project = project
        self.vintage = vintage
        self.unit_class = unit_class
        self.starts = array("q")
        self.ends = array("q")
        self.owners: list[str] = []


class Holdings:
    __slots__ = ("account_types", "_issuance_starts", "_issuances", "_last")

    def __init__(self) -> None:
        self.account_types: dict[str, str] = {}
        self._issuance_starts = array("q")
        self._issuances: list[_Issuance] = []  # in the order of _issuance_starts
        # The issuance that the last range fell in: consecutive moves often
        # touch the same one, which saves the search over all issuances.
        self._last: _Issuance | None = None

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
        if self._issuances:
            last = self._issuances[-1]
            if start <= last.end:
                raise ReplayError(f"issuance at serial {start} overlaps serials already issued (up to {last.end})")
        issuance = _Issuance(start, end, info["project"], info["vintage"], info["unit_class"])
        cursor = start
        for block in blocks:
            if block["start"] != cursor or block["end"] < block["start"]:
                raise ReplayError(f"issuance blocks do not tile serials {start}-{end}")
            issuance.starts.append(block["start"])
            issuance.ends.append(block["end"])
            issuance.owners.append(self._account(block["account"]))
            cursor = block["end"] + 1
        if cursor != end + 1:
            raise ReplayError(f"issuance blocks do not add up to {info['quantity']} units")
        self._issuance_starts.append(start)
        self._issuances.append(issuance)

    def _find_issuance(self, serial: int) -> _Issuance:
        i = bisect_right(self._issuance_starts, serial) - 1
        if i < 0 or self._issuances[i].end < serial:
            raise ReplayError(f"serial {serial} was never issued")
        return self._issuances[i]

    def _move(self, data: dict[str, Any]) -> None:
        types = self.account_types
        source = data["from"]
        if source not in types:
            raise ReplayError(f"account {source} was never opened in the ledger")
        target = data["to"]
        if target not in types:
            raise ReplayError(f"account {target} was never opened in the ledger")
        if types[source] in TERMINAL_TYPES:
            raise ReplayError(f"units moved out of terminal account {source}")
        moved = 0
        last = self._last
        for start, end in data["ranges"]:
            if end < start:
                raise ReplayError(f"empty range {start}-{end}")
            # _find_issuance, with the last issuance as a guess: issuances are
            # disjoint and never removed, so a hit is the answer it would give.
            if last is None or start < last.start or last.end < start:
                last = self._find_issuance(start)
            if end > last.end:
                raise ReplayError(f"range {start}-{end} crosses the end of an issuance")
            starts = last.starts
            ends = last.ends
            owners = last.owners
            i = bisect_right(starts, start) - 1
            block_end = ends[i]
            if end <= block_end and owners[i] == source:
                # The whole range lies in one block held by the source (and
                # start >= its start, end >= start, so block_end >= start).
                if starts[i] < start:  # keep the left remainder where it was
                    ends[i] = start - 1
                    i += 1
                    starts.insert(i, start)
                    ends.insert(i, end)
                    owners.insert(i, target)
                else:
                    ends[i] = end
                    owners[i] = target
                if end < block_end:  # and the right remainder
                    i += 1
                    starts.insert(i, end + 1)
                    ends.insert(i, block_end)
                    owners.insert(i, source)
            else:
                self._reassign(last, start, end, source, target)
            moved += end - start + 1
        self._last = last
        if moved != data["quantity"]:
            raise ReplayError(f"ranges hold {moved} units but the entry says {data['quantity']}")

    @staticmethod
    def _reassign(issuance: _Issuance, start: int, end: int, source: str, target: str) -> None:
        starts, ends, owners = issuance.starts, issuance.ends, issuance.owners
        cursor = start
        while cursor <= end:
            i = bisect_right(starts, cursor) - 1
            block_start, block_end, account = starts[i], ends[i], owners[i]
            if block_end < cursor or account != source:
                raise ReplayError(f"serial {cursor} is not held in {source}")
            piece_end = min(end, block_end)
            if block_start < cursor:  # keep the left remainder where it was
                ends[i] = cursor - 1
                i += 1
                starts.insert(i, cursor)
                ends.insert(i, piece_end)
                owners.insert(i, target)
            else:
                ends[i] = piece_end
                owners[i] = target
            if piece_end < block_end:  # and the right remainder
                starts.insert(i + 1, piece_end + 1)
                ends.insert(i + 1, block_end)
                owners.insert(i + 1, account)
            cursor = piece_end + 1

    def blocks(self):
        """Every block, in serial order: (start, end, account, project, vintage, unit class)."""
        for issuance in self._issuances:
            project, vintage, unit_class = issuance.project, issuance.vintage, issuance.unit_class
            for start, end, account in zip(issuance.starts, issuance.ends, issuance.owners):
                yield (start, end, account, project, vintage, unit_class)
