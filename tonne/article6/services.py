"""Article 6 state changes: authorisations (through a second
administrator's approval), their changes and revocations, attaching
authorisation to units at issuance, first transfers with their corresponding
adjustments, and uses and cancellations. Each runs in one database
transaction and writes its ledger entry in it."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, Sum

from tonne.article6 import domain, withdrawals
from tonne.article6.models import (
    Authorisation,
    AuthorisationVersion,
    AuthorisedRange,
    CorrespondingAdjustment,
    FirstTransfer,
    Withdrawal,
)
from tonne.controls import services as controls
from tonne.controls.models import Approval
from tonne.core import clock, text
from tonne.core.errors import Conflict, NotFound, ValidationFailed
from tonne.ledger.services import append_entry
from tonne.organisations.models import Account, Organisation, User
from tonne.organisations.services import require_registry_administrator, system_account
from tonne.projects import services as projects
from tonne.projects.models import Document, Project
from tonne.units import services as units
from tonne.units.domain import Selection, SerialRange
from tonne.units.models import Issuance, Transaction

AUTHORISE = "article6_authorise"
CHANGE = "article6_change"
REVOKE = "article6_revoke"


# -- authorisations ----------------------------------------------------------------------


def _letter(uid: str) -> Document | None:
    if not uid:
        return None
    try:
        doc = Document.objects.filter(uid=uuid.UUID(uid), kind=Document.Kind.LETTER, removed_at__isnull=True).first()
    except ValueError:
        doc = None
    if doc is None:
        raise ValidationFailed(
            "LETTER_NOT_FOUND", "letter must be the uid of an uploaded document of kind 'letter'.", field="letter"
        )
    return doc


def _check_references(terms: dict[str, Any]) -> None:
    known = set(Project.objects.filter(project_id__in=terms["projects"]).values_list("project_id", flat=True))
    missing = sorted(set(terms["projects"]) - known)
    if missing:
        raise ValidationFailed("PROJECT_NOT_FOUND", f"No project {', '.join(missing)}.", field="projects", details={"project": missing})
    found = {str(u) for u in Organisation.objects.filter(uid__in=terms["entities"]).values_list("uid", flat=True)}
    missing = sorted(set(terms["entities"]) - found)
    if missing:
        raise ValidationFailed("ENTITY_NOT_FOUND", f"No organisation {', '.join(missing)}.", field="entities", details={"organisation": missing})
    _letter(terms["letter"])


def get_authorisation(identifier: str, *, lock: bool = False) -> Authorisation:
    qs = Authorisation.objects.select_for_update() if lock else Authorisation.objects
    found = qs.filter(identifier=(identifier or "").strip()).first()
    if found is None:
        raise NotFound("AUTHORISATION_NOT_FOUND", f"No authorisation {identifier}.", field="authorisation", details={"authorisation": identifier})
    return found


def version_in_force(authorisation: Authorisation, at: dt.datetime) -> AuthorisationVersion | None:
    return authorisation.versions.filter(effective_from__lte=at).order_by("-version").first()


def in_force(authorisation: Authorisation, at: dt.datetime) -> bool:
    return authorisation.revoked_from is None or authorisation.revoked_from > at


def request_authorisation(*, actor: User, data: dict[str, Any]) -> Approval:
    """The first administrator proposes an authorisation; a second approves it."""
    require_registry_administrator(actor)
    terms = domain.terms(data, new=True)
    with transaction.atomic():
        _check_references(terms)
        if Authorisation.objects.filter(identifier=terms["identifier"]).exists():
            raise Conflict("AUTHORISATION_EXISTS", f"Authorisation {terms['identifier']} already exists.", field="identifier", details={"authorisation": terms["identifier"]})
        return controls.new_approval(actor=actor, action=AUTHORISE, account=None, payload=terms)


def request_change(*, actor: User, identifier: str, data: dict[str, Any], effective_from: Any = None) -> Approval:
    """New terms from `effective_from` (now or later). Units already
    authorised keep the authorisation they were given; the new terms govern
    units authorised from then on."""
    require_registry_administrator(actor)
    terms = domain.terms(data, new=False)
    moment = domain.effective_from(effective_from, clock.now())
    with transaction.atomic():
        authorisation = get_authorisation(identifier)
        _check_changeable(authorisation, terms, moment)
        _check_references(terms)
        payload = {"authorisation": authorisation.identifier, "effective_from": moment.isoformat(), **terms}
        return controls.new_approval(actor=actor, action=CHANGE, account=None, payload=payload)


def _check_changeable(authorisation: Authorisation, terms: dict[str, Any], moment: dt.datetime) -> None:
    if authorisation.status != Authorisation.Status.ACTIVE:
        raise Conflict("AUTHORISATION_REVOKED", f"Authorisation {authorisation.identifier} is revoked.", details={"authorisation": authorisation.identifier})
    undefined = sorted(set(terms["purposes"]) - set(authorisation.definitions))
    if undefined:
        raise ValidationFailed(
            "FIRST_TRANSFER_DEFINITION_INVALID",
            f"The authorisation defines no first transfer for {', '.join(undefined)}; authorise anew for that purpose.",
            field="purposes",
            details={"purposes": undefined},
        )
    withdrawals.plan(authorisation, terms)  # refuses terms below what is already first-transferred
    latest = authorisation.versions.order_by("-version").first()
    if latest is not None and moment < latest.effective_from:
        raise ValidationFailed(
            "EFFECTIVE_DATE_BEFORE_LATEST",
            f"Version {latest.version} takes effect {latest.effective_from.isoformat()}; a change cannot precede it.",
            field="effective_from",
            details={"version": latest.version, "date": latest.effective_from.isoformat()},
        )


def request_revocation(*, actor: User, identifier: str, reason: str, effective_from: Any = None) -> Approval:
    """From `effective_from`, units of this authorisation not yet
    first-transferred are no longer authorised (they become mitigation
    contribution units); units already first-transferred keep their status."""
    require_registry_administrator(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("REASON_REQUIRED", "A revocation needs a reason.", field="reason")
    moment = domain.effective_from(effective_from, clock.now())
    with transaction.atomic():
        authorisation = get_authorisation(identifier)
        if authorisation.status != Authorisation.Status.ACTIVE:
            raise Conflict("AUTHORISATION_REVOKED", f"Authorisation {authorisation.identifier} is already revoked.", details={"authorisation": authorisation.identifier})
        payload = {"authorisation": authorisation.identifier, "effective_from": moment.isoformat(), "reason": reason}
        return controls.new_approval(actor=actor, action=REVOKE, account=None, payload=payload)


def _new_version(
    authorisation: Authorisation, number: int, terms: dict[str, Any], moment: dt.datetime, approval: Approval, approver: User
) -> AuthorisationVersion:
    letter = _letter(terms["letter"])
    return AuthorisationVersion.objects.create(
        authorisation=authorisation,
        version=number,
        effective_from=moment,
        authorisation_date=dt.date.fromisoformat(terms["authorisation_date"]),
        acquiring_parties=terms["acquiring_parties"],
        sole_acquiring_party=domain.sole_party(terms["acquiring_parties"]),
        purpose_ndc="ndc" in terms["purposes"],
        purpose_oimp="oimp" in terms["purposes"],
        oimp_purposes=terms["oimp_purposes"],
        quantity=terms["quantity"],
        vintage_quantities=terms.get("vintage_quantities") or {},
        vintage_from=terms["vintage_from"],
        vintage_to=terms["vintage_to"],
        projects=terms["projects"],
        entities=_entities(terms["entities"]),
        valid_until=dt.date.fromisoformat(terms["valid_until"]) if terms["valid_until"] else None,
        terms=terms["terms"],
        letter=letter,
        letter_sha256=letter.sha256 if letter else "",
        requested_by=approval.initiated_by,
        approved_by=approver,
        created_at=clock.now(),
    )


def _entities(uids: list[str]) -> list[dict[str, str]]:
    orgs = Organisation.objects.filter(uid__in=uids).order_by("name")
    return [{"uid": str(o.uid), "name": o.name, "country": o.country} for o in orgs]


def _version_data(version: AuthorisationVersion) -> dict[str, Any]:
    covered = Project.objects.filter(project_id__in=version.projects)
    return {
        "version": version.version,
        "effective_from": version.effective_from,
        "authorisation_date": version.authorisation_date.isoformat(),
        "acquiring_parties": version.acquiring_parties,
        "purposes": [p for p, on in (("ndc", version.purpose_ndc), ("oimp", version.purpose_oimp)) if on],
        "oimp_purposes": version.oimp_purposes,
        "quantity": version.quantity,
        "vintage_quantities": version.vintage_quantities,
        "vintages": [version.vintage_from, version.vintage_to],
        "projects": version.projects,
        # What the AEF reports of the covered projects, as they stand when authorised.
        "sector": domain.aef_sector([s for p in covered for s in p.sectors]),
        "activity_type": domain.aef_activity_type([t for p in covered for t in p.types]),
        "entities": version.entities,
        "valid_until": version.valid_until.isoformat() if version.valid_until else None,
        "terms": version.terms,
        "letter_sha256": version.letter_sha256 or None,
        "requested_by": version.requested_by.username,
        "approved_by": version.approved_by.username,
    }


def carry_out_authorise(approval: Approval, approver: User) -> None:
    terms = approval.payload
    _check_references(terms)
    if Authorisation.objects.filter(identifier=terms["identifier"]).exists():
        raise Conflict("AUTHORISATION_EXISTS", f"Authorisation {terms['identifier']} already exists.", details={"authorisation": terms["identifier"]})
    now = clock.now()
    authorisation = Authorisation.objects.create(
        uid=uuid.uuid4(),
        identifier=terms["identifier"],
        cooperative_approach=terms["cooperative_approach"],
        authorising_party=settings.TONNE_COUNTRY,
        first_transfer_definition=domain.transfer_definition(terms["first_transfer_definitions"]),
        definitions=terms["first_transfer_definitions"],
        created_at=now,
    )
    version = _new_version(authorisation, 1, terms, now, approval, approver)
    entry = append_entry(
        kind="article6.authorised",
        actor=approver,
        data={
            "authorisation": authorisation.identifier,
            "cooperative_approach": authorisation.cooperative_approach,
            "authorising_party": authorisation.authorising_party,
            "first_transfer_definition": authorisation.first_transfer_definition,
            "first_transfer_definitions": authorisation.definitions,
            "approval": str(approval.uid),
            **_version_data(version),
        },
    )
    AuthorisationVersion.objects.filter(pk=version.pk).update(ledger_seq=entry.seq)
    projects.mark_article6_authorised(actor=approver, project_ids=version.projects, authorisation=authorisation.identifier)


def carry_out_change(approval: Approval, approver: User) -> None:
    payload = dict(approval.payload)
    authorisation = get_authorisation(payload.pop("authorisation"), lock=True)
    moment = dt.datetime.fromisoformat(payload.pop("effective_from"))
    _check_changeable(authorisation, payload, moment)
    _check_references(payload)
    latest = authorisation.versions.order_by("-version").first()
    assert latest is not None
    version = _new_version(authorisation, latest.version + 1, payload, max(moment, clock.now()), approval, approver)
    # Units the new terms no longer cover and not first-transferred: withdrawn when the change takes effect.
    taken = withdrawals.plan(authorisation, payload)
    Withdrawal.objects.bulk_create([
        Withdrawal(authorisation=authorisation, version=version, vintage=v, serial_start=lo, serial_end=hi,
                   effective_from=version.effective_from)
        for v, lo, hi in taken
    ])
    entry = append_entry(
        kind="article6.changed",
        actor=approver,
        data={"authorisation": authorisation.identifier, "approval": str(approval.uid), **_version_data(version),
              "withdrawn": [{"vintage": v, "range": [lo, hi]} for v, lo, hi in taken]},
    )
    AuthorisationVersion.objects.filter(pk=version.pk).update(ledger_seq=entry.seq)
    projects.mark_article6_authorised(actor=approver, project_ids=version.projects, authorisation=authorisation.identifier)


def carry_out_revoke(approval: Approval, approver: User) -> None:
    authorisation = get_authorisation(approval.payload["authorisation"], lock=True)
    if authorisation.status != Authorisation.Status.ACTIVE:
        raise Conflict("AUTHORISATION_REVOKED", f"Authorisation {authorisation.identifier} is already revoked.", details={"authorisation": authorisation.identifier})
    moment = max(dt.datetime.fromisoformat(approval.payload["effective_from"]), clock.now())
    authorisation.status = Authorisation.Status.REVOKED
    authorisation.revoked_from = moment
    authorisation.revocation_reason = approval.payload["reason"]
    authorisation.save(update_fields=["status", "revoked_from", "revocation_reason"])
    append_entry(
        kind="article6.revoked",
        actor=approver,
        data={
            "authorisation": authorisation.identifier,
            "effective_from": moment,
            "reason": authorisation.revocation_reason,
            "approval": str(approval.uid),
            # What the revocation leaves as it is and what it takes back.
            "first_transferred": first_transferred_quantity(authorisation),
            "attached": attached_quantity(authorisation),
        },
    )


def attached_quantity(authorisation: Authorisation) -> int:
    ranges = AuthorisedRange.objects.filter(authorisation=authorisation).values_list("serial_start", "serial_end")
    return sum(end - start + 1 for start, end in ranges)


def first_transferred_quantity(authorisation: Authorisation) -> int:
    return int(
        CorrespondingAdjustment.objects.filter(authorisation=authorisation).aggregate(q=Sum("quantity"))["q"] or 0
    )


# -- units: authorisation at issuance, first transfers ----------------------------------


def attach_at_issuance(
    issuance: Issuance, holder_range: SerialRange | None, transaction_ref: str, now: dt.datetime
) -> dict[str, Any]:
    """Called by issuance, in its transaction: the holder's units of an
    authorised project and vintage carry the authorisation, up to the
    quantity it leaves; the rest are mitigation contribution units."""
    if holder_range is None:
        return {}
    project_id = issuance.project.project_id
    attached: list[dict[str, Any]] = []
    cursor = holder_range.start
    # Locked in a fixed order: two issuances never authorise the same room twice.
    candidates = (
        Authorisation.objects.select_for_update()
        .filter(Q(revoked_from__isnull=True) | Q(revoked_from__gt=now))
        .order_by("created_at", "id")
    )
    for authorisation in candidates:
        version = version_in_force(authorisation, now)
        if version is None or project_id not in version.projects:
            continue
        if not version.vintage_from <= issuance.vintage <= version.vintage_to:
            continue
        if version.valid_until is not None and now.date() > version.valid_until:
            continue
        room = version.quantity - attached_quantity(authorisation) + withdrawals.withdrawn_not_first(authorisation, None)
        cap = version.vintage_quantities.get(str(issuance.vintage))
        if cap is not None:
            of_vintage = AuthorisedRange.objects.filter(authorisation=authorisation, vintage=issuance.vintage)
            room = min(room, cap - sum(r.quantity for r in of_vintage)
                       + withdrawals.withdrawn_not_first(authorisation, None, issuance.vintage))
        if room <= 0:
            continue
        end = min(holder_range.end, cursor + room - 1)
        AuthorisedRange.objects.create(
            authorisation=authorisation,
            version=version,
            issuance=issuance,
            vintage=issuance.vintage,
            serial_start=cursor,
            serial_end=end,
            attached_at=now,
        )
        outcome = domain.first_transfer(definitions(authorisation, version), "issuance", already=False)
        first = outcome.first_transfer
        if first:
            record_first_transfer(
                authorisation, issuance.pk, issuance.vintage, cursor, end, cause=outcome.cause,
                party=outcome.adjustment_party, purpose=outcome.purpose, transaction_ref=transaction_ref, at=now,
            )
        attached.append({
            "authorisation": authorisation.identifier, "version": version.version, "range": [cursor, end],
            "first_transfer": first,
            "mitigation_type": domain.mitigation_type(issuance.project.unit_type),
            "itmo": domain.itmo_identifier(
                authorisation.cooperative_approach, settings.TONNE_ARTICLE6_REGISTRY_ID,
                authorisation.authorising_party, cursor, end, issuance.vintage,
            ),
        })
        cursor = end + 1
        if cursor > holder_range.end:
            break
    return {"article6": attached} if attached else {}


def definitions(authorisation: Authorisation, version: AuthorisationVersion) -> dict[str, str]:
    """The first-transfer definition of each purpose the version authorises."""
    on = {"ndc": version.purpose_ndc, "oimp": version.purpose_oimp}
    return {p: d for p, d in authorisation.definitions.items() if on.get(p)}


def record_first_transfer(
    authorisation: Authorisation, issuance_id: int, vintage: int, start: int, end: int, *,
    cause: str, party: str, transaction_ref: str, at: dt.datetime, purpose: str = "",
) -> FirstTransfer:
    first = FirstTransfer.objects.create(
        authorisation=authorisation, issuance_id=issuance_id, vintage=vintage, serial_start=start, serial_end=end,
        cause=cause, purpose=purpose, acquiring_party=party, transaction_identifier=transaction_ref, at=at,
    )
    CorrespondingAdjustment.objects.create(
        first_transfer=first, authorisation=authorisation, vintage=vintage, acquiring_party=party,
        quantity=end - start + 1, recorded_at=at,
    )
    return first


# The moved serials' authorised ranges under an authorisation in force, with
# its definitions and the version in force ('r'), and the first transfers
# among them ('f'): one statement, run only for moves into a terminal account.
_MOVED_SQL = (
    "SELECT 'r', m.s, m.e, r.authorisation_id, r.issuance_id, r.vintage, r.serial_start, r.serial_end, "
    "a.definitions, a.authorising_party, v.purpose_ndc, v.purpose_oimp, v.acquiring_parties "
    "FROM ({moved}) m "
    "JOIN article6_authorisedrange r ON r.serial_start <= m.e AND r.serial_end >= m.s "
    "JOIN article6_authorisation a ON a.id = r.authorisation_id "
    "JOIN article6_authorisationversion v ON v.id = (SELECT x.id FROM article6_authorisationversion x "
    "WHERE x.authorisation_id = a.id AND x.effective_from <= %s ORDER BY x.version DESC LIMIT 1) "
    "WHERE a.revoked_from IS NULL OR a.revoked_from > %s "
    "UNION ALL "
    "SELECT 'f', m.s, m.e, NULL, NULL, NULL, f.serial_start, f.serial_end, NULL, NULL, NULL, NULL, NULL "
    "FROM ({moved}) m JOIN article6_firsttransfer f ON f.serial_start <= m.e AND f.serial_end >= m.s "
    "UNION ALL "
    "SELECT 'w', m.s, m.e, NULL, NULL, NULL, w.serial_start, w.serial_end, NULL, NULL, NULL, NULL, NULL "
    "FROM ({moved}) m JOIN article6_withdrawal w ON w.serial_start <= m.e AND w.serial_end >= m.s "
    "AND w.effective_from <= %s"
)
FIRST_TRANSFER_COLUMNS = (
    "authorisation_id, issuance_id, vintage, serial_start, serial_end, cause, purpose, acquiring_party, "
    "transaction_identifier, at"
)
ADJUSTMENT_COLUMNS = "first_transfer_id, authorisation_id, vintage, acquiring_party, quantity, recorded_at"
USE_TARGETS = (Account.Type.RETIREMENT, Account.Type.CANCELLATION, Account.Type.OMGE)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def on_terminal_move(
    cursor: Any, kind: str, target: Account, moved: list[tuple[int, int, int]], transaction_ref: str,
    now: dt.datetime, details: Mapping[str, str],
) -> None:
    """A move into a terminal account: a use or cancellation of authorised
    units, first-transferred here if the rule (domain.first_transfer) says
    so; a use the authorisation does not cover is refused."""
    if target.type not in USE_TARGETS:
        return  # exports: the export service records first international transfers
    stamp = connection.ops.adapt_datetimefield_value(now)
    moved_sql = " UNION ALL ".join(["SELECT CAST(%s AS BIGINT) AS s, CAST(%s AS BIGINT) AS e"] * len(moved))
    serials = [v for _, start, end in moved for v in (start, end)]
    params = [*serials, stamp, stamp, *serials, *serials, stamp]
    cursor.execute(_MOVED_SQL.format(moved=moved_sql), params)  # noqa: S608 (constants; values bound)
    rows = cursor.fetchall()
    if not rows:
        return
    firsts = [(r[6], r[7]) for r in rows if r[0] == "f"]
    withdrawn = [(r[6], r[7]) for r in rows if r[0] == "w"]
    event = domain.event_of_move(str(target.type), details.get("purpose", ""))
    party = details.get("jurisdiction", "")
    new: list[tuple[Any, ...]] = []
    for _, ms, me, aid, iid, vintage, rs, re_, defs, authorising, ndc, oimp, parties in (r for r in rows if r[0] == "r"):
        on = {"ndc": bool(ndc), "oimp": bool(oimp)}
        purposes = {p: d for p, d in _json(defs).items() if on.get(p)}
        lo, hi = max(ms, rs), min(me, re_)
        for piece_lo, piece_hi, already in _split(lo, hi, firsts):
            # Units a change withdrew (not first-transferred) are no longer authorised.
            for a, b in withdrawals.subtract(piece_lo, piece_hi, [] if already else withdrawn):
                outcome = domain.first_transfer(purposes, event, already=already, party=party,
                                                acquiring_parties=_json(parties), authorising_party=authorising)
                if outcome.first_transfer:
                    new.append((aid, iid, vintage, a, b, outcome))
    if not new:
        return
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(new))
    cursor.execute(
        f"INSERT INTO article6_firsttransfer ({FIRST_TRANSFER_COLUMNS}) VALUES {values} "  # noqa: S608
        "RETURNING id, serial_start",
        [v for aid, iid, vintage, lo, hi, o in new
         for v in (aid, iid, vintage, lo, hi, o.cause, o.purpose, o.adjustment_party, transaction_ref, stamp)],
    )
    ids = {start: fid for fid, start in cursor.fetchall()}
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(new))
    cursor.execute(
        f"INSERT INTO article6_correspondingadjustment ({ADJUSTMENT_COLUMNS}) VALUES {values}",  # noqa: S608
        [v for aid, _, vintage, lo, hi, o in new
         for v in (ids[lo], aid, vintage, o.adjustment_party, hi - lo + 1, stamp)],
    )


def _split(lo: int, hi: int, firsts: list[tuple[int, int]]) -> list[tuple[int, int, bool]]:
    """[lo, hi] cut into pieces first-transferred already or not."""
    out: list[tuple[int, int, bool]] = []
    cursor = lo
    for fs, fe in sorted(firsts):
        if fe < cursor or fs > hi:
            continue
        if fs > cursor:
            out.append((cursor, fs - 1, False))
        out.append((max(fs, cursor), min(fe, hi), True))
        cursor = min(fe, hi) + 1
    if cursor <= hi:
        out.append((cursor, hi, False))
    return out


# -- uses and cancellations ------------------------------------------------------------

USE_ROUTES: dict[str, tuple[str, str]] = {
    "ndc": (Transaction.Kind.RETIREMENT, Account.Type.RETIREMENT),
    "oimp": (Transaction.Kind.RETIREMENT, Account.Type.RETIREMENT),
    "voluntary_cancellation": (Transaction.Kind.CANCELLATION, Account.Type.CANCELLATION),
    "omge": (Transaction.Kind.CANCELLATION, Account.Type.OMGE),
}


def use_units(
    *,
    actor: User,
    from_account: str,
    selection: Selection,
    use: str,
    using_party: str = "",
    using_entity: str = "",
    oimp_purpose: str = "",
    idempotency_key: str,
) -> Transaction:
    """Use towards an NDC, use for other international mitigation purposes,
    voluntary cancellation or OMGE cancellation: a terminal move that names
    the using Party or entity."""
    if use not in USE_ROUTES:
        raise ValidationFailed("USE_INVALID", f"use must be one of: {', '.join(domain.USES)}.", field="use", details={"allowed": list(domain.USES)})
    party = domain.party(using_party, "using_party") if using_party or use == "ndc" else ""
    entity = text.bounded(using_entity, "using_entity", 300, label="The using entity")
    if not party and not entity:
        raise ValidationFailed("USER_REQUIRED", "Name the using Party or the using entity.", field="using_party")
    oimp_purpose = (oimp_purpose or "").strip()
    if use == "oimp" and not oimp_purpose:
        raise ValidationFailed("OIMP_PURPOSE_REQUIRED", "Name the other international mitigation purpose.", field="oimp_purpose")
    kind, account_type = USE_ROUTES[use]
    return units.request_move(
        kind=kind,
        actor=actor,
        from_account=from_account,
        to_account=system_account(account_type).identifier,
        selection=selection,
        idempotency_key=idempotency_key,
        details={
            "beneficiary": entity or party,
            "purpose": domain.use_purpose(use),
            "jurisdiction": party,
            "reason": oimp_purpose or f"Article 6 {use.replace('_', ' ')}",
        },
    )
