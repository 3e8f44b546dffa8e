from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    name = "tonne.workspace"
    label = "workspace"
    verbose_name = "Signed-in workspace"
