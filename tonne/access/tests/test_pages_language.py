"""The sign-in and second-factor pages speak the reader's language: allauth's
own translations are used, and Tonne's overridden templates are translated."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tonne.access.testing import confirm_second_factor, give_totp

WORDS = {
    # language: (sign-in heading, the second-factor menu item, the second-factor page's heading)
    "fr": ("Connexion", "Seconds facteurs", "Authentification à deux facteurs"),
    "es": ("Iniciar sesión", "Segundos factores", "Autenticación de doble factor"),
}


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("language", ["fr", "es"])
def test_sign_in_page_speaks_the_readers_language(client: Client, db: None, language: str) -> None:
    client.cookies["django_language"] = language
    text = visible_text(client.get("/accounts/login/").content.decode())
    assert WORDS[language][0] in text
    for english in ("Sign In", "Sign in", "Password", "Username"):
        assert english not in text, (language, english, text[:500])


@pytest.mark.parametrize("language", ["fr", "es"])
def test_second_factor_page_speaks_the_readers_language(registry, language: str) -> None:
    client = Client()
    give_totp(registry.admin)
    client.force_login(registry.admin)
    confirm_second_factor(client, registry.admin)
    client.cookies["django_language"] = language
    text = visible_text(client.get("/accounts/2fa/").content.decode())
    assert WORDS[language][1] in text and WORDS[language][2] in text, text[:800]
    for english in ("Two-Factor Authentication", "Authenticator App", "Second factors", "Public registry"):
        assert english not in text, (language, english)
