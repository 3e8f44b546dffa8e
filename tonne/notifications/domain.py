"""What a ledger entry or a four-eyes request tells whom (pure; no database).

Every completed change writes one ledger entry; `events_of` reads its kind and
data and names the events it makes, each with the thing it is about (a
project, a monitoring report, a transaction, an account, an organisation or a
request awaiting a second person) and who is concerned, as references the
services resolve to people: an organisation's representatives, a project's
developer and VVB, a report's VVB, a transaction's two holders, the registry
administrators."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# What a notification is about: the workspace page it links to.
PROJECT = "project"
REPORT = "report"
TRANSACTION = "transaction"
ACCOUNT = "account"
ORGANISATION = "organisation"
APPROVAL = "approval"
PARTNER = "partner"  # a partner registry (its reconciliation report)
AUTHORISATION = "authorisation"  # an Article 6 authorisation (its identifier)
SUBJECTS = (PROJECT, REPORT, TRANSACTION, ACCOUNT, ORGANISATION, APPROVAL, PARTNER, AUTHORISATION)

# Who is concerned, as (kind, reference) the services resolve.
ADMINISTRATORS = "administrators"  # the registry administrators (reference unused)
DEVELOPER_OF = "developer_of"  # a project id
PROJECT_VVB = "project_vvb"  # a project id
REPORT_VVB = "report_vvb"  # a report uid
REPORT_DEVELOPER = "report_developer"  # a report uid
HOLDER_OF = "holder_of"  # an account identifier (opened)
PARTIES_OF = "parties_of"  # a transaction identifier: both holders
MEMBERS_OF = "members_of"  # an organisation uid

# Events that ask something of the person told (shown apart: "awaits you").
AWAITING = frozenset({
    "organisation_applied", "project_awaits_review", "project_awaits_validation", "project_awaits_registration",
    "report_assigned", "report_awaits_issuance", "verification_awaits_approval", "approval_requested",
})


@dataclass(frozen=True)
class Event:
    code: str
    subject: str
    ref: str  # the project id, report uid, transaction or account identifier, organisation or request uid
    audiences: tuple[tuple[str, str], ...]
    params: dict[str, Any] = field(default_factory=dict)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _project_events(kind: str, data: dict[str, Any]) -> list[Event]:
    project = _text(data.get("project"))
    if not project:
        return []
    status = _text(data.get("status"))
    params = {"project": project, "name": _text(data.get("name")), "status": status}
    concerned = ((DEVELOPER_OF, project), (PROJECT_VVB, project))
    if kind == "project.registered":
        events = [Event("project_recorded", PROJECT, project, concerned, params)]
    else:
        params["reason"] = _text(data.get("reason"))
        events = [Event("project_status", PROJECT, project, concerned, params)]
    waiting = {
        "submitted": ("project_awaits_review", ((ADMINISTRATORS, ""),)),
        "approved": ("project_awaits_validation", ((PROJECT_VVB, project),)),
        "validated": ("project_awaits_registration", ((ADMINISTRATORS, ""),)),
    }.get(status)
    if waiting is not None:
        events.append(Event(waiting[0], PROJECT, project, waiting[1], params))
    return events


def _report_events(kind: str, data: dict[str, Any]) -> list[Event]:
    report = _text(data.get("report"))
    if not report:
        return []
    params = {"project": _text(data.get("project")), "report": report, "reason": _text(data.get("reason"))}
    developer = ((REPORT_DEVELOPER, report),)
    vvb = ((REPORT_VVB, report),)
    both = developer + vvb
    table: dict[str, list[tuple[str, tuple[tuple[str, str], ...]]]] = {
        "mrv.report_submitted": [("report_assigned", vvb), ("report_submitted", developer)],
        "mrv.vvb_reassigned": [("report_assigned", vvb), ("report_submitted", developer)],
        "mrv.report_verified": [("report_verified", both), ("report_awaits_issuance", ((ADMINISTRATORS, ""),))],
        "mrv.report_rejected": [("report_rejected", both)],
        "mrv.assignment_accepted": [("assignment_accepted", developer)],
        "mrv.assignment_declined": [("assignment_declined", developer)],
        "mrv.verification_approved": [("verification_approved", both)],
    }
    if kind == "mrv.report_verified" and data.get("needs_registry_approval"):
        table[kind] = [("report_verified", both), ("verification_awaits_approval", ((ADMINISTRATORS, ""),))]
    return [Event(code, REPORT, report, who, params) for code, who in table.get(kind, [])]


def _organisation_events(kind: str, data: dict[str, Any]) -> list[Event]:
    org = _text(data.get("organisation"))
    if not org:
        return []
    params: dict[str, Any] = {"organisation": _text(data.get("name")), "status": _text(data.get("status")),
                              "reason": _text(data.get("reason"))}
    if kind == "organisation.applied":
        return [Event("organisation_applied", ORGANISATION, org, ((ADMINISTRATORS, ""),), params)]
    if kind == "organisation.status":
        return [Event("organisation_status", ORGANISATION, org, ((MEMBERS_OF, org),), params)]
    if kind == "organisation.accreditation":
        params["accredited"] = bool(data.get("accredited"))
        return [Event("accreditation_changed", ORGANISATION, org, ((MEMBERS_OF, org),), params)]
    return []


def _account_events(kind: str, data: dict[str, Any]) -> list[Event]:
    account = _text(data.get("account"))
    if not account:
        return []
    holder = ((HOLDER_OF, account),)
    if kind == "account.status":
        params = {"account": account, "status": _text(data.get("to")), "reason": _text(data.get("reason"))}
        return [Event("account_status", ACCOUNT, account, holder, params)]
    if kind in ("control.limits", "control.trusted_added", "control.trusted_removed"):
        return [Event("account_controls", ACCOUNT, account, holder, {"account": account})]
    if kind == "control.freeze":
        return [Event("account_frozen", ACCOUNT, account, holder, {"account": account, "reason": _text(data.get("reason"))})]
    return []


AUTHORISATION_EVENTS = {
    "article6.authorised": "authorisation_granted",
    "article6.changed": "authorisation_changed",
    "article6.revoked": "authorisation_revoked",
}


def _entity_uids(entities: Any) -> list[str]:
    listed = entities if isinstance(entities, list) else []
    return [_text(e.get("uid") if isinstance(e, dict) else e) for e in listed if _text(e.get("uid") if isinstance(e, dict) else e)]


def _article6_events(kind: str, data: dict[str, Any], transaction_ref: str) -> list[Event]:
    """An authorisation granted, changed or revoked: the Party's administrators,
    the developers of the projects it covers and its authorised entities
    (a revocation's entry names neither: the services add them from the
    authorisation). Units sent to or received from another Party: the
    administrators and the holder."""
    admins = ((ADMINISTRATORS, ""),)
    if kind in AUTHORISATION_EVENTS:
        name = _text(data.get("authorisation"))
        if not name:
            return []
        projects = [p for p in data.get("projects") or [] if isinstance(p, str) and p]
        withdrawn = sum(int(w["range"][1]) - int(w["range"][0]) + 1 for w in data.get("withdrawn") or []
                        if isinstance(w, dict) and isinstance(w.get("range"), list) and len(w["range"]) == 2)
        params = {"authorisation": name, "projects": ", ".join(projects), "withdrawn": withdrawn,
                  "effective_from": _text(data.get("effective_from"))[:10], "reason": _text(data.get("reason"))}
        code = AUTHORISATION_EVENTS[kind]
        return [
            Event(code, AUTHORISATION, name, admins, params),
            *(Event(code, PROJECT, p, ((DEVELOPER_OF, p),), params) for p in projects),
            *(Event(code, ORGANISATION, uid, ((MEMBERS_OF, uid),), params) for uid in _entity_uids(data.get("entities"))),
        ]
    if kind in ("article6.transfer_sent", "article6.transfer_received") and transaction_ref:
        sent = kind == "article6.transfer_sent"
        params = {"transaction": transaction_ref, "quantity": data.get("quantity") or "",
                  "party": _text(data.get("destination_party" if sent else "origin_party")),
                  "registry": _text(data.get("destination_registry" if sent else "origin_registry"))}
        return [Event("itmo_sent" if sent else "itmo_received", TRANSACTION, transaction_ref,
                      admins + ((PARTIES_OF, transaction_ref),), params)]
    return []


def first_transfer(transaction_ref: str, quantity: int, authorisations: list[str], parties: list[str]) -> Event:
    """Authorised units first-transferred by a move (or at issuance): a
    corresponding adjustment is recorded; the administrators and the holders are told."""
    params = {"transaction": transaction_ref, "quantity": quantity, "authorisation": ", ".join(sorted(authorisations)),
              "party": ", ".join(sorted(p for p in parties if p)) or "—"}
    return Event("first_transfer_recorded", TRANSACTION, transaction_ref,
                 ((ADMINISTRATORS, ""), (PARTIES_OF, transaction_ref)), params)


def events_of(kind: str, data: dict[str, Any], transaction_ref: str) -> list[Event]:
    """The events one ledger entry makes (its private fields opened)."""
    if kind.startswith("article6."):
        return _article6_events(kind, data, transaction_ref)
    if kind.startswith("project."):
        return _project_events(kind, data)
    if kind.startswith("mrv."):
        return _report_events(kind, data)
    if kind.startswith("organisation."):
        return _organisation_events(kind, data)
    if kind == "control.freeze" and data.get("scope") == "project" and data.get("project"):
        project = _text(data["project"])
        return [Event("project_frozen", PROJECT, project, ((DEVELOPER_OF, project),),
                      {"project": project, "reason": _text(data.get("reason"))})]
    if kind == "linkage.mismatch_found" and _text(data.get("registry_id")):
        registry = _text(data["registry_id"])
        return [Event("linkage_mismatch", PARTNER, registry, ((ADMINISTRATORS, ""),),
                      {"registry": registry, "code": _text(data.get("code"))})]
    if kind.startswith(("account.", "control.")):
        return _account_events(kind, data)
    if kind.startswith("units.") and transaction_ref:
        move = kind.removeprefix("units.")
        params: dict[str, Any] = {"transaction": transaction_ref, "kind": "issuance" if move == "issued" else move}
        audiences: tuple[tuple[str, str], ...] = ((PARTIES_OF, transaction_ref),)
        issuance = data.get("issuance")
        if move == "issued" and isinstance(issuance, dict) and _text(issuance.get("project")):
            audiences += ((DEVELOPER_OF, _text(issuance["project"])),)
        return [Event("transaction_completed", TRANSACTION, transaction_ref, audiences, params)]
    return []


def approval_requested(uid: str, action: str, organisation: str | None) -> Event:
    """A request awaiting a second person: its organisation's approvers, or
    the registry administrators for the registry's own requests."""
    who = ((MEMBERS_OF, organisation),) if organisation else ((ADMINISTRATORS, ""),)
    return Event("approval_requested", APPROVAL, uid, who, {"action": action})


def approval_decided(uid: str, action: str, status: str, reason: str) -> Event:
    """The initiator learns how their request was decided (resolved by the caller)."""
    return Event("approval_decided", APPROVAL, uid, (), {"action": action, "status": status, "reason": reason})


def source_key(origin: str, position: str, code: str) -> str:
    """Names one event of one source once (the unique key, with the recipient,
    that makes a second pass after a crash add nothing twice)."""
    return f"{origin}:{position}:{code}"
