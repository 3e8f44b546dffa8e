from django.contrib import admin

from tonne.core.admin_support import ReadOnlyAdmin
from tonne.ledger.models import Checkpoint, LedgerEntry


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("seq", "kind", "transaction_ref", "created_at", "leaf_hash")
    list_filter = ("kind",)
    search_fields = ("transaction_ref",)


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ("size", "root_hash", "key_name", "created_at")
