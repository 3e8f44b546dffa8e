"""A person's notifications: the list, marking read, e-mail preferences."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tonne.core.errors import RegistryError
from tonne.notifications import domain, links
from tonne.notifications import messages as words
from tonne.notifications import selectors as notification_selectors
from tonne.notifications import services as notifications
from tonne.workspace.views.common import _user, role_required

PAGE_SIZE = 50


@role_required()
def notification_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    qs = notification_selectors.notifications_for(user)
    if request.GET.get("unread") == "1":
        qs = qs.filter(read_at=None)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows: list[dict[str, Any]] = [
        {"note": n, "text": words.text(n.event, n.params), "reason": words.reason(n.params),
         "awaiting": n.event in domain.AWAITING, "link": links.link(n.subject, n.ref, n.event)}
        for n in page
    ]
    pref = notifications.preferences(user)
    return render(request, "workspace/notifications.html", {
        "rows": rows, "page": page, "unread_only": request.GET.get("unread") == "1",
        "unread": notification_selectors.unread_count(user), "pref": pref, "languages": settings.LANGUAGES,
    })


@role_required()
@require_POST
def notification_open(request: HttpRequest, uid: str) -> HttpResponse:
    """Mark read and go to the thing it names."""
    try:
        note = notifications.mark_read(actor=_user(request), uid=uid)
    except RegistryError as exc:
        messages.error(request, exc.message)
        return redirect("workspace:notifications")
    return redirect(links.link(note.subject, note.ref, note.event))


@role_required()
@require_POST
def notification_read(request: HttpRequest, uid: str) -> HttpResponse:
    try:
        notifications.mark_read(actor=_user(request), uid=uid)
    except RegistryError as exc:
        messages.error(request, exc.message)
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect("workspace:notifications")


@role_required()
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    marked = notifications.mark_all_read(actor=_user(request))
    messages.success(request, _("%(n)s notifications marked read.") % {"n": marked})
    return redirect("workspace:notifications")


@role_required()
@require_POST
def notification_preferences(request: HttpRequest) -> HttpResponse:
    try:
        notifications.set_preferences(actor=_user(request), email=request.POST.get("email") == "on",
                                      language=request.POST.get("language", ""))
    except RegistryError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Your notification preferences are saved."))
    return redirect("workspace:notifications")
