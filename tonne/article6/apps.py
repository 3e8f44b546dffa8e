from django.apps import AppConfig


class Article6Config(AppConfig):
    name = "tonne.article6"
    label = "article6"
    verbose_name = "Article 6"

    def ready(self) -> None:
        # Article 6 hooks into issuance, terminal moves and approvals without
        # those apps knowing about it.
        from tonne.article6 import hooks

        hooks.install()
