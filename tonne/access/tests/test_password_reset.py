"""Password reset: with no mail server the registry says so, never a server error."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from tonne import testing

pytestmark = pytest.mark.django_db


def test_reset_sends_the_mail(registry: testing.Registry) -> None:
    response = Client().post("/accounts/password/reset/", {"email": registry.buyer.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and registry.buyer.email in mail.outbox[0].to


def test_reset_with_an_unreachable_mail_server_says_so(registry: testing.Registry, settings) -> None:  # noqa: ANN001
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens there
    response = Client().post("/accounts/password/reset/", {"email": registry.buyer.email})
    assert response.status_code == 503
    assert "could not send the e-mail" in response.content.decode()

