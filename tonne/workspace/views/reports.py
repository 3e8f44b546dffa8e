"""Monitoring reports: assignments, new report, verification and issuance."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from tonne.core.errors import RegistryError
from tonne.mrv import selectors as mrv_selectors
from tonne.mrv import services as mrv
from tonne.mrv.models import MonitoringReport
from tonne.organisations import selectors as org_selectors
from tonne.organisations.models import User
from tonne.projects import selectors as project_selectors
from tonne.projects.models import Project
from tonne.units import selectors as unit_selectors
from tonne.workspace import forms as wf
from tonne.workspace import inbox as inbox_sources
from tonne.workspace.labels import LABELS
from tonne.workspace.views.common import ADMIN, DEVELOPER, VVB, _user, role_required, show_error
from tonne.workspace.views.projects import _project, as_upload

# -- monitoring reports -------------------------------------------------------------------------


def _to_validate(user: User) -> Any:
    return project_selectors.projects_for(user).filter(vvb_id=user.organisation_id, status=Project.Status.APPROVED)


def _to_verify(user: User) -> Any:
    return mrv_selectors.reports_for(user).filter(vvb_id=user.organisation_id, status=MonitoringReport.Status.SUBMITTED)


@role_required(VVB)
def assignments(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    return render(
        request,
        "workspace/assignments.html",
        {
            "to_validate": _to_validate(user),
            "to_verify": _to_verify(user),
            "validated": project_selectors.projects_for(user)
            .filter(vvb_id=user.organisation_id)
            .exclude(status__in=[Project.Status.DRAFT, Project.Status.SUBMITTED, Project.Status.APPROVED]),
            "verified": mrv_selectors.reports_for(user)
            .filter(vvb_id=user.organisation_id)
            .exclude(status=MonitoringReport.Status.SUBMITTED),
        },
    )


@role_required(DEVELOPER)
def report_new(request: HttpRequest, project_id: str) -> HttpResponse:
    user = _user(request)
    project = _project(user, project_id)
    data = request.POST.copy() if request.method == "POST" else None
    adding = bool(data and data.get("add_row"))
    if data is not None and adding:
        data["vintages-TOTAL_FORMS"] = str(int(data.get("vintages-TOTAL_FORMS", "0") or 0) + 1)
    initial = {"vvb": str(project.vvb.uid)} if project.vvb else None
    form = wf.ReportForm(data, request.FILES or None, initial=initial)
    vintages = wf.VintageFormSet(data, prefix="vintages")
    error = None
    if data is not None and not adding and form.is_valid() & vintages.is_valid():
        rows = [
            {"vintage": f.cleaned_data["vintage"], "quantity": f.cleaned_data["quantity"]}
            for f in vintages.forms
            if f.cleaned_data.get("vintage") or f.cleaned_data.get("quantity")
        ]
        try:
            file = form.cleaned_data["document"]
            report = mrv.submit_report(
                actor=user,
                project=project,
                period_start=form.cleaned_data["period_start"],
                period_end=form.cleaned_data["period_end"],
                vintages=rows,
                vvb=form.cleaned_data["vvb"],
                upload=as_upload(file) if file else None,
            )
        except RegistryError as exc:
            error = exc
            show_error(form, exc)
        else:
            messages.success(request, _("Monitoring report %(n)s submitted for verification.") % {"n": report.number})
            return redirect("workspace:report", uid=report.uid)
    return render(
        request,
        "workspace/report_form.html",
        {"project": project, "form": form, "vintages": vintages, "error": error},
        status=error.status if error else 200,
    )


@role_required(ADMIN, DEVELOPER, VVB)
def report_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    qs = mrv_selectors.reports_for(user)
    if not org_selectors.is_admin(user):
        own = user.organisation_id
        qs = qs.filter(Q(project__developer_id=own) | Q(vvb_id=own))
    return render(request, "workspace/reports.html", {"reports": qs.order_by("-submitted_at")[:200]})


@role_required(ADMIN, DEVELOPER, VVB)
def report_detail(request: HttpRequest, uid: str) -> HttpResponse:
    user = _user(request)
    report = mrv_selectors.reports_for(user).filter(uid=uid).first() if inbox_sources._uuid_like(uid) else None
    if report is None or not project_selectors.is_project_party(user, report.project):
        raise Http404
    vintages = list(report.vintages.all())
    may_verify = report.status == MonitoringReport.Status.SUBMITTED and report.vvb_id == user.organisation_id
    may_issue = report.status == MonitoringReport.Status.VERIFIED and org_selectors.is_admin(user)
    verify_form = wf.VerifyForm(vintages=vintages)
    decision_form = wf.DecisionForm()
    error, error_form = None, ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        error_form = action
        try:
            if action == "verify":
                verify_form = wf.VerifyForm(request.POST, request.FILES, vintages=vintages)
                if verify_form.is_valid():
                    file = verify_form.cleaned_data["document"]
                    mrv.verify_report(
                        actor=user,
                        report=report,
                        verified=verify_form.verified(),
                        verification_id=verify_form.cleaned_data["verification_id"],
                        upload=as_upload(file) if file else None,
                    )
                    messages.success(request, _("Verified quantities recorded."))
                    return redirect("workspace:report", uid=report.uid)
            elif action == "issue":
                issued = mrv.approve_issuance(actor=user, report=report)
                messages.success(
                    request, _("%(n)s issuance(s) made.") % {"n": len(issued)}
                )
                return redirect("workspace:report", uid=report.uid)
            elif action == "reject":
                decision_form = wf.DecisionForm(request.POST)
                decision_form.is_valid()
                mrv.reject_report(actor=user, report=report, reason=decision_form.cleaned_data.get("reason", ""))
                messages.success(request, _("Monitoring report rejected."))
                return redirect("workspace:report", uid=report.uid)
            else:
                raise Http404
        except RegistryError as exc:
            error = exc
            show_error(verify_form if action == "verify" else decision_form, exc)
    issuances = [
        {"issuance": i, "serial": unit_selectors.serial_text(i, i.serial_start, i.serial_end)}
        for i in report.issuances.select_related("project").order_by("vintage")
    ]
    return render(
        request,
        "workspace/report.html",
        {
            "report": report,
            "vintages": vintages,
            "may_verify": may_verify,
            "may_issue": may_issue,
            "may_reject": may_verify or may_issue,
            "verify_form": verify_form,
            "decision_form": decision_form,
            "issuances": issuances,
            "error": error,
            # A refusal of a form this user is not shown appears at the top.
            "error_form": error_form
            if {"verify": may_verify, "issue": may_issue, "reject": may_verify or may_issue}.get(error_form)
            else "top",
            "status_label": LABELS.get(report.status, report.status),
        },
        status=error.status if error else 200,
    )
