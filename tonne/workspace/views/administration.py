"""The registry administrator's pages: inbox, overview, organisations, and the application to join."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from tonne.access import policy as access_policy
from tonne.controls import selectors as control_selectors
from tonne.controls import services as controls
from tonne.core.errors import RegistryError
from tonne.ledger.models import Checkpoint, LedgerHead
from tonne.mrv.models import MonitoringReport
from tonne.organisations import selectors as org_selectors
from tonne.organisations import services as orgs
from tonne.organisations.models import Account, Organisation, User
from tonne.projects.models import Project
from tonne.units import selectors as unit_selectors
from tonne.units.domain import unit_state
from tonne.units.models import Issuance, Transaction, UnitBlock
from tonne.workspace import forms as wf
from tonne.workspace import inbox as inbox_sources
from tonne.workspace.views.common import (
    ADMIN,
    HOLDER,
    STEP_UP_CODES,
    _user,
    role_required,
    roles_of,
    show_error,
    step_up_redirect,
)

# -- the administrator ---------------------------------------------------------------------------


def _may_decide(user: User) -> bool:
    return org_selectors.is_admin(user) or (HOLDER in roles_of(user) and user.role in controls.APPROVER_ROLES)


@role_required(ADMIN, HOLDER)
def inbox(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not _may_decide(user):
        raise PermissionDenied
    sections = [(s, s.items(user)) for s in inbox_sources.sources_for(user)]
    return render(
        request,
        "workspace/inbox.html",
        {"sections": sections, "total": sum(len(items) for _s, items in sections), "form": wf.DecisionForm()},
    )


@role_required(ADMIN, HOLDER)
def inbox_decide(request: HttpRequest, source: str, key: str) -> HttpResponse:
    if request.method != "POST":
        return redirect("workspace:inbox")
    user = _user(request)
    if not _may_decide(user):
        raise PermissionDenied
    src = inbox_sources.source(source)
    if src not in inbox_sources.sources_for(user):
        raise PermissionDenied
    form = wf.DecisionForm(request.POST)
    form.is_valid()
    reason = form.cleaned_data.get("reason", "")
    decision = request.POST.get("decision")
    try:
        if decision in ("approve", "reject") and src.needs_step_up:
            access_policy.require_step_up(request, user)
        if decision == "approve":
            bound = {"request_hash": request.POST.get("request_hash", "")} if src.binds_request_hash else {}
            src.approve(user, key, reason, **bound)
            messages.success(request, _("Approved: %(item)s") % {"item": key})
        elif decision == "reject":
            src.reject(user, key, reason)
            messages.success(request, _("Rejected: %(item)s") % {"item": key})
        else:
            raise Http404
    except RegistryError as exc:
        if exc.code in STEP_UP_CODES:
            return step_up_redirect(request, exc, reverse("workspace:inbox") + f"#item-{source}-{key}")
        sections = [(s, s.items(user)) for s in inbox_sources.sources_for(user)]
        return render(
            request,
            "workspace/inbox.html",
            {
                "sections": sections,
                "total": sum(len(items) for _s, items in sections),
                "form": wf.DecisionForm(),
                "error": exc,
                "error_source": source,
                "error_key": key,
                "error_form": form,
            },
            status=exc.status,
        )
    return redirect("workspace:inbox")


def _units_by_state() -> dict[str, int]:
    totals = {state: 0 for state in unit_selectors.STATE_ACCOUNT_TYPES}
    rows = UnitBlock.objects.values("account__type").annotate(
        n=Sum("serial_end") - Sum("serial_start") + Count("id")
    )
    for row in rows:
        totals[unit_state(row["account__type"])] += int(row["n"] or 0)
    return totals


@role_required(ADMIN)
def overview(request: HttpRequest) -> HttpResponse:
    def by_status(qs: Any) -> list[tuple[str, int]]:
        return [(r["status"], r["n"]) for r in qs.values("status").annotate(n=Count("id")).order_by("status")]

    context = {
        "organisations": by_status(Organisation.objects.all()),
        "projects": by_status(Project.objects.all()),
        "reports": by_status(MonitoringReport.objects.all()),
        "units": _units_by_state(),
        "issued": Issuance.objects.aggregate(n=Sum("quantity"))["n"] or 0,
        "accounts": Account.objects.filter(type=Account.Type.HOLDING).count(),
        "transactions": Transaction.objects.count(),
        "ledger_size": LedgerHead.objects.get(pk=1).size,
        "checkpoint": Checkpoint.objects.order_by("-size").first(),
    }
    return render(request, "workspace/overview.html", context)


@role_required(ADMIN)
def organisations(request: HttpRequest) -> HttpResponse:
    qs = org_selectors.organisations_for(_user(request)).annotate(members=Count("users"))
    status = request.GET.get("status", "")
    if status:
        qs = qs.filter(status=status)
    return render(
        request,
        "workspace/organisations.html",
        {"organisations": qs.order_by("name"), "status": status, "statuses": Organisation.Status.values},
    )


@role_required()
def my_organisation(request: HttpRequest) -> HttpResponse:
    org = _user(request).organisation
    if org is None:
        raise Http404
    return redirect("workspace:organisation", uid=org.uid)


@role_required()
def organisation(request: HttpRequest, uid: str) -> HttpResponse:
    user = _user(request)
    org = org_selectors.organisations_for(user).filter(uid=uid).first()
    if org is None or not org_selectors.may_see_private_fields(user, org):
        raise Http404
    admin = org_selectors.is_admin(user)
    org_admin = admin or (user.organisation_id == org.pk and user.role == User.Role.ADMIN)
    status_form = wf.OrganisationStatusForm()
    accreditation_form = wf.AccreditationForm(initial={"accredited": org.accredited})
    user_form = wf.UserForm()
    member_form = wf.MemberForm()
    account_form = wf.AccountForm()
    error, error_form = None, ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        error_form = action
        try:
            if action == "status" and admin:
                status_form = wf.OrganisationStatusForm(request.POST)
                if status_form.is_valid():
                    orgs.decide_organisation(
                        actor=user,
                        organisation=org,
                        status=status_form.cleaned_data["status"],
                        reason=status_form.cleaned_data["reason"],
                    )
                    messages.success(request, _("The organisation's status was changed."))
                    return redirect("workspace:organisation", uid=org.uid)
            elif action == "accreditation" and admin:
                accreditation_form = wf.AccreditationForm(request.POST)
                if accreditation_form.is_valid():
                    orgs.set_accreditation(
                        actor=user, organisation=org, accredited=accreditation_form.cleaned_data["accredited"]
                    )
                    messages.success(request, _("Accreditation saved."))
                    return redirect("workspace:organisation", uid=org.uid)
            elif action == "user" and org_admin:
                user_form = wf.UserForm(request.POST)
                if user_form.is_valid():
                    created = orgs.create_user(actor=user, organisation=org, **user_form.cleaned_data)
                    if controls.pending_representative_change(created) is not None:
                        messages.success(request, _(
                            "User %(name)s added; as an authorised representative they can sign in once another "
                            "administrator or approver of the organisation approves (Inbox)."
                        ) % {"name": created.username})
                    else:
                        messages.success(request, _("User %(name)s added.") % {"name": created.username})
                    return redirect("workspace:organisation", uid=org.uid)
            elif action == "member" and org_admin:
                member_form = wf.MemberForm(request.POST)
                if member_form.is_valid():
                    member = org_selectors.users_for(user, org).filter(
                        username=member_form.cleaned_data["username"]
                    ).first()
                    if member is None:
                        raise Http404
                    result = controls.change_member(
                        actor=user, member=member, role=member_form.cleaned_data["role"],
                        active=member_form.cleaned_data["is_active"],
                    )
                    if isinstance(result, User):
                        messages.success(request, _("The change of %(name)s took effect.") % {"name": member.username})
                    else:
                        messages.success(request, _(
                            "The change of %(name)s waits for another administrator or approver of the organisation (Inbox)."
                        ) % {"name": member.username})
                    return redirect("workspace:organisation", uid=org.uid)
            elif action == "account" and org_admin:
                account_form = wf.AccountForm(request.POST)
                if account_form.is_valid():
                    account = orgs.open_holding_account(
                        actor=user, organisation=org, name=account_form.cleaned_data["name"]
                    )
                    messages.success(request, _("Account %(id)s opened.") % {"id": account.identifier})
                    return redirect("workspace:organisation", uid=org.uid)
            else:
                raise PermissionDenied
        except RegistryError as exc:
            error = exc
            target = {"status": status_form, "accreditation": accreditation_form, "user": user_form,
                      "member": member_form, "account": account_form}
            show_error(target.get(action), exc)
    return render(
        request,
        "workspace/organisation.html",
        {
            "org": org,
            "admin": admin,
            "org_admin": org_admin,
            "users": org_selectors.users_for(user, org),
            "accounts": org_selectors.accounts_for(user).filter(organisation=org),
            "status_form": status_form,
            "accreditation_form": accreditation_form,
            "user_form": user_form,
            "member_form": member_form,
            "pending_members": {
                a.payload.get("username"): a for a in control_selectors.approvals_for(user).filter(
                    action="representative_change", status="pending", organisation=org
                )
            } if org_admin else {},
            "account_form": account_form,
            "error": error,
            "error_form": error_form,
        },
        status=error.status if error else 200,
    )


def apply(request: HttpRequest) -> HttpResponse:
    """An organisation applies to join the registry (no sign-in needed)."""
    form = wf.OrganisationApplicationForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        try:
            actor = _user(request) if request.user.is_authenticated else None
            org = orgs.apply_for_organisation(actor=actor, **form.cleaned_data)
        except RegistryError as exc:
            error = exc
            show_error(form, exc)
        else:
            return render(request, "workspace/applied.html", {"org": org})
    return render(request, "workspace/apply.html", {"form": form, "error": error}, status=error.status if error else 200)
