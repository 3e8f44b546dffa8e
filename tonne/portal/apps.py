from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The public transparency portal: read-only pages anyone can open."""

    name = "tonne.portal"
    label = "portal"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tonne.portal import summary  # import here: models load once the app registry is ready

        summary.connect()
