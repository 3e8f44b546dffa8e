"""Who may see what, refusals beside their field, and a second factor before moving units or approving: what every workspace page shares."""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from tonne.access import policy as access_policy
from tonne.core import refusals
from tonne.core.errors import RegistryError, each_refusal
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
    if form is None:
        return
    for one in each_refusal(exc):  # every rule the service found broken, each beside its field
        name = (field_map or {}).get(one.field or "", one.field)
        if name and name in form.fields:
            form.add_error(name, refused(one, form.fields[name].label))


# -- a second factor before moving units or approving ----------------------------------------

STEP_UP_CODES = ("STEP_UP_REQUIRED", "MFA_REQUIRED")
RESUME = "tonne.workspace.resume"
_RESUME_SALT = "tonne.workspace.step-up-resume"
RESUME_SECONDS = 600  # long enough to find one's phone, short enough that a stale click is not replayed


def step_up_redirect(request: HttpRequest, exc: RegistryError, back: str, data: QueryDict | None = None) -> HttpResponse:
    """The service wants a (recent) second factor: keep what was posted (or
    `data`, what was resumed) in the session, send the person to confirm it
    (or set one up), then back to this address with a signed, single-use,
    short-lived ticket bound to the person and that kept request, which
    `carries_step_up` carries out; `back` is where an expired ticket leads."""
    source = request.POST if data is None else data
    posted = {k: source.getlist(k) for k in source if k != "csrfmiddlewaretoken"}
    nonce = secrets.token_urlsafe(16)
    request.session[RESUME] = {"path": request.path, "post": posted, "nonce": nonce}
    ticket = signing.dumps({"n": nonce, "u": request.user.pk, "b": back}, salt=_RESUME_SALT, compress=True)
    carry = f"{request.path}?{urlencode({'resume': ticket})}"
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
    return redirect(f"{target}?{urlencode({'next': carry})}")


def _ticket(request: HttpRequest, in_time: bool = True) -> dict[str, Any] | None:
    try:
        ticket = signing.loads(request.GET.get("resume", ""), salt=_RESUME_SALT, max_age=RESUME_SECONDS if in_time else None)
    except signing.BadSignature:  # forged, altered or expired
        return None
    return ticket if isinstance(ticket, dict) and ticket.get("u") == request.user.pk else None


def resumed(request: HttpRequest) -> QueryDict | None:
    """What was posted before the step-up, once, on the way back: only with
    this session's own ticket, for this person, in time, at this address."""
    if request.method != "GET" or "resume" not in request.GET:
        return None
    ticket, saved = _ticket(request), request.session.get(RESUME)
    if ticket is None or not saved or saved.get("nonce") != ticket["n"] or saved.get("path") != request.path:
        return None
    del request.session[RESUME]
    data = QueryDict(mutable=True)
    for key, values in saved["post"].items():
        data.setlist(key, values)
    return data


def carries_step_up(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A form whose POST may ask for a step-up: back from confirming it, what
    was posted is carried out as if posted again (once); a used or expired
    ticket does nothing and says so. Outermost, so the view sees a POST."""
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "GET" and "resume" in request.GET:
            data = resumed(request)
            if data is None:
                stale = _ticket(request, in_time=False)
                messages.warning(request, _("This request was already carried out or has expired; nothing more was done."))
                return redirect(stale["b"] if stale else "workspace:home")
            request.method = "POST"
            request.POST = data  # type: ignore[assignment]  # the kept POST, read-only to the view as any POST
        return view(request, *args, **kwargs)

    return wrapped


# -- one shape for a workspace action -------------------------------------------------------


def submit(
    request: HttpRequest,
    form: forms.Form | None,
    act: Callable[[dict[str, Any]], Any],
    *,
    back: str,
    done: Callable[[Any], HttpResponse] | None = None,
    refused_page: Callable[[RegistryError | None], HttpResponse] | None = None,
    step_up: bool = False,
    field_map: dict[str, str] | None = None,
    invalid: str | None = None,
) -> HttpResponse:
    """Check the form, ask for a recent second factor when the action needs
    one (carried through afterwards), call the one service with the cleaned
    data, then `done(result)` (else back to `back`). A refusal goes beside its
    fields, every rule at once, on `refused_page(error)` (None: the form's own
    errors); without one, each refusal is a message on the way back (an
    invalid form says `invalid`, else each of its errors)."""
    if form is not None and not form.is_valid():
        if refused_page is not None:
            return refused_page(None)
        for error in [invalid] if invalid else [str(e) for errors in form.errors.values() for e in errors]:
            messages.error(request, error)
        return redirect(back)
    try:
        if step_up:
            access_policy.require_step_up(request, _user(request))
        result = act(form.cleaned_data if form is not None else {})
    except RegistryError as exc:
        if exc.code in STEP_UP_CODES:
            return step_up_redirect(request, exc, back)
        if refused_page is not None:
            show_error(form, exc, field_map)
            return refused_page(exc)
        for one in each_refusal(exc):
            messages.error(request, refused(one))
        return redirect(back)
    return done(result) if done is not None else redirect(back)
