from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "tonne.core"
    label = "core"
    verbose_name = "Registry core"
