"""CAD Trust picklists, shipped with the software and enforced on input."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from django.conf import settings

from tonne.core.errors import ValidationFailed

PICKLIST_DIR = Path(__file__).resolve().parent / "picklists"


def refreshed_path(version: str) -> Path:
    """Where picklists refreshed from a CAD Trust governance node are kept (they win over the shipped ones)."""
    return Path(settings.DATA_DIR) / "picklists" / f"cadt_v{version}.json"


@functools.cache
def picklist_file(version: str = "2") -> dict:
    """The shipped (or refreshed) picklists of CAD Trust v1 or v2, with their date."""
    refreshed = refreshed_path(version)
    path = refreshed if refreshed.is_file() else PICKLIST_DIR / f"cadt_v{version}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def picklists(version: str = "2") -> dict[str, list[str]]:
    return picklist_file(version)["picklists"]


def allowed(name: str, version: str = "2") -> list[str]:
    return picklists(version)[name]


def check_value(field: str, picklist: str, value: str, version: str = "2") -> str:
    values = allowed(picklist, version)
    if value not in values:
        # Accept a case-insensitive match and return the canonical spelling.
        folded = {v.casefold(): v for v in values}
        if isinstance(value, str) and value.casefold() in folded:
            return folded[value.casefold()]
        raise ValidationFailed(
            "PICKLIST_VALUE_NOT_ALLOWED",
            f"{field}: {value!r} is not an allowed value. Allowed values: {'; '.join(values)}.",
            field=field,
            details={"picklist": picklist, "allowed": values},
        )
    return value


def check_values(field: str, picklist: str, values: list[str], *, required: bool = True) -> list[str]:
    if not isinstance(values, list):
        raise ValidationFailed("FIELD_INVALID", f"{field} must be a list of values.", field=field)
    if required and not values:
        raise ValidationFailed(
            "FIELD_REQUIRED",
            f"{field} needs at least one value. Allowed values: {'; '.join(allowed(picklist))}.",
            field=field,
        )
    return [check_value(field, picklist, v) for v in values]
