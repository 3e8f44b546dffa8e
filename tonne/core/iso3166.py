"""ISO 3166 codes, checked against the standard's own lists (pycountry, kept
up to date with ISO): a country is an ISO 3166-1 alpha-2 code, a jurisdiction
a country or an ISO 3166-2 subdivision (US-CA, FR-IDF). The one place the
registry decides whether a code names a real country or subdivision."""

from __future__ import annotations

from functools import cache

import pycountry

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


def country_name(code: str) -> str:
    """The English short name, or the code itself when it names no country."""
    return _countries().get(code, code)


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
