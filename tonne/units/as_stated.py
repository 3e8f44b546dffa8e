"""What a certificate, a public page or an API answer states about a
transaction, held to the ledger entry that moved its units.

The pages render the live rows (they name accounts, projects and serials in
full, which the public entries commit to or leave to other entries), but
only after checking that the row states what its entry states: kind,
quantity, accounts, beneficiary, purpose, jurisdiction, reason, compliance
period, using entity, on behalf of, serial ranges, completion time, and the
project, vintage and issuance of every serial (from the entry of the
issuance). A row edited behind the ledger is refused with
TRANSACTION_NOT_AS_STATED, rather than shown, or shown "corrected": a forged
certificate must be seen as an incident, and `tonne ledger verify` names the
field.

A few queries per answer, whatever the number of transactions in it (an
export is checked in batches of CHUNK before its first row is sent)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet

from tonne.core.errors import Conflict
from tonne.ledger.commitments import ACCOUNT
from tonne.ledger.models import LedgerEntry
from tonne.ledger.openings import ledger_name
from tonne.ledger.state import TRANSACTION_FIELDS
from tonne.organisations.models import Account
from tonne.units.models import Issuance, Transaction, TransactionBlock

NOT_AS_STATED = "TRANSACTION_NOT_AS_STATED"
CHUNK = 2000
# The row's completion and its entry are stamped in one database transaction, by two reads of the clock.
CLOCK_SLACK = dt.timedelta(seconds=60)
_ISSUANCE_FIELDS = {"project": "project__project_id", "project_number": "project__number", "host": "project__host_party",
                    "scope": "project__sectoral_scope", "number": "number", "vintage": "vintage",
                    "unit_class": "unit_class"}


def require_as_stated(txns: Sequence[Transaction]) -> None:
    """Refuse (TRANSACTION_NOT_AS_STATED) if any completed transaction's row
    differs from its ledger entry."""
    found = divergences(txns)
    if found:
        identifier, what = next(iter(found.items()))
        raise Conflict(NOT_AS_STATED, f"Transaction {identifier} differs from what the ledger states ({what}); "
                                      "the registry does not state it until this is investigated.",
                       details={"transaction": identifier, "field": what})


def require_all_as_stated(txns: QuerySet[Transaction]) -> None:
    """require_as_stated for every transaction of a query, CHUNK at a time
    (a whole register or CAD Trust document, not loaded at once)."""
    batch: list[Transaction] = []
    for txn in txns.filter(status=Transaction.Status.COMPLETED).order_by("pk").iterator(chunk_size=CHUNK):
        batch.append(txn)
        if len(batch) == CHUNK:
            require_as_stated(batch)
            batch = []
    require_as_stated(batch)


def divergences(txns: Sequence[Transaction]) -> dict[str, str]:
    """identifier -> the first field that differs, for each completed transaction."""
    done = [t for t in txns if t.status == Transaction.Status.COMPLETED]
    if not done:
        return {}
    entries = _bodies([t.ledger_seq for t in done if t.ledger_seq is not None])
    blocks: dict[int, list[tuple[int, int, int]]] = {t.pk: [] for t in done}
    for txn_id, start, end, issuance_id in TransactionBlock.objects.filter(
        transaction_id__in=list(blocks)
    ).order_by("transaction_id", "serial_start").values_list("transaction_id", "serial_start", "serial_end",
                                                             "issuance_id"):
        blocks[txn_id].append((start, end, issuance_id))
    issuances = _issuances({i for rows in blocks.values() for _s, _e, i in rows})
    accounts = {pk for t in done for pk in (t.from_account_id, t.to_account_id) if pk is not None}
    names = dict(Account.objects.filter(pk__in=accounts).values_list("pk", "identifier"))
    found = {}
    for txn in done:
        what = _differs(txn, entries.get(txn.ledger_seq) if txn.ledger_seq is not None else None,
                        blocks[txn.pk], issuances, names)
        if what is not None:
            found[txn.identifier] = what
    return found


def _bodies(seqs: Sequence[int]) -> dict[int, dict[str, Any]]:
    return {seq: json.loads(body) for seq, body in LedgerEntry.objects.filter(seq__in=seqs).values_list("seq", "body")}


def _issuances(ids: set[int]) -> dict[int, tuple[dict[str, Any], dict[str, Any] | None]]:
    """issuance pk -> (its row as its entry would state it, with its serials;
    the entry that issued it, if found)."""
    rows = {row["pk"]: row for row in Issuance.objects.filter(pk__in=ids).values(
        "pk", "uid", "serial_start", "serial_end", "project_id", *_ISSUANCE_FIELDS.values())}
    # Each transaction of an issuance records the issuance's entry; the entry names the issuance.
    seqs: dict[int, int] = {issuance: seq for issuance, seq in Transaction.objects.filter(
        issuance_id__in=ids, ledger_seq__isnull=False).values_list("issuance_id", "ledger_seq") if seq is not None}
    bodies = _bodies(list(seqs.values()))
    out = {}
    for pk, row in rows.items():
        body = bodies.get(seqs.get(pk, -1))
        stated = ((body or {}).get("data") or {}).get("issuance") or {}
        out[pk] = (row, body if stated.get("uid") == str(row["uid"]) else None)
    return out


def _differs(txn: Transaction, body: dict[str, Any] | None, blocks: list[tuple[int, int, int]],
             issuances: dict[int, tuple[dict[str, Any], dict[str, Any] | None]], names: dict[int, str]) -> str | None:
    if body is None:
        return "no ledger entry"
    data = body.get("data") or {}
    if data.get("op") == "move":
        if body.get("transaction") != txn.identifier:
            return "ledger_seq"
        stated = {name: data.get(name, 0 if name == "quantity" else "") for name in TRANSACTION_FIELDS}
        ranges = [tuple(r) for r in data.get("ranges") or []]
    else:
        mine = [b for b in data.get("blocks") or [] if b.get("transaction") == txn.identifier]
        if len(mine) != 1:
            return "ledger_seq"
        block = mine[0]
        # An issuance's block states what it placed; a retirement at issuance, its certificate's fields too.
        retired = txn.kind == Transaction.Kind.RETIREMENT
        stated = {name: block.get(name, "") for name in TRANSACTION_FIELDS if retired or name in block}
        stated.update(quantity=block["end"] - block["start"] + 1, to=block["account"], **{"from": ""})
        ranges = [(block["start"], block["end"])]
    clear = body.get("v", 1) < 2  # before version 2, entries named accounts in the clear

    def account(pk: int | None) -> str:
        identifier = names.get(pk) if pk is not None else None
        if identifier is None:
            return ""
        return identifier if clear else ledger_name(ACCOUNT, identifier)

    live = {name: getattr(txn, name, "") for name in TRANSACTION_FIELDS if name not in ("from", "to")}
    live.update({"from": account(txn.from_account_id), "to": account(txn.to_account_id)})
    for name in TRANSACTION_FIELDS:
        if name in stated and live[name] != stated[name]:
            return name
    if [(start, end) for start, end, _i in blocks] != sorted(ranges):
        return "serials"
    at = dt.datetime.fromisoformat(body["at"])
    if txn.completed_at is None or abs(txn.completed_at - at) > CLOCK_SLACK:
        return "completed_at"
    projects = set()
    for start, end, issuance_id in blocks:
        row, issued = issuances[issuance_id]
        projects.add(row["project_id"])
        what = _issuance_differs(row, issued, start, end)
        if what is not None:
            return what
    if txn.project_id is not None and {txn.project_id} != projects:
        return "project"
    return None


def _issuance_differs(row: dict[str, Any], issued: dict[str, Any] | None, start: int, end: int) -> str | None:
    """Does a block's issuance (project, vintage, serial prefix) differ from its entry's?"""
    if issued is None:
        return "issuance"
    info = issued["data"]["issuance"]
    for name, column in _ISSUANCE_FIELDS.items():
        if name in info and info[name] != row[column]:
            return f"issuance {name}"
    spans = [(b["start"], b["end"]) for b in issued["data"].get("blocks") or []]
    if not spans or not min(s for s, _e in spans) <= start <= end <= max(e for _s, e in spans):
        return "serials"
    return None
