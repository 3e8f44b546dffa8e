"""Who may read which KYC records, and the reads themselves. KYC data and
documents: the holder's administrators and the registry administrator only
(others are told the organisation does not exist); sanctions lists and the
review queue: the registry administrator."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from tonne.core.errors import NotFound
from tonne.kyc.models import BeneficialOwner, KycDocument, KycProfile, SanctionsList, ScreeningHit
from tonne.organisations.models import Organisation, User
from tonne.organisations.services import (
    is_registry_administrator,
    require_active_member,
    require_registry_administrator,
)


def require_holder_or_admin(actor: User, organisation: Organisation) -> None:
    """KYC data is for the organisation's administrators and the registry administrator."""
    if is_registry_administrator(actor):
        return
    org = require_active_member(actor, (User.Role.ADMIN,)) if actor.organisation_id == organisation.pk else None
    if org is None:
        raise NotFound("ORGANISATION_NOT_FOUND", "No such organisation.")


def organisation_for(user: User, uid: uuid.UUID) -> Organisation:
    """The organisation whose KYC record `user` may read."""
    org = Organisation.objects.filter(uid=uid).first()
    if org is None:
        raise NotFound("ORGANISATION_NOT_FOUND", "No such organisation.")
    require_holder_or_admin(user, org)
    return org


def profile_of(organisation: Organisation) -> KycProfile | None:
    return KycProfile.objects.filter(organisation=organisation).first()


def owners_of(organisation: Organisation) -> QuerySet[BeneficialOwner]:
    return BeneficialOwner.objects.filter(organisation=organisation)


def documents_of(organisation: Organisation) -> QuerySet[KycDocument]:
    return KycDocument.objects.filter(organisation=organisation)


def sanctions_lists_for(user: User) -> QuerySet[SanctionsList]:
    require_registry_administrator(user)
    return SanctionsList.objects.all()


def screening_hits_for(user: User, *, status: str | None = None) -> QuerySet[ScreeningHit]:
    """The sanctions review queue."""
    require_registry_administrator(user)
    qs = ScreeningHit.objects.select_related("organisation")
    return qs.filter(status=status) if status else qs


def screening_hit(pk: int) -> ScreeningHit:
    return ScreeningHit.objects.select_related("organisation").get(pk=pk)
