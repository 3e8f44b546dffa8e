from django.apps import AppConfig


class AmlConfig(AppConfig):
    name = "tonne.aml"
    label = "aml"
    verbose_name = "Anti-money-laundering monitoring"
