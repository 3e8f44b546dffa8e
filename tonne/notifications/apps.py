from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_cursor(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    """The ledger cursor from install on (after every migrate and test flush)."""
    if using != "default":
        return
    # import here: models load only once the app registry is ready
    from tonne.notifications.services import start_cursor

    start_cursor()


class NotificationsConfig(AppConfig):
    name = "tonne.notifications"
    label = "notifications"

    def ready(self) -> None:
        post_migrate.connect(ensure_cursor, sender=self)
