"""tonne createadmin: the installation root user, and the government
organisation that administers the registry."""

from __future__ import annotations

import getpass
import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from tonne.core.errors import RegistryError
from tonne.ledger import keys
from tonne.organisations import services
from tonne.organisations.models import Organisation


class Command(BaseCommand):
    help = "Create the installation root user (and the government organisation if there is none)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--government", default="", help="name of the registry's government organisation")
        parser.add_argument("--country", default="", help="ISO 3166-1 alpha-2 (default: TONNE_COUNTRY)")

    def handle(self, *args: object, **options: object) -> None:
        password = os.environ.get("TONNE_ADMIN_PASSWORD") or ""
        if not password:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords differ.")
        try:
            with transaction.atomic():
                root = services.create_user(
                    actor=None,
                    organisation=None,
                    username=str(options["username"]),
                    email=str(options["email"]),
                    password=password,
                    is_root=True,
                )
                if not Organisation.objects.filter(kind=Organisation.Kind.GOVERNMENT).exists():
                    country = str(options["country"] or settings.TONNE_COUNTRY)
                    name = str(options["government"] or f"Registry administrator ({country})")
                    gov = services.apply_for_organisation(actor=root, name=name, kind="government", country=country)
                    services.decide_organisation(actor=root, organisation=gov, status="approved", reason="Installation")
        except RegistryError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None
        keys.ensure_key()
        self.stdout.write(f"Created installation root user {root.username}.")
