from django.apps import AppConfig


class MrvConfig(AppConfig):
    name = "tonne.mrv"
    label = "mrv"
