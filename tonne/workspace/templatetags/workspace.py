"""The workspace's links in the site navigation, by role."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.translation import gettext as _

from tonne.core import refusals
from tonne.core.errors import RegistryError
from tonne.notifications.selectors import unread_count
from tonne.workspace.labels import LABELS
from tonne.workspace.views.common import ADMIN, DEVELOPER, HOLDER, VVB, field_label, roles_of

register = template.Library()


@register.inclusion_tag("workspace/nav.html", takes_context=True)
def workspace_nav(context: Any) -> dict[str, Any]:
    """The signed-in menu: one name per item, the administrator's registry-wide
    pages grouped under "Registry" so the menu stays on one line."""
    request = context.get("request")
    user = context.get("user")
    if user is None or not user.is_authenticated:
        return {"items": []}
    path = request.path if request is not None else ""
    roles = roles_of(user)

    def link(name: str, text: str) -> dict[str, Any]:
        url = reverse(name)
        return {"url": url, "label": text, "current": url == path}

    items = [link("workspace:home", _("My workspace"))]
    unread = unread_count(user)
    notices = link("workspace:notifications", _("Notifications"))
    if unread:
        notices["label"] = _("Notifications (%(n)s unread)") % {"n": unread}
    items.append(notices)
    if ADMIN in roles or (HOLDER in roles and user.role in ("admin", "approver")):
        items.append(link("workspace:inbox", _("Inbox")))  # for holders: the organisation's four-eyes approvals
    if ADMIN in roles:
        group = [
            link("workspace:overview", _("Registry overview")),
            link("workspace:organisations", _("Organisations")),
            link("workspace:article6", _("Article 6")),
            link("workspace:article6-aef", _("AEF report")),
            link("workspace:reference-data", _("Reference data")),
            link("workspace:holidays", _("Public holidays")),
            link("workspace:linkage", _("Partner registries")),
        ]
        items.append({"label": _("Registry"), "children": group, "current": any(g["current"] for g in group)})
    if ADMIN in roles:
        items.append(link("workspace:projects", _("Project review")))
    elif DEVELOPER in roles:
        items.append(link("workspace:projects", _("My projects")))
    if VVB in roles:
        items.append(link("workspace:assignments", _("Assignments")))
    if ADMIN in roles or HOLDER in roles:
        items += [link("workspace:accounts", _("Accounts")), link("workspace:transactions", _("Transactions"))]
    if HOLDER in roles:
        items.append(link("workspace:linkage-outgoing", _("International transfers")))
    return {"items": items}


@register.filter
def label(value: str) -> str:
    """The reader's word for a registry code (status, kind, role, purpose)."""
    return str(LABELS.get(value, value))


@register.filter
def refusal(exc: RegistryError) -> str:
    """A service's refusal in the reader's language, its field named by its label."""
    return refusals.text(exc, label=field_label(exc.field))
