"""Article 6 over HTTP: public reads, administrator-only proposals approved
by a second administrator, uses, the AEF report; denials included."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from tonne import testing
from tonne.access.testing import stepped_up
from tonne.article6.tests.conftest import T0, key
from tonne.core import clock
from tonne.core.tests.test_api_core import assert_problem, get, post

pytestmark = pytest.mark.django_db


def body(world) -> dict:
    data = world.terms()
    return data


def test_authorisation_over_http(world):
    admin = stepped_up(world.reg.admin)
    response = post(admin, "/article6/authorisations", body(world))
    assert response.status_code == 202, response.content
    approval = response.json()
    assert approval["action"] == "article6_authorise" and approval["status"] == "pending"
    assert get(Client(), "/article6/authorisations").json() == []
    # The proposer cannot approve; the second administrator can.
    assert_problem(post(admin, f"/approvals/{approval['uid']}/approve", {"request_hash": approval["request_hash"]}),
                   403, "SELF_APPROVAL_NOT_ALLOWED")
    second = stepped_up(world.approver)
    ok = post(second, f"/approvals/{approval['uid']}/approve", {"request_hash": approval["request_hash"]})
    assert ok.status_code == 200, ok.content
    public = get(Client(), "/article6/authorisations/CI-A6-2026-001")
    assert public.status_code == 200
    data = public.json()
    assert data["versions"][0]["purposes"] == "NDC" and data["units"]["attached"] == 0
    assert_problem(get(Client(), "/article6/authorisations/nope"), 404, "AUTHORISATION_NOT_FOUND")
    # Revocation proposals too go through a second administrator.
    rev = post(admin, "/article6/authorisations/CI-A6-2026-001/revocation", {"reason": "Withdrawn"})
    assert rev.status_code == 202 and rev.json()["action"] == "article6_revoke"


def test_denials(world):
    dev = stepped_up(world.reg.developer)
    assert_problem(post(dev, "/article6/authorisations", body(world)), 403, "NOT_REGISTRY_ADMINISTRATOR")
    assert post(Client(), "/article6/authorisations", body(world)).status_code == 401
    admin = stepped_up(world.reg.admin)
    assert_problem(post(admin, "/article6/authorisations", {**body(world), "purposes": ["nope"]}), 422, "PURPOSES_INVALID")
    assert_problem(get(dev, "/article6/aef", year=2026), 403, "NOT_REGISTRY_ADMINISTRATOR")


def test_serials_uses_and_aef_over_http(world):
    world.authorise(quantity=100, first_transfer_definition="use_or_cancellation")
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(world.reg, world.project, {2024: 300})
    s = issuance.serial_start
    seg = get(Client(), f"/article6/serials/{s}-{s + 299}").json()["segments"]
    assert [(x["label"], x["quantity"]) for x in seg] == [("authorised", 100), ("mitigation_contribution", 200)]
    block_id = issuance.blocks.get().pk
    assert get(Client(), f"/article6/blocks/{block_id}").json()["segments"][0]["itmo_id"].startswith("CI-CH-2024:")
    assert_problem(get(Client(), "/article6/blocks/999999"), 404, "BLOCK_NOT_FOUND")
    dev = stepped_up(world.reg.developer)
    use = {"from_account": world.reg.developer_account.identifier, "ranges": [{"start": s, "end": s + 9}],
           "use": "ndc", "using_party": "CH"}
    assert_problem(post(dev, "/article6/uses", use), 422, "IDEMPOTENCY_KEY_REQUIRED")
    k = key()
    done = post(dev, "/article6/uses", use, headers={"Idempotency-Key": k})
    assert done.status_code == 201, done.content
    assert post(dev, "/article6/uses", use, headers={"Idempotency-Key": k}).status_code == 200  # a retry
    seg = get(Client(), f"/article6/serials/{s}").json()["segments"][0]
    assert seg["first_transferred"] and seg["corresponding_adjustment"]["status"] == "applied"
    admin = stepped_up(world.reg.admin)
    report = get(admin, "/article6/aef", year=2026)
    assert report.status_code == 200
    assert [a["type"] for a in report.json()["tables"]["actions"]] == ["Authorization", "First Transfer", "Use"]
    xlsx = get(admin, "/article6/aef", year=2026, format="xlsx")
    assert xlsx.status_code == 200 and xlsx["Content-Disposition"].endswith('aef-2026.xlsx"')
    assert_problem(get(admin, "/article6/aef", year=2026, format="pdf"), 422, "FORMAT_INVALID")


def test_international_transfer_over_http(world):
    world.authorise(quantity=100)
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(world.reg, world.project, {2024: 300})
    s = issuance.serial_start
    dev = stepped_up(world.reg.developer)
    export = {"from_account": world.reg.developer_account.identifier, "ranges": [{"start": s, "end": s + 9}],
              "destination_party": "CH", "destination_registry": "CH-TONNE", "destination_account": "CH-100-1"}
    other = stepped_up(world.reg.other_developer)
    assert_problem(post(other, "/article6/exports", export, headers={"Idempotency-Key": key()}), 403,
                   "ACCOUNT_NOT_OPERATED_BY_USER")
    bad = {**export, "ranges": [{"start": s + 150, "end": s + 150}]}
    assert_problem(post(dev, "/article6/exports", bad, headers={"Idempotency-Key": key()}), 422, "UNITS_NOT_AUTHORISED")
    done = post(dev, "/article6/exports", export, headers={"Idempotency-Key": key()})
    assert done.status_code == 201, done.content
    sent = done.json()
    assert sent["quantity"] == 10 and sent["signed_file"].startswith('{"blocks":')
    admin = stepped_up(world.reg.admin)
    assert_problem(post(dev, "/article6/imports", {"signed_file": sent["signed_file"], "verifier_key": "x"}), 403,
                   "NOT_REGISTRY_ADMINISTRATOR")
    assert_problem(post(admin, "/article6/imports", {"signed_file": sent["signed_file"], "verifier_key": "x"}), 422,
                   "PARTNER_KEY_UNKNOWN")
