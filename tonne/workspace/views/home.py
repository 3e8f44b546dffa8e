"""The home page: where each role starts."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tonne.core import training
from tonne.organisations import selectors as org_selectors
from tonne.organisations.models import Account
from tonne.projects import selectors as project_selectors
from tonne.workspace import inbox as inbox_sources
from tonne.workspace import training as guide
from tonne.workspace.views.administration import _may_decide
from tonne.workspace.views.common import DEVELOPER, HOLDER, VVB, _user, role_required, roles_of
from tonne.workspace.views.reports import _to_validate, _to_verify

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
    if training.is_training():
        context["training_steps"] = guide.next_steps(user, roles)
    return render(request, "workspace/home.html", context)
