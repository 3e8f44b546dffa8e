"""Reference data the registry administrator keeps for projects: the
methodologies and versions the registry accepts, its lists (sectors, project
types, sectoral scopes, unit classes), the country's eligibility rules and
the programmes whose VVB reports it approves. One page, one view per change."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tonne.core.errors import RegistryError
from tonne.methodologies import selectors as methodology_catalogue
from tonne.projects import eligibility, picklists, reference
from tonne.projects.models import (
    ApprovedProgramme,
    EligibilityRule,
    Methodology,
    MethodologyVersion,
    ReferenceValue,
)
from tonne.workspace.views.common import (
    ADMIN,
    _user,
    carries_step_up,
    role_required,
    submit,
)

LIST_LABELS = {
    "project_sector": gettext_lazy("Sectors"),
    "project_type": gettext_lazy("Project types"),
    "sectoral_scope": gettext_lazy("Sectoral scopes"),
    "unit_class": gettext_lazy("Unit classes"),
}
FACT_LABELS = {
    "host_party": gettext_lazy("Host Party"),
    "programme": gettext_lazy("Programme or standard"),
    "methodology": gettext_lazy("Methodology"),
    "vintage": gettext_lazy("Vintage"),
}
SCOPE_LABELS = {
    "registration": gettext_lazy("Project registration"),
    "import": gettext_lazy("Imports of foreign units"),
    "both": gettext_lazy("Registration and imports"),
}
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class MethodologyForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Code"), max_length=100)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=300)
    version = forms.CharField(label=gettext_lazy("Version"), max_length=50)
    valid_from = forms.DateField(label=gettext_lazy("Accepted from"), required=False, widget=DATE,
                                 help_text=gettext_lazy("Empty: accepted from now on, with no start date."))
    type = forms.ChoiceField(label=gettext_lazy("Type"), required=False,
                             choices=lambda: [("", "—")] + [(v, v) for v in picklists.allowed("methodology_type")])
    link = forms.URLField(label=gettext_lazy("Link"), required=False, assume_scheme="https")


class SupersedeForm(forms.Form):
    superseded_from = forms.DateField(label=gettext_lazy("Superseded from"), widget=DATE)


class ValueForm(forms.Form):
    list = forms.ChoiceField(label=gettext_lazy("List"), choices=[(k, v) for k, v in LIST_LABELS.items()
                                                                   if k != "sectoral_scope"])
    value = forms.CharField(label=gettext_lazy("Value"), max_length=200)
    cadt_value = forms.ChoiceField(
        label=gettext_lazy("Exported to CAD Trust as"), required=False,
        help_text=gettext_lazy("Required for a sector or a project type: the CAD Trust value it stands for."),
        choices=lambda: [("", "—")] + [(v, v) for name in reference.CADT_LISTS for v in picklists.allowed(name)])


class RuleForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Rule"), max_length=50,
                           help_text=gettext_lazy("As the country publishes it, e.g. ELIG-3."))
    fact = forms.ChoiceField(label=gettext_lazy("On"), choices=list(FACT_LABELS.items()))
    scope = forms.ChoiceField(label=gettext_lazy("Applies to"), choices=list(SCOPE_LABELS.items()))
    accepted = forms.CharField(label=gettext_lazy("Accepted values"), required=False,
                               widget=forms.Textarea(attrs={"rows": 2}),
                               help_text=gettext_lazy("One per line or separated by commas (Parties as ISO codes)."))
    first_vintage = forms.IntegerField(label=gettext_lazy("First vintage"), required=False)
    last_vintage = forms.IntegerField(label=gettext_lazy("Last vintage"), required=False)

    def accepted_values(self) -> list[Any]:
        if self.cleaned_data["fact"] == EligibilityRule.Fact.VINTAGE:
            return [self.cleaned_data.get("first_vintage"), self.cleaned_data.get("last_vintage")]
        return [v for v in re.split(r"[,\n]", self.cleaned_data.get("accepted") or "") if v.strip()]


class ProgrammeForm(forms.Form):
    programme = forms.CharField(label=gettext_lazy("Programme or standard"), max_length=200,
                                help_text=gettext_lazy("As projects name their crediting programme."))


FORMS: dict[str, type[forms.Form]] = {"methodology": MethodologyForm, "value": ValueForm, "rule": RuleForm,
                                      "programme": ProgrammeForm}


def _page(request: HttpRequest, bound: dict[str, forms.Form] | None = None, error: RegistryError | None = None,
          status: int = 200) -> HttpResponse:
    every = {name: form() for name, form in FORMS.items()} | (bound or {})
    in_force = {m.pk: v for m, v in reference.accepted_methodologies()}
    versions: dict[int, list[MethodologyVersion]] = {}
    for v in MethodologyVersion.objects.order_by("valid_from", "version"):
        versions.setdefault(v.methodology_id, []).append(v)
    computed = {(m.code, m.version) for m in methodology_catalogue.every()}
    listed = {(v.methodology.code, v.version) for v in MethodologyVersion.objects.select_related("methodology")}
    lists = reference.registry_lists()
    own = {(r.list, r.value): r for r in ReferenceValue.objects.all()}
    context = {
        "forms": every,
        "error": error,
        "methodologies": [{"m": m, "in_force": in_force.get(m.pk),
                           "versions": [(v, (m.code, v.version) in computed) for v in versions.get(m.pk, [])]}
                          for m in Methodology.objects.order_by("code")],
        "not_listed": [m for m in methodology_catalogue.every() if (m.code, m.version) not in listed],
        "lists": [{"name": name, "label": LIST_LABELS[name],
                   "values": [(v, own.get((name, v))) for v in lists.active[name]],
                   "retired": sorted(lists.retired[name])} for name in ReferenceValue.List.values],
        "rules": [{"rule": r, "fact": FACT_LABELS[r.fact], "scope": SCOPE_LABELS[r.scope]}
                  for r in EligibilityRule.objects.order_by("name")],
        "programmes": ApprovedProgramme.objects.order_by("programme"),
        "settings_approval": settings.TONNE_VERIFICATION_APPROVAL,
    }
    return render(request, "workspace/reference_data.html", context, status=status)


@role_required(ADMIN)
def reference_data(request: HttpRequest) -> HttpResponse:
    return _page(request)


def _change(request: HttpRequest, name: str, form: forms.Form | None, call: Callable[[], Any], done_message: str,
            step_up: bool = False) -> HttpResponse:
    """Check the form, call the one service, and come back to the page (or show the refusal beside the form)."""
    def done(_result: Any) -> HttpResponse:
        messages.success(request, done_message)
        return redirect("workspace:reference-data")

    return submit(request, form, lambda _data: call(), back=reverse("workspace:reference-data"), done=done,
                  step_up=step_up,  # it loosens what the registry asks
                  refused_page=lambda exc: _page(request, {name: form} if form is not None else None, exc, status=400))


@require_POST
@role_required(ADMIN)
def methodology_add(request: HttpRequest) -> HttpResponse:
    form = MethodologyForm(request.POST)
    return _change(request, "methodology", form, lambda: reference.add_methodology(
        actor=_user(request), code=form.cleaned_data["code"], name=form.cleaned_data["name"],
        version=form.cleaned_data["version"], valid_from=form.cleaned_data["valid_from"],
        type=form.cleaned_data["type"], link=form.cleaned_data["link"]),
        _("%(code)s version %(version)s is accepted.") % {"code": request.POST.get("code", ""),
                                                          "version": request.POST.get("version", "")})


@require_POST
@role_required(ADMIN)
def methodology_supersede(request: HttpRequest, code: str, version: str) -> HttpResponse:
    form = SupersedeForm(request.POST)
    return _change(request, "supersede", form, lambda: reference.supersede_methodology_version(
        actor=_user(request), code=code, version=version, superseded_from=form.cleaned_data["superseded_from"]),
        _("%(code)s version %(version)s is superseded.") % {"code": code, "version": version})


@require_POST
@role_required(ADMIN)
def value_add(request: HttpRequest) -> HttpResponse:
    form = ValueForm(request.POST)
    return _change(request, "value", form, lambda: reference.add_value(
        actor=_user(request), list=form.cleaned_data["list"], value=form.cleaned_data["value"],
        cadt_value=form.cleaned_data["cadt_value"]),
        _("%(value)s is added to the list.") % {"value": request.POST.get("value", "")})


@require_POST
@role_required(ADMIN)
def value_retire(request: HttpRequest, name: str) -> HttpResponse:
    value = request.POST.get("value", "")
    return _change(request, "value", None, lambda: reference.retire_value(actor=_user(request), list=name, value=value),
                   _("%(value)s is retired: new records cannot take it.") % {"value": value})


@require_POST
@role_required(ADMIN)
def value_reinstate(request: HttpRequest, name: str) -> HttpResponse:
    value = request.POST.get("value", "")
    return _change(request, "value", None,
                   lambda: reference.reinstate_value(actor=_user(request), list=name, value=value),
                   _("%(value)s may be taken again.") % {"value": value})


@require_POST
@role_required(ADMIN)
def rule_add(request: HttpRequest) -> HttpResponse:
    form = RuleForm(request.POST)
    return _change(request, "rule", form, lambda: eligibility.add_rule(
        actor=_user(request), name=form.cleaned_data["name"], fact=form.cleaned_data["fact"],
        scope=form.cleaned_data["scope"], accepted=form.accepted_values()),
        _("Rule %(name)s is in force.") % {"name": request.POST.get("name", "")})


@carries_step_up
@require_POST
@role_required(ADMIN)
def rule_remove(request: HttpRequest, name: str) -> HttpResponse:
    return _change(request, "rule", None, lambda: eligibility.remove_rule(actor=_user(request), name=name),
                   _("Rule %(name)s is withdrawn.") % {"name": name}, step_up=True)


@require_POST
@role_required(ADMIN)
def programme_add(request: HttpRequest) -> HttpResponse:
    form = ProgrammeForm(request.POST)
    return _change(request, "programme", form, lambda: eligibility.add_approved_programme(
        actor=_user(request), programme=form.cleaned_data["programme"]),
        _("Verifications of %(programme)s now wait for the registry's approval.")
        % {"programme": request.POST.get("programme", "")})


@carries_step_up
@require_POST
@role_required(ADMIN)
def programme_remove(request: HttpRequest) -> HttpResponse:
    programme = request.POST.get("programme", "")
    return _change(request, "programme", None,
                   lambda: eligibility.remove_approved_programme(actor=_user(request), programme=programme),
                   _("Verifications of %(programme)s no longer wait for the registry's approval.")
                   % {"programme": programme}, step_up=True)
