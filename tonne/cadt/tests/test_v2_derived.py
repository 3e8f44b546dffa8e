"""CAD Trust v2 tables Tonne derives (tonne.cadt.derived), against CAD Trust's
develop line (src/routes/v2/index.js, src/controllers/v2/index.js and the
generic resource controller src/controllers/generic/resource.controller.js,
src/models/v2/*-v2.modeltypes.cjs): `/v2/stakeholder-projects`,
`/v2/aef-t1-submission` … `/v2/aef-t5-authorized-entities`, `/v2/activity`.
CAD Trust's findAll takes page, limit, orgUid (the envelope of
optionallyPaginatedResponse); findOne answers the record or 404."""

from __future__ import annotations

import pytest
from django.test import Client

from tonne.cadt import derived, mapping, projection
from tonne.cadt.tests.test_article6_mapping import authorised_registry

pytestmark = pytest.mark.django_db
PATHS = ["/cadt/v2/" + path for path, _, _ in derived.TABLES.values()]


def test_every_derived_table_answers_cadt_envelopes_and_refuses_what_cadt_refuses(cadt_reg):
    client = Client()
    for path in PATHS:
        listed = client.get(path)
        assert listed.status_code == 200, path
        assert isinstance(listed.json(), list)
        paged = client.get(path, {"page": 1, "limit": 5}).json()
        assert set(paged) == {"page", "pageCount", "data"} and paged["page"] == 1
        refused = client.get(path, {"pizza": 1})
        assert refused.status_code == 400 and refused.json()["success"] is False
        missing = client.get(path + "/no-such-record")
        assert missing.status_code == 404 and missing.json()["success"] is False
        assert client.post(path, {}).status_code == 405


def test_stakeholder_projects_link_each_stakeholder_to_its_project(cadt_reg):
    client = Client()
    stakeholders = mapping.v2_rows()["stakeholder"]
    assert stakeholders
    links = client.get("/cadt/v2/stakeholder-projects").json()
    assert {(r["cadTrustStakeholderId"], r["cadTrustProjectId"]) for r in links} == {
        (s["cadTrustStakeholderId"], s["cadTrustProjectId"]) for s in stakeholders}
    assert list(links[0]) == list(derived.TABLES["stakeholder_projects"][2])
    assert {r["orgUid"] for r in links} == {mapping.home_org_uid()}
    one = links[0]
    assert client.get(f"/cadt/v2/stakeholder-projects/{one['cadTrustStakeholderProjectId']}").json() == one
    mine = client.get("/cadt/v2/stakeholder-projects", {"orgUid": "me", "page": 1, "limit": 1}).json()
    assert mine["pageCount"] == len(links) and len(mine["data"]) == 1


def test_aef_tables_come_from_the_article6_report_and_follow_the_ledger():
    authorised_registry()
    client = Client()
    t1 = client.get("/cadt/v2/aef-t1-submission").json()
    assert t1 and all(r["aefT1SubmissionParty"] == "CI" for r in t1)
    t2 = client.get("/cadt/v2/aef-t2-authorizations").json()
    assert {r["aefT2AuthorizationsId"] for r in t2} == {"CI-A6-1", "CI-A6-2"}
    assert {r["cadTrustAefT1SubmissionId"] for r in t2} <= {r["cadTrustAefT1SubmissionId"] for r in t1}
    assert client.get("/cadt/v2/aef-t3-actions").json()  # the first transfer at issuance
    found = client.get("/cadt/v2/aef-t2-authorizations", {"filter": "aefT2AuthorizationsId:CI-A6-1:eq"}).json()
    assert [r["aefT2AuthorizationsId"] for r in found] == ["CI-A6-1"]
    assert client.get("/cadt/v2/activity").json() == []  # Tonne keeps no Article 6.4 activities
    assert not any(projection.drift().values())
