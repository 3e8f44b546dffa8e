"""The decisions that change who may move units, replayed from the ledger and
compared with the live tables (beside :mod:`tonne.ledger.state`):

* monitoring holds (``controls_accounthold``): placed on an account, released;
* four-eyes approvals (``controls_approval``): what was asked, by whom, for
  which organisation and account, bound to which request, and who decided
  what: a pending request made "approved", or its initiator swapped so that
  they approve their own request, is named;
* KYC reviews (``kyc_kycprofile``): status, review due date, reviewer;
* sanctions screening hits (``kyc_screeninghit``): raised, cleared or confirmed;
* trusted destinations abroad (``controls_trusteddestination``): in force or not;
* AML alerts (``aml_amlalert``): raised (rule, account, organisation, hold),
  then open, dismissed or confirmed, and whether their hold stands;
* beneficial owners (``kyc_beneficialowner``): each organisation's list, as
  its last KYC submission gave it.

Every live row must be one the ledger states (a forged row is named, and so
is a row deleted behind its back). Rows are read with SQL on the tables'
names: the ledger sits below the apps that own them and imports none of them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection

from tonne.ledger.verify_checks import Divergence

HOLD = "control.hold"
HOLD_RELEASED = "control.hold_released"
APPROVAL_REQUESTED = "control.approval_requested"
APPROVAL_DECIDED = "control.approval_decided"
KYC_STATUS = "kyc.status"
HIT_RAISED = "kyc.hit_raised"
HIT_DECIDED = "kyc.hit_decided"
DESTINATION_ADDED = "control.trusted_destination_added"
DESTINATION_REMOVED = "control.trusted_destination_removed"
ALERT_RAISED = "aml.alert_raised"
ALERT_STATUS = "aml.alert_status"
OWNERS = "kyc.owners"

KINDS = (HOLD, HOLD_RELEASED, APPROVAL_REQUESTED, APPROVAL_DECIDED, KYC_STATUS, HIT_RAISED, HIT_DECIDED,
         DESTINATION_ADDED, DESTINATION_REMOVED, ALERT_RAISED, ALERT_STATUS, OWNERS)
# The trusted destinations come last: they are held by the pairs in force (see check).
TABLES = ("controls_accounthold", "controls_approval", "kyc_kycprofile", "kyc_screeninghit", "aml_amlalert",
          "kyc_beneficialowner", "controls_trusteddestination")
PENDING = "pending"
ALERT_OPEN = "open"

HOLDS_SQL = (
    "SELECT h.alert_id, a.identifier, h.rule, h.released_at IS NOT NULL FROM controls_accounthold h "
    "JOIN organisations_account a ON a.id = h.account_id"
)
APPROVALS_SQL = (
    "SELECT x.uid, x.action, x.status, o.uid, a.identifier, i.username, d.username, x.request_hash "
    "FROM controls_approval x LEFT JOIN organisations_organisation o ON o.id = x.organisation_id "
    "LEFT JOIN organisations_account a ON a.id = x.account_id "
    "JOIN organisations_user i ON i.id = x.initiated_by_id LEFT JOIN organisations_user d ON d.id = x.decided_by_id"
)
PROFILES_SQL = (
    "SELECT o.uid, k.status, k.review_due, r.username FROM kyc_kycprofile k "
    "JOIN organisations_organisation o ON o.id = k.organisation_id "
    "LEFT JOIN organisations_user r ON r.id = k.reviewed_by_id"
)
HITS_SQL = (
    "SELECT h.id, o.uid, h.status, d.username FROM kyc_screeninghit h "
    "JOIN organisations_organisation o ON o.id = h.organisation_id "
    "LEFT JOIN organisations_user d ON d.id = h.decided_by_id"
)
ALERTS_SQL = (
    "SELECT x.id, x.rule, a.identifier, o.uid, x.status, x.hold, d.username FROM aml_amlalert x "
    "LEFT JOIN organisations_account a ON a.id = x.account_id "
    "LEFT JOIN organisations_organisation o ON o.id = x.organisation_id "
    "LEFT JOIN organisations_user d ON d.id = x.decided_by_id"
)
# Every organisation that submitted KYC data (its list may be empty) or has owners.
OWNERS_SQL = (
    "SELECT o.uid, b.name, b.birth_date, b.nationality, b.ownership_basis_points FROM organisations_organisation o "
    "LEFT JOIN kyc_beneficialowner b ON b.organisation_id = o.id "
    "WHERE o.id IN (SELECT organisation_id FROM kyc_kycprofile) OR b.id IS NOT NULL"
)
DESTINATIONS_SQL = (
    "SELECT a.identifier, d.party, d.registry, d.destination_account, d.effective_at FROM controls_trusteddestination d "
    "JOIN organisations_account a ON a.id = d.account_id WHERE d.removed_at IS NULL"
)

Setter = Callable[..., None]


def uid(value: Any) -> str | None:
    return None if value is None else str(uuid.UUID(str(value)))


def when(value: Any) -> str | None:
    """A time as the ledger states it (ISO 8601, UTC), from a stored or stated value."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:  # SQLite keeps UTC without its offset
        value = value.replace(tzinfo=dt.UTC)
    return str(value.astimezone(dt.UTC).isoformat())


def day(value: Any) -> str | None:
    """A date as the ledger states it (ISO 8601)."""
    return None if value is None or value == "" else str(value)[:10]


def destination_row(account: str, registry: str, destination_account: str) -> str:
    return f"{account} trusts {registry}/{destination_account or '*'}"


# -- what the services state --------------------------------------------------------------


def approval_requested(approval: Any, *, organisation: Any, account: Any, initiated_by: Any) -> dict[str, Any]:
    """The data of the entry that records a four-eyes request (names, not rows)."""
    return {"approval": str(approval.uid), "action": approval.action, "organisation": uid(organisation),
            "account": account, "initiated_by": initiated_by, "request_hash": approval.request_hash}


def approval_decided(approval: Any, *, decided_by: Any) -> dict[str, Any]:
    return {"approval": str(approval.uid), "status": approval.status, "decided_by": decided_by}


def owner(name: str, birth_date: Any, nationality: str, basis_points: int) -> dict[str, Any]:
    """One beneficial owner as the ledger states it."""
    return {"name": name, "birth_date": day(birth_date), "nationality": nationality or "",
            "ownership_basis_points": int(basis_points)}


def owners_list(owners: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """An organisation's owners in one order, whatever order they were read in."""
    return sorted((owner(o["name"], o.get("birth_date"), o.get("nationality", ""), o["ownership_basis_points"])
                   for o in owners), key=lambda o: (o["name"], o["birth_date"] or "", o["nationality"],
                                                     o["ownership_basis_points"]))


# -- replay -------------------------------------------------------------------------------


def apply(put: Setter, seq: int, kind: str, data: dict[str, Any]) -> None:
    """Set the fields an entry of one of KINDS states; ``put(table, row, seq, **fields)``."""
    if kind == HOLD:
        put("controls_accounthold", str(data["alert"]), seq, account=data["account"], rule=data["rule"],
            released=False)
    elif kind == HOLD_RELEASED:
        put("controls_accounthold", str(data["alert"]), seq, released=True)
    elif kind == APPROVAL_REQUESTED:
        put("controls_approval", uid(data["approval"]) or "", seq, action=data["action"], status=PENDING,
            organisation=uid(data.get("organisation")), account=data.get("account"),
            initiated_by=data["initiated_by"], decided_by=None, request_hash=data["request_hash"])
    elif kind == APPROVAL_DECIDED:
        put("controls_approval", uid(data["approval"]) or "", seq, status=data["status"],
            decided_by=data.get("decided_by"))
    elif kind == KYC_STATUS:
        put("kyc_kycprofile", uid(data["organisation"]) or "", seq, status=data["status"],
            review_due=day(data.get("review_due")), reviewed_by=data.get("reviewed_by"))
    elif kind == HIT_RAISED:
        put("kyc_screeninghit", str(data["hit"]), seq, organisation=uid(data["organisation"]), status=PENDING,
            decided_by=None)
    elif kind == HIT_DECIDED:
        put("kyc_screeninghit", str(data["hit"]), seq, status=data["status"], decided_by=data.get("decided_by"))
    elif kind == DESTINATION_ADDED:
        row = destination_row(data["account"], data["registry"], data.get("destination_account", ""))
        put("controls_trusteddestination", row, seq, active=True, effective_at=when(data.get("effective_at")))
    elif kind == DESTINATION_REMOVED:
        row = destination_row(data["account"], data["registry"], data.get("destination_account", ""))
        put("controls_trusteddestination", row, seq, active=False)
    elif kind == ALERT_RAISED:
        put("aml_amlalert", str(data["alert"]), seq, rule=data["rule"], account=data.get("account"),
            organisation=uid(data.get("organisation")), status=ALERT_OPEN, hold=bool(data["hold"]), decided_by=None)
    elif kind == ALERT_STATUS:
        put("aml_amlalert", str(data["alert"]), seq, status=data["status"], hold=bool(data["hold"]),
            decided_by=data.get("decided_by"))
    elif kind == OWNERS:
        put("kyc_beneficialowner", uid(data["organisation"]) or "", seq, owners=owners_list(data["owners"]))


def _rows(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def _owners_by_organisation() -> list[tuple[str, dict[str, Any]]]:
    by_organisation: dict[str, list[dict[str, Any]]] = {}
    for org, name, born, nationality, basis_points in _rows(OWNERS_SQL):
        owners = by_organisation.setdefault(uid(org) or "", [])
        if name is not None:
            owners.append({"name": name, "birth_date": born, "nationality": nationality,
                           "ownership_basis_points": basis_points})
    return [(org, {"owners": owners_list(owners)}) for org, owners in by_organisation.items()]


def live_rows() -> dict[str, list[tuple[str, dict[str, Any]]]]:
    return {
        "aml_amlalert": [
            (str(alert), {"rule": rule, "account": account, "organisation": uid(org), "status": status,
                          "hold": bool(hold), "decided_by": decider})
            for alert, rule, account, org, status, hold, decider in _rows(ALERTS_SQL)
        ],
        "kyc_beneficialowner": _owners_by_organisation(),
        "controls_accounthold": [
            (str(alert), {"account": account, "rule": rule, "released": bool(released)})
            for alert, account, rule, released in _rows(HOLDS_SQL)
        ],
        "controls_approval": [
            (uid(row[0]) or "", {"action": row[1], "status": row[2], "organisation": uid(row[3]), "account": row[4],
                                 "initiated_by": row[5], "decided_by": row[6], "request_hash": row[7]})
            for row in _rows(APPROVALS_SQL)
        ],
        "kyc_kycprofile": [
            (uid(org) or "", {"status": status, "review_due": day(due), "reviewed_by": reviewer})
            for org, status, due, reviewer in _rows(PROFILES_SQL)
        ],
        "kyc_screeninghit": [
            (str(hit), {"organisation": uid(org), "status": status, "decided_by": decider})
            for hit, org, status, decider in _rows(HITS_SQL)
        ],
        # Only the destinations in force are rows here; a removed one is one the ledger says is inactive.
        "controls_trusteddestination": [
            (destination_row(account, registry, destination), {
                "active": True, "account": account, "party": party, "registry": registry,
                "destination_account": destination, "effective_at": when(effective_at)})
            for account, party, registry, destination, effective_at in _rows(DESTINATIONS_SQL)
        ],
    }


Compare = Callable[..., Divergence | None]


def check(compare: Compare, live: dict[str, list[tuple[str, dict[str, Any]]]]) -> Divergence | None:
    """The first divergence of the tables whose every row the ledger states
    (``compare`` is the state replay's); the trusted destinations are held
    like the trusted accounts, by the pairs in force."""
    for table in TABLES[:-1]:
        found = compare(table, live[table], all_rows=True)
        if found is not None:
            return found
    return None


# -- backfill -------------------------------------------------------------------------------


def missing_entries(stated: dict[str, dict[str, Any]],
                    live: dict[str, list[tuple[str, dict[str, Any]]]]) -> list[tuple[str, dict[str, Any]]]:
    """The entries that state the rows the ledger never stated (a database
    from before the ledger recorded these decisions), as the rows stand."""
    out: list[tuple[str, dict[str, Any]]] = []
    for alert, values in live["controls_accounthold"]:
        if alert not in stated["controls_accounthold"]:
            out.append((HOLD, {"alert": int(alert), "account": values["account"], "rule": values["rule"]}))
            if values["released"]:
                out.append((HOLD_RELEASED, {"alert": int(alert)}))
    for approval, values in live["controls_approval"]:
        if approval not in stated["controls_approval"]:
            out.append((APPROVAL_REQUESTED, {"approval": approval, **{k: values[k] for k in (
                "action", "organisation", "account", "initiated_by", "request_hash")}}))
            if values["status"] != PENDING:
                out.append((APPROVAL_DECIDED, {"approval": approval, "status": values["status"],
                                               "decided_by": values["decided_by"]}))
    for org, values in live["kyc_kycprofile"]:
        if org not in stated["kyc_kycprofile"]:
            out.append((KYC_STATUS, {"organisation": org, **values}))
    for hit, values in live["kyc_screeninghit"]:
        if hit not in stated["kyc_screeninghit"]:
            out.append((HIT_RAISED, {"hit": int(hit), "organisation": values["organisation"]}))
            if values["status"] != PENDING:
                out.append((HIT_DECIDED, {"hit": int(hit), "status": values["status"],
                                          "decided_by": values["decided_by"]}))
    for alert, values in live["aml_amlalert"]:
        if alert not in stated["aml_amlalert"]:
            out.append((ALERT_RAISED, {"alert": int(alert), "hold": values["hold"],
                                       **{k: values[k] for k in ("rule", "account", "organisation")}}))
            if values["status"] != ALERT_OPEN:
                out.append((ALERT_STATUS, {"alert": int(alert), **{k: values[k] for k in (
                    "status", "hold", "decided_by")}}))
    for org, values in live["kyc_beneficialowner"]:
        if org not in stated["kyc_beneficialowner"]:
            out.append((OWNERS, {"organisation": org, "owners": values["owners"]}))
    for row, values in live["controls_trusteddestination"]:
        if row not in stated["controls_trusteddestination"]:
            out.append((DESTINATION_ADDED, {k: values[k] for k in ("account", "party", "registry",
                                                                   "destination_account", "effective_at")}))
    return out
