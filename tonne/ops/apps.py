from django.apps import AppConfig
from django.conf import settings
from django.utils.module_loading import import_string


class OpsConfig(AppConfig):
    name = "tonne.ops"
    label = "ops"
    verbose_name = "Registry operations"

    def ready(self) -> None:
        # import here: services load only once the app registry is ready
        from tonne.ops import handlers

        handlers.install()
        # By name: the wiring sits above every app, ops included.
        import_string(f"{settings.TONNE_WIRING}.install")()
