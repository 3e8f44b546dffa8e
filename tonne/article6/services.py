"""Article 6 state changes: authorisations (through a second
administrator's approval), their changes and revocations, attaching
authorisation to units at issuance, first transfers with their corresponding
adjustments, and uses and cancellations. Each runs in one database
transaction and writes its ledger entry in it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, Sum

from tonne.article6 import domain
from tonne.article6.models import (
    Authorisation,
    AuthorisationVersion,
    AuthorisedRange,
    CorrespondingAdjustment,
    FirstTransfer,
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
        raise ValidationFailed("PROJECT_NOT_FOUND", f"No project {', '.join(missing)}.", field="projects")
    found = {str(u) for u in Organisation.objects.filter(uid__in=terms["entities"]).values_list("uid", flat=True)}
    missing = sorted(set(terms["entities"]) - found)
    if missing:
        raise ValidationFailed("ENTITY_NOT_FOUND", f"No organisation {', '.join(missing)}.", field="entities")
    _letter(terms["letter"])


def get_authorisation(identifier: str, *, lock: bool = False) -> Authorisation:
    qs = Authorisation.objects.select_for_update() if lock else Authorisation.objects
    found = qs.filter(identifier=(identifier or "").strip()).first()
    if found is None:
        raise NotFound("AUTHORISATION_NOT_FOUND", f"No authorisation {identifier}.", field="authorisation")
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
            raise Conflict("AUTHORISATION_EXISTS", f"Authorisation {terms['identifier']} already exists.", field="identifier")
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
        raise Conflict("AUTHORISATION_REVOKED", f"Authorisation {authorisation.identifier} is revoked.")
    attached = attached_quantity(authorisation)
    if terms["quantity"] < attached:
        raise ValidationFailed(
            "AUTHORISED_QUANTITY_BELOW_ATTACHED",
            f"{attached} units already carry this authorisation; the quantity cannot go below that "
            "(revoke the authorisation to withdraw units not yet first-transferred).",
            field="quantity",
        )
    latest = authorisation.versions.order_by("-version").first()
    if latest is not None and moment < latest.effective_from:
        raise ValidationFailed(
            "EFFECTIVE_DATE_BEFORE_LATEST",
            f"Version {latest.version} takes effect {latest.effective_from.isoformat()}; a change cannot precede it.",
            field="effective_from",
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
            raise Conflict("AUTHORISATION_REVOKED", f"Authorisation {authorisation.identifier} is already revoked.")
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
        raise Conflict("AUTHORISATION_EXISTS", f"Authorisation {terms['identifier']} already exists.")
    now = clock.now()
    authorisation = Authorisation.objects.create(
        uid=uuid.uuid4(),
        identifier=terms["identifier"],
        cooperative_approach=terms["cooperative_approach"],
        authorising_party=settings.TONNE_COUNTRY,
        first_transfer_definition=terms["first_transfer_definition"],
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
    entry = append_entry(
        kind="article6.changed",
        actor=approver,
        data={"authorisation": authorisation.identifier, "approval": str(approval.uid), **_version_data(version)},
    )
    AuthorisationVersion.objects.filter(pk=version.pk).update(ledger_seq=entry.seq)
    projects.mark_article6_authorised(actor=approver, project_ids=version.projects, authorisation=authorisation.identifier)


def carry_out_revoke(approval: Approval, approver: User) -> None:
    authorisation = get_authorisation(approval.payload["authorisation"], lock=True)
    if authorisation.status != Authorisation.Status.ACTIVE:
        raise Conflict("AUTHORISATION_REVOKED", f"Authorisation {authorisation.identifier} is already revoked.")
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
        room = version.quantity - attached_quantity(authorisation)
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
        first = authorisation.first_transfer_definition in domain.AT_ATTACHMENT
        if first:
            record_first_transfer(
                authorisation, issuance.pk, issuance.vintage, cursor, end,
                cause=authorisation.first_transfer_definition, party=version.sole_acquiring_party,
                transaction_ref=transaction_ref, at=now,
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


def record_first_transfer(
    authorisation: Authorisation, issuance_id: int, vintage: int, start: int, end: int, *,
    cause: str, party: str, transaction_ref: str, at: dt.datetime,
) -> FirstTransfer:
    first = FirstTransfer.objects.create(
        authorisation=authorisation, issuance_id=issuance_id, vintage=vintage, serial_start=start, serial_end=end,
        cause=cause, acquiring_party=party, transaction_identifier=transaction_ref, at=at,
    )
    CorrespondingAdjustment.objects.create(
        first_transfer=first, authorisation=authorisation, vintage=vintage, acquiring_party=party,
        quantity=end - start + 1, recorded_at=at,
    )
    return first


# Authorised ranges of the moved serials whose authorisation, in force now,
# defines the first transfer as their use or cancellation. One statement; only
# moves into a terminal account run it.
_FIRST_USE_SQL = (
    "INSERT INTO article6_firsttransfer (authorisation_id, issuance_id, vintage, serial_start, serial_end, "
    "cause, acquiring_party, transaction_identifier, at) "
    "SELECT r.authorisation_id, r.issuance_id, r.vintage, "
    "CASE WHEN r.serial_start > m.s THEN r.serial_start ELSE m.s END, "
    "CASE WHEN r.serial_end < m.e THEN r.serial_end ELSE m.e END, "
    "a.first_transfer_definition, COALESCE(("
    "SELECT v.sole_acquiring_party FROM article6_authorisationversion v "
    "WHERE v.authorisation_id = a.id AND v.effective_from <= %s ORDER BY v.version DESC LIMIT 1), ''), %s, %s "
    "FROM ({moved}) m "
    "JOIN article6_authorisedrange r ON r.serial_start <= m.e AND r.serial_end >= m.s "
    "JOIN article6_authorisation a ON a.id = r.authorisation_id "
    "WHERE a.first_transfer_definition = 'use_or_cancellation' AND (a.revoked_from IS NULL OR a.revoked_from > %s) "
    "RETURNING id, authorisation_id, vintage, acquiring_party, serial_start, serial_end"
)
ADJUSTMENT_COLUMNS = "first_transfer_id, authorisation_id, vintage, acquiring_party, quantity, recorded_at"
USE_TARGETS = (Account.Type.RETIREMENT, Account.Type.CANCELLATION, Account.Type.OMGE)


def on_terminal_move(
    cursor: Any, kind: str, target: Account, moved: list[tuple[int, int, int]], transaction_ref: str, now: dt.datetime
) -> None:
    """A move into a terminal account: a use or cancellation is the first
    transfer of authorised units whose authorisation says so."""
    if target.type not in USE_TARGETS:
        return  # exports: the export service records first international transfers
    stamp = connection.ops.adapt_datetimefield_value(now)
    moved_sql = " UNION ALL ".join(["SELECT CAST(%s AS BIGINT) AS s, CAST(%s AS BIGINT) AS e"] * len(moved))
    params: list[Any] = [stamp, transaction_ref, stamp]
    params += [v for _, start, end in moved for v in (start, end)]
    params.append(stamp)
    cursor.execute(_FIRST_USE_SQL.format(moved=moved_sql), params)  # noqa: S608 (constants; values bound)
    rows = cursor.fetchall()
    if not rows:
        return
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(rows))
    cursor.execute(
        f"INSERT INTO article6_correspondingadjustment ({ADJUSTMENT_COLUMNS}) VALUES {values}",  # noqa: S608
        [v for fid, aid, vintage, party, start, end in rows for v in (fid, aid, vintage, party, end - start + 1, stamp)],
    )


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
        raise ValidationFailed("USE_INVALID", f"use must be one of: {', '.join(domain.USES)}.", field="use")
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
