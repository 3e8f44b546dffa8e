"""The CAD Trust-compatible read API: CAD Trust's paths, parameters, shapes and field names."""

from __future__ import annotations

import io
import json

import pytest
from django.test import Client
from openpyxl import load_workbook

from tonne import testing
from tonne.cadt import exports, mapping, services
from tonne.cadt.schema import v1_columns, v2_tables
from tonne.cadt.tests.conftest import REFERENCE
from tonne.projects import picklists

pytestmark = pytest.mark.django_db
V2_PATHS = ["project", "unit", "issuance", "label", "program", "methodology", "stakeholder", "project-methodology",
            "validation", "verification", "location", "estimation", "rating", "co-benefit", "unit-label"]


def _get(client: Client, path: str, **params):
    response = client.get(f"/cadt{path}", params)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize("path", V2_PATHS)
def test_v2_resources_answer_cadt_field_names(cadt_reg: testing.Registry, client: Client, path: str) -> None:
    table = path.replace("-", "_")
    rows = _get(client, f"/v2/{path}")
    assert isinstance(rows, list) and rows
    assert all(list(r) == list(v2_tables()[table].names) for r in rows)
    paged = _get(client, f"/v2/{path}", page=1, limit=1)
    assert set(paged) == {"page", "pageCount", "data"}
    assert paged["page"] == 1 and paged["pageCount"] == len(rows) and len(paged["data"]) == 1


def test_v2_unit_query_parameters(cadt_reg: testing.Registry, client: Client) -> None:
    units = _get(client, "/v2/unit")
    retired = _get(client, "/v2/unit", filter="unitStatus:Retired:eq")
    assert retired and all(u["unitStatus"] == "Retired" for u in retired)
    assert len(_get(client, "/v2/unit", filter='unitStatus:["Retired","Buffer"]:in')) == len(
        [u for u in units if u["unitStatus"] in ("Retired", "Buffer")]
    )
    big = _get(client, "/v2/unit", filter="unitCount:100:gt")
    assert big and all(u["unitCount"] > 100 for u in big)
    ordered = _get(client, "/v2/unit", order="unitCount:DESC")
    assert [u["unitCount"] for u in ordered] == sorted((u["unitCount"] for u in units), reverse=True)
    slim = _get(client, "/v2/unit", columns="cadTrustUnitId,unitStatus")
    assert all(set(u) == {"cadTrustUnitId", "unitStatus"} for u in slim)
    assert _get(client, "/v2/unit", columns=["unitCount", "nonsense"])[0].keys() == {"unitCount"}
    found = _get(client, "/v2/unit", search="acme airlines")
    assert found and all(u["unitRetirementBeneficiary"] == "Acme Airlines" for u in found)
    assert _get(client, "/v2/unit", orgUid="f" * 64) == []
    assert len(_get(client, "/v2/unit", orgUid=mapping.home_org_uid())) == len(units)
    assert len(_get(client, "/v2/unit", orgUid="me")) == len(units)
    like = _get(client, "/v2/project", filter="projectName:lagoon%:like")
    assert len(like) == 1


def test_bad_query_parameters_are_cadt_400s(cadt_reg: testing.Registry, client: Client) -> None:
    for params, message in (({"filter": "nonsense"}, "Data Validation error"),
                            ({"filter": "pizza:1:eq"}, "Error retrieving units"),
                            ({"order": "unitCount:SIDEWAYS"}, "Data Validation error"),
                            ({"page": 0}, "Data Validation error"), ({"limit": 100000}, "Data Validation error")):
        response = client.get("/cadt/v2/unit", params)
        assert response.status_code == 400 and response.json()["message"] == message, params
        assert response.json()["success"] is False
    assert client.get("/cadt/v2/nothing").status_code == 404


def test_xls_answers_a_workbook(cadt_reg: testing.Registry, client: Client) -> None:
    response = client.get("/cadt/v2/unit", {"xls": "true"})
    assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.openxml")
    sheet = load_workbook(io.BytesIO(response.content))["units"]
    assert [c.value for c in sheet[1]][:2] == ["cadTrustUnitId", "orgUid"]
    assert sheet.max_row == len(_get(client, "/v2/unit")) + 1


def test_v1_resources(cadt_reg: testing.Registry, client: Client) -> None:
    projects = _get(client, "/v1/projects", page=1, limit=100)["data"]
    assert projects[0]["projectName"] == cadt_reg.extra["project"].name
    assert set(v1_columns("projects")) <= set(projects[0])
    assert projects[0]["projectLocations"][0]["country"] == "Cote d'Ivoire"
    units = _get(client, "/v1/units", page=1, limit=2)
    assert units["page"] == 1 and len(units["data"]) == 2
    assert units["data"][0]["issuance"]["id"] == units["data"][0]["issuanceId"]
    issuances = _get(client, "/v1/issuances")
    assert len(issuances) == 2 and {"startDate", "verificationBody"} <= set(issuances[0])
    assert _get(client, "/v1/labels")[0]["label"] == "CORSIA eligible"
    held = _get(client, "/v1/units", filter="unitStatus:Held:eq", page=1, limit=100)["data"]
    assert held and all(u["unitStatus"] == "Held" for u in held)


def test_organizations_picklists_and_audit(cadt_reg: testing.Registry, client: Client) -> None:
    services.import_file(actor=cadt_reg.admin, content=(REFERENCE / "new-project.json").read_bytes())
    orgs = _get(client, "/v1/organizations")
    home = mapping.home_org_uid()
    assert orgs[home]["isHome"] is True and len(home) == 64
    assert _get(client, "/v2/organizations") == orgs
    assert _get(client, "/v1/governance/meta/pickList")["unitStatus"] == picklists.allowed("unitStatus", "1")
    assert _get(client, "/v2/governance/picklist")["unitStatus"] == picklists.allowed("unit_status")
    audit = _get(client, "/v1/audit", orgUid=home, page=1, limit=1000, order="ASC")["data"]
    assert audit and {"rootHash", "table", "change", "generation", "onchainConfirmationTimeStamp"} <= set(audit[0])
    assert audit[-1]["comment"] == "cadt.imported"
    assert _get(client, "/v1/audit", orgUid="0" * 64, page=1, limit=10)["data"] == []
    assert _get(client, "/v2/audit", orgUid=home, page=1, limit=5)["pageCount"] == -(-len(audit) // 5)
    # The imported project is listed under its own (v1) resource.
    titles = [p["projectName"] for p in _get(client, "/v1/projects", page=1, limit=100)["data"]]
    assert json.loads((REFERENCE / "new-project.json").read_text())["projectName"] in titles


def test_openapi_documents_the_cadt_paths(client: Client) -> None:
    doc = client.get("/cadt/openapi.json").json()
    paths = doc["paths"]
    for path in ["/cadt/v1/projects", "/cadt/v1/units", "/cadt/v1/issuances", "/cadt/v1/labels",
                 "/cadt/v1/organizations", "/cadt/v1/governance/meta/pickList", "/cadt/v1/audit",
                 *[f"/cadt/v2/{p}" for p in V2_PATHS], "/cadt/v2/organizations", "/cadt/v2/governance/picklist"]:
        assert "get" in paths[path], path
    params = {p["name"] for p in paths["/cadt/v2/unit"]["get"]["parameters"]}
    assert {"page", "limit", "search", "orgUid", "filter", "order", "columns", "xls"} <= params
    schemas = doc["components"]["schemas"]
    assert "unitSerialId" in schemas["V2Unit"]["properties"]


def test_cadt_openapi_has_unique_operation_ids_and_local_docs(client: Client) -> None:
    doc = client.get("/cadt/openapi.json").json()
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)) and all(ids)
    docs = client.get("/cadt/docs")
    assert docs.status_code == 200 and b"cdn." not in docs.content


def test_one_record_by_id(cadt_reg: testing.Registry, client: Client) -> None:
    project = _get(client, "/v2/project")[0]
    assert _get(client, f"/v2/project/{project['cadTrustProjectId']}") == project
    missing = client.get("/cadt/v2/project/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and missing.json()["errors"] == ["CADT_RECORD_NOT_FOUND"]
    v1 = _get(client, "/v1/projects", page=1, limit=1)["data"][0]
    assert _get(client, "/v1/projects", warehouseProjectId=v1["warehouseProjectId"]) == v1
    assert _get(client, "/v1/projects", warehouseProjectId="nothing") is None
    unit = _get(client, "/v1/units", page=1, limit=1)["data"][0]
    assert _get(client, "/v1/units", warehouseUnitId=unit["warehouseUnitId"])["unitBlockStart"] == unit["unitBlockStart"]


def test_v1_xls_is_cadt_import_layout(cadt_reg: testing.Registry, client: Client) -> None:
    """One sheet per table, as CAD Trust writes and takes back; children on their own sheets."""
    for kind, sheets in exports.SHEETS.items():
        response = client.get(f"/cadt/v1/{kind}", {"xls": "true"})
        assert response.status_code == 200, kind
        book = load_workbook(io.BytesIO(response.content))
        assert tuple(book.sheetnames) == sheets
        header = [c.value for c in book[kind][1]]
        assert header == list(v1_columns(kind))
        assert book[kind].max_row == 1 + len(_get(client, f"/v1/{kind}", page=1, limit=1000)["data"])
    issuances = load_workbook(io.BytesIO(client.get("/cadt/v1/units", {"xls": "true"}).content))["issuances"]
    assert issuances.max_row == 3  # the two issuances, once each
