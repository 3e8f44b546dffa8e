"""Article 6 for the registry administrator: authorisations (proposed here,
approved by a second administrator in the inbox, changed and revoked the
same way) and the Agreed Electronic Format report of a reporting year with
its consistency checks and downloads. The same service functions as the API
and `tonne article6` do the work."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from tonne.access import policy as access_policy
from tonne.article6 import aef, selectors
from tonne.article6 import services as a6
from tonne.article6.domain import DEFINITION_LABELS
from tonne.controls.models import Approval
from tonne.core import clock
from tonne.core.errors import RegistryError, ValidationFailed
from tonne.organisations.models import Organisation
from tonne.organisations.services import require_registry_administrator
from tonne.workspace.labels import LABELS
from tonne.workspace.views.common import (
    ADMIN,
    STEP_UP_CODES,
    _user,
    role_required,
    show_error,
    step_up_redirect,
)

AEF_FORMATS = ("xlsx", "csv", "json", "cadt")


def _codes(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


class TermsForm(forms.Form):
    """The terms of an authorisation; the services check them."""

    acquiring_parties = forms.CharField(
        label=gettext_lazy("Acquiring Parties"), required=False,
        help_text=gettext_lazy("ISO 3166-1 alpha-2 codes, separated by commas (e.g. CH, SE)."),
    )
    purposes = forms.MultipleChoiceField(
        label=gettext_lazy("Purposes"), widget=forms.CheckboxSelectMultiple,
        choices=[("ndc", gettext_lazy("Use towards an NDC")),
                 ("oimp", gettext_lazy("Other international mitigation purposes"))],
    )
    oimp_purposes = forms.CharField(label=gettext_lazy("Which other international mitigation purposes"), required=False)
    quantity = forms.IntegerField(label=gettext_lazy("Authorised quantity (tCO2e)"), min_value=1)
    vintage_from = forms.IntegerField(label=gettext_lazy("First vintage"))
    vintage_to = forms.IntegerField(label=gettext_lazy("Last vintage"))
    projects = forms.CharField(
        label=gettext_lazy("Projects"), help_text=gettext_lazy("Project ids, separated by commas."),
    )
    entities = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Authorised entities"), required=False, queryset=Organisation.objects.none(),
        widget=forms.CheckboxSelectMultiple, to_field_name="uid",
    )
    authorisation_date = forms.DateField(label=gettext_lazy("Date of the authorisation"),
                                         widget=forms.DateInput(attrs={"type": "date"}))
    valid_until = forms.DateField(label=gettext_lazy("Valid until"), required=False,
                                  widget=forms.DateInput(attrs={"type": "date"}))
    terms = forms.CharField(label=gettext_lazy("Terms and conditions"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    letter = forms.CharField(
        label=gettext_lazy("Letter of authorisation"), required=False,
        help_text=gettext_lazy("Uid of the uploaded document of kind “letter” (its SHA-256 is recorded)."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        entities = self.fields["entities"]
        assert isinstance(entities, forms.ModelMultipleChoiceField)
        entities.queryset = Organisation.objects.filter(status=Organisation.Status.APPROVED).order_by("name")

    def data_for_service(self) -> dict[str, Any]:
        c = self.cleaned_data
        return {
            "acquiring_parties": _codes(c.get("acquiring_parties") or ""),
            "purposes": list(c.get("purposes") or []),
            "oimp_purposes": c.get("oimp_purposes") or "",
            "quantity": c.get("quantity"),
            "vintage_from": c.get("vintage_from"),
            "vintage_to": c.get("vintage_to"),
            "projects": _codes(c.get("projects") or ""),
            "entities": [str(o.uid) for o in c.get("entities") or []],
            "authorisation_date": c["authorisation_date"].isoformat() if c.get("authorisation_date") else "",
            "valid_until": c["valid_until"].isoformat() if c.get("valid_until") else None,
            "terms": c.get("terms") or "",
            "letter": c.get("letter") or "",
        }


class AuthorisationForm(TermsForm):
    identifier = forms.CharField(label=gettext_lazy("Authorisation identifier"), max_length=100)
    cooperative_approach = forms.CharField(label=gettext_lazy("Cooperative approach"), max_length=100)
    # The authorising Party defines the first transfer per authorised purpose (2/CMA.3, 6/CMA.4).
    first_transfer_definition = forms.ChoiceField(
        label=gettext_lazy("First transfer, for use towards an NDC"), required=False,
        choices=[("", "—"), *DEFINITION_LABELS.items()],
        help_text=gettext_lazy("When the units are first transferred (and the corresponding adjustment is due)."),
    )
    first_transfer_definition_oimp = forms.ChoiceField(
        label=gettext_lazy("First transfer, for other international mitigation purposes"), required=False,
        choices=[("", "—"), *DEFINITION_LABELS.items()],
        help_text=gettext_lazy("Empty: as for use towards an NDC."),
    )
    field_order = ["identifier", "cooperative_approach", "first_transfer_definition", "first_transfer_definition_oimp"]

    def data_for_service(self) -> dict[str, Any]:
        c = self.cleaned_data
        ndc, oimp = c.get("first_transfer_definition") or "", c.get("first_transfer_definition_oimp") or ""
        # Each authorised purpose its own definition; one given serves both.
        definitions = {p: ((oimp if p == "oimp" else ndc) or ndc or oimp) for p in c.get("purposes") or []}
        return {"identifier": c.get("identifier"), "cooperative_approach": c.get("cooperative_approach"),
                "first_transfer_definitions": definitions, **super().data_for_service()}


class ChangeForm(TermsForm):
    effective_from = forms.DateTimeField(
        label=gettext_lazy("Takes effect"), required=False,
        help_text=gettext_lazy("Now when empty; never in the past (YYYY-MM-DD HH:MM, UTC)."),
    )


class RevocationForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), widget=forms.Textarea(attrs={"rows": 2}))
    effective_from = forms.DateTimeField(
        label=gettext_lazy("Takes effect"), required=False,
        help_text=gettext_lazy("Now when empty; never in the past (YYYY-MM-DD HH:MM, UTC)."),
    )


class AefYearForm(forms.Form):
    year = forms.IntegerField(label=gettext_lazy("Reporting year"), min_value=1990, max_value=2200)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _pending(identifier: str) -> list[Approval]:
    pending = Approval.objects.filter(
        action__in=(a6.AUTHORISE, a6.CHANGE, a6.REVOKE), status=Approval.Status.PENDING
    ).order_by("created_at", "id")
    return [a for a in pending if identifier in (a.payload.get("identifier"), a.payload.get("authorisation"))]


def _initial_terms(identifier: str) -> dict[str, Any]:
    a = selectors.get(identifier)
    v = max(a.versions.all(), key=lambda x: x.version)
    return {
        "acquiring_parties": ", ".join(v.acquiring_parties),
        "purposes": [p for p, on in (("ndc", v.purpose_ndc), ("oimp", v.purpose_oimp)) if on],
        "oimp_purposes": v.oimp_purposes, "quantity": v.quantity, "vintage_from": v.vintage_from,
        "vintage_to": v.vintage_to, "projects": ", ".join(v.projects),
        "entities": [e["uid"] for e in v.entities], "authorisation_date": v.authorisation_date,
        "valid_until": v.valid_until, "terms": v.terms, "letter": str(v.letter.uid) if v.letter else "",
    }


def _ask(request: HttpRequest, back: str, propose: Any) -> HttpResponse | RegistryError | None:
    """Run a proposal (a second administrator approves it in the inbox): None
    when it was recorded, the refusal otherwise, or the step-up redirect."""
    user = _user(request)
    try:
        access_policy.require_step_up(request, user)
        approval = propose(user)
    except RegistryError as exc:
        if exc.code in STEP_UP_CODES:
            return step_up_redirect(request, exc, back)
        return exc
    # Named by what it is and the authorisation it concerns, never by the request's raw id.
    what = approval.payload.get("authorisation") or approval.payload.get("identifier") or ""
    action = str(LABELS.get(approval.action, approval.action))
    messages.success(
        request,
        _("%(action)s %(what)s recorded; it takes effect when a second registry administrator approves it in the inbox.")
        % {"action": action[:1].upper() + action[1:], "what": what},
    )
    return None


@role_required(ADMIN)
def authorisations(request: HttpRequest) -> HttpResponse:
    require_registry_administrator(_user(request))
    form = AuthorisationForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        outcome = _ask(request, reverse("workspace:article6"),
                       lambda user: a6.request_authorisation(actor=user, data=form.data_for_service()))
        if outcome is None:
            return redirect("workspace:article6")
        if isinstance(outcome, HttpResponse):
            return outcome
        error = outcome
        show_error(form, error)
    rows = [(a, selectors.status(a), max(a.versions.all(), key=lambda v: v.version, default=None))
            for a in selectors.authorisations()]
    pending = Approval.objects.filter(action=a6.AUTHORISE, status=Approval.Status.PENDING).order_by("created_at")
    return render(request, "workspace/article6_authorisations.html",
                  {"rows": rows, "form": form, "error": error, "pending": pending},
                  status=error.status if error else 200)


def _authorisation_of(request: HttpRequest, identifier: str) -> Any:
    require_registry_administrator(_user(request))
    try:
        return selectors.get(identifier)
    except RegistryError:
        raise Http404 from None


def _authorisation_page(
    request: HttpRequest,
    a: Any,
    *,
    change_form: ChangeForm | None = None,
    revoke_form: RevocationForm | None = None,
    error: RegistryError | None = None,
) -> HttpResponse:
    """The authorisation's page; after a refused change or revocation, with its bound form and the refusal."""
    versions = sorted(a.versions.all(), key=lambda v: v.version)
    return render(request, "workspace/article6_authorisation.html", {
        "a": a, "status": selectors.status(a), "versions": versions, "pending": _pending(a.identifier),
        "definitions": [(PURPOSE_NAMES.get(p, p), DEFINITION_LABELS[d]) for p, d in sorted(a.definitions.items())],
        "change_form": change_form or ChangeForm(initial=_initial_terms(a.identifier), prefix="change"),
        "revoke_form": revoke_form or RevocationForm(prefix="revoke"), "error": error,
        "revoked": a.revoked_from is not None,
    }, status=error.status if error else 200)


PURPOSE_NAMES = {"ndc": gettext_lazy("Use towards an NDC"), "oimp": gettext_lazy("Other international mitigation purposes")}


def _answer(request: HttpRequest, a: Any, outcome: HttpResponse | RegistryError | None, **forms_: Any) -> HttpResponse:
    if outcome is None:
        return redirect("workspace:article6-authorisation", identifier=a.identifier)
    if isinstance(outcome, HttpResponse):
        return outcome
    show_error(next(iter(forms_.values())), outcome)
    return _authorisation_page(request, a, error=outcome, **forms_)


@require_safe
@role_required(ADMIN)
def authorisation(request: HttpRequest, identifier: str) -> HttpResponse:
    return _authorisation_page(request, _authorisation_of(request, identifier))


@require_POST
@role_required(ADMIN)
def authorisation_change(request: HttpRequest, identifier: str) -> HttpResponse:
    a = _authorisation_of(request, identifier)
    back = reverse("workspace:article6-authorisation", args=[a.identifier])
    form = ChangeForm(request.POST, initial=_initial_terms(a.identifier), prefix="change")
    outcome: HttpResponse | RegistryError | None
    if form.is_valid():
        moment = _aware(form.cleaned_data.get("effective_from"))
        outcome = _ask(request, back, lambda user: a6.request_change(
            actor=user, identifier=a.identifier, data=form.data_for_service(), effective_from=moment))
    else:
        outcome = ValidationFailed("FORM_INVALID", _("Correct the fields marked below."))
    return _answer(request, a, outcome, change_form=form)


@require_POST
@role_required(ADMIN)
def authorisation_revoke(request: HttpRequest, identifier: str) -> HttpResponse:
    a = _authorisation_of(request, identifier)
    back = reverse("workspace:article6-authorisation", args=[a.identifier])
    form = RevocationForm(request.POST, prefix="revoke")
    outcome: HttpResponse | RegistryError | None
    if form.is_valid():
        moment = _aware(form.cleaned_data.get("effective_from"))
        outcome = _ask(request, back, lambda user: a6.request_revocation(
            actor=user, identifier=a.identifier, reason=form.cleaned_data["reason"], effective_from=moment))
    else:
        outcome = ValidationFailed("FORM_INVALID", _("Correct the fields marked below."))
    return _answer(request, a, outcome, revoke_form=form)


@role_required(ADMIN)
def aef_page(request: HttpRequest) -> HttpResponse:
    require_registry_administrator(_user(request))
    form = AefYearForm(request.GET or {"year": clock.now().year - 1})
    report = None
    if form.is_valid():
        report = aef.build(form.cleaned_data["year"])
    return render(request, "workspace/article6_aef.html", {
        "form": form, "report": report, "formats": AEF_FORMATS,
        "counts": [(name, len(rows)) for name, rows in report["tables"].items()] if report else [],
        "ok": all(c["ok"] for c in report["checks"]) if report else False,
    })


@role_required(ADMIN)
def aef_download(request: HttpRequest, year: int, fmt: str) -> HttpResponse:
    require_registry_administrator(_user(request))
    if fmt not in AEF_FORMATS:
        raise Http404
    try:
        report = aef.build(year)
    except RegistryError:
        raise Http404 from None
    if not all(c["ok"] for c in report["checks"]) and request.GET.get("force") != "1":
        return HttpResponse(_("The consistency checks failed; see the report before downloading."), status=409,
                            content_type="text/plain; charset=utf-8")
    content, content_type, extension = aef.render(report, fmt)
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="aef-{year}.{extension}"'
    return response
