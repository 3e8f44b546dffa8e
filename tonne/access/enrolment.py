"""Enrolling a second factor counts as confirming it."""

from __future__ import annotations

from typing import Any

# allauth keeps no public call for this record; its own sign-in and
# re-authentication write the same one.
from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.models import Authenticator
from django.http import HttpRequest


def enrolment_confirms(sender: Any, request: HttpRequest, user: Any, authenticator: Any, **kwargs: Any) -> None:
    """Setting up an authenticator app or a security key proves it (a code,
    a touch): it counts as this session's second factor, so someone who has
    just enrolled is not asked for a code again at once."""
    if authenticator.type in (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN):
        record_authentication(request, user, "mfa", id=authenticator.pk, type=authenticator.type)
