"""Who may see what, refusals beside their field, and a second factor before moving units or approving: what every workspace page shares."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from tonne.access import policy as access_policy
from tonne.core import refusals
from tonne.core.errors import RegistryError
from tonne.organisations import selectors as org_selectors
from tonne.organisations.models import Organisation, User
from tonne.workspace import forms as wf

# -- who may see what -----------------------------------------------------------------

ADMIN, DEVELOPER, VVB, HOLDER = "admin", "developer", "vvb", "holder"
HOLDER_KINDS = (Organisation.Kind.DEVELOPER, Organisation.Kind.TRADER, Organisation.Kind.MINISTRY)


def roles_of(user: User | AnonymousUser) -> set[str]:
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


def field_label(name: str | None) -> str | None:
    """The reader's name of a field the services name (sectoral_scope: "CDM sectoral scope")."""
    if not name:
        return None
    match = _CHILD_FIELD_RE.match(name)
    if match:
        name = match.group(3) or match.group(1)
    label = wf.FIELD_LABELS.get(name) or wf.CHILD_FIELD_LABELS.get(name) or wf.CHILD_LABELS.get(name) or wf.OTHER_LABELS.get(name)
    return None if label is None else str(label)


def refused(exc: RegistryError, label: Any = None) -> str:
    """The refusal in the reader's language and words, with its stable code."""
    return f"{refusals.text(exc, label=str(label) if label else field_label(exc.field))} ({exc.code})"


def show_error(form: forms.Form | None, exc: RegistryError, field_map: dict[str, str] | None = None) -> None:
    """Put the service's refusal beside the field it names (when the form has
    it); the page also shows it, with its code, at the top of the form."""
    if form is None or not exc.field:
        return
    name = (field_map or {}).get(exc.field, exc.field)
    if name in form.fields:
        form.add_error(name, refused(exc, form.fields[name].label))


# -- a second factor before moving units or approving ----------------------------------------

STEP_UP_CODES = ("STEP_UP_REQUIRED", "MFA_REQUIRED")
RESUME = "tonne.workspace.resume"


def step_up_redirect(request: HttpRequest, exc: RegistryError, back: str, data: QueryDict | None = None) -> HttpResponse:
    """The service wants a (recent) second factor: keep what was posted (or
    `data`, what was resumed) in the session, send the person to confirm it
    (or set one up) and then back to `back`."""
    source = request.POST if data is None else data
    posted = {k: source.getlist(k) for k in source if k != "csrfmiddlewaretoken"}
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
