"""The public transparency portal: pages anyone can open, no login."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from tonne.core import refusals
from tonne.core.errors import RegistryError
from tonne.core.spreadsheets import safe_row
from tonne.ledger import keys, proofs
from tonne.ledger import selectors as ledger_selectors
from tonne.ledger.models import LedgerEntry
from tonne.portal import dashboard, labels, maps, observed, selectors, svg
from tonne.portal.certificates import certificate_pdf as render_pdf
from tonne.projects.selectors import documents_for, projects_for
from tonne.units import as_stated
from tonne.units import selectors as unit_selectors


def _user(request: HttpRequest) -> Any:
    return selectors.viewer(request.user)


# -- home ---------------------------------------------------------------------------------


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if observed.observer_mode():  # the registries observed here, each figure with its origin
        data = observed.figures(dashboard.DashboardFilter())
        return render(request, "portal/home_observer.html", {"figures": data["headline"], "nav": "home",
                                                             "chart": observed.charts(data)[0]})
    return render(request, "portal/home.html", {"figures": selectors.headline_figures(), "nav": "home",
                                                "registry_map": maps.registry_map()})


# -- project search -------------------------------------------------------------------------


def _facet_groups(query: selectors.SearchQuery, counts: dict[str, list[tuple[str, int]]]) -> list[dict[str, Any]]:
    groups = []
    for name in selectors.FACETS:
        chosen = set(query.filters.get(name, []))
        values = counts.get(name, [])
        present = {v for v, _ in values}
        # A chosen value stays listed even when nothing else matches it.
        values = values + [(v, 0) for v in sorted(chosen - present)]
        groups.append(
            {
                "name": name,
                "title": labels.FACET_TITLES[name],
                "values": [
                    {"value": v, "label": labels.facet_value(name, v), "count": n, "checked": v in chosen}
                    for v, n in values
                ],
                "open": bool(chosen),
            }
        )
    return groups


@require_GET
def project_search(request: HttpRequest) -> HttpResponse | HttpResponseRedirect:
    if observed.observer_mode():  # the observed registries' projects, each with its origin
        q = (request.GET.get("q") or "").strip()
        return HttpResponseRedirect(reverse("observer-projects") + (f"?{urlencode({'q': q})}" if q else ""))
    query = selectors.SearchQuery.from_params(request.GET)
    counted = selectors.search_counts(query)
    rows, total, pages = selectors.result_page(query, total=counted.total)
    page = min(query.page, pages)
    params = request.GET.copy()
    params.pop("page", None)
    base = params.urlencode()
    return render(
        request,
        "portal/search.html",
        {
            "nav": "projects",
            "query": query,
            "rows": rows,
            "total": total,
            "page": page,
            "pages": pages,
            "facets": _facet_groups(query, counted.facets),
            "sorts": labels.sort_options(),
            "base_query": base,
            "prev_url": f"?{base}&page={page - 1}" if page > 1 else "",
            "next_url": f"?{base}&page={page + 1}" if page < pages else "",
            "export_query": base,
        },
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_stream(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # so that spreadsheet programs read UTF-8
    yield writer.writerow(safe_row(header))
    for row in rows:
        yield writer.writerow(safe_row(row))


@require_GET
def project_export(request: HttpRequest, fmt: str) -> HttpResponse | StreamingHttpResponse:
    if fmt not in ("csv", "xlsx"):
        raise Http404(_("Exports are in CSV or Excel (xlsx)."))
    query = selectors.SearchQuery.from_params(request.GET)
    rows: Iterable[Sequence[Any]] = selectors.export_rows(query)
    header = list(selectors.EXPORT_COLUMNS)
    if observed.observer_mode():
        rows, header = observed.project_rows(query.q), list(observed.PROJECT_COLUMNS)
    if fmt == "csv":
        response = StreamingHttpResponse(_csv_stream(header, rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="projects.csv"'
        return response
    # import here: a large library, loaded for spreadsheet downloads only
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("projects")
    sheet.append(safe_row(header))
    for row in rows:
        sheet.append(safe_row(row))
    out = io.BytesIO()
    book.save(out)
    book_response = HttpResponse(
        out.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    book_response["Content-Disposition"] = 'attachment; filename="projects.xlsx"'
    return book_response


# -- project page ------------------------------------------------------------------------------


@require_GET
def project_page(request: HttpRequest, project_id: str) -> HttpResponse:
    user = _user(request)
    project = (
        projects_for(user)
        .prefetch_related(
            "locations",
            "estimations",
            "ratings",
            "co_benefits",
            "labels",
            "stakeholders",
            "methodologies__methodology",
            "validations__body",
            "related_projects",
        )
        .filter(project_id=project_id)
        .first()
    )
    if project is None:
        raise Http404(_("No such project."))
    shapes = [s for loc in project.locations.all() for s in svg.parse_gis(loc.gis)]
    places = ", ".join(
        sorted({f"{loc.region}, {loc.country}" if loc.region else loc.country for loc in project.locations.all()})
    )
    location_map = svg.location_map(
        "project-map",
        _("Map of the project's location"),
        _("Project sites of %(name)s: %(places)s.") % {"name": project.name, "places": places},
        shapes,
        host=project.host_party,
    )
    issuances = list(project.issuances.select_related("project").order_by("serial_start"))
    for issuance in issuances:
        issuance.serial = unit_selectors.serial_text(issuance, issuance.serial_start, issuance.serial_end)  # type: ignore[attr-defined]
    reports = list(project.monitoring_reports.exclude(status="withdrawn").prefetch_related("vintages"))
    return render(
        request,
        "portal/project.html",
        {
            "nav": "projects",
            "project": project,
            "map": location_map,
            "documents": list(documents_for(user, project)),
            "issuances": issuances,
            "reports": reports,
            "holdings": unit_selectors.project_holdings(project),
            **_retirements(project),
        },
    )


def _retirements(project: Any) -> dict[str, Any]:
    """The project's retirements, or, if any differs from its ledger entry, why none is shown."""
    retirements = list(unit_selectors.project_retirements(project))
    try:
        as_stated.require_as_stated(retirements)
    except RegistryError as exc:
        return {"retirements": [], "retirements_refused": labels.error_message(exc)}
    return {"retirements": retirements}


# -- serial lookup -------------------------------------------------------------------------------


@require_GET
def serial_lookup(request: HttpRequest) -> HttpResponse:
    text = request.GET.get("serial", "").strip()
    result = None
    error = None
    if text:
        try:
            result = unit_selectors.lookup_serials_as_stated(_user(request), text, require_match=False)
        except RegistryError as exc:
            if exc.code == as_stated.NOT_AS_STATED:  # not a mistyped serial: the registry's own incident
                return not_as_stated(request, exc)
            error = {"code": exc.code, "message": labels.error_message(exc)}
    return render(
        request,
        "portal/serials.html",
        {"nav": "serials", "text": text, "result": result, "error": error},
        status=422 if error else 200,
    )


# -- ledger, proofs, certificates -------------------------------------------------------------------


def _inclusion(seq: int) -> dict[str, Any]:
    """The entry's inclusion proof against the latest signed checkpoint,
    checked here with the registry's verifier key."""
    try:
        bundle = proofs.inclusion_bundle(seq)
    except RegistryError as exc:
        return {"bundle": None, "code": exc.code}
    try:
        proved = proofs.verify_bundle(bundle, keys.verifier_key_text())
    except proofs.ProofInvalid as exc:
        return {"bundle": bundle, "verified": False, "code": exc.code, "message": exc.message}
    checkpoint_lines = bundle["checkpoint"].split("\n")
    return {
        "bundle": bundle,
        "verified": True,
        "proved": proved,
        "root": checkpoint_lines[2] if len(checkpoint_lines) > 2 else "",
        "json": json.dumps(bundle, indent=2, sort_keys=True),
    }


@require_GET
def ledger_page(request: HttpRequest) -> HttpResponse:
    head = selectors.ledger_size()
    return render(
        request,
        "portal/ledger.html",
        {
            "nav": "ledger",
            "size": head,
            "checkpoints": selectors.latest_checkpoints(),
            "verifier_key": keys.verifier_key_text(),
            "origin": settings.TONNE_LEDGER_ORIGIN,
            "site": request.build_absolute_uri("/").rstrip("/"),
            "recent": list(LedgerEntry.objects.order_by("-seq").values("seq", "kind", "transaction_ref", "created_at")[:10]),
        },
    )


@require_GET
def ledger_key(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(keys.verifier_key_text() + "\n", content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="verifier-key.txt"'
    return response


@require_GET
def ledger_checkpoint_latest(request: HttpRequest) -> HttpResponse:
    checkpoint = selectors.latest_checkpoints(1)
    if not checkpoint:
        raise Http404(_("No checkpoint has been signed yet."))
    response = HttpResponse(checkpoint[0].note, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="checkpoint-{checkpoint[0].size}.txt"'
    return response


@require_GET
def ledger_entry(request: HttpRequest, seq: int) -> HttpResponse:
    entry = LedgerEntry.objects.filter(seq=seq).first()
    if entry is None:
        raise Http404(_("No such ledger entry."))
    retirement = selectors.retirement(entry.transaction_ref) if entry.transaction_ref else None
    if retirement is not None:
        try:
            as_stated.require_as_stated([retirement])
        except RegistryError as exc:
            return not_as_stated(request, exc)
    return render(
        request,
        "portal/entry.html",
        {
            "nav": "ledger",
            "entry": entry,
            "body": json.dumps(json.loads(ledger_selectors.public_body(entry)), indent=2, sort_keys=True,
                               ensure_ascii=False),
            "redacted": ledger_selectors.is_redacted(entry),
            "proof": _inclusion(seq),
            "retirement": retirement,
            "site": request.build_absolute_uri("/").rstrip("/"),
        },
    )


@require_GET
def ledger_entry_proof(request: HttpRequest, seq: int) -> HttpResponse:
    try:
        bundle = proofs.inclusion_bundle(seq)
    except RegistryError as exc:
        raise Http404(labels.error_message(exc)) from None
    response = HttpResponse(json.dumps(bundle, indent=2, sort_keys=True), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="inclusion-proof-{seq}.json"'
    return response


def not_as_stated(request: HttpRequest, exc: RegistryError) -> HttpResponse:
    """A transaction whose row differs from its ledger entry is not shown (see units.as_stated)."""
    return render(request, "portal/not_as_stated.html", {"nav": "", "code": exc.code,
                                                         "message": labels.error_message(exc)}, status=exc.status)


def _certificate(request: HttpRequest, identifier: str) -> dict[str, Any]:
    txn = selectors.retirement(identifier)
    if txn is None:
        raise Http404(_("No completed retirement has that transaction identifier."))
    as_stated.require_as_stated([txn])
    # The certificate's own page: it names the units and checks their proof in the reader's browser.
    verify_path = reverse("portal:certificate", args=[txn.identifier]) if txn.ledger_seq is not None else ""
    return {
        "nav": "",
        "txn": txn,
        "blocks": unit_selectors.transaction_blocks(txn),
        "projects": selectors.certificate_projects(txn),
        "proof": _inclusion(txn.ledger_seq) if txn.ledger_seq is not None else {"bundle": None, "code": ""},
        "verify_url": request.build_absolute_uri(verify_path) if verify_path else "",
        "purpose": labels.purpose(txn.purpose),
        "site": request.build_absolute_uri("/").rstrip("/"),
        "registry_name": settings.TONNE_REGISTRY_NAME,
    }


@require_GET
def certificate(request: HttpRequest, identifier: str) -> HttpResponse:
    try:
        context = _certificate(request, identifier)
    except RegistryError as exc:
        return not_as_stated(request, exc)
    if context["verify_url"]:
        import segno  # import here: loaded for certificates only

        context["qr_svg"] = segno.make(context["verify_url"], error="m").svg_inline(
            scale=4, title=_("QR code of the verification page"), dark="#1b2a24"
        )
    return render(request, "portal/certificate.html", context)


@require_GET
def certificate_pdf(request: HttpRequest, identifier: str) -> HttpResponse:
    """The certificate in the reader's language: the one `?lang=` names (the
    certificate page's link carries its own), else the request's."""
    language = request.GET.get("lang") or ""
    if language not in dict(settings.LANGUAGES):
        language = translation.get_language() or settings.LANGUAGE_CODE
    with translation.override(language):
        try:
            context = _certificate(request, identifier)
        except RegistryError as exc:
            return not_as_stated(request, exc)
        pdf = render_pdf(context)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="certificate-{identifier}.pdf"'
    response["Content-Language"] = language
    return response


# -- dashboard ----------------------------------------------------------------------------------------


def _charts(data: dict[str, Any]) -> list[dict[str, Any]]:
    issued, retired, cancelled = _("Issued"), _("Retired"), _("Cancelled")
    units, projects = _("Units"), _("Projects")
    article6_unit_labels = {
        "first_transferred": _("Authorised, first transferred"),
        "awaiting_first_transfer": _("Authorised, awaiting first transfer"),
        "received": _("Received from another Party"),
        "mitigation_contribution": _("Mitigation contribution units"),
    }
    charts: list[dict[str, Any]] = [
        {
            "id": "over-time",
            "title": _("Units issued, retired and cancelled per year"),
            "columns": [_("Year"), issued, retired, cancelled],
            "rows": [[str(y), i, r, c] for y, i, r, c in data["over_time"]],
        },
        {
            "id": "by-vintage",
            "title": _("Units by vintage: issued, retired and cancelled"),
            "columns": [_("Vintage"), issued, retired, cancelled],
            "rows": [[str(v), i, r, c] for v, i, r, c in data["by_vintage"]],
        },
        {
            "id": "by-sector",
            "title": _("Units issued by sector (CDM sectoral scope)"),
            "columns": [_("Sector"), units, projects],
            "rows": [[labels.scope(s), n, p] for s, n, p in data["by_sector"]],
        },
        {
            "id": "by-region",
            "title": _("Units issued by region"),
            "columns": [_("Region"), units, projects],
            "rows": [[r or _("Not stated"), n, p] for r, n, p in data["by_region"]],
        },
        {
            "id": "by-methodology",
            "title": _("Units issued by methodology"),
            "columns": [_("Methodology"), units, projects],
            "rows": [[m or _("Not stated"), n, p] for m, n, p in data["by_methodology"]],
        },
        {
            "id": "by-article6",
            "title": _("Units issued by the project's Article 6 status"),
            "columns": [_("Article 6 status"), units, projects],
            "rows": [[labels.article6(s), n, p] for s, n, p in data["by_article6"]],
        },
        {
            "id": "projects-by-status",
            "title": _("Projects by status"),
            "columns": [_("Status"), projects],
            "rows": [[labels.status(s), n] for s, n in data["projects_by_status"]],
        },
    ]
    if "article6_units" in data:  # unit states now: no filter narrows them
        charts.insert(5, {
            "id": "article6-units",
            "title": _("Units by Article 6 status"),
            "columns": [_("Article 6 status"), units],
            "rows": [[article6_unit_labels[s], n] for s, n in data["article6_units"]],
        })
    elsewhere = observed.registry_rows()
    if elsewhere:  # other registries' records held here: shown apart, never added to this registry's figures
        charts.append({
            "id": "by-source-registry",
            "title": _("Units of other registries observed here (not counted in the figures above)"),
            "columns": [_("Registry"), projects, issued, retired, cancelled, _("Remaining")],
            "series_cols": range(2, 6),
            "rows": elsewhere,
        })
    return charts


def _dashboard_data(request: HttpRequest) -> tuple[dashboard.DashboardFilter, dict[str, Any], RegistryError | None]:
    """The reader's filter and the aggregates it keeps; a bad filter is named and the whole registry shown.
    An observer's figures are the observed registries'."""
    try:
        wanted, refusal = dashboard.parse(request.GET), None
    except RegistryError as exc:
        wanted, refusal = dashboard.DashboardFilter(), exc
    if observed.observer_mode():
        return wanted, observed.figures(wanted), refusal
    if wanted.narrows():
        return wanted, dashboard.filtered(wanted), refusal
    return wanted, selectors.dashboard(), refusal


def _charts_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    return observed.charts(data) if observed.observer_mode() else _charts(data)


CHART_LIMIT = 20  # bars drawn; the table and the CSV have every row
UNIT_COLUMNS: dict[str, Sequence[int]] = {"over-time": range(1, 4), "by-vintage": range(1, 4)}  # else the first


@require_GET
def dashboard_page(request: HttpRequest) -> HttpResponse:
    wanted, data, refusal = _dashboard_data(request)
    charts = _charts_of(data)
    suffix = f"?{wanted.query()}" if wanted.narrows() else ""
    for chart in charts:
        # The unit columns are drawn; project counts stay in the table.
        columns = chart["columns"]
        series_cols: Sequence[int] = chart.get("series_cols") or UNIT_COLUMNS.get(chart["id"], [1])
        shown = chart["rows"][:CHART_LIMIT]
        chart["svg"] = svg.bar_chart(
            chart["id"],
            chart["title"],
            _("Bar chart; the same figures are in the table that follows."),
            [" · ".join(str(v) for v in r[: chart.get("text_cols", 1)]) for r in shown],
            [(columns[c], [r[c] for r in shown]) for c in series_cols],
        )
        chart["truncated"] = len(chart["rows"]) > CHART_LIMIT
        chart["csv"] = reverse("portal:dashboard-csv", args=[chart["id"]]) + suffix
    if observed.observer_mode():
        figures, choices, registry_map = data["headline"], observed.choices(), None
    else:
        figures = dashboard.headline(wanted, data) if wanted.narrows() else selectors.headline_figures()
        choices, registry_map = dashboard.choices(), maps.registry_map(wanted)
    context = {"nav": "dashboard", "charts": charts, "figures": figures, "filter": wanted, "refusal": refusal,
               "choices": choices, "registry_map": registry_map, "observer": observed.observer_mode()}
    return render(request, "portal/dashboard.html", context, status=400 if refusal else 200)


@require_GET
def dashboard_csv(request: HttpRequest, chart: str) -> HttpResponse:
    _wanted, data, refusal = _dashboard_data(request)
    if refusal is not None:
        return HttpResponse(f"{refusals.text(refusal)} ({refusal.code})", status=400, content_type="text/plain; charset=utf-8")
    found = next((c for c in _charts_of(data) if c["id"] == chart), None)
    if found is None:
        raise Http404(_("No such chart."))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(safe_row(found["columns"]))
    writer.writerows(safe_row(row) for row in found["rows"])
    response = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{chart}.csv"'
    return response
