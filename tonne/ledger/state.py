"""The rows that decide who holds units, who may act, and what a certificate
says, replayed from the ledger and compared with the live tables.

Holdings are replayed by :mod:`tonne.ledger.replay`; this replays the rest:
organisations (status, accreditation, acting for clients), users (organisation, role, active,
root), accounts (type, owner, status), controls (freezes, limits, trusted
accounts, the kill switch), documents (file name, size, hash), the
decisions of :mod:`tonne.ledger.state_decisions` (holds, approvals, KYC,
trusted destinations), and every transaction the ledger moved units for (kind, quantity, from, to, beneficiary, purpose, jurisdiction,
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

from tonne.ledger import commitments, openings, state_decisions
from tonne.ledger.verify_checks import Divergence

STATE_DIVERGES = "STATE_DIVERGES"
# An entry commits to a value the registry cannot open (opening gone or altered).
OPENING_MISSING = "LEDGER_OPENING_INVALID"

STATE_KINDS = (
    "organisation.applied",
    "organisation.status",
    "organisation.accreditation",
    "organisation.acts_for_clients",
    "user.created",
    "user.changed",
    "account.opened",
    "account.status",
    "control.trusted_added",
    "control.trusted_removed",
    "control.limits",
    "control.freeze",
    "control.freeze_lifted",
    "control.transfers",
    "document.uploaded",
    *state_decisions.KINDS,
)
ENTRIES_SQL = (
    "SELECT seq, kind, body FROM ledger_ledgerentry WHERE kind IN ({kinds}) "
    "OR (kind LIKE 'units.%%' AND kind <> 'units.issued') ORDER BY seq"
)
STATE_ENTRIES_SQL = "SELECT seq, kind, body FROM ledger_ledgerentry WHERE kind IN ({kinds}) ORDER BY seq"
# On PostgreSQL, one set-based pass: does every move entry state exactly what
# its transaction row holds? From the row, the SQL writes the entry's data as
# the services write it, in canonical JSON (sorted keys; optional text fields
# present when not empty), up to the serial ranges and after them, and looks
# for both pieces, and for the transaction's identifier, in the body. The
# ranges themselves are the holdings replay's to check. Anything that does
# not match sends the comparison to the replay, which names the divergence,
# or finds the entry superseded by a later one.
def _optional(name: str, before: str = "", after: str = ",") -> str:
    return f"CASE WHEN t.{name} <> '' THEN '{before}\"{name}\":' || to_json(t.{name})::text || '{after}' ELSE '' END"


MOVES_DIFFER_SQL = f"""
WITH names(id, name) AS (SELECT * FROM unnest(%s::bigint[], %s::text[]))
SELECT min(e.seq) FROM (
    SELECT e.seq FROM ledger_ledgerentry e
    LEFT JOIN units_transaction t ON t.ledger_seq = e.seq
    LEFT JOIN names fa ON fa.id = t.from_account_id
    LEFT JOIN names ta ON ta.id = t.to_account_id
    WHERE e.kind LIKE 'units.%%' AND e.kind <> 'units.issued' AND NOT COALESCE(
        strpos(e.body, '"data":{{' || {_optional("beneficiary")} || '"from":"' || COALESCE(fa.name, '') || '",'
            || {_optional("jurisdiction")} || '"kind":' || to_json(t.kind)::text || ',"op":"move",'
            || {_optional("purpose")} || '"quantity":' || t.quantity::text || ',"ranges":[[') > 0
        AND strpos(e.body, ']]' || {_optional("reason", before=",", after="")} || ',"to":"'
            || COALESCE(ta.name, '') || '"}},"kind":') > 0
        AND strpos(e.body, '"transaction":' || to_json(t.identifier)::text || ',"v":') > 0,
        false)
) e"""  # noqa: S608 (fixed column names; values bound)
ORGANISATIONS_SQL = "SELECT uid, status, accredited, acts_for_clients FROM organisations_organisation"
USERS_SQL = (
    "SELECT u.username, o.uid, u.role, u.is_active, u.is_superuser, u.in_force_from FROM organisations_user u "
    "LEFT JOIN organisations_organisation o ON o.id = u.organisation_id"
)
ACCOUNTS_SQL = (
    "SELECT a.identifier, a.type, o.uid, a.status FROM organisations_account a "
    "LEFT JOIN organisations_organisation o ON o.id = a.organisation_id"
)
TRANSACTIONS_SQL = (
    "SELECT t.identifier, t.kind, t.quantity, fa.identifier, ta.identifier, t.beneficiary, t.purpose, "
    "t.jurisdiction, t.reason, t.compliance_period, t.using_entity, t.on_behalf_of FROM units_transaction t "
    "LEFT JOIN organisations_account fa ON fa.id = t.from_account_id "
    "LEFT JOIN organisations_account ta ON ta.id = t.to_account_id"
)
FREEZES_SQL = (
    "SELECT f.uid, f.scope, a.identifier, p.project_id, f.serial_start, f.serial_end, f.lifted_at IS NOT NULL "
    "FROM controls_freeze f LEFT JOIN organisations_account a ON a.id = f.account_id "
    "LEFT JOIN projects_project p ON p.id = f.project_id"
)
LIMITS_SQL = (
    "SELECT a.identifier, l.per_transfer, l.per_day FROM controls_accountlimit l "
    "JOIN organisations_account a ON a.id = l.account_id"
)
TRUSTED_SQL = (
    "SELECT a.identifier, t.identifier, MAX(x.effective_at) FROM controls_trustedaccount x "
    "JOIN organisations_account a ON a.id = x.account_id JOIN organisations_account t ON t.id = x.trusted_id "
    "WHERE x.removed_at IS NULL GROUP BY a.identifier, t.identifier"
)
SWITCH_SQL = "SELECT transfers_suspended FROM controls_registryswitch WHERE id = 1"
DOCUMENTS_SQL = (
    "SELECT d.uid, p.project_id, d.kind, d.filename, d.size, d.sha256 FROM projects_document d "
    "LEFT JOIN projects_project p ON p.id = d.project_id"
)
TRANSACTION_FIELDS = ("kind", "quantity", "from", "to", "beneficiary", "purpose", "jurisdiction", "reason",
                      "compliance_period", "using_entity", "on_behalf_of")
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
            "controls_freeze": {},
            "controls_accountlimit": {},
            "controls_trustedaccount": {},
            "controls_registryswitch": {},
            "projects_document": {},
            **{table: {} for table in state_decisions.TABLES},
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
                self._set("organisations_organisation", _uid(data["organisation"]) or "", seq, accredited=False,
                          acts_for_clients=False)
        elif kind == "organisation.accreditation":
            self._set("organisations_organisation", _uid(data["organisation"]) or "", seq,
                      accredited=bool(data["accredited"]))
        elif kind == "organisation.acts_for_clients":
            self._set("organisations_organisation", _uid(data["organisation"]) or "", seq,
                      acts_for_clients=bool(data["acts_for_clients"]))
        elif kind == "user.created":
            fields = {"organisation": _uid(data.get("organisation")), "role": data["role"],
                      "root": bool(data.get("root"))}
            if "active" in data:  # stated since the ledger began recording it
                fields["active"] = bool(data["active"])
            if "in_force_from" in data:  # likewise: the representative delay
                fields["in_force_from"] = state_decisions.when(data["in_force_from"])
            self._set("organisations_user", data["username"], seq, **fields)
        elif kind == "user.changed":
            fields = {"organisation": _uid(data.get("organisation")), "role": data["role"],
                      "active": bool(data["active"])}
            if "in_force_from" in data:
                fields["in_force_from"] = state_decisions.when(data["in_force_from"])
            self._set("organisations_user", data["username"], seq, **fields)
        elif kind == "account.opened":
            self._set("organisations_account", data["account"], seq, type=data["type"],
                      organisation=_uid(data.get("organisation")), status=ACCOUNT_OPEN)
        elif kind == "account.status":
            self._set("organisations_account", data["account"], seq, status=data["to"])
        elif kind == "control.trusted_added":
            # The trusted delay: stated since the ledger began recording it (None: not stated).
            self._set("controls_trustedaccount", f"{data['account']} trusts {data['trusted']}", seq, active=True,
                      effective_at=state_decisions.when(data.get("effective_at")))
        elif kind == "control.trusted_removed":
            self._set("controls_trustedaccount", f"{data['account']} trusts {data['trusted']}", seq, active=False)
        elif kind == "control.limits":
            self._set("controls_accountlimit", data["account"], seq, per_transfer=data["per_transfer"],
                      per_day=data["per_day"])
        elif kind == "control.freeze":
            self._set("controls_freeze", _uid(data["freeze"]) or "", seq, scope=data["scope"], account=data["account"],
                      project=data["project"], serial_start=data["serial_start"], serial_end=data["serial_end"],
                      lifted=False)
        elif kind == "control.freeze_lifted":
            self._set("controls_freeze", _uid(data["freeze"]) or "", seq, lifted=True)
        elif kind == "control.transfers":
            self._set("controls_registryswitch", "1", seq, suspended=bool(data["suspended"]))
        elif kind == "document.uploaded":
            self._set("projects_document", _uid(data["document"]) or "", seq, project=data.get("project"),
                      kind=data["kind"], filename=data["filename"], size=data["size"], sha256=data["sha256"])
        elif kind in state_decisions.KINDS:
            state_decisions.apply(self._set, seq, kind, data)
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


def live_rows(*, transactions: bool = True) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    return {
        "organisations_organisation": [
            (_uid(uid) or "", {"status": status, "accredited": bool(accredited), "acts_for_clients": bool(acts)})
            for uid, status, accredited, acts in _rows(ORGANISATIONS_SQL)
        ],
        "organisations_user": [
            (username, {"organisation": _uid(org), "role": role, "active": bool(active), "root": bool(root),
                        "in_force_from": state_decisions.when(in_force)})
            for username, org, role, active, root, in_force in _rows(USERS_SQL)
        ],
        "organisations_account": [
            (identifier, {"type": kind, "organisation": _uid(org), "status": status})
            for identifier, kind, org, status in _rows(ACCOUNTS_SQL)
        ],
        "units_transaction": [
            (row[0], dict(zip(TRANSACTION_FIELDS, (*row[1:3], row[3] or "", row[4] or "", *row[5:]), strict=True)))
            for row in (_rows(TRANSACTIONS_SQL) if transactions else ())
        ],
        "controls_freeze": [
            (_uid(uid) or "", {"scope": scope, "account": account, "project": project, "serial_start": start,
                               "serial_end": end, "lifted": bool(lifted)})
            for uid, scope, account, project, start, end, lifted in _rows(FREEZES_SQL)
        ],
        "controls_accountlimit": [
            (account, {"per_transfer": per_transfer, "per_day": per_day})
            for account, per_transfer, per_day in _rows(LIMITS_SQL)
        ],
        # Only the pairs in force are rows here; a removed pair is one the ledger says is inactive.
        "controls_trustedaccount": [
            (f"{account} trusts {trusted}", {"active": True, "effective_at": state_decisions.when(effective_at)})
            for account, trusted, effective_at in _rows(TRUSTED_SQL)
        ],
        "controls_registryswitch": [("1", {"suspended": bool(row[0])}) for row in _rows(SWITCH_SQL)],
        "projects_document": [
            (_uid(uid) or "", {"project": project, "kind": kind, "filename": filename, "size": size,
                               "sha256": sha256})
            for uid, project, kind, filename, size, sha256 in _rows(DOCUMENTS_SQL)
        ],
        **state_decisions.live_rows(),
    }


def replayed(*, moves: bool = True) -> StateReplay | Divergence:
    """The state the ledger states (every entry opened), or the first
    commitment the registry cannot open. ``moves``: replay the transactions
    that move entries state too."""
    replay = StateReplay()
    kinds = ", ".join(f"'{kind}'" for kind in STATE_KINDS)
    stored, bad = _openings()
    if bad is not None:
        return bad
    names = {pseudonym: name for pseudonym, (_kind, name) in openings.reverse_names().items()}
    with connection.cursor() as cursor:
        cursor.execute((ENTRIES_SQL if moves else STATE_ENTRIES_SQL).format(kinds=kinds))
        while rows := cursor.fetchmany(2000):
            for seq, kind, body in rows:
                doc = json.loads(body)
                if doc.get("v", 1) >= 2:
                    data = doc.get("data") or {}
                    for committed in commitments.commitments_in(data):
                        if committed not in stored:
                            return Divergence(OPENING_MISSING, f"entry {seq} commits to {committed}, "
                                                               "whose opening the registry does not hold", seq)
                    doc["data"] = commitments.opened(data, stored, names)
                replay.apply(seq, kind, doc)
    return replay


def check_state() -> Divergence | None:
    """Replay the state entries, opened, and compare them with the live tables."""
    # Where every move entry matches its transaction row in one SQL pass, only
    # the other state entries are replayed here.
    moves_match = connection.vendor == "postgresql" and not _moves_differ()
    replay = replayed(moves=not moves_match)
    if isinstance(replay, Divergence):
        return replay
    live = live_rows(transactions=not moves_match)
    for table in ("organisations_organisation", "organisations_user", "organisations_account", "controls_freeze",
                  "controls_accountlimit", "projects_document"):
        found = replay.compare(table, live[table], all_rows=True)
        if found is not None:
            return found
    found = state_decisions.check(replay.compare, live) or _compare_in_force(
        replay, "controls_trustedaccount", live["controls_trustedaccount"]
    ) or _compare_in_force(replay, "controls_trusteddestination", live["controls_trusteddestination"])
    if found is not None:
        return found
    # The switch row is made on first use; a ledger that never stated it means "not suspended".
    switch = replay.tables["controls_registryswitch"]
    if not switch and any(values["suspended"] for _row, values in live["controls_registryswitch"]):
        return Divergence(STATE_DIVERGES, "controls_registryswitch row 1 field suspended: the ledger states False "
                                          "(never suspended), the table holds True")
    found = replay.compare("controls_registryswitch", live["controls_registryswitch"], all_rows=False)
    if found is not None or moves_match:
        return found
    # Transactions that moved nothing yet (proposed, refused) are not in the ledger.
    return replay.compare("units_transaction", live["units_transaction"], all_rows=False)


def _moves_differ() -> bool:
    """Does any move entry differ from its transaction row (or lack one)?"""
    legacy = openings.legacy_accounts()
    ids: list[int] = []
    names: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, identifier FROM organisations_account")
        for account_id, identifier in cursor.fetchall():
            ids.append(account_id)
            names.append(identifier if identifier in legacy else openings.ledger_name(commitments.ACCOUNT, identifier))
        # An aggregate, not EXISTS: planned for reading every row (hash
        # joins), where EXISTS is planned for an early match that never comes.
        cursor.execute(MOVES_DIFFER_SQL, [ids, names])
        return cursor.fetchone()[0] is not None


def _openings() -> tuple[dict[str, Any], Divergence | None]:
    """Every stored opening (commitment -> value), each checked against its
    commitment."""
    stored: dict[str, Any] = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT commitment, value, salt FROM ledger_opening ORDER BY commitment")
        for committed, value, salt in cursor.fetchall():
            opened = json.loads(value)
            if not commitments.verify_opening(committed, {"value": opened, "salt": salt}):
                return stored, Divergence(OPENING_MISSING, f"ledger_opening row {committed}: its value and salt "
                                                           "do not open the commitment")
            stored[committed] = opened
    return stored, None


def _compare_in_force(replay: StateReplay, table: str, live: list[tuple[str, dict[str, Any]]]) -> Divergence | None:
    """Pairs in force must be those the ledger last added and did not remove,
    from the time it states (the trusted delay), where it states one."""
    stated = replay.tables[table]
    in_force = dict(live)
    for row in sorted(set(in_force) | set(stated)):
        value, seq = stated.get(row, {}).get("active", (False, None))
        if value != (row in in_force):
            return Divergence(STATE_DIVERGES, f"{table} row {row} field active: the ledger states "
                                              f"{value!r}{f' (entry {seq})' if seq is not None else ''}, "
                                              f"the table holds {row in in_force!r}", seq)
        since, seq = stated.get(row, {}).get("effective_at", (None, None))
        if since is not None and row in in_force and in_force[row].get("effective_at") != since:
            return Divergence(STATE_DIVERGES, f"{table} row {row} field effective_at: the ledger states {since!r} "
                                              f"(entry {seq}), the table holds {in_force[row]['effective_at']!r}", seq)
    return None
