"""Linkage with partner registries in the workspace: for the registry
administrator, the partner list and the transfers in flight in both
directions (with their state and age; a partner's proposal accepted or
rejected here); for a holder, its own transfers to partner registries. The
same service functions as the API and `tonne linkage` do the work."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tonne.access import policy as access_policy
from tonne.controls.models import Approval
from tonne.core import clock
from tonne.core.errors import RegistryError
from tonne.linkage import delivery, receiving, reconciliation, selectors
from tonne.workspace.views.common import (
    ADMIN,
    HOLDER,
    STEP_UP_CODES,
    _user,
    role_required,
    step_up_redirect,
)


class RejectForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=500)


@role_required(ADMIN)
def linkage(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    now = clock.now()
    outbound, inbound = selectors.in_flight(user)
    return render(request, "workspace/linkage.html", {
        "partners": [selectors.partner_out(p, now) for p in selectors.partners(user)],
        "outbound": outbound[:500], "inbound": inbound[:500], "now": now, "reject_form": RejectForm(),
    })


def _decide(request: HttpRequest, decide: object) -> HttpResponse:
    back = reverse("workspace:linkage")
    user = _user(request)
    try:
        access_policy.require_step_up(request, user)
        result = decide(user)  # type: ignore[operator]
    except RegistryError as exc:
        if exc.code in STEP_UP_CODES:
            return step_up_redirect(request, exc, back)
        messages.error(request, f"{exc.code}: {exc.message}")
        return redirect(back)
    if isinstance(result, Approval):
        messages.success(request, _("Recorded; it takes effect when a second registry administrator approves it in the "
                                    "inbox (request %(uid)s).") % {"uid": result.uid})
    else:
        messages.success(request, _("Transfer %(transfer)s is now %(state)s.") % {
            "transfer": result.transfer, "state": result.state})
    return redirect(back)


@require_POST
@role_required(ADMIN)
def accept(request: HttpRequest, registry_id: str, transfer: str) -> HttpResponse:
    return _decide(request, lambda user: receiving.accept(actor=user, registry_id=registry_id, transfer=transfer))


@require_POST
@role_required(ADMIN)
def reject(request: HttpRequest, registry_id: str, transfer: str) -> HttpResponse:
    form = RejectForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    return _decide(request, lambda user: receiving.reject(actor=user, registry_id=registry_id, transfer=transfer,
                                                          reason=reason))


@role_required(HOLDER)
def outgoing(request: HttpRequest) -> HttpResponse:
    rows = selectors.outgoing_of(_user(request))[:500]
    return render(request, "workspace/linkage_outgoing.html", {"rows": rows, "now": clock.now()})


class ResolveForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("How it was resolved"), max_length=500)


@role_required(ADMIN)
def reconciliation_page(request: HttpRequest) -> HttpResponse:
    """Per partner: the last statements sent and received, the open mismatches (resolved here)."""
    user = _user(request)
    return render(request, "workspace/linkage_reconciliation.html", {
        "reports": selectors.reconciliation_reports(user), "resolve_form": ResolveForm(),
        "resolved": selectors.mismatches(user, "resolved")[:50],
    })


def _act(request: HttpRequest, act: object, *, step_up: bool) -> HttpResponse:
    back = reverse("workspace:linkage-reconciliation")
    user = _user(request)
    try:
        if step_up:
            access_policy.require_step_up(request, user)
        said = act(user)  # type: ignore[operator]
    except RegistryError as exc:
        if exc.code in STEP_UP_CODES:
            return step_up_redirect(request, exc, back)
        messages.error(request, f"{exc.code}: {exc.message}")
        return redirect(back)
    messages.success(request, said)
    return redirect(back)


@require_POST
@role_required(ADMIN)
def reconcile(request: HttpRequest) -> HttpResponse:
    """Statements to every active partner now (the worker does it every TONNE_LINKAGE_RECONCILE_HOURS)."""
    def run(user: object) -> str:
        said = reconciliation.reconcile_now(actor=user, post=delivery.post)  # type: ignore[arg-type]
        return "; ".join(said) or _("No active partner registry.")
    return _act(request, run, step_up=False)


@require_POST
@role_required(ADMIN)
def resolve(request: HttpRequest, uid: str) -> HttpResponse:
    form = ResolveForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""

    def run(user: object) -> str:
        found = reconciliation.resolve(actor=user, uid=uid, reason=reason)  # type: ignore[arg-type]
        return _("Mismatch %(code)s with %(registry)s resolved; the freezes of its units are lifted.") % {
            "code": found.code, "registry": found.partner.registry_id}
    return _act(request, run, step_up=True)
