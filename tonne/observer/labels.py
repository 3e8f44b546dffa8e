"""The observer's pages name the evidence of a finding in the reader's words:
its keys, the kinds of unit rows and the sentences detection writes."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from tonne.observer.domain.records import REGISTRIES

KEYS = {
    "a": _("Record"), "b": _("Other record"), "overlap": _("Overlapping serials"), "origin": _("Origin"),
    "found_in": _("Recorded in"), "destination": _("Destination"), "how": _("How"),
    "not_cancelled_at_origin": _("Not cancelled at the origin"), "vintages": _("Vintages"), "vintage": _("Vintage"),
    "issued_at_origin": _("Issued at the origin"), "cancelled_at_origin": _("Cancelled at the origin"),
    "issued_at_destination": _("Issued at the destination"), "not_cancelled": _("Not cancelled"),
    "cross_reference": _("Cross-reference"), "named_by": _("Named by"), "name": _("Name"), "country": _("Country"),
    "names": _("Names"), "name_score": _("Name similarity (%)"), "methodology": _("Methodology"),
    "developer": _("Developer"), "registry": _("Registry"), "kind": _("Kind"), "project": _("Project"),
    "serials": _("Serials"), "start": _("First serial"), "end": _("Last serial"),
}
# Words and sentences detection stores in the evidence, as written there.
VALUES = {
    "issuance": _("issuance"), "retirement": _("retirement"), "cancellation": _("cancellation"),
    "holding": _("held block"), "reported_issuance": _("reported issuance"),
    "the same serials, live at the origin and recorded in another registry":
        _("the same serials, live at the origin and recorded in another registry"),
    "issued again under the other registry's serials; the origin (first to issue) has no cancellation for them":
        _("issued again under the other registry's serials; the origin (first to issue) has no cancellation for them"),
}


def key(name: str) -> str:
    return str(KEYS.get(name, name.replace("_", " ")))


def shown(value: Any) -> str:
    """A value of the evidence as text: lists joined, records as their labelled fields."""
    if isinstance(value, dict):
        return "; ".join(f"{key(k)}: {shown(v)}" for k, v in value.items())
    if isinstance(value, list):
        return " · ".join(shown(v) for v in value)
    if isinstance(value, str):
        return str(VALUES.get(value, value))
    return str(value)


# Registry names that describe rather than name: in the reader's words.
_DESCRIBED = {"cdm": _("UNFCCC CDM registry")}


def registries() -> dict[str, str]:
    return {code: str(_DESCRIBED.get(code, name)) for code, name in REGISTRIES.items()}
