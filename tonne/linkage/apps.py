from django.apps import AppConfig


class LinkageConfig(AppConfig):
    name = "tonne.linkage"
    label = "linkage"
    verbose_name = "Registry linkage"
