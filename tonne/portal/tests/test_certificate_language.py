"""The PDF retirement certificate speaks its reader's language: the request's,
or the one its link names (`?lang=`), headings, labels and figures alike."""

from __future__ import annotations

import io

import pypdf
import pytest
from django.test import Client

from tonne.portal.tests.conftest import Portal

WORDS = {
    "en": ("Retirement certificate", "Beneficiary", "Serial numbers retired", "Proof in the ledger", "Retired on",
           "Methodology", "CORSIA (international aviation)"),
    "fr": ("Certificat de retrait", "Bénéficiaire", "Numéros de série retirés", "Preuve dans le registre des opérations",
           "Retiré le", "Méthodologie", "CORSIA (aviation internationale)"),
    "es": ("Certificado de retir",  # "retiro" or "retirada": both are used
           "Beneficiario", "Números de serie retirados", "Prueba en el libro de operaciones",
           "Retirado el", "Metodología", "CORSIA (aviación internacional)"),
}


def _printed(content: bytes) -> str:
    pdf = pypdf.PdfReader(io.BytesIO(content))
    return "".join(page.extract_text() for page in pdf.pages).replace("\n", " ")


@pytest.mark.parametrize("language", ["en", "fr", "es"])
def test_the_certificate_prints_in_the_language_of_the_request(portal: Portal, language: str) -> None:
    answer = Client(headers={"accept-language": language}).get(f"/certificates/{portal.retirement.identifier}.pdf")
    assert answer.status_code == 200 and answer["Content-Language"] == language
    printed = _printed(answer.content)
    for word in WORDS[language]:
        assert word in printed, (language, word)
    for other in {"en", "fr", "es"} - {language}:
        assert WORDS[other][0] not in printed


def test_the_link_names_the_language_whatever_the_browser_asks(portal: Portal) -> None:
    identifier = portal.retirement.identifier
    page = Client(headers={"accept-language": "es"}).get(f"/certificates/{identifier}/")
    assert f'/certificates/{identifier}.pdf?lang=es"' in page.content.decode()
    english_browser = Client(headers={"accept-language": "en"})
    assert "Certificat de retrait" in _printed(english_browser.get(f"/certificates/{identifier}.pdf", {"lang": "fr"}).content)
    # A language the registry does not speak: the request's own.
    assert "Retirement certificate" in _printed(english_browser.get(f"/certificates/{identifier}.pdf", {"lang": "xx"}).content)
