"""The public registers: every issuance, retirement and cancellation of the
registry, searchable, and downloadable as CSV or Excel (cells neutralised
against formulas by core.spreadsheets). One row per serial block.

A page or a download states its transactions only once each is held to its
ledger entry (units.as_stated): one that differs refuses the whole answer
with TRANSACTION_NOT_AS_STATED, as a certificate does. A download is not
sent with the row left out: a file copied onward would not say that a row
is missing, nor why."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from tonne.core.errors import RegistryError
from tonne.core.spreadsheets import safe_row
from tonne.portal import labels
from tonne.portal.views import not_as_stated
from tonne.units import as_stated
from tonne.units import selectors as unit_selectors
from tonne.units.models import Issuance, Transaction, TransactionBlock

PAGE = 50
QUERY_LIMIT = 100  # characters of a search; longer is refused, not cut


@dataclass(frozen=True)
class Register:
    name: str
    title: Any
    columns: tuple[Any, ...]
    rows: Callable[[str, int | None], QuerySet[Any]]
    cells: Callable[[Any], tuple[Any, ...]]


def _issuances(q: str, year: int | None) -> QuerySet[Issuance]:
    rows = Issuance.objects.select_related("project").order_by("-issued_at", "-id")
    if q:
        rows = rows.filter(Q(project__project_id__icontains=q) | Q(project__name__icontains=q))
    return rows.filter(issued_at__year=year) if year else rows


def _issuance_cells(i: Issuance) -> tuple[Any, ...]:
    return (
        i.issued_at.date().isoformat(), i.project.project_id, i.project.name, i.project.host_party, i.vintage,
        unit_selectors.serial_text(i, i.serial_start, i.serial_end), i.quantity, i.buffer_quantity,
    )


def _moves(kind: str) -> Callable[[str, int | None], QuerySet[TransactionBlock]]:
    def rows(q: str, year: int | None) -> QuerySet[TransactionBlock]:
        found = TransactionBlock.objects.filter(
            transaction__kind=kind, transaction__status=Transaction.Status.COMPLETED
        ).select_related("transaction", "issuance", "issuance__project").order_by(
            "-transaction__completed_at", "-transaction_id", "serial_start"
        )
        if q:
            found = found.filter(
                Q(transaction__identifier__icontains=q) | Q(transaction__beneficiary__icontains=q)
                | Q(transaction__using_entity__icontains=q) | Q(transaction__on_behalf_of__icontains=q)
                | Q(transaction__reason__icontains=q) | Q(issuance__project__project_id__icontains=q)
                | Q(issuance__project__name__icontains=q)
            )
        return found.filter(transaction__completed_at__year=year) if year else found

    return rows


def _block_cells(b: TransactionBlock) -> tuple[Any, ...]:
    t, i = b.transaction, b.issuance
    assert t.completed_at is not None
    return (
        t.completed_at.date().isoformat(), t.identifier, i.project.project_id, i.project.name, i.vintage,
        unit_selectors.serial_text(i, b.serial_start, b.serial_end), b.serial_end - b.serial_start + 1,
    )


def _retirement_cells(b: TransactionBlock) -> tuple[Any, ...]:
    t = b.transaction
    return (*_block_cells(b), t.beneficiary, labels.purpose(t.purpose), t.jurisdiction, t.compliance_period,
            t.using_entity, t.on_behalf_of)


def _cancellation_cells(b: TransactionBlock) -> tuple[Any, ...]:
    return (*_block_cells(b), b.transaction.reason)


_MOVED = (_("Transaction"), _("Project"), _("Project name"), _("Vintage"), _("Serial numbers"), _("Units"))
REGISTERS = {
    "issuances": Register(
        "issuances", _("Issuances"),
        (_("Issued on"), _("Project"), _("Project name"), _("Country"), _("Vintage"), _("Serial numbers"), _("Units"),
         _("Of which to the buffer pool")),
        _issuances, _issuance_cells,
    ),
    "retirements": Register(
        "retirements", _("Retirements"),
        (_("Retired on"), *_MOVED, _("Beneficiary"), _("Purpose"), _("Jurisdiction"), _("Compliance period"),
         _("Using entity"), _("On behalf of")),
        _moves(Transaction.Kind.RETIREMENT), _retirement_cells,
    ),
    "cancellations": Register(
        "cancellations", _("Cancellations"),
        (_("Cancelled on"), *_MOVED, _("Reason")),
        _moves(Transaction.Kind.CANCELLATION), _cancellation_cells,
    ),
}


def _search(request: HttpRequest) -> tuple[str, int | None, str]:
    """The search asked for, and what is wrong with it (shown, nothing cut)."""
    q = request.GET.get("q", "").strip()
    raw_year = request.GET.get("year", "").strip()
    if len(q) > QUERY_LIMIT:
        return "", None, str(_("A search is at most %(n)s characters long.") % {"n": QUERY_LIMIT})
    if raw_year and not (raw_year.isdigit() and 1900 <= int(raw_year) <= 2200):
        return q, None, str(_("The year is a year such as 2025."))
    return q, int(raw_year) if raw_year else None, ""


def _stated(rows: QuerySet[Any]) -> QuerySet[Transaction]:
    """The transactions whose fields the rows state: an issuance's own, or the move of each block."""
    rows = rows.order_by()
    if rows.model is Issuance:
        return Transaction.objects.filter(issuance_id__in=rows.values("pk"), kind=Transaction.Kind.ISSUANCE)
    return Transaction.objects.filter(pk__in=rows.values("transaction_id"))


@require_GET
def register(request: HttpRequest, name: str) -> HttpResponse:
    reg = REGISTERS[name]
    q, year, problem = _search(request)
    page = Paginator(reg.rows(q, year), PAGE).get_page(request.GET.get("page"))
    shown = reg.rows(q, year).filter(pk__in=[row.pk for row in page.object_list])
    try:  # the transactions shown, held to their ledger entries
        as_stated.require_as_stated(list(_stated(shown)))
    except RegistryError as exc:
        return not_as_stated(request, exc)
    return render(
        request, "portal/register.html",
        {"nav": "", "register": reg, "registers": REGISTERS.values(), "q": q, "year": year or "", "problem": problem,
         "page": page, "rows": [reg.cells(r) for r in page.object_list]},
        status=400 if problem else 200,
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv(header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # so that spreadsheet programs read UTF-8
    yield writer.writerow(safe_row([str(h) for h in header]))
    for row in rows:
        yield writer.writerow(safe_row(row))


@require_GET
def register_export(request: HttpRequest, name: str, fmt: str) -> HttpResponse | StreamingHttpResponse:
    reg = REGISTERS[name]
    if fmt not in ("csv", "xlsx"):
        raise Http404(_("Exports are in CSV or Excel (xlsx)."))
    q, year, problem = _search(request)
    if problem:
        return HttpResponse(problem, status=400, content_type="text/plain; charset=utf-8")
    try:  # every transaction stated, before the first byte is sent
        as_stated.require_all_as_stated(_stated(reg.rows(q, year)))
    except RegistryError as exc:
        return not_as_stated(request, exc)
    rows = (reg.cells(r) for r in reg.rows(q, year).iterator(chunk_size=2000))
    if fmt == "csv":
        response = StreamingHttpResponse(_csv(reg.columns, rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response
    # import here: a large library, loaded for spreadsheet downloads only
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(name)
    sheet.append(safe_row([str(h) for h in reg.columns]))
    for row in rows:
        sheet.append(safe_row(row))
    out = io.BytesIO()
    book.save(out)
    xlsx = HttpResponse(out.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    xlsx["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return xlsx


@require_GET
def issuance(request: HttpRequest, uid: str) -> HttpResponse:
    """One issuance (public): its serials and where its units are now."""
    found = Issuance.objects.select_related("project", "report").filter(uid=uid).first()
    if found is None or found.project.status == "draft":
        raise Http404(_("No such issuance."))
    return render(request, "portal/issuance.html", {
        "nav": "",
        "issuance": found,
        "serial": unit_selectors.serial_text(found, found.serial_start, found.serial_end),
        "supply": unit_selectors.issuance_supply(found),
    })
