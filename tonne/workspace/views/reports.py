"""Monitoring reports: assignments, new report, verification and issuance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from tonne.core.errors import RegistryError
from tonne.mrv import selectors as mrv_selectors
from tonne.mrv import services as mrv
from tonne.mrv.models import MonitoringReport, ReportComputation, ReportVintage
from tonne.organisations import selectors as org_selectors
from tonne.organisations.models import Account, User
from tonne.projects import eligibility
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
    return _report_form(request, user, _project(user, project_id), None)


@role_required(DEVELOPER)
def report_edit(request: HttpRequest, uid: str) -> HttpResponse:
    """The developer corrects a report the VVB has not verified yet."""
    page = ReportPage.load(request, uid)
    if not page.may_correct:
        raise Http404
    return _report_form(request, page.user, page.report.project, page.report)


def _report_form(request: HttpRequest, user: User, project: Project, report: MonitoringReport | None) -> HttpResponse:
    data = request.POST.copy() if request.method == "POST" else None
    adding = bool(data and data.get("add_row"))
    if data is not None and adding:
        data["vintages-TOTAL_FORMS"] = str(int(data.get("vintages-TOTAL_FORMS", "0") or 0) + 1)
    if report is None:
        initial: dict[str, Any] | None = {"vvb": str(project.vvb.uid)} if project.vvb else None
        rows_initial = None
    else:
        initial = {"period_start": report.period_start, "period_end": report.period_end, "vvb": str(report.vvb.uid)}
        rows_initial = [{"vintage": v.vintage, "quantity": v.claimed} for v in report.vintages.all()]
    form = wf.ReportForm(data, request.FILES or None, initial=initial, correcting=report is not None)
    vintages = wf.VintageFormSet(data, prefix="vintages", initial=rows_initial)
    error = None
    if data is not None and not adding and form.is_valid() & vintages.is_valid():
        rows = [
            {"vintage": f.cleaned_data["vintage"], "quantity": f.cleaned_data["quantity"]}
            for f in vintages.forms
            if f.cleaned_data.get("vintage") or f.cleaned_data.get("quantity")
        ]
        file = form.cleaned_data["document"]
        claim = {
            "period_start": form.cleaned_data["period_start"],
            "period_end": form.cleaned_data["period_end"],
            "vintages": rows,
            "vvb": form.cleaned_data["vvb"],
            "upload": as_upload(file) if file else None,
        }
        try:
            if report is None:
                saved = mrv.submit_report(actor=user, project=project, **claim)
                done = _("Monitoring report %(n)s submitted for verification.")
            else:
                saved = mrv.correct_report(actor=user, report=report, reason=form.cleaned_data["reason"], **claim)
                done = _("Monitoring report %(n)s corrected; it awaits verification.")
        except RegistryError as exc:
            error = exc
            show_error(form, exc)
        else:
            messages.success(request, done % {"n": saved.number})
            return redirect("workspace:report", uid=saved.uid)
    return render(
        request,
        "workspace/report_form.html",
        {"project": project, "form": form, "vintages": vintages, "error": error, "report": report},
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


@dataclass(frozen=True)
class ReportPage:
    user: User
    report: MonitoringReport
    vintages: list[ReportVintage]
    may_verify: bool  # the assigned VVB, while the report is submitted and its assignment accepted
    may_issue: bool  # the registry administrator, once it is verified
    may_withdraw: bool  # its developer, before the administrator's decision
    may_correct: bool  # its developer, before verification (not a computed report)
    may_answer: bool = False  # the assigned VVB, before it accepts or declines
    may_approve_verification: bool = False  # the administrator, where the registry approves verifications

    @classmethod
    def load(cls, request: HttpRequest, uid: str) -> ReportPage:
        user = _user(request)
        report = mrv_selectors.reports_for(user).filter(uid=uid).first() if inbox_sources._uuid_like(uid) else None
        if report is None or not project_selectors.is_project_party(user, report.project):
            raise Http404
        developer = report.project.developer_id == user.organisation_id
        pending = report.status in (MonitoringReport.Status.SUBMITTED, MonitoringReport.Status.VERIFIED)
        return cls(
            may_withdraw=developer and pending,
            may_correct=developer
            and report.status == MonitoringReport.Status.SUBMITTED
            and not ReportComputation.objects.filter(report=report).exists(),
            user=user,
            report=report,
            vintages=list(report.vintages.all()),
            may_verify=(report.status == MonitoringReport.Status.SUBMITTED and report.vvb_id == user.organisation_id
                        and report.assignment == "accepted"),
            may_issue=report.status == MonitoringReport.Status.VERIFIED and org_selectors.is_admin(user),
            may_answer=(report.status == MonitoringReport.Status.SUBMITTED and report.vvb_id == user.organisation_id
                        and report.assignment == "pending"),
            may_approve_verification=(org_selectors.is_admin(user) and eligibility.verification_approval_required(report.project)
                                      and report.status == MonitoringReport.Status.VERIFIED
                                      and report.verification_approved_at is None),
        )

    def render(
        self, request: HttpRequest, *, error: RegistryError | None = None, action: str = "", form: forms.Form | None = None
    ) -> HttpResponse:
        """The page; after a refused `action`, with its bound `form` and the refusal."""
        report = self.report
        may = {
            "verify": self.may_verify,
            "issue": self.may_issue,
            "reject": self.may_verify or self.may_issue,
            "withdraw": self.may_withdraw,
            "instruction": self.may_withdraw,
            "assignment": self.may_answer,
            "verification-approval": self.may_approve_verification,
        }
        issuances = [
            {"issuance": i, "serial": unit_selectors.serial_text(i, i.serial_start, i.serial_end)}
            for i in report.issuances.select_related("project").order_by("vintage")
        ]
        context: dict[str, Any] = {
            "report": report,
            "vintages": self.vintages,
            "may_verify": self.may_verify,
            "may_issue": self.may_issue,
            "may_reject": may["reject"],
            "may_withdraw": self.may_withdraw,
            "may_correct": self.may_correct,
            "verify_form": wf.VerifyForm(vintages=self.vintages),
            "decision_form": wf.DecisionForm(),
            "may_answer": self.may_answer,
            "may_approve_verification": self.may_approve_verification,
            "assignment_form": wf.AssignmentForm(),
            "issuances": issuances,
            "error": error,
            # A refusal of a form this user is not shown appears at the top.
            "error_form": action if may.get(action) else "top",
            "status_label": LABELS.get(report.status, report.status),
        }
        if form is not None and action not in ("withdraw", "instruction"):
            context[{"verify": "verify_form", "assignment": "assignment_form"}.get(action, "decision_form")] = form
        context["withdraw_form"] = form if action == "withdraw" and form is not None else wf.DecisionForm()
        if self.may_withdraw:  # the developer, before the decision: where its units go at issuance
            context["instruction"] = [
                {**line, "vintage": v.vintage} for v in self.vintages for line in v.instruction
            ]
            context["instruction_form"] = form if action == "instruction" and form is not None else self.instruction_form()
        return render(request, "workspace/report.html", context, status=error.status if error else 200)

    def instruction_form(self, data: Any = None) -> wf.InstructionLineForm:
        accounts = list(
            Account.objects.filter(
                organisation_id=self.report.project.developer_id, type=Account.Type.HOLDING, status=Account.Status.OPEN
            ).order_by("number")
        )
        return wf.InstructionLineForm(data, vintages=[v.vintage for v in self.vintages], accounts=accounts)

    def refused(self, request: HttpRequest, action: str, form: forms.Form | None, exc: RegistryError) -> HttpResponse:
        show_error(form, exc)
        return self.render(request, error=exc, action=action, form=form)

    def done(self) -> HttpResponse:
        return redirect("workspace:report", uid=self.report.uid)


@require_safe
@role_required(ADMIN, DEVELOPER, VVB)
def report_detail(request: HttpRequest, uid: str) -> HttpResponse:
    return ReportPage.load(request, uid).render(request)


@require_POST
@role_required(ADMIN, DEVELOPER, VVB)
def report_verify(request: HttpRequest, uid: str) -> HttpResponse:
    """The assigned VVB signs the verified quantities (with its verification report)."""
    page = ReportPage.load(request, uid)
    form = wf.VerifyForm(request.POST, request.FILES, vintages=page.vintages)
    if not form.is_valid():
        return page.render(request, action="verify", form=form)
    file = form.cleaned_data["document"]
    try:
        mrv.verify_report(
            actor=page.user,
            report=page.report,
            verified=form.verified(),
            verification_id=form.cleaned_data["verification_id"],
            upload=as_upload(file) if file else None,
            comments=form.cleaned_data["comments"],
        )
    except RegistryError as exc:
        return page.refused(request, "verify", form, exc)
    messages.success(request, _("Verified quantities recorded."))
    return page.done()


@require_POST
@role_required(ADMIN, DEVELOPER, VVB)
def report_issue(request: HttpRequest, uid: str) -> HttpResponse:
    """The registry administrator approves the issuance of the verified quantities."""
    page = ReportPage.load(request, uid)
    try:
        issued = mrv.approve_issuance(actor=page.user, report=page.report)
    except RegistryError as exc:
        return page.refused(request, "issue", None, exc)
    messages.success(request, _("%(n)s issuance(s) made.") % {"n": len(issued)})
    return page.done()


@require_POST
@role_required(ADMIN, DEVELOPER, VVB)
def report_reject(request: HttpRequest, uid: str) -> HttpResponse:
    page = ReportPage.load(request, uid)
    form = wf.DecisionForm(request.POST)
    form.is_valid()
    try:
        mrv.reject_report(actor=page.user, report=page.report, reason=form.cleaned_data.get("reason", ""))
    except RegistryError as exc:
        return page.refused(request, "reject", form, exc)
    messages.success(request, _("Monitoring report rejected."))
    return page.done()


@require_POST
@role_required(DEVELOPER)
def report_withdraw(request: HttpRequest, uid: str) -> HttpResponse:
    """The developer takes the report back before the administrator's decision."""
    page = ReportPage.load(request, uid)
    form = wf.DecisionForm(request.POST)
    form.is_valid()
    try:
        mrv.withdraw_report(actor=page.user, report=page.report, reason=form.cleaned_data.get("reason", ""))
    except RegistryError as exc:
        return page.refused(request, "withdraw", form, exc)
    messages.success(request, _("Monitoring report %(n)s withdrawn; its period is free for a new report.") % {"n": page.report.number})
    return page.done()


@require_POST
@role_required(DEVELOPER)
def report_instruction(request: HttpRequest, uid: str) -> HttpResponse:
    """Add a line to (or clear) where the developer's units go at issuance."""
    page = ReportPage.load(request, uid)
    current = [{**line, "vintage": v.vintage} for v in page.vintages for line in v.instruction]
    form = page.instruction_form(request.POST)
    if request.POST.get("clear"):
        lines: list[dict[str, Any]] = []
    elif not form.is_valid():
        return page.render(request, action="instruction", form=form)
    else:
        lines = [*current, form.line()]
    try:
        mrv.set_issuance_instruction(actor=page.user, report=page.report, lines=lines)
    except RegistryError as exc:
        return page.refused(request, "instruction", form, exc)
    messages.success(request, _("Issuance instruction saved."))
    return page.done()
