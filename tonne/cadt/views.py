"""A small page for the registry administrator: upload a CAD Trust file
(with its per-row report) and see push sync lag and failures."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tonne.cadt import services, sync
from tonne.cadt.models import WebhookDelivery, WebhookSubscription
from tonne.core import refusals
from tonne.core.errors import RegistryError
from tonne.organisations.services import is_registry_administrator


@login_required
def cadt_page(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if not is_registry_administrator(user):
        return render(request, "cadt/page.html", {"denied": True}, status=403)
    context: dict[str, Any] = {}
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            context["error"] = {"code": "FIELD_REQUIRED", "message": "Choose a CAD Trust file to import."}
        else:
            try:
                report = services.import_file(
                    actor=user, content=upload.read(), filename=upload.name or "",
                    dry_run=bool(request.POST.get("dry_run")),
                )
                context["report"] = report.as_dict()
                context["dry_run"] = bool(request.POST.get("dry_run"))
            except RegistryError as exc:
                context["error"] = {"code": exc.code, **exc.details, "message": refusals.text(exc)}
    context["nodes"] = sync.status()
    context["webhooks"] = WebhookSubscription.objects.filter(active=True).count()
    context["webhook_failures"] = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.FAILED).count()
    return render(request, "cadt/page.html", context, status=422 if "error" in context else 200)
