"""Pages of the observer: the public findings page (what other registries
publish and the double counting found in it) and the administrator's upload page."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from tonne.core import refusals
from tonne.core.errors import RegistryError
from tonne.observer import labels, selectors, services
from tonne.observer.domain.records import REGISTRIES
from tonne.observer.models import Finding
from tonne.organisations.services import is_registry_administrator

PAGE_SIZE = 50


def findings_page(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind") or None
    if kind not in Finding.Kind.values:
        kind = None
    registry = request.GET.get("registry") or None
    if registry not in REGISTRIES:
        registry = None
    counts = selectors.finding_counts()
    names = labels.registries()
    page = Paginator(selectors.findings(kind=kind, registry=registry), PAGE_SIZE).get_page(request.GET.get("page"))
    for finding in page:
        finding.evidence_items = [  # type: ignore[attr-defined]
            (labels.key(key), labels.shown(value)) for key, value in finding.evidence.items()
        ]
    return render(request, "observer/findings.html", {
        "nav": "observer", "summary": [{**row, "name": names.get(row["registry"], row["name"])} for row in selectors.registry_summary()],
        "kinds": [(value, label, counts.get(value, 0)) for value, label in Finding.Kind.choices], "registries": names, "kind": kind, "registry": registry, "page": page,
    })


@login_required
def upload_page(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if not is_registry_administrator(user):
        return render(request, "observer/upload.html", {"denied": True}, status=403)
    context: dict[str, Any] = {"registries": labels.registries()}
    if request.method == "POST":
        upload = request.FILES.get("file")
        registry = request.POST.get("registry") or None
        if upload is None or upload.file is None:
            context["error"] = {"code": "FIELD_REQUIRED", "message": _("Choose an export file to import.")}
        else:
            try:
                context["report"] = services.import_file(
                    actor=user, stream=upload.file, filename=upload.name or "", registry=registry).as_dict()
            except RegistryError as exc:
                context["error"] = {"code": exc.code, "message": refusals.text(exc)}
    context["imports"] = selectors.imports(actor=user)[:20]
    return render(request, "observer/upload.html", context, status=422 if "error" in context else 200)


def projects_page(request: HttpRequest) -> HttpResponse:
    """Other registries' projects as they publish them, each with its origin and its units' totals."""
    registry = request.GET.get("registry") or None
    if registry not in REGISTRIES:
        registry = None
    search = (request.GET.get("q") or "")[:200]
    page = Paginator(selectors.projects(registry=registry, search=search), PAGE_SIZE).get_page(request.GET.get("page"))
    totals = selectors.unit_totals([(p.registry, p.project_id) for p in page])
    names = labels.registries()
    for p in page:
        p.origin = names.get(p.registry, p.registry)  # type: ignore[attr-defined]
        p.totals = totals.get((p.registry, p.project_id), {})  # type: ignore[attr-defined]
    return render(request, "observer/projects.html", {
        "nav": "observer", "registries": names, "registry": registry, "q": search, "page": page,
    })
