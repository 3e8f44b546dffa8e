from django.apps import AppConfig


class UnitsConfig(AppConfig):
    name = "tonne.units"
    label = "units"
