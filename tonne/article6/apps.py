from django.apps import AppConfig


class Article6Config(AppConfig):
    name = "tonne.article6"
    label = "article6"
    verbose_name = "Article 6"
