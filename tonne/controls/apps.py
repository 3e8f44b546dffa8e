from django.apps import AppConfig


class ControlsConfig(AppConfig):
    name = "tonne.controls"
    label = "controls"
    verbose_name = "Transaction controls"
