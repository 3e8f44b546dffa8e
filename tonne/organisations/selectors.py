"""Permission-scoped reads of organisations, users, accounts and tokens.

The API and the web pages both read through these, so a rule written here
holds everywhere: an organisation sees its own, the registry administrator
sees everything, the public sees what is public."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum

from tonne.organisations.models import Account, ApiToken, Organisation, User
from tonne.organisations.services import is_registry_administrator

PUBLIC_ORGANISATION_STATUSES = (
    Organisation.Status.APPROVED,
    Organisation.Status.SUSPENDED,
    Organisation.Status.CLOSED,
)


def is_admin(user: User | None) -> bool:
    return user is not None and user.is_authenticated and is_registry_administrator(user)


def organisation_id(user: User | None) -> int | None:
    if user is None or not user.is_authenticated:
        return None
    return user.organisation_id


def organisations_for(user: User | None) -> QuerySet[Organisation]:
    """Admitted organisations are public; applications are seen by the
    applicant and the administrator only."""
    qs = Organisation.objects.all()
    if is_admin(user):
        return qs
    own = organisation_id(user)
    visible = Q(status__in=PUBLIC_ORGANISATION_STATUSES)
    if own is not None:
        visible |= Q(pk=own)
    return qs.filter(visible)


def may_see_private_fields(user: User | None, organisation: Organisation) -> bool:
    """KYC data (registration number, address, contact) is for self and admin."""
    return is_admin(user) or (
        organisation_id(user) is not None and organisation_id(user) == organisation.pk
    )


def users_for(user: User, organisation: Organisation) -> QuerySet[User]:
    if is_admin(user) or user.organisation_id == organisation.pk:
        return User.objects.filter(organisation=organisation).order_by("username")
    return User.objects.none()


def accounts_for(user: User | None) -> QuerySet[Account]:
    """Own organisation's accounts; everything for the administrator."""
    qs = Account.objects.select_related("organisation").annotate(
        balance=Sum("blocks__serial_end") - Sum("blocks__serial_start") + Count("blocks")
    )
    if is_admin(user):
        return qs
    own = organisation_id(user)
    if own is None:
        return qs.none()
    return qs.filter(organisation_id=own)


def may_see_account(user: User | None, account: Account | None) -> bool:
    """Holding accounts are private to their holder; the registry's own
    (system) accounts are public knowledge."""
    if account is None:
        return False
    if account.type != Account.Type.HOLDING:
        return True
    if is_admin(user):
        return True
    own = organisation_id(user)
    return own is not None and account.organisation_id == own


def tokens_for(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)
