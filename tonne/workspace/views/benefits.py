"""Benefit sharing and safeguards in the workspace: the developer writes the
plan, records money paid with its evidence and the communities' consent; the
developer or the registry administrator records grievances and their
outcome. One page shows planned against recorded; each form posts to its own
view, which calls the same service as the API and comes back to the page
(with the refused form, its fields kept, when the service says no)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tonne.core.errors import RegistryError
from tonne.mrv.trail import units_allocated
from tonne.organisations.models import User
from tonne.projects import benefits
from tonne.projects.models import BenefitShare, ConsentRecord, Disbursement, Grievance, Project
from tonne.workspace import dmrv_forms as df
from tonne.workspace.views.common import ADMIN, DEVELOPER, VVB, _user, role_required, roles_of
from tonne.workspace.views.projects import _project

EMPTY_ROWS = 2


def _plan_formset(project: Project, data: Any = None) -> Any:
    shares = list(BenefitShare.objects.filter(project=project, active=True).select_related("account").order_by("id"))
    initial = df.share_initial(shares) + [{} for _ in range(EMPTY_ROWS)]
    if data is not None:
        return df.ShareFormSet(data, prefix="share", initial=initial)
    return df.ShareFormSet(prefix="share", initial=initial)


def _page(request: HttpRequest, user: User, project: Project, status: int = 200, **bound: Any) -> HttpResponse:
    roles = roles_of(user)
    developer = DEVELOPER in roles and project.developer_id == user.organisation_id
    grievance_forms = {
        g.uid: df.GrievanceStatusForm(prefix=f"g-{g.uid}", initial={"status": g.status, "resolution": g.resolution})
        for g in Grievance.objects.filter(project=project)
    }
    if "grievance_status" in bound:
        uid, form = bound.pop("grievance_status")
        grievance_forms[uid] = form
    context = {
        "project": project,
        "figures": benefits.benefit_figures(project, units_allocated(project)),
        "minimum_percent": Decimal(benefits.minimum_community_basis_points(project)) / 100,
        "disbursements": Disbursement.objects.filter(share__project=project).select_related("share", "evidence")
        .order_by("-paid_on"),
        "consents": ConsentRecord.objects.filter(project=project).select_related("document").order_by("-obtained_on"),
        "grievances": [(g, grievance_forms[g.uid], df.GRIEVANCE_STATUS_LABELS.get(g.status, g.status))
                       for g in Grievance.objects.filter(project=project).order_by("-received_on")],
        "can_plan": developer,
        "can_record_grievances": developer or ADMIN in roles,
        "plan": bound.get("plan") or _plan_formset(project),
        "disbursement": bound.get("disbursement") or df.DisbursementForm(project=project),
        "consent": bound.get("consent") or df.ConsentForm(project=project),
        "grievance": bound.get("grievance") or df.GrievanceForm(),
        "has_documents": project.documents.exists(),
    }
    return render(request, "workspace/benefits.html", context, status=status)


@role_required(ADMIN, DEVELOPER, VVB)
def benefits_page(request: HttpRequest, project_id: str) -> HttpResponse:
    user = _user(request)
    return _page(request, user, _project(user, project_id))


@require_POST
@role_required(DEVELOPER)
def benefit_plan(request: HttpRequest, project_id: str) -> HttpResponse:
    user = _user(request)
    project = _project(user, project_id)
    formset = _plan_formset(project, request.POST)
    if formset.is_valid():
        rows = [row for row in (f.as_service() for f in formset.forms) if row is not None]
        try:
            benefits.set_benefit_plan(actor=user, project=project, shares=rows)
        except RegistryError as exc:
            given = sum(r["share_basis_points"] for r in rows if r["beneficiary_kind"] == "community")
            formset._non_form_errors = formset.error_class([df.refusal(
                exc, minimum=Decimal(benefits.minimum_community_basis_points(project)) / 100,
                given=Decimal(given) / 100)])
        else:
            messages.success(request, _("Benefit-sharing plan saved: %(n)s shares.") % {"n": len(rows)})
            return redirect("workspace:benefits", project_id=project.project_id)
    return _page(request, user, project, status=400, plan=formset)


@require_POST
@role_required(DEVELOPER)
def disbursement(request: HttpRequest, project_id: str) -> HttpResponse:
    user = _user(request)
    project = _project(user, project_id)
    form = df.DisbursementForm(request.POST, project=project)
    if form.is_valid():
        data = form.cleaned_data
        share = BenefitShare.objects.filter(project=project, uid=uuid.UUID(data["share"])).first()
        if share is None:
            form.add_error("share", _("Choose one of the plan's money shares."))
        else:
            try:
                benefits.record_disbursement(actor=user, share=share, amount=str(data["amount"]),
                                             currency=data["currency"], paid_on=data["paid_on"],
                                             evidence=data["evidence"])
            except RegistryError as exc:
                df.show_refusal(form, exc)
            else:
                messages.success(request, _("Payment to %(beneficiary)s recorded.") % {"beneficiary": share.beneficiary})
                return redirect("workspace:benefits", project_id=project.project_id)
    return _page(request, user, project, status=400, disbursement=form)


@require_POST
@role_required(DEVELOPER)
def consent(request: HttpRequest, project_id: str) -> HttpResponse:
    user = _user(request)
    project = _project(user, project_id)
    form = df.ConsentForm(request.POST, project=project)
    if form.is_valid():
        data = form.cleaned_data
        try:
            benefits.record_consent(actor=user, project=project, community=data["community"],
                                    obtained_on=data["obtained_on"], document=data["document"])
        except RegistryError as exc:
            df.show_refusal(form, exc)
        else:
            messages.success(request, _("Consent of %(community)s recorded.") % {"community": data["community"]})
            return redirect("workspace:benefits", project_id=project.project_id)
    return _page(request, user, project, status=400, consent=form)


@require_POST
@role_required(ADMIN, DEVELOPER)
def grievance(request: HttpRequest, project_id: str) -> HttpResponse:
    user = _user(request)
    project = _project(user, project_id)
    form = df.GrievanceForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            benefits.record_grievance(actor=user, project=project, received_on=data["received_on"],
                                      channel=data["channel"], summary=data["summary"])
        except RegistryError as exc:
            df.show_refusal(form, exc)
        else:
            messages.success(request, _("Grievance recorded."))
            return redirect("workspace:benefits", project_id=project.project_id)
    return _page(request, user, project, status=400, grievance=form)


@require_POST
@role_required(ADMIN, DEVELOPER)
def grievance_status(request: HttpRequest, project_id: str, uid: str) -> HttpResponse:
    user = _user(request)
    project = _project(user, project_id)
    try:
        row = Grievance.objects.get(project=project, uid=uuid.UUID(uid))
    except (ValueError, Grievance.DoesNotExist):
        raise Http404(_("No such grievance.")) from None
    form = df.GrievanceStatusForm(request.POST, prefix=f"g-{row.uid}")
    if form.is_valid():
        try:
            benefits.update_grievance(actor=user, grievance=row, status=form.cleaned_data["status"],
                                      resolution=form.cleaned_data["resolution"])
        except RegistryError as exc:
            df.show_refusal(form, exc)
        else:
            messages.success(request, _("Grievance status updated."))
            return redirect("workspace:benefits", project_id=project.project_id)
    return _page(request, user, project, status=400, grievance_status=(row.uid, form))
