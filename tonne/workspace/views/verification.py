"""The VVB answers its assignment; the administrator approves a verification
(where the registry requires it)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tonne.core.errors import RegistryError
from tonne.mrv import verification
from tonne.workspace import forms as wf
from tonne.workspace.views.common import ADMIN, VVB, role_required
from tonne.workspace.views.reports import ReportPage


@require_POST
@role_required(VVB)
def report_assignment(request: HttpRequest, uid: str) -> HttpResponse:
    """Accept (declaring no conflict of interest) or decline (with a reason)."""
    page = ReportPage.load(request, uid)
    form = wf.AssignmentForm(request.POST)
    form.is_valid()
    decision = "declined" if request.POST.get("decision") == "declined" else "accepted"
    try:
        verification.answer_assignment(
            actor=page.user, report=page.report, decision=decision,
            no_conflict_of_interest=bool(form.cleaned_data.get("no_conflict_of_interest")),
            reason=form.cleaned_data.get("reason", ""),
        )
    except RegistryError as exc:
        return page.refused(request, "assignment", form, exc)
    messages.success(request, _("Assignment accepted: you may now verify the report.") if decision == "accepted"
                     else _("Assignment declined; the developer is told."))
    return page.done()


@require_POST
@role_required(ADMIN)
def report_verification_approval(request: HttpRequest, uid: str) -> HttpResponse:
    page = ReportPage.load(request, uid)
    try:
        verification.approve_verification(actor=page.user, report=page.report)
    except RegistryError as exc:
        return page.refused(request, "verification-approval", None, exc)
    messages.success(request, _("Verification approved: issuance may follow."))
    return page.done()
