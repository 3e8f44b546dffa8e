from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "tonne.projects"
    label = "projects"
