from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_ledger_rows(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    """The ledger's own rows from install on: its head and the signing key.
    Runs after every migrate (and test database flush). The apps above put
    their own install rows the same way (organisations, units)."""
    if using != "default":
        return
    # import here: models and services load only once the app registry is ready
    from tonne.ledger.services import ensure_installed

    ensure_installed()


class LedgerConfig(AppConfig):
    name = "tonne.ledger"
    label = "ledger"

    def ready(self) -> None:
        post_migrate.connect(ensure_ledger_rows, sender=self)
