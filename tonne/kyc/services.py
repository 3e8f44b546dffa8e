"""KYC and sanctions screening: submitting and verifying an organisation's
legal data, encrypted registration documents (every read audited), loading
sanctions lists, screening names, and the checks before units move."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from rapidfuzz import fuzz, process

from tonne.audit import review
from tonne.audit.models import AuditEvent
from tonne.audit.services import record
from tonne.core import clock, iso3166, uploads
from tonne.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tonne.kyc import crypto, domain
from tonne.kyc.models import (
    BeneficialOwner,
    KycDocument,
    KycProfile,
    SanctionsEntry,
    SanctionsList,
    ScreeningHit,
)
from tonne.kyc.selectors import require_holder_or_admin
from tonne.ledger.services import append_entry
from tonne.ledger.state_decisions import owners_list
from tonne.organisations.models import Organisation, User
from tonne.organisations.services import (
    is_registry_administrator,
    require_registry_administrator,
)

Category = AuditEvent.Category
REPRESENTATIVE_ROLES = (User.Role.ADMIN, User.Role.INITIATOR, User.Role.APPROVER)
BLOCKING_HITS = (ScreeningHit.Status.PENDING, ScreeningHit.Status.CONFIRMED)


# -- profile -----------------------------------------------------------------------------


def _state_profile(profile: KycProfile, organisation: Organisation, actor: User) -> None:
    """The ledger states each review (it decides who may move units); verify holds the row to it."""
    reviewer = profile.reviewed_by
    append_entry(kind="kyc.status", actor=actor, data={
        "organisation": str(organisation.uid), "status": profile.status,
        "review_due": profile.review_due.isoformat() if profile.review_due else None,
        "reviewed_by": reviewer.username if reviewer is not None else None,
    })


def _text(data: dict[str, Any], key: str, limit: int, *, required: bool = False) -> str:
    value = str(data.get(key) or "").strip()
    if required and not value:
        raise ValidationFailed("KYC_FIELD_REQUIRED", f"{key} is required.", field=key)
    if len(value) > limit:
        raise ValidationFailed("KYC_FIELD_TOO_LONG", f"{key} is at most {limit} characters.", field=key, details={"limit": limit})
    return value


def _owners(rows: list[dict[str, Any]]) -> list[BeneficialOwner]:
    owners, total = [], 0
    for i, row in enumerate(rows):
        name = _text(row, "name", 300, required=True)
        bp = row.get("ownership_basis_points")
        if not isinstance(bp, int) or not 1 <= bp <= 10000:
            raise ValidationFailed("OWNERSHIP_INVALID", "ownership_basis_points is 1..10000 (100 %).",
                                   field=f"beneficial_owners[{i}]")
        total += bp
        owners.append(BeneficialOwner(name=name, birth_date=row.get("birth_date"),
                                      nationality=_text(row, "nationality", 2).upper(), ownership_basis_points=bp))
    if total > 10000:
        raise ValidationFailed("OWNERSHIP_OVER_WHOLE", "Beneficial owners hold more than 100 % together.",
                               field="beneficial_owners")
    return owners


def submit_profile(*, actor: User, organisation: Organisation, data: dict[str, Any]) -> KycProfile:
    """The holder (or the administrator) gives the legal data and beneficial
    owners; the names are screened at once (onboarding)."""
    require_holder_or_admin(actor, organisation)
    country = iso3166.country(_text(data, "registration_country", 2, required=True), "registration_country")
    fields = {
        "legal_name": _text(data, "legal_name", 300, required=True),
        "legal_form": _text(data, "legal_form", 100),
        "registration_country": country,
        "registration_number": _text(data, "registration_number", 100, required=True),
        "tax_id": _text(data, "tax_id", 100),
        "lei": _text(data, "lei", 20),
        "registered_address": _text(data, "registered_address", 2000, required=True),
    }
    owners = _owners(list(data.get("beneficial_owners") or []))
    with transaction.atomic():
        profile = KycProfile.objects.select_for_update().filter(organisation=organisation).first()
        now = clock.now()
        if profile is None:
            profile = KycProfile(organisation=organisation, submitted_at=now)
        for key, value in fields.items():
            setattr(profile, key, value)
        # New data needs a new review; the review date stays until then.
        profile.status = KycProfile.Status.SUBMITTED
        profile.submitted_at = now
        profile.save()
        _state_profile(profile, organisation, actor)
        BeneficialOwner.objects.filter(organisation=organisation).delete()
        for owner in owners:
            owner.organisation = organisation
        BeneficialOwner.objects.bulk_create(owners)
        # Who owns the organisation decides its screening: the ledger states the list (committed to).
        append_entry(kind="kyc.owners", actor=actor, data={"organisation": str(organisation.uid), "owners": owners_list(
            {"name": o.name, "birth_date": o.birth_date, "nationality": o.nationality,
             "ownership_basis_points": o.ownership_basis_points} for o in owners)})
        record(Category.ADMIN_ACTION if is_registry_administrator(actor) else Category.CONFIGURATION,
               "kyc.submitted", actor=actor, target=str(organisation.uid))
        screen_organisation(organisation, trigger="onboarding")
    return profile


def verify_profile(*, actor: User, organisation: Organisation) -> KycProfile:
    require_registry_administrator(actor)
    with transaction.atomic():
        profile = KycProfile.objects.select_for_update().filter(organisation=organisation).first()
        if profile is None:
            raise ValidationFailed("KYC_MISSING", f"{organisation.name} has not submitted its KYC data.", details={"organisation": organisation.name})
        if not KycDocument.objects.filter(organisation=organisation, kind=KycDocument.Kind.REGISTRATION).exists():
            raise ValidationFailed("KYC_DOCUMENT_MISSING", "A certificate of registration is needed first.")
        require_no_sanctions_hits(organisation)
        now = clock.now()
        profile.status = KycProfile.Status.VERIFIED
        profile.reviewed_at = now
        profile.reviewed_by = actor
        profile.review_due = now.date() + dt.timedelta(days=settings.TONNE_KYC_REVIEW_DAYS)
        profile.save()
        _state_profile(profile, organisation, actor)
        record(Category.ADMIN_ACTION, "kyc.verified", actor=actor, target=str(organisation.uid),
               detail={"review_due": profile.review_due.isoformat()})
    return profile


# -- documents -----------------------------------------------------------------------------


def upload_document(
    *, actor: User, organisation: Organisation, kind: str, filename: str, content: bytes, content_type: str
) -> KycDocument:
    require_holder_or_admin(actor, organisation)
    if kind not in KycDocument.Kind.values:
        raise ValidationFailed("DOCUMENT_KIND_INVALID", f"kind must be one of {', '.join(KycDocument.Kind.values)}.",
                               field="kind", details={"allowed": list(KycDocument.Kind.values)})
    content_type = uploads.check(content)  # found in the content; the declared type is not trusted
    uid = uuid.uuid4()
    crypto.store(str(uid), content)
    document = KycDocument.objects.create(
        uid=uid,
        organisation=organisation,
        kind=kind,
        filename=(filename or "document")[:255],
        content_type=content_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=actor,
        uploaded_at=clock.now(),
    )
    record(Category.CONFIGURATION, "kyc.document_uploaded", actor=actor, target=str(uid),
           detail={"organisation": str(organisation.uid), "kind": kind, "sha256": document.sha256})
    return document


def read_document(*, actor: User, uid: Any) -> tuple[KycDocument, bytes]:
    """Only the holder's administrators and the registry administrator read
    KYC documents; every read is in the audit log."""
    document = KycDocument.objects.select_related("organisation").filter(uid=uid).first()
    if document is None:
        raise NotFound("KYC_DOCUMENT_NOT_FOUND", "No such document.")
    try:
        require_holder_or_admin(actor, document.organisation)
    except (NotFound, PermissionDenied):
        raise NotFound("KYC_DOCUMENT_NOT_FOUND", "No such document.") from None
    content = crypto.load(str(document.uid))
    record(Category.KYC_DOCUMENT_READ, "kyc.document_read", actor=actor, target=str(document.uid),
           detail={"organisation": str(document.organisation.uid), "kind": document.kind})
    return document, content


# -- sanctions lists and screening -------------------------------------------------------------


def load_sanctions_list(*, actor: User, source: str, content: bytes) -> SanctionsList:
    """Load a list file the operator downloaded; it replaces the previous list
    of that source, and every organisation is screened again."""
    require_registry_administrator(actor)
    if source == SanctionsList.Source.UN:
        listed = list(domain.parse_un_xml(content))
    elif source == SanctionsList.Source.OPENSANCTIONS:
        listed = list(domain.parse_opensanctions_csv(content))
    else:
        raise ValidationFailed("SANCTIONS_SOURCE_INVALID", "source must be un or opensanctions.", field="source")
    listed = [item for item in listed if item.name]
    if not listed:
        raise ValidationFailed("SANCTIONS_LIST_EMPTY", "The file lists no names.", field="file")
    with transaction.atomic():
        SanctionsList.objects.filter(source=source, active=True).update(active=False)
        loaded = SanctionsList.objects.create(
            source=source, loaded_at=clock.now(), loaded_by=actor, sha256=hashlib.sha256(content).hexdigest(),
            entries=len(listed),
        )
        SanctionsEntry.objects.bulk_create(
            [
                SanctionsEntry(
                    sanctions_list=loaded,
                    reference=item.reference[:100],
                    kind=item.kind,
                    name=item.name[:500],
                    names=sorted({domain.normalise(n) for n in [item.name, *item.aliases] if domain.normalise(n)}),
                )
                for item in listed
            ],
            batch_size=1000,
        )
        record(Category.CONFIGURATION, "sanctions.list_loaded", actor=actor,
               detail={"source": source, "entries": len(listed), "sha256": loaded.sha256})
        hits = 0
        choices = _choices()
        for organisation in Organisation.objects.exclude(status__in=("rejected", "closed")):
            hits += len(screen_organisation(organisation, trigger="list_update", choices=choices))
    return loaded


Choices = tuple[domain.NameIndex, list[int]]  # listed names filed by key; the SanctionsEntry id of each
_index: dict[tuple, Choices] = {}


def _choices() -> Choices:
    """The active lists' names, indexed once per process and list version (a
    new list load makes a new version), so that screening an applicant costs
    the same with ten names listed or a hundred thousand."""
    version = tuple(SanctionsList.objects.filter(active=True).order_by("id").values_list("id", "sha256", "entries"))
    if version not in _index:
        names: list[str] = []
        owners: list[int] = []
        for entry_id, entry_names in SanctionsEntry.objects.filter(sanctions_list__active=True).order_by("id") \
                .values_list("id", "names").iterator(chunk_size=5000):
            for name in entry_names:
                names.append(name)
                owners.append(entry_id)
        _index.clear()  # only the current version is kept
        _index[version] = (domain.NameIndex(names), owners)
    return _index[version]


def subjects_of(organisation: Organisation) -> list[str]:
    names = [organisation.name]
    profile = KycProfile.objects.filter(organisation=organisation).first()
    if profile is not None:
        names.append(profile.legal_name)
    names += list(BeneficialOwner.objects.filter(organisation=organisation).values_list("name", flat=True))
    for first, last in User.objects.filter(organisation=organisation, is_active=True).values_list("first_name", "last_name"):
        if f"{first} {last}".strip():
            names.append(f"{first} {last}".strip())
    return list(dict.fromkeys(n for n in names if n))


def screen_organisation(organisation: Organisation, *, trigger: str, choices: Choices | None = None) -> list[ScreeningHit]:
    """Compare every name of the organisation with the active lists; each
    likely match becomes a hit for review (a match already raised is not raised again)."""
    index, owners = choices if choices is not None else _choices()
    if not index.names:
        return []
    hits = []
    now = clock.now()
    for subject in subjects_of(organisation):
        wanted = domain.normalise(subject)
        # Only listed names that share a word (or its first letters) with the subject are scored:
        # a fast first pass, then the exact rule on the few best.
        candidates = index.candidates(wanted)
        for candidate, _, position in process.extract(
            wanted, [index.names[i] for i in candidates], scorer=fuzz.token_set_ratio,
            score_cutoff=settings.TONNE_SANCTIONS_THRESHOLD, limit=20,
        ):
            score = domain.similarity(wanted, candidate)
            if score < settings.TONNE_SANCTIONS_THRESHOLD:
                continue
            entry = SanctionsEntry.objects.select_related("sanctions_list").get(pk=owners[candidates[position]])
            source = entry.sanctions_list.source
            seen = ScreeningHit.objects.filter(
                organisation=organisation, subject=subject[:300], entry_reference=entry.reference, source=source
            )
            if seen.exists():  # pending, cleared or confirmed: decided once
                continue
            hit = ScreeningHit.objects.create(
                organisation=organisation, subject=subject[:300], entry=entry, entry_name=entry.name,
                entry_reference=entry.reference, source=source, score=int(score), trigger=trigger, created_at=now,
            )
            append_entry(kind="kyc.hit_raised", actor=None, data={"hit": hit.pk, "organisation": str(organisation.uid)})
            record(Category.SECURITY, "sanctions.hit", target=str(organisation.uid),
                   detail={"subject": subject, "entry": entry.name, "reference": entry.reference, "score": int(score)})
            hits.append(hit)
    return hits


def decide_hit(*, actor: User, hit_id: int, status: str, note: str) -> ScreeningHit:
    """Clear (the organisation may move units again) or confirm a screening hit."""

    def state(hit: ScreeningHit) -> None:
        append_entry(kind="kyc.hit_decided", actor=actor,
                     data={"hit": hit.pk, "status": hit.status, "decided_by": actor.username})

    return review.decide(
        actor=actor, model=ScreeningHit, pk=hit_id, status=status, note=note,
        choices=(ScreeningHit.Status.CLEARED, ScreeningHit.Status.CONFIRMED), open_status=ScreeningHit.Status.PENDING,
        codes=("HIT_DECISION_INVALID", "SCREENING_HIT_NOT_FOUND", "SCREENING_HIT_DECIDED"), event="sanctions.hit",
        noun="screening hit", on_decided=state,
    )


def require_no_sanctions_hits(organisation: Organisation) -> None:
    if ScreeningHit.objects.filter(organisation=organisation, status__in=BLOCKING_HITS).exists():
        raise Conflict(
            "SANCTIONS_HIT_UNRESOLVED",
            f"{organisation.name} has sanctions screening hits to resolve first (GET /api/v1/screening-hits).",
            details={"organisation": organisation.name},
        )


# -- before units move -------------------------------------------------------------------------
