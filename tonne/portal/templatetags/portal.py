"""Template filters of the portal: numbers grouped in the reader's locale,
and the registry's codes in the reader's words."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.formats import number_format

from tonne.core import iso3166
from tonne.portal import labels
from tonne.projects import picklist_labels, picklists

register = template.Library()


@register.filter
def num(value: Any) -> str:
    """1234567 → 1,234,567 (en), 1 234 567 (fr), 1.234.567 (es)."""
    if value is None or value == "":
        return ""
    return number_format(value, force_grouping=True)


@register.filter
def status_label(value: str) -> str:
    return labels.status(value)


@register.filter
def article6_label(value: str) -> str:
    return labels.article6(value)


@register.filter
def scope_label(value: int) -> str:
    return labels.scope(value)


@register.filter
def state_label(value: str) -> str:
    return str(labels.UNIT_STATES.get(value, value))


@register.filter
def kind_label(value: str) -> str:
    return str(labels.TRANSACTION_KINDS.get(value, value))


@register.filter
def purpose_label(value: str) -> str:
    return labels.purpose(value)


@register.filter
def report_status_label(value: str) -> str:
    return str(labels.REPORT_STATUSES.get(value, value))


@register.filter
def document_kind_label(value: str) -> str:
    return str(labels.DOCUMENT_KINDS.get(value, value))


@register.filter
def get(mapping: dict, key: str) -> Any:
    return mapping.get(key)


@register.filter
def picklist_labels_of(values: Any) -> str:
    """CAD Trust picklist values (sectors, project types) in the reader's language."""
    if isinstance(values, str):
        return picklist_labels.label(values)
    return ", ".join(picklist_labels.label(str(v)) for v in values or [])


@register.filter
def country(code: str) -> str:
    """An ISO 3166-1 code by the country's name in the reader's language."""
    return iso3166.country_name(code) if code else ""


@register.filter
def cadt_country(value: str) -> str:
    """A CAD Trust country value (typos included) by its ISO name in the reader's language."""
    code = picklists.country_code(value) if value else None
    return iso3166.country_name(code) if code else picklist_labels.label(value or "")
