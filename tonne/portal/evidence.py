"""Public pages of digital MRV: the trail from a serial to its evidence,
the methodologies the registry computes, and (as a template tag on the
project page) data sources, computed reports, benefit sharing and safeguards."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from tonne.core.errors import RegistryError
from tonne.methodologies import selectors as catalogue
from tonne.mrv.models import MonitoringReport, ReportComputation
from tonne.mrv.trail import issuance_trail, methodology_card, source_card, units_allocated
from tonne.projects import benefits
from tonne.projects.models import ConsentRecord, Grievance, Project
from tonne.units import selectors as unit_selectors
from tonne.units.models import Issuance


def _user(request: HttpRequest) -> Any:
    return request.user if request.user.is_authenticated else None


@require_GET
def trail(request: HttpRequest, serial: str) -> HttpResponse:
    try:
        found = unit_selectors.lookup_serials(_user(request), serial, require_match=True)
    except RegistryError as exc:
        raise Http404(exc.message) from None
    uids = list(dict.fromkeys(b["issuance"] for b in found["blocks"]))
    trails = [issuance_trail(i) for i in Issuance.objects.filter(uid__in=uids).select_related("approved_by")]
    for t in trails:
        computed = t["computation"]
        if computed:
            vintage = str(t["issuance"]["vintage"])
            t["steps"] = computed["results"].get(vintage, {}).get("steps", [])
            t["inputs"] = sorted((k, v) for k, v in computed["inputs"].get(vintage, {}).items() if not k.startswith("_"))
    return render(request, "portal/trail.html", {"nav": "serials", "serial": serial, "blocks": found["blocks"],
                                                 "trails": trails})


@require_GET
def methodologies(request: HttpRequest) -> HttpResponse:
    cards = [methodology_card(m.code, m.version) | {"code_version": m.code_version()} for m in catalogue.every()]
    return render(request, "portal/methodologies.html", {"nav": "projects", "methodologies": cards,
                                                         "title": _("Methodologies")})


def project_evidence(project: Project) -> dict[str, Any]:
    """What the project page shows of digital MRV, benefit sharing and safeguards."""
    computed = (ReportComputation.objects.filter(report__project=project, report__status=MonitoringReport.Status.ISSUED)
                .select_related("report").order_by("report__number"))
    issuances = {i.report_id: i for i in Issuance.objects.filter(project=project).order_by("serial_start")}
    return {
        "project": project,
        "sources": [source_card(s, with_readings=False) for s in project.data_sources.order_by("identifier")],
        "computed": [{"c": c, "issuance": issuances.get(c.report_id),
                      "serial": unit_selectors.serial_text(issuances[c.report_id], issuances[c.report_id].serial_start,
                                                           issuances[c.report_id].serial_start)
                      if c.report_id in issuances else None} for c in computed],
        "benefits": benefits.benefit_figures(project, units_allocated(project)),
        "minimum_bp": benefits.minimum_community_basis_points(project),
        "consents": list(ConsentRecord.objects.filter(project=project).select_related("document")),
        "grievances": list(Grievance.objects.filter(project=project)),
        "grievances_open": Grievance.objects.filter(project=project, status__in=["received", "investigating"]).count(),
    }
