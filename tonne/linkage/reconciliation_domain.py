"""The comparison of two registries' statements (docs/linkage.md §3.6),
pure: no database. Each statement lists, from its author's side, the
transfers it sent to the other (`proposed`, `completing`, `completed`) and
those it received from it (`completed`), each with its serial ranges in the
sending registry's numbering. Both statements describe the same flows: a
flow is one transfer id in one direction, with what its sender says and
what its receiver says."""

from __future__ import annotations

from dataclasses import dataclass

SENT_STATES = ("proposed", "completing", "completed")
RECEIVED_STATES = ("completed",)

# Why two accounts of a flow disagree (the codes a mismatch carries).
TRANSFER_UNKNOWN = "RECON_TRANSFER_UNKNOWN"  # received on one side, never sent on the other
RECEIVED_IN_TRANSIT = "RECON_RECEIVED_IN_TRANSIT"  # received there, still at home here: live in two places
NOT_RECEIVED = "RECON_NOT_RECEIVED"  # completed by the sender, not received
RANGES_DIFFER = "RECON_RANGES_DIFFER"  # both say completed, not of the same serials or quantity
CODES = (TRANSFER_UNKNOWN, RECEIVED_IN_TRANSIT, NOT_RECEIVED, RANGES_DIFFER)

Ranges = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Line:
    """One transfer in a statement, from its author's side."""

    transfer: str
    direction: str  # "sent" (by the statement's author) or "received"
    state: str
    ranges: Ranges

    @property
    def quantity(self) -> int:
        return sum(e - s + 1 for s, e in self.ranges)


@dataclass(frozen=True)
class Found:
    """A flow the two statements disagree on. `ours_sent`: this registry
    sent it (its serials are ours); else the partner did (its serials)."""

    transfer: str
    code: str
    ours_sent: bool
    ours: Line | None
    theirs: Line | None

    def ranges(self) -> Ranges:
        """Every serial either side names for it, merged (in the sender's numbering)."""
        both = [r for line in (self.ours, self.theirs) if line is not None for r in line.ranges]
        return merge(both)

    def detail(self) -> dict[str, object]:
        def said(line: Line | None) -> dict[str, object] | None:
            if line is None:
                return None
            return {"direction": line.direction, "state": line.state, "ranges": [list(r) for r in line.ranges],
                    "quantity": line.quantity}
        return {"ours_sent": self.ours_sent, "ours": said(self.ours), "theirs": said(self.theirs)}


def merge(ranges: list[tuple[int, int]]) -> Ranges:
    merged: list[tuple[int, int]] = []
    for s, e in sorted(ranges):
        if merged and s <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return tuple(merged)


def _judge(sender: Line | None, receiver: Line | None) -> str | None:
    if receiver is None:
        # Still proposed or completing: the protocol has not finished; not a difference yet.
        return NOT_RECEIVED if sender is not None and sender.state == "completed" else None
    if sender is None:
        return TRANSFER_UNKNOWN
    if sender.state == "proposed":
        return RECEIVED_IN_TRANSIT
    # completing: the receiver created them and the sender has not taken the answer yet
    return RANGES_DIFFER if merge(list(sender.ranges)) != merge(list(receiver.ranges)) else None


def compare(ours: list[Line], theirs: list[Line]) -> list[Found]:
    """Every flow the two statements disagree on, in transfer order."""
    flows: dict[tuple[str, bool], dict[str, Line]] = {}
    for line in ours:
        flows.setdefault((line.transfer, line.direction == "sent"), {})["ours"] = line
    for line in theirs:
        flows.setdefault((line.transfer, line.direction == "received"), {})["theirs"] = line
    found = []
    for (transfer, ours_sent), said in sorted(flows.items()):
        mine, other = said.get("ours"), said.get("theirs")
        sender, receiver = (mine, other) if ours_sent else (other, mine)
        code = _judge(sender, receiver)
        if code is not None:
            found.append(Found(transfer, code, ours_sent, mine, other))
    return found
