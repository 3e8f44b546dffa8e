from typing import Any

from django.contrib import admin

from tonne.cadt.models import (
    ImportBatch,
    ImportedRecord,
    SyncDelivery,
    SyncDestination,
    WebhookDelivery,
    WebhookSubscription,
)
from tonne.core.admin_support import ReadOnlyAdmin
from tonne.ledger.models import LedgerHead


@admin.register(SyncDestination)
class SyncDestinationAdmin(ReadOnlyAdmin):
    list_display = ("name", "url", "enabled", "cursor", "pending", "attempts", "next_attempt_at", "last_success_at",
                    "last_error")
    exclude = ("api_key",)

    @admin.display(description="entries pending")
    def pending(self, obj: SyncDestination) -> int:
        head = LedgerHead.objects.filter(pk=1).values_list("size", flat=True).first() or 0
        return max(head - obj.cursor, 0)


@admin.register(SyncDelivery)
class SyncDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("destination", "from_seq", "to_seq", "status", "records", "started_at", "finished_at", "error")
    list_filter = ("status", "destination")


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("url", "events", "active", "cursor", "created_at")
    exclude = ("secret",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("subscription", "seq", "kind", "status", "attempts", "response_status", "next_attempt_at",
                    "delivered_at")
    list_filter = ("status", "kind")


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyAdmin):
    list_display = ("filename", "model_version", "file_format", "created", "updated", "unchanged", "imported_by",
                    "imported_at")


@admin.register(ImportedRecord)
class ImportedRecordAdmin(ReadOnlyAdmin):
    list_display = ("model_version", "table", "record_id", "origin_registry", "org_uid", "updated_at")
    list_filter = ("model_version", "table", "origin_registry")
    search_fields = ("record_id", "origin_registry")

    def get_queryset(self, request: Any) -> Any:
        return super().get_queryset(request).select_related("batch")
