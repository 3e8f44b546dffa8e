"""A CAD Trust-compatible read API under /cadt/v1/ and /cadt/v2/: CAD Trust's
paths, query parameters (page, limit, search, orgUid, filter, order,
columns, xls) and answers ({page, pageCount, data} with `page`, the plain
list without), so that a CAD Trust client can read this registry.

Served by its own NinjaAPI (OpenAPI at /cadt/openapi.json, docs at /cadt/docs)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Schema
from ninja.openapi.docs import Swagger
from pydantic import create_model

from tonne.audit.services import record_denial
from tonne.cadt import domain, formats, selectors
from tonne.cadt.schema import V2_SHEETS, v1_columns, v1_tables, v2_tables
from tonne.core.api_support import ProblemOut, TonneAPI, install_error_handlers
from tonne.core.errors import NotFound
from tonne.organisations.api_auth import viewer

api = TonneAPI(
    title="Tonne CAD Trust-compatible API",
    version="2.0.2",
    description=(
        "Read this registry as a CAD Trust node: the same paths, query parameters and field names as "
        "CAD Trust (v1 and v2.0.2). `page` (with `limit`, default 15) answers `{page, pageCount, data}`; "
        "without `page` the plain list. `filter` is `field:value:op` (op: in, eq, not, lt, gt, lte, gte, "
        "like), `order` is `field:ASC|DESC`, `columns` a list of fields, `xls=true` an Excel file. "
        "Records imported from other registries carry their own orgUid."
    ),
    urls_namespace="cadt",
    docs=Swagger(),
)
install_error_handlers(api, on_denial=record_denial)


class CadtQuery(Schema):
    page: int | None = Field(None, ge=1, le=10**9, description="page number; with it the answer is {page, pageCount, data}")
    limit: int | None = Field(None, ge=1, le=domain.MAX_LIMIT, description="page size (default 15)")
    search: str | None = Field(None, max_length=500, description="text to look for in any field")
    orgUid: str | None = Field(None, max_length=100, description="only records of this CAD Trust organisation")
    filter: str | None = Field(None, max_length=10000, description="field:value:op")
    order: str | None = Field(None, max_length=200, description="field:ASC or field:DESC")
    columns: list[str] | None = Field(None, description="fields to return (repeat, or comma-separated)")
    xls: bool = Field(False, description="answer an Excel workbook instead of JSON")


def _columns(query: CadtQuery) -> list[str] | None:
    if not query.columns:
        return None
    return [c.strip() for item in query.columns for c in item.split(",") if c.strip()]


def _answer(
    pairs: list[tuple[str, dict[str, Any]]], query: CadtQuery, *, fields: tuple[str, ...], key: str, sheet: str
) -> HttpResponse:
    org_uid = selectors.mapping.home_org_uid() if query.orgUid == "me" else query.orgUid  # "me": this registry
    rows = [row for org, row in pairs if not org_uid or org == org_uid]
    rows = domain.query_rows(
        rows, fields=fields, key=key, search=query.search, filter=query.filter, order=query.order,
        columns=_columns(query),
    )
    if query.xls:
        columns = tuple(_columns(query) or fields)
        columns = tuple(c for c in columns if c in fields) or (key,)
        body = formats.to_xlsx([(sheet, columns, [[formats._cell(r.get(c)) for c in columns] for r in rows])])
        response = HttpResponse(body, content_type=selectors.CONTENT_TYPES["xlsx"])
        response["Content-Disposition"] = f'attachment; filename="{sheet}.xlsx"'
        return response
    return _json(domain.page_of(rows, query.page, query.limit))


def _json(data: Any) -> HttpResponse:
    return HttpResponse(json.dumps(data, ensure_ascii=False), content_type="application/json")


_TYPES: dict[str, Any] = {"list": list[str], "year": int, "decimal": float, "int": int}


def _model(name: str, fields: dict[str, Any]) -> Any:
    return create_model(name, **{f: (t | None, None) for f, t in fields.items()})  # type: ignore[call-overload]


def _list_response(name: str, fields: dict[str, Any]) -> dict[int, Any]:
    row = _model(name, fields)
    page = create_model(f"{name}Page", page=(int, ...), pageCount=(int, ...), data=(list[row], ...))  # type: ignore[valid-type]
    return {200: page | list[row]}  # type: ignore[valid-type]


# -- v2 ---------------------------------------------------------------------------------

V2_PATHS = {
    "project": "project",
    "unit": "unit",
    "issuance": "issuance",
    "label": "label",
    "program": "program",
    "methodology": "methodology",
    "stakeholder": "stakeholder",
    "project-methodology": "project_methodology",
    "validation": "validation",
    "verification": "verification",
    "location": "location",
    "estimation": "estimation",
    "rating": "rating",
    "co-benefit": "co_benefit",
    "unit-label": "unit_label",
}
_SHEET_OF = {table: sheet for sheet, table in V2_SHEETS.items()}


def _v2_view(table: str) -> Callable[..., HttpResponse]:
    spec = v2_tables()[table]

    def view(request: HttpRequest, query: Query[CadtQuery]) -> HttpResponse:
        viewer(request)
        return _answer(selectors.v2_resource(table), query, fields=spec.names, key=spec.key, sheet=_SHEET_OF[table])

    view.__name__ = f"v2_{table}"
    view.__doc__ = f"CAD Trust v2.0.2 `{table}` records (CAD Trust field names)."
    return view


def _v2_one_view(table: str) -> Callable[..., HttpResponse]:
    spec = v2_tables()[table]

    def view(request: HttpRequest, id: str) -> HttpResponse:
        viewer(request)
        for _, row in selectors.v2_resource(table):
            if str(row[spec.key]) == id:
                return _json(row)
        raise NotFound("CADT_RECORD_NOT_FOUND", f"No {table} with {spec.key} {id}.")

    view.__name__ = f"v2_{table}_one"
    view.__doc__ = f"One CAD Trust v2.0.2 `{table}` record by its {spec.key}."
    return view


for _path, _table in V2_PATHS.items():
    _spec = v2_tables()[_table]
    api.get(f"/v2/{_path}/{{id}}", response={200: dict[str, Any], 404: ProblemOut}, tags=["CAD Trust v2"],
            summary=f"One {_table} record")(_v2_one_view(_table))
    api.get(
        f"/v2/{_path}",
        response=_list_response(
            "V2" + "".join(p.capitalize() for p in _table.split("_")),
            {f.name: _TYPES.get(f.kind, str) for f in _spec.fields},
        ),
        tags=["CAD Trust v2"],
        summary=f"List {_table} records",
    )(_v2_view(_table))


@api.get("/v2/organizations", response={200: dict[str, dict[str, Any]]}, tags=["CAD Trust v2"])
def v2_organizations(request: HttpRequest) -> HttpResponse:
    """Organisations: this registry (isHome) and the registries records were imported from, by orgUid."""
    viewer(request)
    return _json(selectors.organizations())


@api.get("/v2/governance/picklist", response={200: dict[str, list[str]]}, tags=["CAD Trust v2"])
def v2_picklist(request: HttpRequest) -> HttpResponse:
    """The v2.0.2 picklists this registry enforces, under CAD Trust's v2 names."""
    viewer(request)
    return _json(selectors.v2_picklists())


class AuditQuery(Schema):
    orgUid: str | None = Field(None, max_length=100)
    page: int | None = Field(None, ge=1, le=10**9)
    limit: int | None = Field(None, ge=1, le=domain.MAX_LIMIT)


AUDIT_FIELDS = {
    "id": int, "orgUid": str, "registryId": str, "rootHash": str, "type": str, "table": str, "change": str,
    "onchainConfirmationTimeStamp": int, "author": str, "comment": str, "generation": int, "createdAt": str,
    "updatedAt": str,
}


def _audit(request: HttpRequest, query: AuditQuery) -> HttpResponse:
    viewer(request)
    return _json(domain.page_of(selectors.audit(query.orgUid), query.page, query.limit))


@api.get("/v2/audit", response=_list_response("V2Audit", AUDIT_FIELDS), tags=["CAD Trust v2"])
def v2_audit(request: HttpRequest, query: Query[AuditQuery]) -> HttpResponse:
    """This registry's change history (from its ledger), in CAD Trust's audit shape."""
    return _audit(request, query)


# -- v1 ---------------------------------------------------------------------------------

V1_RESOURCES = {"projects": "projects", "units": "units", "issuances": "issuances", "labels": "labels"}
V1_KEYS = {"projects": "warehouseProjectId", "units": "warehouseUnitId", "issuances": "id", "labels": "id"}


def _v1_fields(kind: str) -> tuple[str, ...]:
    names = v1_columns(kind)
    if kind == "projects":
        return (*names, "projectLocations", "labels", "issuances", "coBenefits", "relatedProjects", "projectRatings",
                "estimations")
    if kind == "units":
        return (*names, "issuance", "labels")
    return names


class V1Query(CadtQuery):
    warehouseProjectId: str | None = Field(None, max_length=100, description="projects: answer this one project")
    warehouseUnitId: str | None = Field(None, max_length=100, description="units: answer this one unit")


def _v1_view(kind: str) -> Callable[..., HttpResponse]:
    fields = _v1_fields(kind)

    def view(request: HttpRequest, query: Query[V1Query]) -> HttpResponse:
        viewer(request)
        wanted = {"projects": query.warehouseProjectId, "units": query.warehouseUnitId}.get(kind)
        if wanted:  # CAD Trust answers the one record, or null
            one = next((row for _, row in selectors.v1_resource(kind) if row[V1_KEYS[kind]] == wanted), None)
            return _json(one)
        return _answer(selectors.v1_resource(kind), query, fields=fields, key=V1_KEYS[kind], sheet=kind)

    view.__name__ = f"v1_{kind}"
    view.__doc__ = f"CAD Trust v1 `{kind}` (CAD Trust v1 field names; projects with their child lists)."
    return view


for _kind in V1_RESOURCES:
    _types: dict[str, Any] = {f.name: (int if f.kind == "int" else Any if f.kind in ("object", "array") else str)
              for f in v1_tables()[_kind].fields if f.name != "timeStaged"}
    if _kind == "projects":
        _types.update({c: list[dict[str, Any]] for c in _v1_fields("projects") if c not in _types})
    api.get(
        f"/v1/{_kind}",
        response=_list_response(f"V1{_kind.capitalize()}", _types),
        tags=["CAD Trust v1"],
        summary=f"List {_kind}",
    )(_v1_view(_kind))


@api.get("/v1/organizations", response={200: dict[str, dict[str, Any]]}, tags=["CAD Trust v1"])
def v1_organizations(request: HttpRequest) -> HttpResponse:
    """Organisations by orgUid: this registry (isHome) and the registries records were imported from."""
    viewer(request)
    return _json(selectors.organizations())


@api.get("/v1/governance/meta/pickList", response={200: dict[str, list[str]]}, tags=["CAD Trust v1"])
def v1_picklist(request: HttpRequest) -> HttpResponse:
    """The v1 picklists (CAD Trust's v1 governance names)."""
    viewer(request)
    from tonne.projects import picklists

    return _json(picklists.picklists("1"))


@api.get("/v1/audit", response=_list_response("V1Audit", AUDIT_FIELDS), tags=["CAD Trust v1"])
def v1_audit(request: HttpRequest, query: Query[AuditQuery]) -> HttpResponse:
    """This registry's change history (from its ledger), in CAD Trust's audit shape; other orgUids have none here."""
    return _audit(request, query)
