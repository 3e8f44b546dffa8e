"""The observer's pages speak French and Spanish: every heading, label, finding
kind and evidence name, and the refusals of the upload page."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation

from tonne.observer import labels, services
from tonne.observer.models import Finding
from tonne.observer.tests.conftest import load
from tonne.organisations.models import User

TEMPLATES = Path(labels.__file__).resolve().parent / "templates" / "observer"
# Words the same in English and the reader's language.
SAME = {"Format", "Destination", "Pages", "Note", "Transaction"}


def _english_ui() -> set[str]:
    said = set()
    for template in TEMPLATES.glob("*.html"):
        said |= set(re.findall(r'{% translate "([^"]+)" %}', template.read_text(encoding="utf-8")))
    with translation.override("en"):
        said |= {str(label) for label in labels.KEYS.values()} | {str(label) for _, label in Finding.Kind.choices}
    return said - SAME


def _visible(page) -> str:  # noqa: ANN001
    main = page.content.decode().split("<main", 1)[-1].split("</main>", 1)[0]
    return html.unescape(re.sub(r"<[^>]+>", "\n", main))


@pytest.mark.parametrize("language", ["fr", "es"])
def test_every_observer_string_has_the_readers_words(language: str) -> None:
    with translation.override(language):
        untranslated = sorted(s for s in _english_ui() if translation.gettext(s) == s)
    assert untranslated == []


@pytest.mark.parametrize("language", ["fr", "es"])
def test_the_observer_pages_show_no_english(root: User, language: str) -> None:
    load(root, "american-carbon-registry/projects.csv")
    load(root, "arb/nc-arboc_issuance_sheet3.csv")
    services.find_double_counting(actor=root)
    client = Client(headers={"accept-language": language})
    client.force_login(root)
    pages = [client.get("/observer/"), client.get("/observer/", {"kind": "duplicate_project"}),
             client.get("/observer/projects/"), client.get("/observer/upload/"),
             client.post("/observer/upload/", {"file": SimpleUploadedFile("x.csv", b"a,b\n")})]
    english = {s for s in _english_ui() if len(s) > 4}
    for page in pages:
        assert page.status_code in (200, 422)
        shown = _visible(page)
        lines = {line.strip() for line in shown.splitlines()}
        assert not {s for s in english if s in lines or (" " in s and s in shown)}, page.request["PATH_INFO"]
    refused = _visible(pages[-1])
    with translation.override(language):
        assert translation.gettext("Cross-reference") in _visible(pages[1])
    assert "OBSERVER_FORMAT_UNKNOWN" in refused and "No sheet of this file" not in refused
