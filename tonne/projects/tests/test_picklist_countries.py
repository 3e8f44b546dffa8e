"""CAD Trust's country picklist shown by ISO 3166 names in the reader's
language, its own spellings (typos, former names) kept as the values that
go to CAD Trust; sectors and types by their translated labels."""

from __future__ import annotations

from collections import Counter

import pytest
from django.utils import translation

from tonne.core import iso3166
from tonne.projects import picklist_labels, picklists

# Words spelt the same in English and French or Spanish.
SAME_IN_BOTH = {"N2O", "Agriculture", "Solar", "Transport", "Construction"}


def test_every_country_value_of_the_picklists_names_a_country_or_is_known_not_to() -> None:
    for picklist in picklists.COUNTRY_PICKLISTS:
        unknown = [v for v in picklists.allowed(picklist) if picklists.country_code(v) is None]
        assert unknown == ["European Union"], (picklist, unknown)
    assert picklists.country_code("Antigua and Barduba") == "AG"
    assert picklists.country_code("Equatorial New Guinea") == "GQ"
    assert picklists.country_code("Republic of Korea") == "KR"  # not the North, as a fuzzy match would have it
    assert picklists.country_code("Swaziland") == picklists.country_code("Eswatini") == "SZ"


@pytest.mark.parametrize(
    ("language", "antigua", "eswatini", "eu"),
    [("en", "Antigua and Barbuda", "Eswatini", "European Union"),
     ("fr", "Antigua-et-Barbuda", "Eswatini", "Union européenne"),
     ("es", "Antigua y Barbuda", "Esuatini", "Unión Europea")],
)
def test_countries_are_shown_by_their_iso_names_once_each(language: str, antigua: str, eswatini: str, eu: str) -> None:
    with translation.override(language):
        options = dict(picklists.country_options())
    assert options["Antigua and Barduba"] == antigua  # the value CAD Trust expects, the name ISO gives
    assert options["Eswatini"] == eswatini and "Swaziland" not in options
    assert options["European Union"] == eu
    names = Counter(options.values())
    assert [n for n, count in names.items() if count > 1] == []
    assert all(value in picklists.allowed("location_country") for value in options)


def test_iso_names_in_the_readers_language() -> None:
    assert iso3166.country_name("DE", "fr") == "Allemagne"
    assert iso3166.country_name("DE", "es") == "Alemania"
    assert iso3166.country_name("XX", "fr") == "XX"
    with translation.override("fr"):
        assert iso3166.country_name("CI") == "Côte d'Ivoire"
    codes = [code for code, _name in iso3166.country_choices("es")]
    assert len(codes) == len(set(codes)) == 249


@pytest.mark.parametrize("language", ["fr", "es"])
def test_every_sector_type_and_unit_type_has_a_translated_label(language: str) -> None:
    values = {v for name in ("project_sector", "project_type", "unit_type") for v in picklists.allowed(name)}
    assert values <= set(picklist_labels.LABELS)
    with translation.override(language):
        untranslated = [v for v in values if picklist_labels.label(v) == v and v not in SAME_IN_BOTH]
    assert untranslated == []
