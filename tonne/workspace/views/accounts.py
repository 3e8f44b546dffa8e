"""Accounts: holdings, limits and trusted accounts."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from tonne.controls import rules
from tonne.controls import selectors as control_selectors
from tonne.controls import services as controls
from tonne.core import clock
from tonne.core.errors import RegistryError
from tonne.linkage import selectors as linkage_selectors
from tonne.organisations import selectors as org_selectors
from tonne.organisations import services as orgs
from tonne.organisations.models import Account, User
from tonne.units import selectors as unit_selectors
from tonne.workspace import forms as wf
from tonne.workspace.views.common import (
    ADMIN,
    HOLDER,
    _user,
    carries_step_up,
    role_required,
    roles_of,
    show_error,
    submit,
)

# -- accounts, holdings, transactions ---------------------------------------------------------------


@role_required(ADMIN, HOLDER)
def account_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    qs = org_selectors.accounts_for(user)
    if not org_selectors.is_admin(user):
        qs = qs.filter(type=Account.Type.HOLDING)
    org_admin = user.organisation is not None and user.role == User.Role.ADMIN and HOLDER in roles_of(user)
    return render(request, "workspace/accounts.html", {"accounts": qs.order_by("number"), "org_admin": org_admin})


def _account(user: User, identifier: str) -> Account:
    account = org_selectors.accounts_for(user).filter(identifier=identifier.upper()).first()
    if account is None:
        raise Http404
    return account


@role_required(ADMIN, HOLDER)
def account_detail(request: HttpRequest, identifier: str) -> HttpResponse:
    user = _user(request)
    account = _account(user, identifier)
    admin = org_selectors.is_admin(user)
    status_form = wf.AccountStatusForm(initial={"status": account.status})
    error = None
    if request.method == "POST":
        if not admin:
            raise PermissionDenied
        status_form = wf.AccountStatusForm(request.POST)
        if status_form.is_valid():
            try:
                orgs.set_account_status(actor=user, account=account, **status_form.cleaned_data)
            except RegistryError as exc:
                error = exc
                show_error(status_form, exc)
            else:
                messages.success(request, _("The account's status was changed."))
                return redirect("workspace:account", identifier=account.identifier)
    blocks = unit_selectors.blocks_for(user).filter(account=account).order_by("acquired_at", "serial_start")
    holdings = [unit_selectors.holding_out(b, account.type) for b in blocks[:500]]
    txns = unit_selectors.transactions_for(user).filter(Q(from_account=account) | Q(to_account=account))[:50]
    return render(
        request,
        "workspace/account.html",
        {
            **account_controls(user, account),
            "trusted_form": wf.TrustedAccountForm(),
            "limits_form": wf.LimitsForm(initial=_own_limits(account)),
            "account": account,
            "held_from_partners": linkage_selectors.held_in(account.identifier),
            "holdings": holdings,
            "more": blocks.count() > len(holdings),
            "transactions": txns,
            "may_move": account.type == Account.Type.HOLDING and account.organisation_id == user.organisation_id,
            "admin": admin,
            "status_form": status_form,
            "error": error,
        },
        status=error.status if error else 200,
    )


def account_controls(user: User, account: Account) -> dict[str, Any]:
    """The controls that bind this account: freezes, limits, trusted accounts,
    the registry-wide switch, monitoring holds and an overdue KYC review."""

    now = clock.now()
    # The rules' own query (controls.rules), seen through what this user may see.
    binding = rules.freezes_binding_holdings(account.pk, now).values("pk")
    freezes = list(control_selectors.freezes_for(user).filter(pk__in=binding).order_by("created_at", "pk"))
    limits = rules.limits_in_force(account.pk)
    trusted = [t for t in control_selectors.trusted_of(account).order_by("effective_at") if t.removed_at is None]
    return {
        "freezes": freezes,
        "per_transfer": limits.per_transfer,
        "per_day": limits.per_day,
        "trusted": [(t, t.effective_at <= now) for t in trusted],
        "trust_own_accounts": settings.TONNE_TRUST_OWN_ACCOUNTS,
        "delay_non_trusted": settings.TONNE_DELAY_NON_TRUSTED,
        "transfers_suspended": rules.transfers_suspended(),
        "aml_hold": rules.hold_in_force(account) is not None,
        "kyc_overdue": rules.kyc_review_overdue(account.organisation_id, now),
        "may_edit_trusted": account.type == Account.Type.HOLDING
        and account.organisation_id == user.organisation_id
        and user.role in controls.OPERATOR_ROLES,
        "may_edit_limits": account.type == Account.Type.HOLDING
        and account.organisation_id == user.organisation_id
        and user.role == User.Role.ADMIN,
        # Changes of limits and the trusted list waiting for a second person: the holder sees them.
        "pending_changes": list(
            control_selectors.approvals_for(user)
            .filter(account=account, status="pending", action__in=("trusted_add", "limit_change"))
            .select_related("initiated_by")
            .order_by("created_at", "id")
        ),
    }


def _own_limits(account: Account) -> dict[str, Any]:
    limit = control_selectors.limits_of(account)
    return {"per_transfer": limit.per_transfer if limit else None, "per_day": limit.per_day if limit else None}


@carries_step_up
@role_required(HOLDER)
def account_limits(request: HttpRequest, identifier: str) -> HttpResponse:
    """Ask to change the account's limits; a second person of the organisation approves."""
    user = _user(request)
    account = _account(user, identifier)
    back = reverse("workspace:account", args=[account.identifier]) + "#limits"
    if request.method != "POST":
        return redirect(back)

    def done(result: Any) -> HttpResponse:
        if hasattr(result, "request_hash"):
            messages.info(request, _("The new limits await approval by a second person of your organisation."))
        else:
            messages.success(request, _("The new limits are in force."))
        return redirect(back)

    return submit(request, wf.LimitsForm(request.POST),
                  lambda data: controls.request_limits(actor=user, account=account.identifier, **data),
                  back=back, done=done, step_up=True,
                  invalid=_("Enter whole numbers of units of at least 1, or leave a field empty."))


@carries_step_up
@role_required(HOLDER)
def account_trusted(request: HttpRequest, identifier: str) -> HttpResponse:
    """Add an account to the trusted list (through four-eyes when the registry
    says so, effective after the trusted delay) or remove one (at once)."""
    user = _user(request)
    account = _account(user, identifier)
    back = reverse("workspace:account", args=[account.identifier])
    if request.method != "POST":
        return redirect(back)
    if "remove" in request.POST:
        removed = request.POST["remove"]

        def removed_done(_result: Any) -> HttpResponse:
            messages.success(request, _("%(trusted)s is no longer trusted.") % {"trusted": removed})
            return redirect(back)

        return submit(request, None, lambda _data: controls.remove_trusted(actor=user, account=account.identifier, trusted=removed),
                      back=back, done=removed_done)

    form = wf.TrustedAccountForm(request.POST)

    def added(result: Any) -> HttpResponse:
        if hasattr(result, "request_hash"):
            messages.info(request, _("The addition awaits approval by a second person of your organisation."))
        else:
            messages.success(
                request,
                _("From %(when)s, %(trusted)s will be trusted.")  # a time never ends the sentence ("p.m..")
                % {"trusted": form.cleaned_data["trusted"], "when": date_format(localtime(result.effective_at), "DATETIME_FORMAT")},
            )
        return redirect(back)

    return submit(request, form,
                  lambda data: controls.request_trusted_addition(actor=user, account=account.identifier, trusted=data["trusted"]),
                  back=back, done=added, step_up=True, invalid=_("Enter an account number."))
