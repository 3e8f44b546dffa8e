"""The registry administrator's pages: inbox, overview, organisations, and the application to join."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from tonne.access import policy as access_policy
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
    carries_step_up,
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


@require_safe
@role_required(ADMIN, HOLDER)
def inbox_item(request: HttpRequest, source: str, key: str) -> HttpResponse:
    """An item's own address shows the inbox; decisions post to approve/ or reject/."""
    return redirect("workspace:inbox")


def _decide(request: HttpRequest, source: str, key: str, decide: Callable[[Any, User, str, Any], None]) -> HttpResponse:
    """One decision on an inbox item: taken, or refused and shown beside the item."""
    user = _user(request)
    if not _may_decide(user):
        raise PermissionDenied
    src = inbox_sources.source(source)
    if src not in inbox_sources.sources_for(user):
        raise PermissionDenied
    if request.method != "POST":
        return redirect("workspace:inbox")
    data = request.POST  # back from the step-up, what was posted (its reason too)
    form = wf.DecisionForm(data)
    form.is_valid()
    try:
        if src.needs_step_up:
            access_policy.require_step_up(request, user)
        decide(src, user, form.cleaned_data.get("reason", ""), data)
    except RegistryError as exc:
        if exc.code in STEP_UP_CODES:
            return step_up_redirect(request, exc, reverse("workspace:inbox"), data)
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


def _title(src: Any, user: User, key: str) -> str:
    """What the person saw in the inbox (its title), not the item's raw id."""
    return next((item.title for item in src.items(user) if str(item.key) == key), key)


@carries_step_up
@require_http_methods(["GET", "POST"])  # GET: shows the inbox
@role_required(ADMIN, HOLDER)
def inbox_approve(request: HttpRequest, source: str, key: str) -> HttpResponse:
    def approve(src: Any, user: User, reason: str, data: Any) -> None:
        bound = {"request_hash": data.get("request_hash", "")} if src.binds_request_hash else {}
        item = _title(src, user, key)
        src.approve(user, key, reason, **bound)
        messages.success(request, _("Approved: %(item)s") % {"item": item})

    return _decide(request, source, key, approve)


@carries_step_up
@require_http_methods(["GET", "POST"])  # GET: shows the inbox
@role_required(ADMIN, HOLDER)
def inbox_reject(request: HttpRequest, source: str, key: str) -> HttpResponse:
    def reject(src: Any, user: User, reason: str, data: Any) -> None:
        item = _title(src, user, key)
        src.reject(user, key, reason)
        messages.success(request, _("Rejected: %(item)s") % {"item": item})

    return _decide(request, source, key, reject)


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
