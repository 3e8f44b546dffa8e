from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "tonne.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from tonne.audit import signals  # import here: models load once the app registry is ready

        signals.connect()
