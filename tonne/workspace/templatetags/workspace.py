"""The workspace's links in the site navigation, by role."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.translation import gettext as _

from tonne.workspace.labels import LABELS
from tonne.workspace.views.common import ADMIN, DEVELOPER, HOLDER, VVB, roles_of

register = template.Library()


@register.inclusion_tag("workspace/nav.html", takes_context=True)
def workspace_nav(context: Any) -> dict[str, Any]:
    request = context.get("request")
    user = context.get("user")
    if user is None or not user.is_authenticated:
        return {"links": []}
    roles = roles_of(user)
    links = [(reverse("workspace:home"), _("My workspace"))]
    if ADMIN in roles:
        links += [
            (reverse("workspace:inbox"), _("Inbox")),
            (reverse("workspace:overview"), _("Registry overview")),
            (reverse("workspace:organisations"), _("Organisations")),
            (reverse("workspace:article6"), _("Article 6")),
            (reverse("workspace:article6-aef"), _("AEF report")),
            (reverse("workspace:linkage"), _("Partner registries")),
        ]
    if ADMIN in roles or DEVELOPER in roles:
        links.append((reverse("workspace:projects"), _("Projects")))
    if VVB in roles:
        links.append((reverse("workspace:assignments"), _("Assignments")))
    if ADMIN not in roles and HOLDER in roles and user.role in ("admin", "approver"):
        links.append((reverse("workspace:inbox"), _("Inbox")))  # the organisation's four-eyes approvals
    if ADMIN in roles or HOLDER in roles:
        links += [
            (reverse("workspace:accounts"), _("Accounts")),
            (reverse("workspace:transactions"), _("Transactions")),
        ]
    if HOLDER in roles:
        links.append((reverse("workspace:linkage-outgoing"), _("International transfers")))
    path = request.path if request is not None else ""
    return {"links": [(url, label, url == path) for url, label in links]}


@register.filter
def label(value: str) -> str:
    """The reader's word for a registry code (status, kind, role, purpose)."""
    return str(LABELS.get(value, value))
