"""Consistency checks across Parties, written from the decisions (2/CMA.3
annex I, 6/CMA.4) and not from the registry's own first-transfer rule: they
read only AEF action and holdings rows, as a technical expert review would.

- Each unit's actions follow the state machine of an ITMO: authorised, first
  transferred, then transferred (or acquired by the next Party), used or
  cancelled; a unit whose authorisation is withdrawn before its first
  transfer leaves Article 6.
- Year-end holdings = authorisations + acquisitions - transfers - uses -
  cancellations - withdrawals, per authorisation and vintage.
- A first transfer precedes any international transfer or use (the state
  machine says so), and its adjustment names the Party that then acquires
  or uses the unit, or none.
- `reconcile` compares two Parties' AEFs: every transfer from one to the
  other has the matching acquisition, with the same ITMOs, quantity and
  authorisation, not dated before it."""

from __future__ import annotations

import io
import json
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from tonne.core.errors import ValidationFailed

# (state, action) -> next state. None: the unit is not in this registry yet.
TRANSITIONS: dict[tuple[str | None, str], str] = {
    (None, "Authorization"): "authorised",
    (None, "Acquisition"): "held",  # first-transferred by the Party it comes from
    ("transferred", "Acquisition"): "held",  # back again from another Party
    ("withdrawn", "Authorization"): "authorised",
    ("authorised", "First Transfer"): "first_transferred",
    ("authorised", "Revocation"): "withdrawn",
    ("first_transferred", "Transfer"): "transferred",
    ("first_transferred", "Use"): "used",
    ("first_transferred", "Cancellation"): "used",
    ("held", "Transfer"): "transferred",
    ("held", "Use"): "used",
    ("held", "Cancellation"): "used",
}
INFLOW = ("Authorization", "Acquisition")
OUTFLOW = ("Transfer", "Use", "Cancellation", "Revocation")


def _action(row: dict[str, Any]) -> str:
    # Units withdrawn from the authorisation (revoked, or a change no longer covers them).
    withdrawn = row["type"] == "Authorization" and row.get("subtype") in ("Revocation", "Change")
    return "Revocation" if withdrawn else str(row["type"])


def parse_itmo(identifier: str) -> tuple[tuple[str, str, str, int], int, int]:
    """(approach, registry, first transferring Party, vintage), first and last serial."""
    approach, registry, party, serials, vintage = str(identifier).split(":")
    low, _, high = serials.partition("-")
    return (approach, registry, party, int(vintage)), int(low), int(high or low)


def units_of(row: dict[str, Any]) -> tuple[tuple[str, str, str, int], int, int]:
    key, first, _ = parse_itmo(row["itmo_first_id"])
    key2, _, last = parse_itmo(row["itmo_last_id"])
    if key2 != key or last < first:
        raise ValueError(f"ITMO range {row['itmo_first_id']} - {row['itmo_last_id']}")
    return key, first, last


def _finding(code: str, detail: str, **where: Any) -> dict[str, Any]:
    return {"code": code, "detail": detail, **where}


def _pieces(rows: list[tuple[int, dict[str, Any], int, int]]) -> list[tuple[int, int]]:
    """Elementary serial ranges of one ITMO key: no row starts or ends inside one."""
    cuts = sorted({c for _, _, lo, hi in rows for c in (lo, hi + 1)})
    return list(zip(cuts, [c - 1 for c in cuts[1:]], strict=False))


def sequences(actions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every unit's actions, in order, checked against the state machine, and
    every adjustment against what follows its first transfer."""
    by_key: dict[tuple[str, str, str, int], list[tuple[int, dict[str, Any], int, int]]] = defaultdict(list)
    out: list[dict[str, Any]] = []
    for n, row in enumerate(actions):
        try:
            key, lo, hi = units_of(row)
        except (ValueError, KeyError):
            out.append(_finding("A6_ITMO_INVALID", f"row {n}: not an ITMO range", row=n))
            continue
        by_key[key].append((n, row, lo, hi))
    for key, rows in sorted(by_key.items()):
        for lo, hi in _pieces(rows):
            here = [(n, row) for n, row, a, b in rows if a <= lo and hi <= b]
            out += _walk(key, lo, hi, here)
    return out


def _walk(key: tuple[str, str, str, int], lo: int, hi: int, rows: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    out = []
    state: str | None = None
    where = {"itmo": f"{key[0]}:{key[1]}:{key[2]}:{lo}-{hi}:{key[3]}"}
    for i, (n, row) in enumerate(rows):
        action = _action(row)
        following = TRANSITIONS.get((state, action))
        if following is None:
            out.append(_finding("A6_SEQUENCE_INVALID", f"{action} of a unit {state or 'not in this registry'}",
                                row=n, **where))
            return out
        if action == "First Transfer":
            out += _adjustment(row, rows[i + 1][1] if i + 1 < len(rows) else None, n, where)
        state = following
    return out


def _adjustment(first: dict[str, Any], nxt: dict[str, Any] | None, n: int, where: dict[str, str]) -> list[dict[str, Any]]:
    """A first transfer that names a Party: the next action is that Party's
    acquisition (a transfer to it) or its use."""
    party = first.get("acquiring_party_id") or ""
    if not party:
        return []
    if nxt is not None and _action(nxt) == "Transfer" and nxt.get("acquiring_party_id") == party:
        return []
    if nxt is not None and _action(nxt) == "Use" and nxt.get("using_participating_party_id") == party:
        return []
    return [_finding("A6_ADJUSTMENT_PARTY", f"the adjustment names {party}, which neither acquired nor used the unit",
                     row=n, **where)]


def balances(history: Iterable[dict[str, Any]], holdings: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Holdings at year end against the actions to year end, per authorisation and vintage."""
    flows: dict[tuple[str, int], int] = defaultdict(int)
    for row in history:
        action = _action(row)
        sign = 1 if action in INFLOW else -1 if action in OUTFLOW else 0
        flows[(row["authorization_id"], int(row["vintage_year"]))] += sign * int(row["quantity_t_co2"])
    held: dict[tuple[str, int], int] = defaultdict(int)
    for row in holdings:
        held[(row["authorization_id"], int(row["vintage_year"]))] += int(row["quantity_t_co2"])
    return [
        _finding("A6_HOLDINGS_UNBALANCED", f"{a} vintage {v}: holdings {held.get((a, v), 0)}, actions {flows.get((a, v), 0)}",
                 authorization=a, vintage=v)
        for a, v in sorted(set(flows) | set(held)) if flows.get((a, v), 0) != held.get((a, v), 0)
    ]


# -- reconciling two Parties' AEFs -------------------------------------------------------

COMPARED = ("itmo_last_id", "quantity_t_co2", "authorization_id", "cooperative_approach_id", "vintage_year",
            "first_transferring_party_id")


def reconcile(ours: dict[str, Any], theirs: dict[str, Any]) -> list[dict[str, Any]]:
    """Every mismatch between this Party's AEF (`ours`) and another Party's
    (`theirs`), both {"party", "tables": {"actions": [...]}} as the AEF export
    writes them. Stable codes: RECONCILE_ACQUISITION_MISSING (a transfer
    without the matching acquisition), RECONCILE_TRANSFER_MISSING (an
    acquisition without the matching transfer), RECONCILE_QUANTITY,
    RECONCILE_IDENTIFIER (ITMOs, authorisation, approach, vintage), RECONCILE_DATE."""
    out: list[dict[str, Any]] = []
    for sender, receiver in ((theirs, ours), (ours, theirs)):
        out += _one_way(sender, receiver)
    return out


def _one_way(sender: dict[str, Any], receiver: dict[str, Any]) -> list[dict[str, Any]]:
    to, frm = receiver["party"], sender["party"]
    sent = [r for r in sender["tables"]["actions"] if r["type"] == "Transfer" and r.get("acquiring_party_id") == to]
    got = [r for r in receiver["tables"]["actions"]
           if r["type"] == "Acquisition" and r.get("transferring_party_id") == frm]
    out = []
    matched: set[int] = set()
    for row in sent:
        where = {"from": frm, "to": to, "itmo": row["itmo_first_id"], "date": row["date"]}
        same = [i for i, r in enumerate(got) if r["itmo_first_id"] == row["itmo_first_id"] and i not in matched]
        overlapping = same or [i for i, r in enumerate(got) if i not in matched and _overlap(r, row)]
        if not overlapping:
            out.append(_finding("RECONCILE_ACQUISITION_MISSING",
                                f"{frm} transferred {row['quantity_t_co2']} to {to}, which records no acquisition", **where))
            continue
        i = overlapping[0]
        matched.add(i)
        mine = got[i]
        for name in COMPARED:
            if str(mine.get(name, "")) != str(row.get(name, "")):
                code = "RECONCILE_QUANTITY" if name == "quantity_t_co2" else "RECONCILE_IDENTIFIER"
                out.append(_finding(code, f"{name}: {frm} says {row.get(name)}, {to} says {mine.get(name)}", **where))
        if str(mine["itmo_first_id"]) != str(row["itmo_first_id"]):
            out.append(_finding("RECONCILE_IDENTIFIER", f"itmo_first_id: {frm} says {row['itmo_first_id']}, "
                                f"{to} says {mine['itmo_first_id']}", **where))
        if str(mine["date"]) < str(row["date"]):
            out.append(_finding("RECONCILE_DATE", f"acquired {mine['date']}, before the transfer {row['date']}", **where))
    for i, r in enumerate(got):
        if i not in matched:
            out.append(_finding("RECONCILE_TRANSFER_MISSING", f"{to} acquired {r['quantity_t_co2']} from {frm}, "
                                "which records no such transfer", **{"from": frm, "to": to, "itmo": r["itmo_first_id"],
                                                                     "date": r["date"]}))
    return out


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    try:
        ka, la, ha = units_of(a)
        kb, lb, hb = units_of(b)
    except (ValueError, KeyError):
        return False
    return ka == kb and la <= hb and lb <= ha


def read_aef(name: str, content: bytes, titles: dict[str, str]) -> dict[str, Any]:
    """Another Party's AEF, JSON or xlsx; refused with a clear code if it is neither."""
    try:
        if name.lower().endswith(".xlsx"):
            report = read_xlsx(content, titles)
        else:
            report = json.loads(content)
            report = {"party": report["party"], "year": report["year"],
                      "tables": {"actions": report["tables"]["actions"], "holdings": report["tables"]["holdings"]}}
    except (ValueError, KeyError, TypeError, zipfile.BadZipFile, RecursionError) as exc:
        raise ValidationFailed("AEF_FILE_INVALID", f"Not an AEF report as Tonne writes it: {exc}") from None
    if not isinstance(report["year"], int) or not isinstance(report["party"], str) or not report["party"]:
        raise ValidationFailed("AEF_FILE_INVALID", "The AEF names no Party or reporting year.")
    for row in report["tables"]["actions"]:
        if not isinstance(row, dict) or not {"type", "itmo_first_id", "itmo_last_id", "date"} <= set(row):
            raise ValidationFailed("AEF_FILE_INVALID", "An action row lacks its type, ITMOs or date.")
    return report


def read_xlsx(content: bytes, titles: dict[str, str]) -> dict[str, Any]:
    """An AEF workbook as the AEF export writes it (one sheet per table,
    column titles as `titles` maps them back to field names)."""
    # import here: a large library, loaded for spreadsheet reading only
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    tables: dict[str, list[dict[str, Any]]] = {}
    for name in ("submission", "actions", "holdings"):
        if name not in book.sheetnames:
            continue
        rows = list(book[name].iter_rows(values_only=True))
        if not rows:
            tables[name] = []
            continue
        fields = [titles.get(str(h), str(h)) for h in rows[0]]
        tables[name] = [{f: ("" if v is None else v) for f, v in zip(fields, r, strict=False)} for r in rows[1:]]
    sub = (tables.get("submission") or [{}])[0]
    return {"party": sub.get("party", ""), "year": sub.get("report_year"), "tables": tables}
