from django.contrib import admin

from tonne.audit.models import AuditEvent
from tonne.core.admin_support import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "category", "action", "outcome", "username", "ip")
    list_filter = ("category", "outcome")
    search_fields = ("username", "action", "target", "ip")
