"""One organisation's page, and one view for each thing done on it: its
status and accreditation (registry administrator), its people and its
accounts (its own administrator). A refused action shows the page again with
the refusal beside its form. Adding or changing people needs a recent second
factor; a change of representatives waits for a second person (Inbox)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from tonne.access import policy as access_policy
from tonne.controls import selectors as control_selectors
from tonne.controls import services as controls
from tonne.core import clock
from tonne.core.errors import RegistryError
from tonne.organisations import selectors as org_selectors
from tonne.organisations import services as orgs
from tonne.organisations.models import Organisation, User
from tonne.workspace import forms as wf
from tonne.workspace.views.common import (
    RESUME,
    _user,
    carries_step_up,
    role_required,
    show_error,
    step_up_redirect,
)


@dataclass(frozen=True)
class OrganisationPage:
    user: User
    org: Organisation
    admin: bool  # the registry administrator
    org_admin: bool  # the registry administrator or the organisation's own administrator

    @classmethod
    def load(cls, request: HttpRequest, uid: str) -> OrganisationPage:
        user = _user(request)
        org = org_selectors.organisations_for(user).filter(uid=uid).first()
        if org is None or not org_selectors.may_see_private_fields(user, org):
            raise Http404
        admin = org_selectors.is_admin(user)
        org_admin = admin or (user.organisation_id == org.pk and user.role == User.Role.ADMIN)
        return cls(user=user, org=org, admin=admin, org_admin=org_admin)

    def render(
        self, request: HttpRequest, *, error: RegistryError | None = None, action: str = "", form: forms.Form | None = None
    ) -> HttpResponse:
        """The page; after a refused `action`, with its bound `form` and the refusal."""
        user, org = self.user, self.org
        context: dict[str, Any] = {
            "org": org,
            "admin": self.admin,
            "org_admin": self.org_admin,
            "users": org_selectors.users_for(user, org),
            "accounts": org_selectors.accounts_for(user).filter(organisation=org),
            "status_form": wf.OrganisationStatusForm(),
            "accreditation_form": wf.AccreditationForm(initial={"accredited": org.accredited}),
            "clients_form": wf.ActsForClientsForm(initial={"acts_for_clients": org.acts_for_clients}),
            "user_form": wf.UserForm(),
            "member_form": wf.MemberForm(),
            "pending_members": {
                a.payload.get("username"): a for a in control_selectors.approvals_for(user).filter(
                    action="representative_change", status="pending", organisation=org
                )
            } if self.org_admin else {},
            "account_form": wf.AccountForm(),
            "now": clock.now(),
            "error": error,
            "error_form": action,
        }
        if form is not None:
            context[f"{action}_form"] = form
        return render(request, "workspace/organisation.html", context, status=error.status if error else 200)

    def refused(self, request: HttpRequest, action: str, form: forms.Form, exc: RegistryError) -> HttpResponse:
        show_error(form, exc)
        return self.render(request, error=exc, action=action, form=form)

    def done(self) -> HttpResponse:
        return redirect("workspace:organisation", uid=self.org.uid)

    def step_up(self, request: HttpRequest) -> HttpResponse | None:
        """Changing people needs a recent second factor: None when there is
        one, else the way to confirm it; what was posted is carried through,
        but a password is never kept (the form comes back asking for it)."""
        try:
            access_policy.require_step_up(request, self.user)
        except RegistryError as exc:
            response = step_up_redirect(request, exc, reverse("workspace:organisation", args=[self.org.uid]) + "#users-heading")
            request.session[RESUME]["post"].pop("password", None)
            return response
        return None


def _approvers() -> str:
    if settings.TONNE_REPRESENTATIVES_APPROVED_BY == "holder":
        return _("another administrator or approver of the organisation or of the registry")
    return _("another administrator or approver of the registry")


@require_safe
@role_required()
def organisation(request: HttpRequest, uid: str) -> HttpResponse:
    return OrganisationPage.load(request, uid).render(request)


@require_POST
@role_required()
def organisation_status(request: HttpRequest, uid: str) -> HttpResponse:
    page = OrganisationPage.load(request, uid)
    if not page.admin:
        raise PermissionDenied
    form = wf.OrganisationStatusForm(request.POST)
    if not form.is_valid():
        return page.render(request, action="status", form=form)
    try:
        orgs.decide_organisation(
            actor=page.user, organisation=page.org, status=form.cleaned_data["status"], reason=form.cleaned_data["reason"]
        )
    except RegistryError as exc:
        return page.refused(request, "status", form, exc)
    messages.success(request, _("The organisation's status was changed."))
    return page.done()


@require_POST
@role_required()
def organisation_accreditation(request: HttpRequest, uid: str) -> HttpResponse:
    page = OrganisationPage.load(request, uid)
    if not page.admin:
        raise PermissionDenied
    form = wf.AccreditationForm(request.POST)
    if not form.is_valid():
        return page.render(request, action="accreditation", form=form)
    try:
        orgs.set_accreditation(actor=page.user, organisation=page.org, accredited=form.cleaned_data["accredited"])
    except RegistryError as exc:
        return page.refused(request, "accreditation", form, exc)
    messages.success(request, _("Accreditation saved."))
    return page.done()


@require_POST
@role_required()
def organisation_clients(request: HttpRequest, uid: str) -> HttpResponse:
    page = OrganisationPage.load(request, uid)
    if not page.admin:
        raise PermissionDenied
    form = wf.ActsForClientsForm(request.POST)
    if not form.is_valid():
        return page.render(request, action="clients", form=form)
    try:
        orgs.set_acts_for_clients(
            actor=page.user, organisation=page.org, acts_for_clients=form.cleaned_data["acts_for_clients"]
        )
    except RegistryError as exc:
        return page.refused(request, "clients", form, exc)
    messages.success(request, _("Saved: whether the organisation acts for clients."))
    return page.done()


@carries_step_up
@require_POST
@role_required()
def organisation_user(request: HttpRequest, uid: str) -> HttpResponse:
    page = OrganisationPage.load(request, uid)
    if not page.org_admin:
        raise PermissionDenied
    if (stepping := page.step_up(request)) is not None:
        return stepping
    form = wf.UserForm(request.POST)
    if not form.is_valid():
        return page.render(request, action="user", form=form)
    try:
        created = orgs.create_user(actor=page.user, organisation=page.org, **form.cleaned_data)
    except RegistryError as exc:
        return page.refused(request, "user", form, exc)
    if controls.pending_representative_change(created) is not None:
        messages.success(request, _(
            "User %(name)s added; as an authorised representative they can sign in once %(who)s approves (Inbox)."
        ) % {"name": created.username, "who": _approvers()})
    else:
        messages.success(request, _("User %(name)s added.") % {"name": created.username})
    return page.done()


@carries_step_up
@require_POST
@role_required()
def organisation_member(request: HttpRequest, uid: str) -> HttpResponse:
    page = OrganisationPage.load(request, uid)
    if not page.org_admin:
        raise PermissionDenied
    if (stepping := page.step_up(request)) is not None:
        return stepping
    form = wf.MemberForm(request.POST)
    if not form.is_valid():
        return page.render(request, action="member", form=form)
    member = org_selectors.users_for(page.user, page.org).filter(username=form.cleaned_data["username"]).first()
    if member is None:
        raise Http404
    try:
        result = controls.change_member(
            actor=page.user, member=member, role=form.cleaned_data["role"], active=form.cleaned_data["is_active"]
        )
    except RegistryError as exc:
        return page.refused(request, "member", form, exc)
    if isinstance(result, User):
        messages.success(request, _("The change of %(name)s took effect.") % {"name": member.username})
    else:
        messages.success(request, _(
            "The change of %(name)s waits for %(who)s (Inbox)."
        ) % {"name": member.username, "who": _approvers()})
    return page.done()


@require_POST
@role_required()
def organisation_account(request: HttpRequest, uid: str) -> HttpResponse:
    page = OrganisationPage.load(request, uid)
    if not page.org_admin:
        raise PermissionDenied
    form = wf.AccountForm(request.POST)
    if not form.is_valid():
        return page.render(request, action="account", form=form)
    try:
        account = orgs.open_holding_account(actor=page.user, organisation=page.org, name=form.cleaned_data["name"])
    except RegistryError as exc:
        return page.refused(request, "account", form, exc)
    messages.success(request, _("Account %(id)s opened.") % {"id": account.identifier})
    return page.done()
