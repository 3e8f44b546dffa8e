"""ISO 3166 codes and names (in the reader's language), checked against the standard's own lists (pycountry, kept
up to date with ISO): a country is an ISO 3166-1 alpha-2 code, a jurisdiction
a country or an ISO 3166-2 subdivision (US-CA, FR-IDF). The one place the
registry decides whether a code names a real country or subdivision."""

from __future__ import annotations

import gettext
import unicodedata
from functools import cache

import pycountry
from django.utils.translation import get_language

from tonne.core.errors import ValidationFailed


@cache
def _countries() -> dict[str, str]:
    return {c.alpha_2: getattr(c, "common_name", c.name) for c in pycountry.countries}


@cache
def _subdivisions() -> frozenset[str]:
    return frozenset(s.code for s in pycountry.subdivisions)


def is_country(code: str) -> bool:
    return code in _countries()


def is_subdivision(code: str) -> bool:
    return code in _subdivisions()


@cache
def _catalogue(language: str) -> gettext.NullTranslations:
    # ISO 3166 names in each language, shipped with pycountry (from Debian's iso-codes).
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True)


@cache
def _official_names() -> dict[str, str]:
    return {c.alpha_2: c.name for c in pycountry.countries}


def country_name(code: str, language: str | None = None) -> str:
    """The country's short name in `language` (the reader's, by default), or
    the code itself when it names no country."""
    english = _countries().get(code)
    if english is None:
        return code
    language = (language or get_language() or "en").split("-")[0]
    if language == "en":
        return english
    catalogue = _catalogue(language)
    common = catalogue.gettext(english)
    return common if common != english else catalogue.gettext(_official_names()[code])


def sort_key(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()


def country_choices(language: str | None = None) -> list[tuple[str, str]]:
    """Every ISO 3166-1 country as (code, name in the reader's language), by name."""
    named = [(code, country_name(code, language)) for code in _countries()]
    return sorted(named, key=lambda pair: sort_key(pair[1]))


def country(value: object, field: str, *, code: str = "COUNTRY_INVALID") -> str:
    """An ISO 3166-1 alpha-2 country code (upper-cased), or refused."""
    text = str(value or "").strip().upper()
    if not is_country(text):
        raise ValidationFailed(code, f"{field} must be an ISO 3166-1 alpha-2 country code, such as CI or FR.", field=field)
    return text


def jurisdiction(value: object, field: str, *, code: str = "JURISDICTION_INVALID") -> str:
    """An ISO 3166-1 alpha-2 country or ISO 3166-2 subdivision code, or refused."""
    text = str(value or "").strip().upper()
    if not (is_country(text) or is_subdivision(text)):
        raise ValidationFailed(
            code,
            f"{field} must be an ISO 3166-1 country code (such as FR) or an ISO 3166-2 subdivision code (such as US-CA).",
            field=field,
        )
    return text
