from django.contrib import admin

from tonne.core.admin_support import ReadOnlyAdmin
from tonne.units.models import Issuance, Transaction, UnitBlock


@admin.register(Issuance)
class IssuanceAdmin(ReadOnlyAdmin):
    list_display = ("project", "number", "vintage", "quantity", "buffer_quantity", "serial_start", "serial_end", "issued_at")


@admin.register(UnitBlock)
class UnitBlockAdmin(ReadOnlyAdmin):
    list_display = ("serial_start", "serial_end", "project", "vintage", "unit_class", "account", "acquired_at")
    list_filter = ("unit_class", "vintage")


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ("identifier", "kind", "status", "quantity", "from_account", "to_account", "created_at")
    list_filter = ("kind", "status")
    search_fields = ("identifier",)
