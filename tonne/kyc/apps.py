from django.apps import AppConfig


class KycConfig(AppConfig):
    name = "tonne.kyc"
    label = "kyc"
    verbose_name = "Know your customer and sanctions screening"
