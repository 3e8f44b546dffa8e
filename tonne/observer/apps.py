from django.apps import AppConfig


class ObserverConfig(AppConfig):
    name = "tonne.observer"
    label = "observer"
    default_auto_field = "django.db.models.BigAutoField"
