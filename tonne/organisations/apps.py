from django.apps import AppConfig


class OrganisationsConfig(AppConfig):
    name = "tonne.organisations"
    label = "organisations"
