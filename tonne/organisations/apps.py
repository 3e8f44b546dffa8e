from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_organisation_rows(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    """The registry's own accounts from install on; they are stated in the
    ledger, whose rows come first. Runs after every migrate (and test
    database flush)."""
    if using != "default":
        return
    # import here: models and services load only once the app registry is ready
    from tonne.ledger.services import ensure_installed
    from tonne.organisations.services import ensure_system_accounts

    ensure_installed()
    ensure_system_accounts()


class OrganisationsConfig(AppConfig):
    name = "tonne.organisations"
    label = "organisations"

    def ready(self) -> None:
        post_migrate.connect(ensure_organisation_rows, sender=self)
