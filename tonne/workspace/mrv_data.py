"""Digital MRV in the workspace: a project's data sources with their readings
charted (an SVG drawn here, nothing fetched from elsewhere), the anomalies
flagged on intake, and the VVB's view of a computed report — computed
against claimed, the flags of the period, the recomputation — where they
verify, adjust with a reason, or reject."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import escape
from django.utils.translation import gettext as _

from tonne.core import refusals
from tonne.core.errors import RegistryError
from tonne.mrv import computation
from tonne.mrv import services as mrv
from tonne.mrv.models import Anomaly, DataSource, MonitoringReport, Reading, ReportComputation
from tonne.mrv.selectors import reports_for
from tonne.mrv.trail import methodology_card, source_card
from tonne.organisations.models import User
from tonne.projects.selectors import is_project_party, projects_for

CHART_POINTS = 365
WIDTH, HEIGHT, PAD = 720, 180, 36


def _signed_in(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


def reading_chart(source: DataSource, label: str) -> str:
    """Readings over time as an SVG line (bucket means when there are many),
    flagged readings as red dots."""
    rows = list(Reading.objects.filter(source=source).order_by("taken_at").values_list("taken_at", "quantity_micro", "id"))
    if not rows:
        return ""
    flagged = set(Anomaly.objects.filter(source=source, reading__isnull=False).values_list("reading_id", flat=True))
    step = max(1, -(-len(rows) // CHART_POINTS))
    points: list[tuple[dt.datetime, Decimal, bool]] = []
    for i in range(0, len(rows), step):
        chunk = rows[i:i + step]
        mean = Decimal(sum(r[1] for r in chunk)) / len(chunk) / 1_000_000
        points.append((chunk[0][0], mean, any(r[2] in flagged for r in chunk)))
    t0, t1 = points[0][0], points[-1][0]
    span = max((t1 - t0).total_seconds(), 1.0)
    low, high = min(p[1] for p in points), max(p[1] for p in points)
    low = min(low, Decimal(0))
    rng = float(high - low) or 1.0

    def xy(at: dt.datetime, value: Decimal) -> tuple[float, float]:
        x = PAD + (at - t0).total_seconds() / span * (WIDTH - 2 * PAD)
        y = HEIGHT - PAD / 2 - float(value - low) / rng * (HEIGHT - PAD)
        return round(x, 1), round(y, 1)

    line = " ".join(f"{x},{y}" for x, y in (xy(a, v) for a, v, _f in points))
    dots = "".join(f'<circle cx="{x}" cy="{y}" r="4" class="flag"><title>{escape(_("flagged"))}</title></circle>'
                   for x, y in (xy(a, v) for a, v, f in points if f))
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>'
        f'<style>.flag{{fill:#c0392b}} polyline{{fill:none;stroke:#1f6f8b;stroke-width:1.5}} '
        f'text{{font-size:11px;fill:#555}} line{{stroke:#bbb}}</style>'
        f'<line x1="{PAD}" y1="{HEIGHT - PAD / 2}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD / 2}"/>'
        f'<text x="2" y="12">{escape(str(high.normalize()))} {escape(source.unit)}</text>'
        f'<text x="2" y="{HEIGHT - 4}">{escape(str(low.normalize()))}</text>'
        f'<text x="{PAD}" y="{HEIGHT - 4}">{t0.date().isoformat()}</text>'
        f'<text x="{WIDTH - PAD - 64}" y="{HEIGHT - 4}">{t1.date().isoformat()}</text>'
        f'<polyline points="{line}"/>{dots}</svg>'
    )


def project_data(request: HttpRequest, project_id: str) -> HttpResponse:
    user = _signed_in(request)
    if user is None:
        return redirect_to_login(request.get_full_path())
    project = projects_for(user).filter(project_id=project_id).first()
    if project is None or not is_project_party(user, project):
        raise Http404(_("No such project."))
    sources = []
    for source in project.data_sources.order_by("identifier"):
        card = source_card(source, with_readings=False)
        card["chart"] = reading_chart(source, _("Readings of %(source)s") % {"source": source.identifier})
        card["latest"] = list(Reading.objects.filter(source=source).order_by("-taken_at")[:10])
        sources.append(card)
    return render(request, "workspace/mrv_project.html", {
        "project": project, "sources": sources,
        # The developer's own people register sources (the service checks the role again).
        "can_register": user.organisation_id == project.developer_id,
        "anomalies": Anomaly.objects.filter(source__project=project).select_related("source", "reading").order_by("-at")[:200],
        "computations": ReportComputation.objects.filter(report__project=project).select_related("report")
        .order_by("-report__number"),
    })


def _whole(text: str) -> int | str:
    """A typed whole number; anything else goes on for the service to refuse."""
    text = text.strip().replace(",", "").replace(" ", "")
    return int(text) if text.isdigit() and len(text) < 19 else text


def _period_anomalies(report: MonitoringReport) -> Any:
    low = dt.datetime.combine(report.period_start, dt.time(), dt.UTC)
    high = dt.datetime.combine(report.period_end + dt.timedelta(days=1), dt.time(), dt.UTC)
    return (Anomaly.objects.filter(source__project=report.project_id, at__gte=low, at__lt=high)
            .select_related("source", "reading").order_by("at"))


def report_computation(request: HttpRequest, uid: str) -> HttpResponse:
    user = _signed_in(request)
    if user is None:
        return redirect_to_login(request.get_full_path())
    try:
        report = reports_for(user).get(uid=uuid.UUID(uid))
        computed = ReportComputation.objects.get(report=report)
    except (ValueError, MonitoringReport.DoesNotExist, ReportComputation.DoesNotExist):
        raise Http404(_("No such computed report.")) from None
    if request.method == "POST":
        try:
            if request.POST.get("action") == "reject":
                mrv.reject_report(actor=user, report=report, reason=request.POST.get("reason", ""))
                messages.success(request, _("The report was rejected."))
            else:
                verified = [{"vintage": v.vintage, "quantity": _whole(request.POST.get(f"verified-{v.vintage}", ""))}
                            for v in report.vintages.all()]
                mrv.verify_report(actor=user, report=report, verified=verified,
                                  adjustment_reason=request.POST.get("adjustment_reason", ""))
                messages.success(request, _("The verified quantities were recorded."))
            return redirect("workspace:report-computation", uid=str(report.uid))
        except RegistryError as exc:
            messages.error(request, f"{refusals.text(exc)} ({exc.code})")
    again = computation.recompute(report)
    vintages = [{"row": v, "result": computed.results.get(str(v.vintage), {}),
                 "inputs": sorted((k, x) for k, x in computed.inputs.get(str(v.vintage), {}).items() if not k.startswith("_"))}
                for v in report.vintages.all()]
    return render(request, "workspace/mrv_report.html", {
        "report": report, "computed": computed, "vintages": vintages, "again": again,
        "methodology": methodology_card(computed.methodology_code, computed.methodology_version, computed.parameters),
        "anomalies": _period_anomalies(report)[:200],
        "can_verify": report.status == MonitoringReport.Status.SUBMITTED and user.organisation_id == report.vvb_id,
    })

