from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "tonne.ops"
    label = "ops"
    verbose_name = "Registry operations"

    def ready(self) -> None:
        # import here: services load only once the app registry is ready
        from tonne.ops import handlers

        handlers.install()
