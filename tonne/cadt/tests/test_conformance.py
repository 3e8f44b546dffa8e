"""CAD Trust conformance: the requests CAD Trust's own code defines, sent to
Tonne's /cadt/, checked against CAD Trust's behaviour.

Built from CAD Trust's source, Chia-Network/cadt, branch `develop` at
171e6d636265c248a5893a0e9efad50dd2e4f12e (package version 1.7.24, 2025-09-10):
src/middleware.js (headers, CORS, /health, the Joi error shape),
src/validations/{projects,units,audit,staging}.validations.js (parameters),
src/controllers/{project,units,audit,issuance,label,governance,organization}.controller.js
(default order timeStaged DESC, orgUid=all, the special filters, legacy order),
src/database/index.js sanitizeSqliteFtsQuery and the *_fts migrations (search),
src/utils/helpers.js paginationParams/optionallyPaginatedResponse (paging).
That source has no v2 routes; the v2 tables Tonne derives (stakeholder-projects,
the AEF tables, activity) follow CAD Trust's v2 line: test_v2_derived.py.

The UI trace (data/cadt-ui-trace.json) lists the requests CAD Trust's UI,
Chia-Network/cadt-ui at 80ee1e7e858c1e3f50598d70448893307d09830b, sends
(src/renderer/api/cadt/v1/*/*.api.ts), as a browser on another origin sends them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client, override_settings

from tonne import testing
from tonne.cadt import mapping
from tonne.cadt.tests.conftest import REFERENCE

pytestmark = pytest.mark.django_db
NODE_HEADERS = ("x-api-version", "cw-read-only", "x-datamodel-version", "x-governance-body", "x-data-synced",
                "x-sync-remaining", "x-wallet-synced")
INVALID = "Data Validation error"

# (path, parameters, status, what the answer's message/first error says)
VALIDATION = [
    ("/v1/projects", {}, 400, '"page" is required'),
    ("/v1/projects", {"page": 1}, 400, '"limit" is required'),
    ("/v1/projects", {"page": 1, "limit": 0}, 400, '"limit" must be greater than or equal to 1'),
    ("/v1/projects", {"page": 1, "limit": 1001}, 400, '"limit" must be less than or equal to 1000'),
    ("/v1/projects", {"page": "x", "limit": 5}, 400, '"page" must be a number'),
    ("/v1/projects", {"page": 1, "limit": 5, "pizza": 1}, 400, '"pizza" is not allowed'),
    ("/v1/projects", {"page": 1, "limit": 5, "columns": "nonsense"}, 400, '"columns[0]" must be one of'),
    ("/v1/projects", {"page": 1, "limit": 5, "order": "projectName"}, 400, "fails to match the required pattern"),
    ("/v1/projects", {"page": 1, "limit": 5, "filter": "projectName"}, 400, "fails to match the required pattern"),
    ("/v1/projects", {"page": 1, "limit": 5, "xls": "maybe"}, 400, '"xls" must be a boolean'),
    ("/v1/projects", {"page": 1, "limit": 5, "order": "pizza:ASC"}, 400, "Error retrieving projects"),
    ("/v1/projects", {"page": 1, "limit": 5, "filter": "pizza:1:eq"}, 400, "Error retrieving projects"),
    ("/v1/projects", {"projectIds": "x"}, 200, None),  # projectIds lifts the paging requirement
    ("/v1/units", {}, 400, '"page" is required'),
    ("/v1/units", {"page": 0, "limit": 5}, 400, '"page" must be greater than or equal to 1'),
    ("/v1/units", {"page": 1, "limit": 5, "order": "SERIALNUMBER"}, 200, None),
    ("/v1/units", {"page": 1, "limit": 5, "order": "ASC"}, 200, None),
    ("/v1/units", {"page": 1, "limit": 5, "order": "SIDEWAYS"}, 400, "fails to match the required pattern"),
    ("/v1/units", {"page": 1, "limit": 5, "filter": "x" * 101 + ":1:eq"}, 400, "less than or equal to 100 characters"),
    ("/v1/units", {"onlyTokenizedUnits": "true", "page": 1, "limit": 101}, 400, "less than or equal to 100"),
    ("/v1/units", {"onlyTokenizedUnits": "true", "page": 1}, 400, "without its required peers [limit]"),
    ("/v1/units", {"page": 1, "limit": 5, "pizza": 1}, 400, '"pizza" is not allowed'),
    ("/v1/audit", {"page": 1, "limit": 5}, 400, '"orgUid" is required'),
    ("/v1/audit", {"orgUid": "x"}, 400, '"page" is required'),
    ("/v1/audit", {"orgUid": "x", "page": 1, "limit": 5, "order": "UP"}, 400, '"order" must be one of [ASC, DESC]'),
    ("/v1/audit", {"orgUid": "x", "page": 1, "limit": 5, "search": "a"}, 400, '"search" is not allowed'),
    ("/v1/issuances", {"anything": "x"}, 200, None),  # CAD Trust's route has no schema
    ("/v2/unit", {"pizza": 1}, 400, '"pizza" is not allowed'),
]


@pytest.mark.parametrize(("path", "query", "status", "says"), VALIDATION)
def test_parameters_are_validated_as_cadt(cadt_reg: testing.Registry, client: Client, path: str, query: dict,
                                          status: int, says: str | None) -> None:
    response = client.get(f"/cadt{path}", query)
    assert response.status_code == status, response.content
    if status == 400:
        body = response.json()
        assert body["success"] is False and list(body)[0] == "message"
        text = " ".join([body["message"], *body.get("errors", [])])
        assert says in text, body
        assert response["Content-Type"] == "application/json"


def _page(client: Client, path: str, **query: Any) -> list[dict[str, Any]]:
    response = client.get(f"/cadt{path}", {"page": 1, "limit": 1000, **query})
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"page", "pageCount", "data"}
    return body["data"]


def test_every_answer_carries_cadt_node_headers(cadt_reg: testing.Registry, client: Client) -> None:
    for path in ("/cadt/health", "/cadt/v1/projects?page=1&limit=1", "/cadt/v1/projects", "/cadt/v2/unit"):
        response = client.get(path)
        assert all(h in response for h in NODE_HEADERS), path
        assert response["cw-read-only"] == "true" and response["Cache-Control"] == "no-store"
        assert response["x-data-synced"] == "true" and response["x-sync-remaining"] == "0"
    assert client.get("/cadt/v2/unit")["x-datamodel-version"] == "v2"
    assert client.get("/cadt/health").json()["message"] == "OK"


def test_sync_headers_follow_the_push_sync_cursors(cadt_reg: testing.Registry, client: Client) -> None:
    from tonne.cadt.models import SyncDestination
    from tonne.core import clock

    SyncDestination.objects.create(name="node", url="https://cadt.example.org", cursor=0, created_at=clock.now())
    response = client.get("/cadt/health")
    assert response["x-data-synced"] == "false" and int(response["x-sync-remaining"]) > 0


def test_cors_for_browsers_on_other_origins(client: Client) -> None:
    preflight = client.options("/cadt/v1/projects", HTTP_ORIGIN="http://localhost:5173",
                               HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
                               HTTP_ACCESS_CONTROL_REQUEST_HEADERS="x-api-key")
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "*"
    assert "GET" in preflight["Access-Control-Allow-Methods"] and "x-api-key" in preflight["Access-Control-Allow-Headers"]
    answer = client.get("/cadt/health", HTTP_ORIGIN="http://localhost:5173")
    assert answer["Access-Control-Allow-Origin"] == "*" and "cw-read-only" in answer["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Origin" not in client.get("/api/v1/", HTTP_ORIGIN="http://localhost:5173")
    with override_settings(TONNE_CADT_CORS_ORIGINS=frozenset({"https://ui.example.org"})):
        assert "Access-Control-Allow-Origin" not in client.get("/cadt/health", HTTP_ORIGIN="http://evil.example")
        mine = client.get("/cadt/health", HTTP_ORIGIN="https://ui.example.org")
        assert mine["Access-Control-Allow-Origin"] == "https://ui.example.org" and "Origin" in mine["Vary"]


def test_order_is_newest_time_staged_first(cadt_reg: testing.Registry, client: Client) -> None:
    units = _page(client, "/v1/units")
    staged = [u["timeStaged"] for u in units]
    assert all(isinstance(s, str) and s.isdigit() for s in staged)
    assert staged == sorted(staged, reverse=True)
    assert [u["timeStaged"] for u in _page(client, "/v1/units", order="ASC")] == sorted(staged)
    blocks = [u["serialNumberBlock"] for u in _page(client, "/v1/units", order="SERIALNUMBER")]
    assert blocks == sorted(blocks)
    project = _page(client, "/v1/projects")[0]
    assert project["timeStaged"] and all(c["timeStaged"] for c in project["projectLocations"])


def test_org_uid_all_and_the_home_organisation(cadt_reg: testing.Registry, client: Client) -> None:
    from tonne.cadt import services

    services.import_file(actor=cadt_reg.admin, content=(REFERENCE / "new-project.json").read_bytes())
    every = _page(client, "/v1/projects", orgUid="all")
    assert len(every) == 2 and len(_page(client, "/v1/projects")) == 2
    home = mapping.home_org_uid()
    assert [p["orgUid"] for p in _page(client, "/v1/projects", orgUid=home)] == [home]
    # Issuances and labels: the home organisation's only, as CAD Trust.
    assert {i["orgUid"] for i in client.get("/cadt/v1/issuances").json()} == {home}


def test_special_filters(cadt_reg: testing.Registry, client: Client) -> None:
    projects = _page(client, "/v1/projects")
    wanted = projects[0]["warehouseProjectId"]
    only = client.get("/cadt/v1/projects", {"projectIds": [wanted, "other"]}).json()
    assert [p["warehouseProjectId"] for p in only] == [wanted]
    assert _page(client, "/v1/projects", onlyMarketplaceProjects="true") == []  # no unit is tokenized here
    units = _page(client, "/v1/units")
    assert _page(client, "/v1/units", hasMarketplaceIdentifier="true") == []
    assert len(_page(client, "/v1/units", hasMarketplaceIdentifier="false")) == len(units)
    assert _page(client, "/v1/units", marketplaceIdentifiers="0xabc") == []
    assert len(client.get("/cadt/v1/units", {"onlyTokenizedUnits": "false"}).json()) == len(units)
    slim = _page(client, "/v1/units", columns=["unitStatus", "nonsense"])
    assert all(set(u) == {"unitStatus"} for u in slim)
    assert all(set(u) == {"warehouseUnitId"} for u in _page(client, "/v1/units", columns="nonsense"))
    picked = _page(client, "/v1/projects", columns=["projectName", "timeStaged"])
    assert set(picked[0]) == {"projectName", "timeStaged"}


def test_search_is_cadt_full_text(cadt_reg: testing.Registry, client: Client) -> None:
    name = cadt_reg.extra["project"].name  # "Lagoon mangrove restoration"
    assert len(_page(client, "/v1/projects", search="mangrove")) == 1
    assert len(_page(client, "/v1/projects", search="lagoon mangr")) == 1  # the last token is a prefix
    assert _page(client, "/v1/projects", search="grove") == []  # tokens, not substrings
    assert _page(client, "/v1/projects", search="mangr lagoon") == []  # only the last token is a prefix
    assert _page(client, "/v1/projects", search="Lagunes") == []  # child records are not searched
    assert _page(client, "/v1/projects", search="!!!") == []
    units = _page(client, "/v1/units")
    assert _page(client, "/v1/units", search="lagoon") == []
    with_projects = _page(client, "/v1/units", search="lagoon", includeProjectInfoInSearch="true")
    assert len(with_projects) == len(units) and name.startswith("Lagoon")


def test_audit_as_cadt(cadt_reg: testing.Registry, client: Client) -> None:
    home = mapping.home_org_uid()
    newest = _page(client, "/v1/audit", orgUid=home)
    oldest = _page(client, "/v1/audit", orgUid=home, order="ASC")
    assert newest == list(reversed(oldest)) and newest
    assert all(isinstance(a["onchainConfirmationTimeStamp"], str) for a in newest)


NODE_ENDPOINTS = [
    ("/v1/governance", list), ("/v1/governance/exists", dict), ("/v1/governance/meta/glossary", list),
    ("/v1/governance/meta/orgList", list), ("/v1/governance/meta/pickList", dict),
    ("/v1/audit/findConflicts", list), ("/v1/organizations/status", dict), ("/v1/staging", list),
    ("/v1/filestore/get_file_list", list), ("/v2/governance/glossary", list), ("/v2/governance/exists", dict),
    ("/v2/audit/conflicts", list),
]


@pytest.mark.parametrize(("path", "kind"), NODE_ENDPOINTS)
def test_node_endpoints(cadt_reg: testing.Registry, client: Client, path: str, kind: type) -> None:
    response = client.get(f"/cadt{path}")
    assert response.status_code == 200 and isinstance(response.json(), kind)


def test_organisation_state_fields(cadt_reg: testing.Registry, client: Client) -> None:
    from tonne.ledger.models import LedgerHead

    home = client.get("/cadt/v1/organizations").json()[mapping.home_org_uid()]
    assert home["orgHash"] == "0x" + LedgerHead.objects.get(pk=1).last_hash
    assert re.fullmatch(r"0x[0-9a-f]{64}", home["dataModelVersionStoreHash"])
    assert home["xchAddress"] is None and home["balance"] is None and home["sync_remaining"] == 0
    offer = client.get("/cadt/v1/offer")
    assert offer.status_code == 400 and offer.json()["success"] is False


def test_like_filter_builds_no_regular_expression(cadt_reg: testing.Registry, client: Client,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 13's ReDoS: `%` runs in a like filter once became `.*` runs in a regex."""
    compiled: list[str] = []
    original = re._compile  # type: ignore[attr-defined]

    def spy(pattern: Any, flags: Any) -> Any:
        compiled.append(str(pattern))
        return original(pattern, flags)

    monkeypatch.setattr(re, "_compile", spy)
    hostile = "%" * 5000 + "!"
    response = client.get("/cadt/v2/project", {"filter": f"projectName:{hostile}:like"})
    assert response.status_code == 200 and response.json() == []
    assert len(client.get("/cadt/v2/project", {"filter": "projectName:%" * 1 + "%%%gOOn%:like"}).json()) == 1
    assert len(client.get("/cadt/v2/project", {"filter": "projectName:L_goon%:like"}).json()) == 1
    assert not [p for p in compiled if "%%" in p or "!" in p]


def test_cadt_ui_trace_replays(cadt_reg: testing.Registry, client: Client) -> None:
    """The requests CAD Trust's UI sends when pointed at a node, as a browser on another origin."""
    trace = json.loads((REFERENCE / "cadt-ui-trace.json").read_text())
    home = mapping.home_org_uid()
    for step in trace["requests"]:
        query = {k: (v.replace("{home}", home) if isinstance(v, str) else v) for k, v in step["query"].items()}
        headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in step["headers"].items()}
        response = client.generic(step["method"], f"/cadt{step['path']}", **headers) if not query else (
            client.get(f"/cadt{step['path']}", query, **headers))
        assert response.status_code == step["status"], (step, response.content)
        assert response["Access-Control-Allow-Origin"] == "*", step
        if step["method"] == "GET":
            body = response.json()
            shape = step["shape"]
            if shape == "page":
                assert set(body) == {"page", "pageCount", "data"}, step
            elif shape == "health":
                assert body["message"] == "OK" and response["cw-read-only"] == "true"
            else:
                assert type(body).__name__ == shape, step


def test_writes_are_refused_in_cadt_shape(client: Client) -> None:
    for path in ("/cadt/v1/projects", "/cadt/v2/unit"):
        response = client.post(path, {}, content_type="application/json")
        assert response.status_code == 405 and response.json()["success"] is False


def test_cadt_is_rate_limited_like_the_api(client: Client) -> None:
    """Issue 13: /cadt/ was outside the rate limiter."""
    with override_settings(TONNE_API_RATE_PER_MINUTE=2):
        statuses = [client.get("/cadt/health").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
