"""A CAD Trust-compatible read API under /cadt/: CAD Trust's paths, query
parameters and their validation (tonne.cadt.params), answers ({page,
pageCount, data} with `page`, the plain list without), errors (400
{message, errors, success: false}) and headers (tonne.cadt.middleware), so
that a CAD Trust client can read this registry unchanged.

Served by its own NinjaAPI (OpenAPI at /cadt/openapi.json, docs at /cadt/docs)."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from ninja import Field, NinjaAPI, Query, Schema
from ninja.errors import ValidationError as NinjaValidationError
from ninja.openapi.docs import Swagger
from pydantic import create_model

from tonne.cadt import (
    derived,
    exports,
    formats,
    meta,
    params,
    projection,
    reads,
    rowquery,
    selectors,
)
from tonne.cadt.models import CadtRow
from tonne.cadt.schema import V1, V2, V2_SHEETS, v1_columns, v2_tables
from tonne.core import clock
from tonne.core.errors import NotFound, RegistryError
from tonne.organisations.api_auth import viewer

logger = logging.getLogger(__name__)

class CadtAPI(NinjaAPI):
    """The /cadt/ API: every error in CAD Trust's shape, unknown paths included."""

    def _get_urls(self) -> list[Any]:
        from django.urls import re_path

        patterns = super()._get_urls()
        for pattern in patterns:
            callback = getattr(pattern, "callback", None)
            if callback is not None:
                pattern.callback = _read_only(callback)
        patterns.append(re_path(r"^.*$", _unknown_path, name="unknown-path"))
        return patterns


def _read_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """CAD Trust's write methods on a read path: 405 in CAD Trust's error shape."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            out = _error(405, f"{request.method} is not served: this CAD Trust node is read-only.")
            out["Allow"] = response["Allow"]
            return out
        return response

    return wrapper


def _unknown_path(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return _error(404, f"Cannot {request.method} {request.path}")


api = CadtAPI(
    title="Tonne CAD Trust-compatible API",
    version="2.0.2",
    description=(
        "Read this registry as a CAD Trust node: the same paths, query parameters, headers, errors and field "
        "names as CAD Trust (v1, and v2.0.2). v1 follows CAD Trust's validation: `page` and `limit` are required "
        "on lists (except with `warehouseProjectId`, `projectIds`, `warehouseUnitId`, `onlyTokenizedUnits` or "
        "`xls`), unknown parameters are refused, errors are 400 `{message, errors, success: false}`. `filter` is "
        "`field:value:op` (op: in, eq, not, lt, gt, lte, gte, like), `order` is `field:ASC|DESC` (default "
        "newest `timeStaged` first), `search` is CAD Trust's full-text search, `xls=true` an Excel file. "
        "`orgUid=all` is every organisation. Records imported from other registries carry their own orgUid. "
        "Read-only: CAD Trust's write endpoints are not served."
    ),
    urls_namespace="cadt",
    docs=Swagger(),
)


def _error(status: int, message: str, errors: list[str] | None = None, error: str | None = None) -> HttpResponse:
    body: dict[str, Any] = {"message": message}
    if errors is not None:
        body["errors"] = errors
    if error is not None:
        body["error"] = error
    body["success"] = False
    return HttpResponse(json.dumps(body), status=status, content_type="application/json")


def _params_invalid(request: HttpRequest, exc: params.ParamsInvalid) -> HttpResponse:
    return _error(400, "Data Validation error", exc.errors)


def _query_failed(request: HttpRequest, exc: reads.QueryFailed) -> HttpResponse:
    return _error(400, exc.message, error=exc.error)


def _registry_error(request: HttpRequest, exc: RegistryError) -> HttpResponse:
    return _error(exc.status, exc.message, [exc.code])


def _ninja_invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    return _error(400, "Data Validation error", [str(e.get("msg", e)) for e in exc.errors])


def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("unexpected error in %s %s", request.method, request.path, exc_info=exc)
    return _error(500, "The registry could not complete the request; nothing was changed.")


for _exc, _handler in (
    (params.ParamsInvalid, _params_invalid),
    (reads.QueryFailed, _query_failed),
    (RegistryError, _registry_error),
    (NinjaValidationError, _ninja_invalid),
    (Exception, _unexpected),
):
    api.add_exception_handler(_exc, _handler)  # type: ignore[arg-type]


def _query(request: HttpRequest, rules: params.Rules) -> dict[str, Any]:
    return params.validate(dict(request.GET.lists()), rules)


class CadtQuery(Schema):
    """For the documentation: the parameters are checked by CAD Trust's rules (tonne.cadt.params)."""

    page: str | None = Field(None, description="page number; with it the answer is {page, pageCount, data}")
    limit: str | None = Field(None, description="page size, 1 to 1000")
    search: str | None = Field(None, description="CAD Trust full-text search (tokens, the last one as a prefix)")
    orgUid: str | None = Field(None, description="only records of this CAD Trust organisation; `all` every one")
    filter: str | None = Field(None, description="field:value:op")
    order: str | None = Field(None, description="field:ASC or field:DESC")
    columns: list[str] | None = Field(None, description="fields to return (repeat the parameter)")
    xls: str | None = Field(None, description="true: answer an Excel workbook in CAD Trust's layout")


def _columns(query: dict[str, Any]) -> list[str] | None:
    """v2 columns: repeated, or comma-separated (Tonne's v2 always took both)."""
    if not query.get("columns"):
        return None
    return [c.strip() for item in query["columns"] for c in item.split(",") if c.strip()]


def _xls(rows: list[dict[str, Any]], columns: tuple[str, ...], sheet: str) -> HttpResponse:
    body = formats.to_xlsx([(sheet, columns, [[formats._cell(r.get(c)) for c in columns] for r in rows])], for_people=True)
    response = HttpResponse(body, content_type=selectors.CONTENT_TYPES["xlsx"])
    response["Content-Disposition"] = f'attachment; filename="{sheet}.xlsx"'
    return response


def _v2_key(table: str) -> str:
    return v2_tables()[table].key if table in v2_tables() else derived.key(table)


def _v2_names(table: str) -> tuple[str, ...]:
    return v2_tables()[table].names if table in v2_tables() else derived.fields(table)


def _v2_table(table: str) -> rowquery.Table:
    return rowquery.Table(version=V2, table=table, what=_SHEET_OF.get(table, table), fields=_v2_names(table))


def _current(table: str) -> str:
    """The projection brought up to the ledger (the AEF tables too when they are read)."""
    return projection.refresh_aef() if table in derived.AEF_TABLES else projection.catch_up()


def _listed(table: rowquery.Table, q: dict[str, Any], *, key: str, columns: tuple[str, ...],
            chosen: list[str] | None) -> rowquery.Page:
    """A list answer from the projection: the page (or every row), with CAD Trust's column choice."""
    cursor = _current(table.table)
    home = selectors.mapping.home_org_uid()
    found = rowquery.page(rowquery.select(table, q, home=home), q, cursor, table=table, home=home)
    if not chosen:
        return found
    rows = [json.loads(r) for r in found.rows]
    chosen_rows = [json.dumps(r, ensure_ascii=False) for r in reads.choose_columns(rows, chosen, columns, key)]
    return rowquery.Page(chosen_rows, found.page, found.page_count)


def _json(data: Any) -> HttpResponse:
    if isinstance(data, rowquery.Page):  # stored JSON, sent as it is
        return HttpResponse(data.json(), content_type="application/json")
    return HttpResponse(json.dumps(data, ensure_ascii=False), content_type="application/json")


def _stored(text: str | None) -> HttpResponse:
    return HttpResponse(text if text is not None else "null", content_type="application/json")


_TYPES: dict[str, Any] = {"list": list[str], "year": int, "decimal": float, "int": int}


def _model(name: str, fields: dict[str, Any]) -> Any:
    return create_model(name, **{f: (t | None, None) for f, t in fields.items()})  # type: ignore[call-overload]


def _list_response(name: str, fields: dict[str, Any]) -> dict[int, Any]:
    row = _model(name, fields)
    page = create_model(f"{name}Page", page=(int, ...), pageCount=(int, ...), data=(list[row], ...))  # type: ignore[valid-type]
    return {200: page | list[row], 400: CadtErrorOut}  # type: ignore[valid-type]


class CadtErrorOut(Schema):
    message: str
    errors: list[str] | None = None
    error: str | None = None
    success: bool


@api.get("/health", response={200: dict[str, str]}, tags=["CAD Trust"])
def health(request: HttpRequest) -> HttpResponse:
    """CAD Trust's connection test: {message: "OK", timestamp}."""
    return _json({"message": "OK", "timestamp": clock.now().isoformat().replace("+00:00", "Z")})


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
    key = _v2_key(table)

    def view(request: HttpRequest, query: Query[CadtQuery]) -> HttpResponse:
        viewer(request)
        q = _query(request, params.V2_LIST)
        chosen = _columns(q)
        names = _v2_names(table)
        if q.get("xls"):
            q.pop("page", None)
            rows = _listed(_v2_table(table), q, key=key, columns=names, chosen=None).parsed()
            columns = tuple(c for c in (chosen or names) if c in names) or (key,)
            return _xls(rows, columns, _SHEET_OF.get(table, table))
        return _json(_listed(_v2_table(table), q, key=key, columns=names, chosen=chosen))

    view.__name__ = f"v2_{table}"
    view.__doc__ = f"CAD Trust v2.0.2 `{table}` records (CAD Trust field names)."
    return view


def _v2_one_view(table: str) -> Callable[..., HttpResponse]:
    key = _v2_key(table)

    def view(request: HttpRequest, id: str) -> HttpResponse:
        viewer(request)
        _current(table)
        found = CadtRow.objects.filter(version=V2, table=table, key=id).values_list("data", flat=True).first()
        if found is not None:
            return _stored(found)
        raise NotFound("CADT_RECORD_NOT_FOUND", f"No {table} with {key} {id}.", details={"record": f"{table} {id}"})

    view.__name__ = f"v2_{table}_one"
    view.__doc__ = f"One CAD Trust v2 `{table}` record by its {key}."
    return view


V2_PATHS.update({path: table for table, (path, _, _) in derived.TABLES.items()})


def _v2_types(table: str) -> dict[str, Any]:
    if table in v2_tables():
        return {f.name: _TYPES.get(f.kind, str) for f in v2_tables()[table].fields}
    return dict.fromkeys(derived.fields(table), Any)


for _path, _table in V2_PATHS.items():
    api.get(f"/v2/{_path}/{{id}}", response={200: dict[str, Any], 404: CadtErrorOut}, tags=["CAD Trust v2"],
            summary=f"One {_table} record")(_v2_one_view(_table))
    api.get(
        f"/v2/{_path}",
        response=_list_response(
            "V2" + "".join(p.capitalize() for p in _table.split("_")),
            _v2_types(_table),
        ),
        tags=["CAD Trust v2"],
        summary=f"List {_table} records",
    )(_v2_view(_table))


@api.get("/v2/organizations", response={200: dict[str, dict[str, Any]]}, tags=["CAD Trust v2"])
def v2_organizations(request: HttpRequest) -> HttpResponse:
    """Organisations: this registry (isHome) and the registries records were imported from, by orgUid."""
    viewer(request)
    return _json(meta.organizations())


@api.get("/v2/governance/picklist", response={200: dict[str, list[str]]}, tags=["CAD Trust v2"])
def v2_picklist(request: HttpRequest) -> HttpResponse:
    """The v2.0.2 picklists this registry enforces, under CAD Trust's v2 names."""
    viewer(request)
    return _json(selectors.v2_picklists())


class AuditQuery(Schema):
    orgUid: str | None = Field(None, description="the organisation whose history to read (required)")
    page: str | None = Field(None, description="required")
    limit: str | None = Field(None, description="required")
    order: str | None = Field(None, description="ASC or DESC (default DESC: newest first)")


AUDIT_FIELDS = {
    "id": int, "orgUid": str, "registryId": str, "rootHash": str, "type": str, "table": str, "change": str,
    "onchainConfirmationTimeStamp": str, "author": str, "comment": str, "generation": int, "createdAt": str,
    "updatedAt": str,
}


def _audit(request: HttpRequest) -> HttpResponse:
    viewer(request)
    q = _query(request, params.AUDIT)
    size = max(int(q["limit"]), 1)  # AUDIT requires page and limit
    page = max(int(q["page"]), 1)
    rows, total = selectors.audit(q["orgUid"], offset=(page - 1) * size, limit=size,
                                  newest_first=q.get("order", "DESC") == "DESC")
    return _json({"page": q["page"], "pageCount": -(-total // size), "data": rows})


@api.get("/v2/audit", response=_list_response("V2Audit", AUDIT_FIELDS), tags=["CAD Trust v2"])
def v2_audit(request: HttpRequest, query: Query[AuditQuery]) -> HttpResponse:
    """This registry's change history (from its ledger), in CAD Trust's audit shape."""
    return _audit(request)


# -- v1 ---------------------------------------------------------------------------------

V1_KEYS = {"projects": "warehouseProjectId", "units": "warehouseUnitId", "issuances": "id", "labels": "id"}


def _v1_fields(kind: str) -> tuple[str, ...]:
    names = v1_columns(kind)
    if kind == "projects":
        return (*names, "timeStaged", "projectLocations", "labels", "issuances", "coBenefits", "relatedProjects",
                "projectRatings", "estimations")
    if kind == "units":
        return (*names, "timeStaged", "issuance", "labels")
    return (*names, "timeStaged")


def _v1_table(kind: str) -> rowquery.Table:
    fields = tuple(f for f in _v1_fields(kind) if f in v1_columns(kind) or f == "timeStaged")
    return rowquery.Table(version=V1, table=kind, what=kind, fields=fields)


def _marketplace_projects() -> set[str]:
    """CAD Trust's getTokenizedProjectIds: projects with a unit carrying a marketplace identifier."""
    units = CadtRow.objects.filter(version=V1, table="units", marketplace_id__isnull=False).exclude(marketplace_id="")
    return {str(p) for p in units.values_list("parent", flat=True).distinct() if p is not None}


class V1ProjectsQuery(CadtQuery):
    warehouseProjectId: str | None = Field(None, description="answer this one project (or null)")
    projectIds: list[str] | None = Field(None, description="only these projects (repeat the parameter)")
    onlyMarketplaceProjects: str | None = Field(None, description="only projects with tokenized units")


class V1UnitsQuery(CadtQuery):
    warehouseUnitId: str | None = Field(None, description="answer this one unit (or null)")
    marketplaceIdentifiers: list[str] | None = Field(None, description="only units with these identifiers")
    hasMarketplaceIdentifier: str | None = Field(None, description="true or false")
    onlyTokenizedUnits: str | None = Field(None, description="true or false")
    includeProjectInfoInSearch: str | None = Field(None, description="search the units' projects too")


def _v1_list(request: HttpRequest, kind: str, rules: params.Rules) -> HttpResponse:
    viewer(request)
    q = _query(request, rules)
    projection.catch_up()
    one = q.get("warehouseProjectId") if kind == "projects" else q.get("warehouseUnitId")
    if one:  # CAD Trust answers the one record, or null
        return _stored(CadtRow.objects.filter(version=V1, table=kind, key=one).values_list("data", flat=True).first())
    if kind == "projects" and q.get("onlyMarketplaceProjects"):
        marketplace = _marketplace_projects()
        q["projectIds"] = sorted(marketplace & set(q["projectIds"]) if "projectIds" in q else marketplace)
    fields = _v1_fields(kind)
    columns = params.PROJECT_COLUMNS if kind == "projects" else fields
    allowed = tuple(c for c in fields if c in columns)
    if q.get("xls"):
        q.pop("page", None)
        rows = _listed(_v1_table(kind), q, key=V1_KEYS[kind], columns=allowed, chosen=None).parsed()
        return exports.v1_xls_response(kind, rows)
    return _json(_listed(_v1_table(kind), q, key=V1_KEYS[kind], columns=allowed, chosen=q.get("columns")))


@api.get("/v1/projects", response=_list_response("V1Projects", {}), tags=["CAD Trust v1"], summary="List projects")
def v1_projects(request: HttpRequest, query: Query[V1ProjectsQuery]) -> HttpResponse:
    """CAD Trust v1 projects with their child records, newest timeStaged first."""
    return _v1_list(request, "projects", params.V1_PROJECTS)


@api.get("/v1/units", response=_list_response("V1Units", {}), tags=["CAD Trust v1"], summary="List units")
def v1_units(request: HttpRequest, query: Query[V1UnitsQuery]) -> HttpResponse:
    """CAD Trust v1 units with their issuance and labels, newest timeStaged first."""
    return _v1_list(request, "units", params.V1_UNITS)


def _home_children(kind: str) -> HttpResponse:
    projection.catch_up()
    rows = CadtRow.objects.filter(version=V1, table=kind, org_uid=selectors.mapping.home_org_uid())
    return _json(rowquery.Page(list(rows.order_by("-time_staged", "key").values_list("data", flat=True))))


@api.get("/v1/issuances", response={200: list[dict[str, Any]]}, tags=["CAD Trust v1"])
def v1_issuances(request: HttpRequest) -> HttpResponse:
    """The home organisation's issuances (CAD Trust's route takes no parameters)."""
    viewer(request)
    return _home_children("issuances")


@api.get("/v1/labels", response={200: list[dict[str, Any]]}, tags=["CAD Trust v1"])
def v1_labels(request: HttpRequest) -> HttpResponse:
    """The home organisation's labels (CAD Trust's route takes no parameters)."""
    viewer(request)
    return _home_children("labels")


@api.get("/v1/audit", response=_list_response("V1Audit", AUDIT_FIELDS), tags=["CAD Trust v1"])
def v1_audit(request: HttpRequest, query: Query[AuditQuery]) -> HttpResponse:
    """An organisation's change history (this registry's from its ledger), newest first; others have none here."""
    return _audit(request)


meta.install(api, viewer=viewer, json_response=_json, error=_error)
