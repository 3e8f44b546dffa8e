"""The rows that decide who holds units, who may act, and what a certificate
says, replayed from the ledger and compared with the live tables.

Holdings are replayed by :mod:`tonne.ledger.replay`; this replays the rest:
organisations (status, accreditation), users (organisation, role, active,
root), accounts (type, owner, status) and every transaction the ledger moved
units for (kind, quantity, from, to, beneficiary, purpose, jurisdiction,
reason). The first divergence names the table, the row, the field, the
ledger's value (and the entry that set it) and the table's value.

Rows are read with SQL on the tables' names: the ledger sits below the apps
that own them and imports none of them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from django.db import connection

from tonne.ledger.verify_checks import Divergence

STATE_DIVERGES = "STATE_DIVERGES"

STATE_KINDS = (
    "organisation.applied",
    "organisation.status",
    "organisation.accreditation",
    "user.created",
    "user.changed",
    "account.opened",
    "account.status",
)
ENTRIES_SQL = (
    "SELECT seq, kind, body FROM ledger_ledgerentry WHERE kind IN ({kinds}) "
    "OR (kind LIKE 'units.%%' AND kind <> 'units.issued') ORDER BY seq"
)
ORGANISATIONS_SQL = "SELECT uid, status, accredited FROM organisations_organisation"
USERS_SQL = (
    "SELECT u.username, o.uid, u.role, u.is_active, u.is_superuser FROM organisations_user u "
    "LEFT JOIN organisations_organisation o ON o.id = u.organisation_id"
)
ACCOUNTS_SQL = (
    "SELECT a.identifier, a.type, o.uid, a.status FROM organisations_account a "
    "LEFT JOIN organisations_organisation o ON o.id = a.organisation_id"
)
TRANSACTIONS_SQL = (
    "SELECT t.identifier, t.kind, t.quantity, fa.identifier, ta.identifier, t.beneficiary, t.purpose, "
    "t.jurisdiction, t.reason FROM units_transaction t "
    "LEFT JOIN organisations_account fa ON fa.id = t.from_account_id "
    "LEFT JOIN organisations_account ta ON ta.id = t.to_account_id"
)
TRANSACTION_FIELDS = ("kind", "quantity", "from", "to", "beneficiary", "purpose", "jurisdiction", "reason")
ACCOUNT_OPEN = "open"
ORGANISATION_APPLIED = "applied"

# A field's value as the ledger states it, with the entry that stated it.
Stated = dict[str, tuple[Any, int]]


def _uid(value: Any) -> str | None:
    return None if value is None else str(uuid.UUID(str(value)))


class StateReplay:
    """The last value the ledger states for each field of each row."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Stated]] = {
            "organisations_organisation": {},
            "organisations_user": {},
            "organisations_account": {},
            "units_transaction": {},
        }

    def _set(self, table: str, row: str, seq: int, **fields: Any) -> None:
        stated = self.tables[table].setdefault(row, {})
        for name, value in fields.items():
            stated[name] = (value, seq)

    def apply(self, seq: int, kind: str, body: dict) -> None:
        data = body.get("data") or {}
        if kind in ("organisation.applied", "organisation.status"):
            self._set("organisations_organisation", _uid(data["organisation"]) or "", seq, status=data["status"])
            if kind == "organisation.applied":
                self._set("organisations_organisation", _uid(data["organisation"]) or "", seq, accredited=False)
        elif kind == "organisation.accreditation":
            self._set("organisations_organisation", _uid(data["organisation"]) or "", seq,
                      accredited=bool(data["accredited"]))
        elif kind == "user.created":
            fields = {"organisation": _uid(data.get("organisation")), "role": data["role"],
                      "root": bool(data.get("root"))}
            if "active" in data:  # stated since the ledger began recording it
                fields["active"] = bool(data["active"])
            self._set("organisations_user", data["username"], seq, **fields)
        elif kind == "user.changed":
            self._set("organisations_user", data["username"], seq, organisation=_uid(data.get("organisation")),
                      role=data["role"], active=bool(data["active"]))
        elif kind == "account.opened":
            self._set("organisations_account", data["account"], seq, type=data["type"],
                      organisation=_uid(data.get("organisation")), status=ACCOUNT_OPEN)
        elif kind == "account.status":
            self._set("organisations_account", data["account"], seq, status=data["to"])
        elif data.get("op") == "move" and body.get("transaction"):
            self._set("units_transaction", body["transaction"], seq, **{
                name: data.get(name, 0 if name == "quantity" else "") for name in TRANSACTION_FIELDS
            })

    def compare(self, table: str, live: Iterable[tuple[str, dict[str, Any]]], *, all_rows: bool) -> Divergence | None:
        """The first field where the live rows differ from the ledger. With
        ``all_rows``, a live row the ledger never stated is a divergence too."""
        stated = self.tables[table]
        seen = set()
        for row, values in sorted(live, key=lambda item: item[0]):
            seen.add(row)
            fields = stated.get(row)
            if fields is None:
                if all_rows:
                    return Divergence(STATE_DIVERGES, f"{table} row {row}: not in the ledger")
                continue
            for name, (value, seq) in sorted(fields.items()):
                if values[name] != value:
                    return Divergence(
                        STATE_DIVERGES,
                        f"{table} row {row} field {name}: the ledger states {value!r} (entry {seq}), "
                        f"the table holds {values[name]!r}",
                        seq,
                    )
        for row in sorted(set(stated) - seen):
            seq = min(seq for _value, seq in stated[row].values())
            return Divergence(STATE_DIVERGES, f"{table} row {row}: stated by the ledger but missing", seq)
        return None


def _rows(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def _live() -> dict[str, list[tuple[str, dict[str, Any]]]]:
    return {
        "organisations_organisation": [
            (_uid(uid) or "", {"status": status, "accredited": bool(accredited)})
            for uid, status, accredited in _rows(ORGANISATIONS_SQL)
        ],
        "organisations_user": [
            (username, {"organisation": _uid(org), "role": role, "active": bool(active), "root": bool(root)})
            for username, org, role, active, root in _rows(USERS_SQL)
        ],
        "organisations_account": [
            (identifier, {"type": kind, "organisation": _uid(org), "status": status})
            for identifier, kind, org, status in _rows(ACCOUNTS_SQL)
        ],
        "units_transaction": [
            (row[0], dict(zip(TRANSACTION_FIELDS, (*row[1:3], row[3] or "", row[4] or "", *row[5:]), strict=True)))
            for row in _rows(TRANSACTIONS_SQL)
        ],
    }


def check_state() -> Divergence | None:
    """Replay the state entries and compare them with the live tables."""
    replay = StateReplay()
    kinds = ", ".join(f"'{kind}'" for kind in STATE_KINDS)
    with connection.cursor() as cursor:
        cursor.execute(ENTRIES_SQL.format(kinds=kinds))
        while rows := cursor.fetchmany(2000):
            for seq, kind, body in rows:
                replay.apply(seq, kind, json.loads(body))
    live = _live()
    for table in ("organisations_organisation", "organisations_user", "organisations_account"):
        found = replay.compare(table, live[table], all_rows=True)
        if found is not None:
            return found
    # Transactions that moved nothing yet (proposed, refused) are not in the ledger.
    return replay.compare("units_transaction", live["units_transaction"], all_rows=False)
