"""Where a notification leads: the workspace page of the thing it names."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

from tonne.notifications import domain

_PAGES = {
    domain.PROJECT: "workspace:project",
    domain.REPORT: "workspace:report",
    domain.TRANSACTION: "workspace:transaction",
    domain.ACCOUNT: "workspace:account",
    domain.AUTHORISATION: "workspace:article6-authorisation",  # told to the registry administrators only
}


def link(subject: str, ref: str, event: str = "") -> str:
    """The page's path (resolved by name: the workspace sits above this app)."""
    try:
        if subject in _PAGES:
            return reverse(_PAGES[subject], args=[ref])
        if subject == domain.PARTNER:
            return reverse("workspace:linkage-reconciliation")
        if subject == domain.APPROVAL:
            return reverse("workspace:inbox-item", args=["approvals", ref])
        if subject == domain.ORGANISATION:  # the administrators decide on it; its members see their own page
            if event == "organisation_applied":
                return reverse("workspace:organisation", args=[ref])
            return reverse("workspace:my-organisation")
    except NoReverseMatch:
        pass
    return reverse("workspace:notifications")
