from django.apps import AppConfig


class CadtConfig(AppConfig):
    name = "tonne.cadt"
    label = "cadt"
    verbose_name = "CAD Trust interoperability"
