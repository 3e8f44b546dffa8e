"""What a change of an authorisation takes back: units attached that its new
terms no longer cover (vintages narrowed, quantity or a vintage's quantity
lowered), never units already first-transferred. The units last attached
go first."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from tonne.article6.models import Authorisation, AuthorisedRange, FirstTransfer, Withdrawal
from tonne.core.errors import ValidationFailed

Piece = tuple[int, int, int]  # vintage, first serial, last serial


def subtract(start: int, end: int, holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """[start, end] without the serials of `holes`."""
    out, cursor = [], start
    for lo, hi in sorted(holes):
        if hi < cursor or lo > end:
            continue
        if lo > cursor:
            out.append((cursor, lo - 1))
        cursor = max(cursor, hi + 1)
    if cursor <= end:
        out.append((cursor, end))
    return out


def _size(pieces: list[Piece]) -> int:
    return sum(e - s + 1 for _, s, e in pieces)


def plan(authorisation: Authorisation, terms: dict[str, Any]) -> list[Piece]:
    """The pieces the new terms take back, or refused when units already
    first-transferred are more than the terms allow."""
    ranges = list(AuthorisedRange.objects.filter(authorisation=authorisation).order_by("serial_start"))
    firsts = list(FirstTransfer.objects.filter(authorisation=authorisation).values_list("serial_start", "serial_end"))
    gone = list(Withdrawal.objects.filter(authorisation=authorisation).values_list("serial_start", "serial_end"))
    first_by_vintage: dict[int, int] = defaultdict(int)
    open_: list[Piece] = []  # attached, not first-transferred, not withdrawn: what a change may take back
    for r in ranges:
        for s, e in subtract(r.serial_start, r.serial_end, firsts):
            open_ += [(r.vintage, a, b) for a, b in subtract(s, e, gone)]
        first_by_vintage[r.vintage] += sum(min(e, r.serial_end) - max(s, r.serial_start) + 1 for s, e in firsts
                                           if s <= r.serial_end and e >= r.serial_start)
    out = [p for p in open_ if not terms["vintage_from"] <= p[0] <= terms["vintage_to"]]
    kept = [p for p in open_ if p not in out]
    for vintage, cap in sorted(terms.get("vintage_quantities", {}).items()):
        mine = [p for p in kept if p[0] == int(vintage)]
        trimmed = _trim(mine, first_by_vintage[int(vintage)] + _size(mine) - cap, f"vintage {vintage}")
        out += trimmed
        holes = [(s, e) for _, s, e in trimmed]
        kept = [(v, a, b) for v, s, e in kept for a, b in subtract(s, e, holes)]
    excess = sum(first_by_vintage.values()) + _size(kept) - terms["quantity"]
    out += _trim(kept, excess, "all vintages")
    return _merged(out)


def _trim(pieces: list[Piece], excess: int, what: str) -> list[Piece]:
    """The last `excess` units of `pieces` (by serial)."""
    if excess <= 0:
        return []
    if excess > _size(pieces):
        raise ValidationFailed(
            "AUTHORISED_QUANTITY_BELOW_FIRST_TRANSFERRED",
            f"More units of {what} are first-transferred than the new quantity; those keep their status.",
            field="quantity",
        )
    out: list[Piece] = []
    for v, s, e in sorted(pieces, key=lambda p: p[1], reverse=True):
        take = min(excess, e - s + 1)
        out.append((v, e - take + 1, e))
        excess -= take
        if not excess:
            break
    return out


def _merged(pieces: list[Piece]) -> list[Piece]:
    out: list[Piece] = []
    for v, s, e in sorted(pieces, key=lambda p: p[1]):
        if out and out[-1][0] == v and out[-1][2] + 1 == s:
            out[-1] = (v, out[-1][1], e)
        else:
            out.append((v, s, e))
    return out


def withdrawn_not_first(authorisation: Authorisation, at: dt.datetime | None, vintage: int | None = None) -> int:
    """Units withdrawn (by `at`, or whenever if None) and not first-transferred."""
    qs = Withdrawal.objects.filter(authorisation=authorisation)
    if at is not None:
        qs = qs.filter(effective_from__lte=at)
    if vintage is not None:
        qs = qs.filter(vintage=vintage)
    firsts = list(FirstTransfer.objects.filter(authorisation=authorisation).values_list("serial_start", "serial_end"))
    return sum(e - s + 1 for w in qs for s, e in subtract(w.serial_start, w.serial_end, firsts))
