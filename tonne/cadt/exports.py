"""`xls=true` on the CAD Trust read API: the workbook CAD Trust itself answers
and takes back (PUT /v1/projects/xlsx, /v1/units/xlsx): one sheet per table,
child records on their own sheets joined by ids."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from tonne.cadt import formats, selectors
from tonne.cadt.schema import V1_PROJECT_CHILDREN

# The sheets of each list's workbook, as CAD Trust writes them.
SHEETS = {
    "projects": ("projects", *V1_PROJECT_CHILDREN),
    "units": ("labels", "issuances", "units", "label_units"),
}


def v1_workbook(kind: str, rows: list[dict[str, Any]]) -> bytes:
    sheets = formats.v1_sheets({kind: rows})
    return formats.to_xlsx([sheet for sheet in sheets if sheet[0] in SHEETS[kind]], for_people=True)


def v1_xls_response(kind: str, rows: list[dict[str, Any]]) -> HttpResponse:
    response = HttpResponse(v1_workbook(kind, rows), content_type=selectors.CONTENT_TYPES["xlsx"])
    response["Content-Disposition"] = f'attachment; filename="{kind}.xlsx"'
    return response
