from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_unit_rows(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    """The serial counter from install on. Runs after every migrate (and test
    database flush)."""
    if using != "default":
        return
    # import here: models load only once the app registry is ready
    from tonne.units.models import SerialCounter

    SerialCounter.objects.get_or_create(id=1)


class UnitsConfig(AppConfig):
    name = "tonne.units"
    label = "units"

    def ready(self) -> None:
        post_migrate.connect(ensure_unit_rows, sender=self)
