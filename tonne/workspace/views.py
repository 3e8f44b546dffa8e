"""The signed-in pages of every role. Each page reads through the selectors
and changes state only through the service functions, exactly as the API
does; a refused request shows the service's message and stable code beside
the form, and changes nothing."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format, number_format
from django.utils.http import urlencode
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tonne.access import policy as access_policy
from tonne.controls import gate as control_gate
from tonne.controls import selectors as control_selectors
from tonne.controls import services as controls
from tonne.controls.models import PendingMove, RegistrySwitch
from tonne.core import clock
from tonne.core.errors import RegistryError
from tonne.ledger.models import Checkpoint, LedgerHead
from tonne.mrv import selectors as mrv_selectors
from tonne.mrv import services as mrv
from tonne.mrv.models import MonitoringReport
from tonne.organisations import selectors as org_selectors
from tonne.organisations import services as orgs
from tonne.organisations.models import Account, Organisation, User
from tonne.projects import domain as project_domain
from tonne.projects import selectors as project_selectors
from tonne.projects import services as projects
from tonne.projects.models import Document, Project
from tonne.units import selectors as unit_selectors
from tonne.units import services as units
from tonne.units.domain import Selection, unit_state
from tonne.units.models import Issuance, Transaction, UnitBlock
from tonne.workspace import forms as wf
from tonne.workspace import inbox as inbox_sources
from tonne.workspace.labels import LABELS

# -- who may see what -----------------------------------------------------------------

ADMIN, DEVELOPER, VVB, HOLDER = "admin", "developer", "vvb", "holder"
HOLDER_KINDS = (Organisation.Kind.DEVELOPER, Organisation.Kind.TRADER, Organisation.Kind.MINISTRY)


def roles_of(user: Any) -> set[str]:
    """The workspace sections a user works in (the services decide the rest)."""
    if not user.is_authenticated:
        return set()
    roles = set()
    if org_selectors.is_admin(user):
        roles.add(ADMIN)
    org = user.organisation
    if org is not None:
        if org.kind == Organisation.Kind.DEVELOPER:
            roles.add(DEVELOPER)
        if org.kind == Organisation.Kind.VVB:
            roles.add(VVB)
        if org.kind in HOLDER_KINDS:
            roles.add(HOLDER)
    return roles


def role_required(*allowed: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if allowed and not roles_of(request.user) & set(allowed):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


# -- showing refusals ----------------------------------------------------------------------

_CHILD_FIELD_RE = re.compile(r"^(\w+)\[(\d+)\](?:\.(\w+))?$")


def show_error(form: forms.Form | None, exc: RegistryError, field_map: dict[str, str] | None = None) -> None:
    """Put the service's refusal beside the field it names (when the form has
    it); the page also shows it, with its code, at the top of the form."""
    if form is None or not exc.field:
        return
    name = (field_map or {}).get(exc.field, exc.field)
    if name in form.fields:
        form.add_error(name, f"{exc.message} ({exc.code})")


# -- a second factor before moving units or approving ----------------------------------------

STEP_UP_CODES = ("STEP_UP_REQUIRED", "MFA_REQUIRED")
RESUME = "tonne.workspace.resume"


def step_up_redirect(request: HttpRequest, exc: RegistryError, back: str) -> HttpResponse:
    """The service wants a (recent) second factor: keep what was posted in the
    session, send the person to confirm it (or set one up) and then back to `back`."""
    posted = {k: request.POST.getlist(k) for k in request.POST if k != "csrfmiddlewaretoken"}
    request.session[RESUME] = {"path": request.path, "post": posted}
    if exc.code == "MFA_REQUIRED":
        target = access_policy.SETUP_URL
        messages.warning(request, _("Set up a second factor first (%(code)s); then come back to your request.") % {"code": exc.code})
    else:
        target = access_policy.REAUTHENTICATE_URL
        messages.warning(
            request,
            _("Confirm your second factor to continue (%(code)s). You will come back to your request; nothing was done yet.")
            % {"code": exc.code},
        )
    return redirect(f"{target}?{urlencode({'next': back})}")


def resumed(request: HttpRequest) -> QueryDict | None:
    """What was posted before the step-up, once, on the way back."""
    saved = request.session.get(RESUME)
    if request.method != "GET" or "resume" not in request.GET or not saved or saved.get("path") != request.path:
        return None
    del request.session[RESUME]
    data = QueryDict(mutable=True)
    for key, values in saved["post"].items():
        data.setlist(key, values)
    return data


# -- home and navigation --------------------------------------------------------------------


@role_required()
def home(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    roles = roles_of(user)
    context: dict[str, Any] = {"roles": roles}
    if _may_decide(user):
        context["inbox_count"] = sum(len(s.items(user)) for s in inbox_sources.sources_for(user))
    if DEVELOPER in roles:
        context["my_projects"] = project_selectors.projects_for(user).filter(developer=user.organisation)[:10]
    if VVB in roles:
        context["to_validate"] = _to_validate(user).count()
        context["to_verify"] = _to_verify(user).count()
    if HOLDER in roles:
        context["accounts"] = org_selectors.accounts_for(user).filter(type=Account.Type.HOLDING)
    return render(request, "workspace/home.html", context)


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
    match = _CHILD_FIELD_RE.match(exc.field or "")
    if match and match.group(1) in row_forms:
        child, index, name = match.group(1), int(match.group(2)), match.group(3)
        forms_of_child = row_forms[child]
        if index < len(forms_of_child):
            target = forms_of_child[index]
            target.add_error(name if name in target.fields else None, f"{exc.message} ({exc.code})")
        return
    show_error(form, exc)


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


@role_required(ADMIN, DEVELOPER, VVB)
def project_detail(request: HttpRequest, project_id: str) -> HttpResponse:
    user = _user(request)
    project = _project(user, project_id)
    document_form = wf.DocumentForm()
    error, error_form = None, ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        error_form = action
        try:
            if action == "status":
                target = request.POST.get("status", "")
                if target == Project.Status.VALIDATED:
                    return redirect("workspace:project-validate", project_id=project.project_id)
                projects.change_project_status(
                    actor=user, project=project, status=target, reason=request.POST.get("reason", "")
                )
                messages.success(
                    request,
                    _("Project %(id)s is now %(status)s.")
                    % {"id": project.project_id, "status": LABELS.get(target, target)},
                )
                return redirect("workspace:project", project_id=project.project_id)
            if action == "upload":
                document_form = wf.DocumentForm(request.POST, request.FILES)
                if document_form.is_valid():
                    upload = document_form.cleaned_data["file"]
                    document = projects.upload_document(
                        actor=user,
                        project=project,
                        kind=document_form.cleaned_data["kind"],
                        title=document_form.cleaned_data["title"],
                        filename=upload.name or "document",
                        content=upload.read(),
                        content_type=upload.content_type or "application/octet-stream",
                        is_public=document_form.cleaned_data["is_public"],
                    )
                    messages.success(
                        request, _("Document uploaded; SHA-256 %(hash)s.") % {"hash": document.sha256}
                    )
                    return redirect("workspace:project", project_id=project.project_id)
            else:
                raise Http404
        except RegistryError as exc:
            error = exc
            show_error(document_form if action == "upload" else None, exc)
    context = {
        "project": project,
        "fields": [
            (wf.FIELD_LABELS[s.name], _shown(getattr(project, s.name), s.name)) for s in project_domain.PROJECT_FIELDS
        ],
        "children": [
            (
                wf.CHILD_LABELS[child],
                [wf.CHILD_FIELD_LABELS[s.name] for s in specs],
                [[_shown(v) for v in row.values()] for row in wf.child_initial(project, child)],
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
        "can_report": project.status in project_domain.ISSUABLE and user.organisation_id == project.developer_id,
        "document_form": document_form,
        "error": error,
        "error_form": error_form,
        "status_label": LABELS.get(project.status, project.status),
    }
    return render(request, "workspace/project.html", context, status=error.status if error else 200)


def _shown(value: Any, name: str = "") -> Any:
    """A field's value as the reader sees it (localised numbers, words for codes)."""
    if value in (None, "", []):
        return None
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return number_format(value, force_grouping=name not in ("sectoral_scope",))
    if name in project_domain.CHOICES:
        return wf.CHOICE_LABELS.get(value, value)
    return value


def _upload(user: User, project: Project, upload: Any, kind: str) -> Document:
    return projects.upload_document(
        actor=user,
        project=project,
        kind=kind,
        title=upload.name or kind,
        filename=upload.name or "document",
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
            with transaction.atomic():
                validation: dict[str, Any] = {"type": form.cleaned_data["type"]}
                if form.cleaned_data["report_file"]:
                    document = _upload(user, project, form.cleaned_data["report_file"], Document.Kind.VALIDATION_REPORT)
                    validation["report"] = str(document.uid)
                for name in ("crediting_period_start", "crediting_period_end"):
                    if form.cleaned_data[name]:
                        validation[name] = form.cleaned_data[name]
                projects.change_project_status(
                    actor=user, project=project, status=Project.Status.VALIDATED, validation=validation
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
            with transaction.atomic():
                document = None
                if form.cleaned_data["document"]:
                    document = str(_upload(user, project, form.cleaned_data["document"], Document.Kind.MONITORING_REPORT).uid)
                report = mrv.submit_report(
                    actor=user,
                    project=project,
                    period_start=form.cleaned_data["period_start"],
                    period_end=form.cleaned_data["period_end"],
                    vintages=rows,
                    vvb=form.cleaned_data["vvb"],
                    document=document,
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
                    with transaction.atomic():
                        document = None
                        if verify_form.cleaned_data["document"]:
                            document = str(
                                _upload(user, report.project, verify_form.cleaned_data["document"], Document.Kind.VERIFICATION_REPORT).uid
                            )
                        mrv.verify_report(
                            actor=user,
                            report=report,
                            verified=verify_form.verified(),
                            document=document,
                            verification_id=verify_form.cleaned_data["verification_id"],
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
            **account_controls(user, account, blocks),
            "trusted_form": wf.TrustedAccountForm(),
            "limits_form": wf.LimitsForm(initial=_own_limits(account)),
            "account": account,
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


def account_controls(user: User, account: Account, blocks: Any) -> dict[str, Any]:
    """The controls that bind this account: freezes, limits, trusted accounts,
    the registry-wide switch, monitoring holds and an overdue KYC review."""
    from tonne.aml.models import AmlAlert
    from tonne.kyc.models import KycProfile

    now = clock.now()
    held = list(blocks.values_list("project_id", "serial_start", "serial_end"))
    projects_held = {p for p, _s, _e in held}
    freezes = [
        f
        for f in control_selectors.freezes_for(user, active_only=True)
        if (f.scope == "account" and f.account_id == account.pk)
        or (f.scope == "project" and f.project_id in projects_held)
        or (f.scope == "serials" and any(s <= f.serial_end and f.serial_start <= e for _p, s, e in held))
    ]
    limit = control_selectors.limits_of(account)
    trusted = [t for t in control_selectors.trusted_of(account).order_by("effective_at") if t.removed_at is None]
    profile = KycProfile.objects.filter(organisation_id=account.organisation_id).first() if account.organisation_id else None
    return {
        "freezes": freezes,
        "per_transfer": (limit.per_transfer if limit and limit.per_transfer else settings.TONNE_MAX_TRANSFER_QUANTITY) or None,
        "per_day": (limit.per_day if limit and limit.per_day else settings.TONNE_MAX_DAILY_QUANTITY) or None,
        "trusted": [(t, t.effective_at <= now) for t in trusted],
        "trust_own_accounts": settings.TONNE_TRUST_OWN_ACCOUNTS,
        "delay_non_trusted": settings.TONNE_DELAY_NON_TRUSTED,
        "transfers_suspended": RegistrySwitch.objects.filter(pk=1, transfers_suspended=True).exists(),
        "aml_hold": AmlAlert.objects.filter(account_id=account.pk, hold=True).exclude(status=AmlAlert.Status.DISMISSED).exists(),
        "kyc_overdue": profile.review_due if profile and profile.review_due and profile.review_due < now.date() else None,
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


@role_required(HOLDER)
def account_limits(request: HttpRequest, identifier: str) -> HttpResponse:
    """Ask to change the account's limits; a second person of the organisation approves."""
    user = _user(request)
    account = _account(user, identifier)
    back = reverse("workspace:account", args=[account.identifier])
    if request.method != "POST":
        return redirect(back)
    form = wf.LimitsForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter whole numbers of units of at least 1, or leave a field empty."))
        return redirect(back + "#limits")
    try:
        access_policy.require_step_up(request, user)
        result = controls.request_limits(actor=user, account=account.identifier, **form.cleaned_data)
    except RegistryError as exc:
        if exc.code in STEP_UP_CODES:
            return step_up_redirect(request, exc, back + "#limits")
        messages.error(request, f"{exc.message} ({exc.code})")
        return redirect(back + "#limits")
    if hasattr(result, "request_hash"):
        messages.info(request, _("The new limits await approval by a second person of your organisation."))
    else:
        messages.success(request, _("The new limits are in force."))
    return redirect(back + "#limits")


@role_required(HOLDER)
def account_trusted(request: HttpRequest, identifier: str) -> HttpResponse:
    """Add an account to the trusted list (through four-eyes when the registry
    says so, effective after the trusted delay) or remove one (at once)."""
    user = _user(request)
    account = _account(user, identifier)
    back = reverse("workspace:account", args=[account.identifier])
    if request.method != "POST":
        return redirect(back)
    try:
        if "remove" in request.POST:
            controls.remove_trusted(actor=user, account=account.identifier, trusted=request.POST["remove"])
            messages.success(request, _("%(trusted)s is no longer trusted.") % {"trusted": request.POST["remove"]})
        else:
            form = wf.TrustedAccountForm(request.POST)
            if not form.is_valid():
                messages.error(request, _("Enter an account number."))
                return redirect(back)
            access_policy.require_step_up(request, user)
            result = controls.request_trusted_addition(actor=user, account=account.identifier, trusted=form.cleaned_data["trusted"])
            if hasattr(result, "request_hash"):
                messages.info(request, _("The addition awaits approval by a second person of your organisation."))
            else:
                messages.success(
                    request,
                    _("%(trusted)s will be trusted from %(when)s.")
                    % {"trusted": form.cleaned_data["trusted"], "when": date_format(localtime(result.effective_at), "DATETIME_FORMAT")},
                )
    except RegistryError as exc:
        if exc.code in STEP_UP_CODES:
            return step_up_redirect(request, exc, back + "#trusted")
        messages.error(request, f"{exc.message} ({exc.code})")
    return redirect(back)


def _move(request: HttpRequest, kind: str) -> HttpResponse:
    """Transfer or retirement: form → confirmation (the exact serial ranges,
    computed by the registry's own selection rule) → done. The form carries
    one Idempotency-Key from first display to confirmation, so submitting the
    confirmation twice moves the units once."""
    user = _user(request)
    accounts = list(
        org_selectors.accounts_for(user).filter(
            organisation=user.organisation, type=Account.Type.HOLDING, status=Account.Status.OPEN
        )
    )
    held = (
        UnitBlock.objects.filter(account__in=accounts)
        .values_list("project__project_id", "project__name")
        .distinct()
        .order_by("project__project_id")
    )
    projects_held = [(pid, f"{pid} {name}") for pid, name in held]
    form_class = wf.TransferForm if kind == Transaction.Kind.TRANSFER else wf.RetireForm
    template = "workspace/move.html"
    context: dict[str, Any] = {"kind": kind}
    data = request.POST if request.method == "POST" else resumed(request)
    if data is None:
        initial = {"idempotency_key": wf.new_idempotency_key(), "from_account": request.GET.get("from", "")}
        form = form_class(initial=initial, accounts=accounts, projects=projects_held)
        return render(request, template, {**context, "form": form})
    form = form_class(data, accounts=accounts, projects=projects_held)
    # Back from the step-up: show the same confirmation again, to be confirmed once more.
    step = data.get("step", "preview") if request.method == "POST" else "preview"
    if step == "edit" or not form.is_valid():
        return render(request, template, {**context, "form": form})
    cleaned = form.cleaned_data
    if kind == Transaction.Kind.TRANSFER:
        to_account = cleaned["to_account"]
    else:
        to_account = orgs.system_account(Account.Type.RETIREMENT).identifier
    try:
        if step == "confirm":
            access_policy.require_step_up(request, user)
            confirmed = [r.split("-") for r in data.getlist("confirmed_range")]
            selection = Selection.build(ranges=[(int(a), int(b)) for a, b in confirmed])
            if kind == Transaction.Kind.TRANSFER:
                txn = units.transfer(
                    actor=user,
                    from_account=cleaned["from_account"],
                    to_account=to_account,
                    selection=selection,
                    idempotency_key=cleaned["idempotency_key"],
                )
            else:
                txn = units.retire(
                    actor=user,
                    from_account=cleaned["from_account"],
                    selection=selection,
                    beneficiary=cleaned["beneficiary"],
                    purpose=cleaned["purpose"],
                    jurisdiction=cleaned["jurisdiction"],
                    reason=cleaned["reason"],
                    idempotency_key=cleaned["idempotency_key"],
                )
            if txn.replayed:
                messages.info(request, _("This request was already carried out; nothing was moved twice."))
            else:
                _say_outcome(request, txn)
            return redirect("workspace:transaction", identifier=txn.identifier)
        ranges = form.parsed_ranges()
        selection = Selection.build(
            ranges=ranges or None,
            quantity=None if ranges else cleaned["quantity"],
            project=cleaned["project"] or None,
            vintage=cleaned["vintage"],
        )
        preview = unit_selectors.preview_move(
            user, kind=kind, from_account=cleaned["from_account"], to_account=to_account, selection=selection
        )
    except (RegistryError, ValueError) as exc:
        if not isinstance(exc, RegistryError):
            raise Http404 from exc  # a tampered confirmation
        if exc.code in STEP_UP_CODES:
            return step_up_redirect(request, exc, request.path + "?resume=1")
        show_error(form, exc, {"ranges": "ranges"})
        return render(request, template, {**context, "form": form, "error": exc}, status=exc.status)
    return render(request, "workspace/move_confirm.html", {**context, "form": form, "preview": preview})


def _settles_at(txn: Transaction) -> str:
    pending = PendingMove.objects.filter(transaction=txn).first()
    if pending is None or pending.execute_at is None:
        return ""
    return date_format(localtime(pending.execute_at), "DATETIME_FORMAT")


def _say_outcome(request: HttpRequest, txn: Transaction) -> None:
    """Completed, waiting for a second person, or delayed until a time."""
    ids = {"id": txn.identifier}
    if txn.status == Transaction.Status.COMPLETED:
        messages.success(request, _("Transaction %(id)s completed.") % ids)
    elif txn.status == Transaction.Status.AWAITING_APPROVAL:
        messages.info(
            request,
            _("Transaction %(id)s awaits approval by a second person of your organisation; no units have moved yet.") % ids,
        )
    elif txn.status == Transaction.Status.DELAYED:
        messages.info(
            request,
            _("Transaction %(id)s is delayed: the units move on %(when)s unless it is cancelled before.")
            % {**ids, "when": _settles_at(txn)},
        )
    else:
        messages.error(request, _("Transaction %(id)s is %(status)s.") % {**ids, "status": txn.status})


@role_required(HOLDER)
def transfer(request: HttpRequest) -> HttpResponse:
    return _move(request, Transaction.Kind.TRANSFER)


@role_required(HOLDER)
def retire(request: HttpRequest) -> HttpResponse:
    return _move(request, Transaction.Kind.RETIREMENT)


@role_required(ADMIN, HOLDER)
def transaction_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    qs = unit_selectors.transactions_for(user)
    kind = request.GET.get("kind", "")
    if kind:
        qs = qs.filter(kind=kind)
    page = Paginator(qs.order_by("-created_at", "-id"), 50).get_page(request.GET.get("page"))
    return render(
        request, "workspace/transactions.html", {"page": page, "kind": kind, "kinds": Transaction.Kind.values}
    )


@role_required(ADMIN, HOLDER)
def transaction_detail(request: HttpRequest, identifier: str) -> HttpResponse:
    user = _user(request)
    txn = unit_selectors.transactions_for(user).filter(identifier=identifier).first()
    if txn is None:
        raise Http404
    waiting = txn.status in control_gate.WAITING
    approval = getattr(txn, "approval", None)
    return render(
        request,
        "workspace/transaction.html",
        {
            "txn": txn,
            "waiting": waiting,
            "settles_at": _settles_at(txn),
            "pending_serials": inbox_sources.serials_of(txn.pending_move.ranges) if waiting else [],
            "approval": approval,
            "blocks": unit_selectors.transaction_blocks(txn),
            "certificate": certificate_url(txn.identifier) if txn.kind == Transaction.Kind.RETIREMENT else "",
        },
    )


@role_required(ADMIN, HOLDER)
def transaction_cancel(request: HttpRequest, identifier: str) -> HttpResponse:
    """Stop a move that waits for approval or settlement (until it is executed)."""
    if request.method != "POST":
        return redirect("workspace:transaction", identifier=identifier)
    user = _user(request)
    if not unit_selectors.transactions_for(user).filter(identifier=identifier).exists():
        raise Http404
    try:
        txn = controls.cancel_waiting(actor=user, identifier=identifier)
    except RegistryError as exc:
        messages.error(request, f"{exc.message} ({exc.code})")
    else:
        messages.success(request, _("Transaction %(id)s was cancelled; no units moved.") % {"id": txn.identifier})
    return redirect("workspace:transaction", identifier=identifier)


def certificate_url(identifier: str) -> str:
    """The public retirement certificate (served by the portal)."""
    return f"/certificates/{identifier}/"

