"""Permission-scoped reads of the controls: a holder sees what binds its own
accounts and units; the registry administrator sees everything."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet

from tonne.controls import holidays, rules
from tonne.controls.models import AccountLimit, Approval, Freeze, TrustedAccount, TrustedDestination
from tonne.core import clock
from tonne.organisations.models import Account, User
from tonne.organisations.selectors import is_admin
from tonne.units.models import UnitBlock


def approvals_for(user: User) -> QuerySet[Approval]:
    qs = Approval.objects.select_related("transaction", "account", "initiated_by", "decided_by")
    if is_admin(user):
        return qs
    if user.organisation_id is None:
        return qs.none()
    return qs.filter(organisation_id=user.organisation_id)


def freezes_for(user: User, *, active_only: bool = False) -> QuerySet[Freeze]:
    qs = Freeze.objects.select_related("account", "project", "created_by", "lifted_by")
    if active_only:
        qs = qs.filter(pk__in=rules.active_freezes(clock.now()).values("pk"))
    if is_admin(user):
        return qs
    own = user.organisation_id
    if own is None:
        return qs.none()
    held_serials = UnitBlock.objects.filter(
        account__organisation_id=own,
        serial_start__lte=OuterRef("serial_end"),
        serial_end__gte=OuterRef("serial_start"),
    )
    held_project = UnitBlock.objects.filter(account__organisation_id=own, project_id=OuterRef("project_id"))
    return qs.filter(
        Q(scope=Freeze.Scope.ACCOUNT, account__organisation_id=own)
        | Q(scope=Freeze.Scope.PROJECT, project__developer_id=own)
        | (Q(scope=Freeze.Scope.PROJECT) & Exists(held_project))
        | (Q(scope=Freeze.Scope.SERIALS) & Exists(held_serials))
    )


def trusted_of(account: Account) -> QuerySet[TrustedAccount]:
    return TrustedAccount.objects.filter(account=account).select_related("trusted", "trusted__organisation")


def destinations_of(account: Account) -> QuerySet[TrustedDestination]:
    return TrustedDestination.objects.filter(account=account).select_related("account")


def limits_of(account: Account) -> AccountLimit | None:
    return AccountLimit.objects.filter(account=account).first()


def configuration() -> dict[str, Any]:
    """The controls in force in this registry, for every holder to see."""
    return {
        "four_eyes": sorted(settings.TONNE_FOUR_EYES),
        "approval_hours": settings.TONNE_APPROVAL_HOURS,
        "delay_non_trusted": settings.TONNE_DELAY_NON_TRUSTED,
        "settlement_working_days": settings.TONNE_SETTLEMENT_WORKING_DAYS,
        "trusted_delay_working_days": settings.TONNE_TRUSTED_DELAY_WORKING_DAYS,
        "trust_own_accounts": settings.TONNE_TRUST_OWN_ACCOUNTS,
        "calendar_timezone": settings.TONNE_CALENDAR_TIMEZONE,
        "holidays": sorted(d.isoformat() for d in holidays.declared()),
        "weekend": sorted(settings.TONNE_WEEKEND),
        "max_transfer_quantity": settings.TONNE_MAX_TRANSFER_QUANTITY or None,
        "max_daily_quantity": settings.TONNE_MAX_DAILY_QUANTITY or None,
        "freeze_max_days": settings.TONNE_FREEZE_MAX_DAYS,
        "mfa_required": getattr(settings, "TONNE_MFA_REQUIRED", False),
        "step_up_minutes": getattr(settings, "TONNE_STEP_UP_MINUTES", None),
    }
