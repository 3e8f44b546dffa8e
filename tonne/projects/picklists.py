"""CAD Trust picklists, shipped with the software and enforced on input."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pycountry
from django.conf import settings

from tonne.core import iso3166
from tonne.core.errors import ValidationFailed
from tonne.projects import picklist_labels

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
            details={"picklist": picklist, "allowed": values, "value": str(value)},
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
            details={"allowed": allowed(picklist)},
        )
    return [check_value(field, picklist, v) for v in values]


COUNTRY_PICKLISTS = ("location_country", "aef_t5_authorized_entities_incorporation_country")
# CAD Trust's country picklists spell some countries their own way (typos and
# former names included): the ISO 3166-1 code each stands for, so the pages
# name it by its ISO name while exports keep the value CAD Trust expects.
CADT_COUNTRY_CODES = {
    "Antigua and Barduba": "AG",
    "Cote d'Ivoire": "CI",
    "Democratic Republic of Congo": "CD",
    "Equatorial New Guinea": "GQ",
    "Holy See": "VA",
    "Hong Kong S.A.R.": "HK",
    "Iran (Islamic Republic of)": "IR",
    "Macau S.A.R.": "MO",
    "Micronesia (Federated States of)": "FM",
    "Netherlands (Kingdom of the)": "NL",
    "Republic of Korea": "KR",
    "St. Kitts and Nevis": "KN",
    "St. Lucia": "LC",
    "St. Vincent and the Grenadines": "VC",
    "State of Palestine": "PS",
    "Swaziland": "SZ",
    "Syria Arab Republic": "SY",
    "Turkey": "TR",
    "Venezuela (Bolivarian Republic of)": "VE",
}


def country_code(value: str) -> str | None:
    """The ISO 3166-1 code a CAD Trust country value stands for (None for
    values that name no country, such as "European Union")."""
    if value in CADT_COUNTRY_CODES:
        return CADT_COUNTRY_CODES[value]
    try:
        return str(pycountry.countries.lookup(value).alpha_2)
    except LookupError:
        return None


def country_options(picklist: str = "location_country", language: str | None = None) -> list[tuple[str, str]]:
    """The picklist's countries as (CAD Trust value, ISO name in the reader's
    language), one per country (Swaziland and Eswatini are one), by name.
    Where two values name one country, the one spelt as ISO spells it is kept."""
    chosen: dict[str, str] = {}
    others: list[tuple[str, str]] = []
    for value in allowed(picklist):
        code = country_code(value)
        if code is None:
            others.append((value, picklist_labels.label(value)))
            continue
        if code not in chosen or value == iso3166.country_name(code, "en"):
            chosen[code] = value
    named = [(value, iso3166.country_name(code, language)) for code, value in chosen.items()]
    return sorted(named + others, key=lambda pair: iso3166.sort_key(pair[1]))
