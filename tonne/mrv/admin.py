from django.contrib import admin

from tonne.core.admin_support import ReadOnlyAdmin
from tonne.mrv.models import MonitoringReport


@admin.register(MonitoringReport)
class MonitoringReportAdmin(ReadOnlyAdmin):
    list_display = ("project", "number", "period_start", "period_end", "status", "vvb")
    list_filter = ("status",)
