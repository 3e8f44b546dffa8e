from django.contrib import admin

from tonne.core.admin_support import ReadOnlyAdmin
from tonne.projects.models import Document, Methodology, Project


@admin.register(Project)
class ProjectAdmin(ReadOnlyAdmin):
    list_display = ("project_id", "name", "developer", "status", "sectoral_scope", "host_party")
    list_filter = ("status", "sectoral_scope", "article6_status")
    search_fields = ("project_id", "name")


@admin.register(Methodology)
class MethodologyAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "type", "version")


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    list_display = ("title", "project", "kind", "size", "sha256", "uploaded_at")
    list_filter = ("kind",)
