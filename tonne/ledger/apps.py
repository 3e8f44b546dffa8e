from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_registry_rows(sender, using="default", **kwargs):  # noqa: ANN001
    """Rows every registry has from install on: ledger head, serial counter,
    system accounts. Runs after every migrate (and test database flush)."""
    from django.db import connections

    from tonne.ledger.models import LedgerHead
    from tonne.organisations.services import ensure_system_accounts
    from tonne.units.models import SerialCounter

    if connections[using].vendor and using != "default":
        return
    from tonne.ledger import keys

    keys.ensure_key()  # the signing key is made at install, mode 0600
    LedgerHead.objects.get_or_create(id=1)
    SerialCounter.objects.get_or_create(id=1)
    ensure_system_accounts()


class LedgerConfig(AppConfig):
    name = "tonne.ledger"
    label = "ledger"

    def ready(self) -> None:
        post_migrate.connect(ensure_registry_rows, sender=self)
