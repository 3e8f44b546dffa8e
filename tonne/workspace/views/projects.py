"""Projects: list, forms, detail, documents and validation."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from tonne.core import iso3166
from tonne.core.errors import RegistryError, each_refusal
from tonne.mrv import selectors as mrv_selectors
from tonne.organisations import selectors as org_selectors
from tonne.organisations.models import User
from tonne.projects import domain as project_domain
from tonne.projects import picklist_labels, picklists
from tonne.projects import selectors as project_selectors
from tonne.projects import services as projects
from tonne.projects.models import Project
from tonne.units.models import Issuance
from tonne.workspace import forms as wf
from tonne.workspace.labels import LABELS
from tonne.workspace.views.common import (
    _CHILD_FIELD_RE,
    ADMIN,
    DEVELOPER,
    VVB,
    _user,
    field_label,
    refused,
    role_required,
    roles_of,
    show_error,
)

# -- projects ------------------------------------------------------------------------------

ACTION_LABELS = {
    "submitted": gettext_lazy("Submit for approval"),
    "approved": gettext_lazy("Approve"),
    "validated": gettext_lazy("Record validation"),
    "registered": gettext_lazy("Register"),
    "completed": gettext_lazy("Mark as completed"),
    "rejected": gettext_lazy("Reject"),
    "withdrawn": gettext_lazy("Withdraw"),
    "on_hold": gettext_lazy("Put on hold"),
    "draft": gettext_lazy("Reopen as a draft to correct and resubmit"),
}
NEEDS_REASON = {"rejected", "on_hold"}


def _my_projects(user: User) -> Any:
    qs = project_selectors.projects_for(user)
    if org_selectors.is_admin(user):
        return qs
    own = user.organisation_id
    return qs.filter(Q(developer_id=own) | Q(vvb_id=own) | Q(monitoring_reports__vvb_id=own)).distinct()


def _project(user: User, project_id: str) -> Project:
    """A project the user is a party to (developer, VVB, administrator)."""
    project = project_selectors.projects_for(user).filter(project_id=project_id).first()
    if project is None or not project_selectors.is_project_party(user, project):
        raise Http404
    return project


@role_required(ADMIN, DEVELOPER, VVB)
def project_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    qs = _my_projects(user).order_by("-updated_at")
    status = request.GET.get("status", "")
    if status:
        qs = qs.filter(status=status)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "workspace/projects.html",
        {"page": page, "status": status, "statuses": Project.Status.values, "can_register": DEVELOPER in roles_of(user)},
    )


def _project_forms(request: HttpRequest, project: Project | None) -> tuple[wf.ProjectForm, dict[str, Any], str]:
    """The project form and one formset per child record. A "add a row"
    button re-shows the form with one more empty row (works without JS)."""
    added = ""
    if request.method == "POST":
        data = request.POST.copy()
        added = data.get("add_row", "")
        if added in project_domain.CHILD_FIELDS:
            key = f"{added}-TOTAL_FORMS"
            data[key] = str(int(data.get(key, "0") or 0) + 1)
        form = wf.ProjectForm(data)
        formsets = {
            child: wf.child_formset(child, 0)(data, prefix=child) for child in project_domain.CHILD_FIELDS
        }
        return form, formsets, added
    if project is None:
        initial = {
            "host_party": "",
            "unit_metric": "tCO2e",
            "unit_type": "",
            "ndc_coverage": "unknown",
            "article6_status": "not_requested",
            "non_permanence_risk": "none",
            "unit_class": "VER",
            "buffer_basis_points": 0,
        }
        form = wf.ProjectForm(initial=initial)
        formsets = {child: wf.child_formset(child, 1)(prefix=child) for child in project_domain.CHILD_FIELDS}
    else:
        form = wf.ProjectForm(initial=wf.project_initial(project))
        formsets = {
            child: wf.child_formset(child, 1)(prefix=child, initial=wf.child_initial(project, child))
            for child in project_domain.CHILD_FIELDS
        }
    return form, formsets, added


def _child_rows(formsets: dict[str, Any]) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    row_forms: dict[str, list[Any]] = {}
    for child, formset in formsets.items():
        rows[child], row_forms[child] = [], []
        for row_form in formset.forms:
            row = row_form.row()
            if row is not None:
                rows[child].append(row)
                row_forms[child].append(row_form)
    return rows, row_forms


def _show_project_error(form: wf.ProjectForm, row_forms: dict[str, list[Any]], exc: RegistryError) -> None:
    for one in each_refusal(exc):
        match = _CHILD_FIELD_RE.match(one.field or "")
        if match and match.group(1) in row_forms:
            child, index, name = match.group(1), int(match.group(2)), match.group(3)
            forms_of_child = row_forms[child]
            if index < len(forms_of_child):
                target = forms_of_child[index]
                target.add_error(name if name in target.fields else None, refused(one, field_label(name)))
            continue
        show_error(form, one)


def _edit_project(request: HttpRequest, project: Project | None) -> HttpResponse:
    user = _user(request)
    form, formsets, added = _project_forms(request, project)
    error = None
    if request.method == "POST" and not added:
        valid = form.is_valid() & all([fs.is_valid() for fs in formsets.values()])
        if valid:
            data, vvb = form.service_data()
            rows, row_forms = _child_rows(formsets)
            data.update(rows)
            try:
                if project is None:
                    saved = projects.register_project(actor=user, data=data, vvb=vvb)
                    messages.success(request, _("Project %(id)s registered as a draft.") % {"id": saved.project_id})
                else:
                    saved = projects.update_project(actor=user, project=project, data=data, vvb=vvb)
                    messages.success(request, _("Project %(id)s saved.") % {"id": saved.project_id})
                return redirect("workspace:project", project_id=saved.project_id)
            except RegistryError as exc:
                error = exc
                _show_project_error(form, row_forms, exc)
    children = [
        (child, wf.CHILD_LABELS[child], formsets[child]) for child in project_domain.CHILD_FIELDS
    ]
    return render(
        request,
        "workspace/project_form.html",
        {"form": form, "children": children, "project": project, "error": error, "added": added},
        status=error.status if error else 200,
    )


@role_required(DEVELOPER)
def project_new(request: HttpRequest) -> HttpResponse:
    return _edit_project(request, None)


@role_required(DEVELOPER)
def project_edit(request: HttpRequest, project_id: str) -> HttpResponse:
    project = _project(_user(request), project_id)
    return _edit_project(request, project)


def _actions(user: User, project: Project) -> list[dict[str, Any]]:
    """The life-cycle steps this user's side may take now (the service decides)."""
    admin = org_selectors.is_admin(user)
    own = user.organisation_id
    mine = {
        project_domain.DEVELOPER: own is not None and project.developer_id == own,
        project_domain.ADMINISTRATOR: admin,
        project_domain.VVB: own is not None and project.vvb_id == own,
    }
    if project.status == Project.Status.ON_HOLD:
        before = project.status_history.filter(to_status="on_hold").order_by("-at", "-id").first()
        if admin and before is not None:
            return [{"status": before.from_status, "label": _("Lift the hold"), "reason": False}]
        return []
    out = []
    for (current, target), party in project_domain.TRANSITIONS.items():
        if current == project.status and mine[party]:
            out.append({"status": target, "label": ACTION_LABELS[target], "reason": target in NEEDS_REASON})
    return out


def _project_page(
    request: HttpRequest,
    user: User,
    project: Project,
    *,
    error: RegistryError | None = None,
    action: str = "",
    document_form: wf.DocumentForm | None = None,
    removing: str = "",
) -> HttpResponse:
    """The project's page; after a refused `action`, with the refusal (and the bound upload form)."""
    context = {
        "project": project,
        "fields": [
            (wf.FIELD_LABELS[s.name], _shown(getattr(project, s.name), s.name)) for s in project_domain.PROJECT_FIELDS
        ],
        "children": [
            (
                wf.CHILD_LABELS[child],
                [wf.CHILD_FIELD_LABELS[s.name] for s in specs],
                [[_shown(v, k) for k, v in row.items()] for row in wf.child_initial(project, child)],
            )
            for child, specs in project_domain.CHILD_FIELDS.items()
        ],
        "validations": project.validations.select_related("body", "report").order_by("date", "id"),
        "documents": project_selectors.documents_for(user, project),
        "history": project.status_history.select_related("actor").order_by("at", "id"),
        "reports": mrv_selectors.reports_for(user).filter(project=project).order_by("number"),
        "issuances": Issuance.objects.filter(project=project).order_by("number"),
        "actions": _actions(user, project),
        "editable": project.status in project_domain.EDITABLE and user.organisation_id == project.developer_id,
        "amendable": _amendable(user, project),
        "changes": [
            (c, [(wf.FIELD_LABELS.get(r["field"]) or wf.CHILD_LABELS.get(r["field"], r["field"]), r["before"], r["after"])
                 for r in c.changes])
            for c in project.changes.select_related("actor")
        ],
        "removed_documents": project_selectors.removed_documents(user, project),
        "remove_form": wf.RemoveDocumentForm(),
        "can_report": project.status in project_domain.ISSUABLE and user.organisation_id == project.developer_id,
        "document_form": document_form or wf.DocumentForm(),
        "error": error,
        "error_form": action,
        "removing": removing,
        "status_label": LABELS.get(project.status, project.status),
    }
    return render(request, "workspace/project.html", context, status=error.status if error else 200)


@require_safe
@role_required(ADMIN, DEVELOPER, VVB)
def project_detail(request: HttpRequest, project_id: str) -> HttpResponse:
    user = _user(request)
    return _project_page(request, user, _project(user, project_id))


@require_POST
@role_required(ADMIN, DEVELOPER, VVB)
def project_status(request: HttpRequest, project_id: str) -> HttpResponse:
    """A step of the project's life cycle (validation has a page of its own)."""
    user = _user(request)
    project = _project(user, project_id)
    target = request.POST.get("status", "")
    if target == Project.Status.VALIDATED:
        return redirect("workspace:project-validate", project_id=project.project_id)
    try:
        projects.change_project_status(actor=user, project=project, status=target, reason=request.POST.get("reason", ""))
    except RegistryError as exc:
        # The refusal goes beside the button pressed (a missing reason: at that very form).
        offered = {a["status"] for a in _actions(user, project)}
        return _project_page(request, user, project, error=exc, action=f"status:{target}" if target in offered else "status")
    messages.success(
        request, _("Project %(id)s is now %(status)s.") % {"id": project.project_id, "status": LABELS.get(target, target)}
    )
    return redirect("workspace:project", project_id=project.project_id)


@require_POST
@role_required(ADMIN, DEVELOPER, VVB)
def project_upload(request: HttpRequest, project_id: str) -> HttpResponse:
    user = _user(request)
    project = _project(user, project_id)
    form = wf.DocumentForm(request.POST, request.FILES)
    if not form.is_valid():
        return _project_page(request, user, project, action="upload", document_form=form)
    upload = form.cleaned_data["file"]
    try:
        document = projects.upload_document(
            actor=user,
            project=project,
            kind=form.cleaned_data["kind"],
            title=form.cleaned_data["title"],
            filename=upload.name or "document",
            content=upload.read(),
            content_type=upload.content_type or "application/octet-stream",
            is_public=form.cleaned_data["is_public"],
        )
    except RegistryError as exc:
        show_error(form, exc)
        return _project_page(request, user, project, error=exc, action="upload", document_form=form)
    messages.success(request, _("Document uploaded; SHA-256 %(hash)s.") % {"hash": document.sha256})
    return redirect("workspace:project", project_id=project.project_id)


def _amendable(user: User, project: Project) -> bool:
    return (
        user.organisation_id == project.developer_id
        and project.status not in project_domain.EDITABLE
        and project.status not in project_domain.TERMINAL
        and project.status != Project.Status.REJECTED
    )


@role_required(DEVELOPER)
def project_amend(request: HttpRequest, project_id: str) -> HttpResponse:
    """After submission, the developer corrects the fields accounting does not rely on."""
    user = _user(request)
    project = _project(user, project_id)
    if not _amendable(user, project):
        raise Http404
    initial = {name: getattr(project, name) for name in wf.AmendForm.base_fields if name != "change_reason"}
    form = wf.AmendForm(request.POST or None, initial=initial)
    error = None
    if request.method == "POST" and form.is_valid():
        try:
            projects.update_project(
                actor=user, project=project, data=form.changed_data_for(project), reason=form.cleaned_data["change_reason"]
            )
        except RegistryError as exc:
            error = exc
            show_error(form, exc)
        else:
            messages.success(request, _("Project %(id)s corrected; the change is in its change log.") % {"id": project.project_id})
            return redirect("workspace:project", project_id=project.project_id)
    return render(
        request, "workspace/project_amend.html", {"project": project, "form": form, "error": error},
        status=error.status if error else 200,
    )


@require_POST
@role_required(ADMIN, DEVELOPER, VVB)
def document_remove(request: HttpRequest, project_id: str, uid: str) -> HttpResponse:
    """Its uploader takes back a mistaken upload (kept in the ledger and listed as removed)."""
    user = _user(request)
    project = _project(user, project_id)
    document = project_selectors.documents_for(user, project).filter(uid=uid).first() if _uuid_like(uid) else None
    if document is None:
        raise Http404
    form = wf.RemoveDocumentForm(request.POST)
    form.is_valid()
    try:
        projects.remove_document(actor=user, document=document, reason=form.cleaned_data["reason"])
    except RegistryError as exc:
        return _project_page(request, user, project, error=exc, action="remove", removing=str(document.uid))
    messages.success(request, _("Document %(title)s removed; the ledger keeps that it existed.") % {"title": document.title})
    return redirect("workspace:project", project_id=project.project_id)


def _uuid_like(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _shown(value: Any, name: str = "") -> Any:
    """A field's value as the reader sees it (localised numbers, words for codes)."""
    if value in (None, "", []):
        return None
    if isinstance(value, list):
        return "; ".join(picklist_labels.label(str(v)) for v in value)
    if name == "host_party" or (name == "country" and picklists.country_code(str(value))):
        return iso3166.country_name(value if name == "host_party" else picklists.country_code(str(value)) or "")
    if isinstance(value, int) and not isinstance(value, bool):
        return number_format(value, force_grouping=name not in ("sectoral_scope",))
    if name in project_domain.CHOICES:
        return wf.CHOICE_LABELS.get(value, value)
    if name in _PICKLIST_FIELDS:
        return picklist_labels.label(str(value))
    return value


# Fields whose values come from a CAD Trust picklist: shown by their label.
_PICKLIST_FIELDS = {
    spec.name
    for spec in (*project_domain.PROJECT_FIELDS, *(s for specs in project_domain.CHILD_FIELDS.values() for s in specs))
    if spec.picklist
}


def as_upload(upload: Any) -> project_domain.Upload:
    """A file of a form, as the services take it."""
    return project_domain.Upload(
        filename=upload.name or "",
        content=upload.read(),
        content_type=upload.content_type or "application/octet-stream",
    )


@role_required(VVB)
def project_validate(request: HttpRequest, project_id: str) -> HttpResponse:
    """The assigned VVB records its validation (and its report)."""
    user = _user(request)
    project = _project(user, project_id)
    form = wf.ValidationForm(request.POST or None, request.FILES or None)
    error = None
    if request.method == "POST" and form.is_valid():
        try:
            validation: dict[str, Any] = {"type": form.cleaned_data["type"]}
            for name in ("crediting_period_start", "crediting_period_end"):
                if form.cleaned_data[name]:
                    validation[name] = form.cleaned_data[name]
            report_file = form.cleaned_data["report_file"]
            projects.record_validation(
                actor=user, project=project, validation=validation, report=as_upload(report_file) if report_file else None
            )
        except RegistryError as exc:
            error = exc
            show_error(form, exc, {"validation.type": "type", "validation.report": "report_file"})
        else:
            messages.success(request, _("Validation of %(id)s recorded.") % {"id": project.project_id})
            return redirect("workspace:project", project_id=project.project_id)
    return render(
        request,
        "workspace/validate.html",
        {"project": project, "form": form, "error": error},
        status=error.status if error else 200,
    )
