"""django-allauth, as Tonne uses it: people are added by their organisation's
administrator (or the registry's), never by signing themselves up; and the
client address allauth's sign-in limits count by is the one the rest of the
registry uses (TONNE_USE_X_FORWARDED_FOR). An e-mail that cannot be sent
(mail server down or misconfigured) is said so on a page, never a server error."""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import render

from tonne.audit.context import client_ip
from tonne.organisations import second_factor

log = logging.getLogger(__name__)


class AccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        try:
            super().send_mail(template_prefix, email, context)
        except (OSError, smtplib.SMTPException) as exc:
            log.error("e-mail %s could not be sent: %s", template_prefix, exc)
            if self.request is None:
                raise
            raise ImmediateHttpResponse(render(self.request, "account/email_unavailable.html", status=503)) from exc

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def get_reauthentication_methods(self, user: Any) -> list[dict[str, Any]]:
        """Someone with a second factor confirms with it: a password would
        not do for the registry's step-up, and would send them back to the
        same request (a loop)."""
        methods = super().get_reauthentication_methods(user)
        if user.is_authenticated and second_factor.enrolled(user):
            return [m for m in methods if m["id"] != "reauthenticate"] or methods
        return methods

    def get_client_ip(self, request: HttpRequest) -> str:
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine the client's address.")
        return ip
