from django.apps import AppConfig


class MethodologiesConfig(AppConfig):
    name = "tonne.methodologies"
    label = "methodologies"
    verbose_name = "Methodologies"
