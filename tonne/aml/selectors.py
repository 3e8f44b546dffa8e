"""Reads of the monitoring alerts (the registry administrator's review queue)."""

from __future__ import annotations

from django.db.models import QuerySet

from tonne.aml.models import AmlAlert


def alerts(*, status: str | None = None, rule: str | None = None) -> QuerySet[AmlAlert]:
    qs = AmlAlert.objects.select_related("account", "transaction", "issuance")
    if status:
        qs = qs.filter(status=status)
    if rule:
        qs = qs.filter(rule=rule)
    return qs


def alert(pk: int) -> AmlAlert:
    return alerts().get(pk=pk)
