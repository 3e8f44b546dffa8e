"""django-allauth, as Tonne uses it: people are added by their organisation's
administrator (or the registry's), never by signing themselves up; and the
client address allauth's sign-in limits count by is the one the rest of the
registry uses (TONNE_USE_X_FORWARDED_FOR)."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from tonne.audit.context import client_ip


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def get_client_ip(self, request: HttpRequest) -> str:
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine the client's address.")
        return ip
