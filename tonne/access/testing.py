"""Test helpers: a person with a second factor, and a browser session that
has just confirmed it (as allauth records it after a TOTP or security-key check)."""

from __future__ import annotations

from allauth.account.internal.flows.login import (
    _AUTHENTICATION_METHODS_USER_SESSION_KEY,
    AUTHENTICATION_METHODS_SESSION_KEY,
)
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client

from tonne.core import clock
from tonne.organisations.models import User


def give_totp(user: User) -> str:
    """Activate a TOTP authenticator for the user; returns its secret."""

    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def confirm_second_factor(client: Client, user: User, at: float | None = None) -> None:
    """Record in the client's session a second factor confirmed at `at` (default: now)."""

    session = client.session
    session[_AUTHENTICATION_METHODS_USER_SESSION_KEY] = str(user.pk)
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": clock.now().timestamp(), "username": user.username},
        {"method": "mfa", "at": clock.now().timestamp() if at is None else at, "type": "totp"},
    ]
    session.save()


def stepped_up(user: User) -> Client:
    """A browser session of a user with a second factor, confirmed just now."""

    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        give_totp(user)
    client = Client()
    client.force_login(user)
    confirm_second_factor(client, user)
    return client
