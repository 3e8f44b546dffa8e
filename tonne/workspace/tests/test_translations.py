"""Every message of the workspace exists in French and Spanish, compiled,
and the pages speak the reader's language, numbers and dates included."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.test import Client

LOCALE = Path(__file__).resolve().parents[1] / "locale"
ENTRY = re.compile(r'^msgid "(.*)"\n(?:msgid_plural "(.*)"\n)?((?:msgstr(?:\[\d\])? ".*"\n)+)', re.M)


def entries(language: str) -> list[tuple[str, list[str]]]:
    text = (LOCALE / language / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    assert "#, fuzzy" not in text, f"{language}: fuzzy translations"
    found = []
    for match in ENTRY.finditer(text + "\n"):
        if match.group(1) == "":
            continue  # the header
        found.append((match.group(1), re.findall(r'^msgstr(?:\[\d\])? "(.*)"$', match.group(3), re.M)))
    return found


@pytest.mark.parametrize("language", ["fr", "es"])
def test_every_message_is_translated_and_compiled(language: str) -> None:
    found = entries(language)
    assert len(found) > 300
    untranslated = [msgid for msgid, strs in found if not all(strs)]
    assert untranslated == [], f"{language}: untranslated {untranslated[:10]}"
    # Placeholders survive translation.
    for msgid, strs in found:
        wanted = sorted(re.findall(r"%\(\w+\)s", msgid))
        for translated in strs:
            assert sorted(set(re.findall(r"%\(\w+\)s", translated))) == sorted(set(wanted)), (language, msgid, translated)
    # The committed .mo is compiled from this .po.
    with open(LOCALE / language / "LC_MESSAGES" / "django.mo", "rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    for msgid, strs in found:
        assert catalogue.gettext(msgid) == strs[0] or catalogue.ngettext(msgid, msgid, 1) == strs[0], msgid


def test_catalogues_list_the_same_messages() -> None:
    assert [m for m, _ in entries("fr")] == [m for m, _ in entries("es")]


@pytest.mark.parametrize(
    ("language", "expected", "number"),
    [("en", "units held", "1,000"), ("fr", "unités détenues", "1\xa0000"), ("es", "unidades en cartera", "1\xa0000")],
)
def test_pages_speak_the_readers_language(client: Client, registry, language, expected, number) -> None:
    from tonne import testing

    project = testing.registered_project(registry)
    testing.issue(registry, project, {2022: 1000})
    client.force_login(registry.developer)
    client.cookies["django_language"] = language
    body = client.get(f"/workspace/accounts/{registry.developer_account.identifier}/").content.decode()
    assert f'<html lang="{language}">' in body
    assert f"{number} {expected}" in body
