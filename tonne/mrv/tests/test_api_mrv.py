"""Monitoring reports, verification and issuance over HTTP."""

from __future__ import annotations

from django.test import Client

from tonne import testing
from tonne.core.tests.test_api_core import assert_problem, bearer, get, post, state


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def accepted(registry, uid: str) -> None:
    response = post(logged_in(registry.vvb), f"/reports/{uid}/assignment",
                     {"decision": "accepted", "no_conflict_of_interest": True})
    assert response.status_code == 200 and response.json()["assignment"] == "accepted", response.content


def report_body(registry, project, **kw):
    body = {
        "project": project.project_id,
        "period_start": "2022-01-01",
        "period_end": "2022-12-31",
        "vintages": [{"vintage": 2022, "quantity": 1000}],
        "vvb": str(registry.vvb_org.uid),
    }
    body.update(kw)
    return body


def test_reports_scoped_and_refusals(registry) -> None:
    project = testing.registered_project(registry)
    dev = logged_in(registry.developer)
    response = post(dev, "/reports", report_body(registry, project))
    assert response.status_code == 201, response.content
    uid = response.json()["uid"]
    accepted(registry, uid)
    # Pending reports: developer, VVB and admin see it; the public and others don't.
    for user in (registry.developer, registry.vvb, registry.admin):
        assert get(logged_in(user), "/reports").json()["count"] == 1
    assert get(Client(), "/reports").json()["count"] == 0
    assert_problem(get(Client(), f"/reports/{uid}"), 404, "REPORT_NOT_FOUND")
    assert_problem(get(logged_in(registry.buyer), f"/reports/{uid}"), 404, "REPORT_NOT_FOUND")
    before = state()
    assert_problem(
        post(dev, "/reports", report_body(registry, project)), 422, "MONITORING_PERIOD_OVERLAP"
    )
    assert_problem(
        post(
            dev,
            "/reports",
            report_body(
                registry,
                project,
                period_start="2021-01-01",
                period_end="2021-06-30",
                vintages=[{"vintage": 2021, "quantity": -1}],
            ),
        ),
        422,
        "QUANTITY_NOT_POSITIVE",
    )
    assert_problem(
        post(logged_in(registry.other_developer), "/reports", report_body(registry, project)),
        403,
        "PROJECT_NOT_YOURS",
    )
    assert_problem(
        post(dev, f"/reports/{uid}/verify", {"verified": [{"vintage": 2022, "quantity": 10}]}),
        403,
        "NOT_ASSIGNED_VVB",
    )
    vvb = logged_in(registry.vvb)
    assert_problem(
        post(vvb, f"/reports/{uid}/verify", {"verified": [{"vintage": 2022, "quantity": 2000}]}),
        422,
        "VERIFIED_EXCEEDS_CLAIMED",
    )
    assert_problem(post(dev, f"/reports/{uid}/issuance"), 403, "NOT_REGISTRY_ADMINISTRATOR")
    assert_problem(
        post(logged_in(registry.admin), f"/reports/{uid}/issuance"), 422, "REPORT_NOT_VERIFIED"
    )
    assert state() == before


def test_verify_issue_and_public_view(registry) -> None:
    project = testing.registered_project(registry)
    dev = logged_in(registry.developer)
    uid = post(dev, "/reports", report_body(registry, project)).json()["uid"]
    accepted(registry, uid)
    vvb = logged_in(registry.vvb)
    response = post(
        vvb,
        f"/reports/{uid}/verify",
        {"verified": [{"vintage": 2022, "quantity": 900}], "verification_id": "VER-1"},
    )
    assert response.status_code == 200 and response.json()["status"] == "verified"
    # An administrator's trade token cannot approve issuance.
    assert_problem(
        post(Client(), f"/reports/{uid}/issuance", headers=bearer(registry.admin, "trade")),
        403,
        "TOKEN_SCOPE_INSUFFICIENT",
    )
    response = post(Client(), f"/reports/{uid}/issuance", headers=bearer(registry.admin, "admin"))
    assert response.status_code == 201, response.content
    assert response.json()[0]["quantity"] == 900
    assert_problem(
        post(logged_in(registry.admin), f"/reports/{uid}/issuance"), 422, "ISSUANCE_ALREADY_DONE"
    )
    public = get(Client(), "/reports").json()
    assert public["count"] == 1 and public["items"][0]["status"] == "issued"
    assert public["items"][0]["vintages"][0] == {
        "vintage": 2022,
        "claimed": 1000,
        "verified": 900,
        "issued": 900,
    }


def test_reject(registry) -> None:
    project = testing.registered_project(registry)
    dev = logged_in(registry.developer)
    uid = post(dev, "/reports", report_body(registry, project)).json()["uid"]
    assert_problem(post(dev, f"/reports/{uid}/reject", {"reason": "no"}), 403, "NOT_ASSIGNED_VVB")
    vvb = logged_in(registry.vvb)
    assert_problem(post(vvb, f"/reports/{uid}/reject", {"reason": "Data gaps"}), 422, "ASSIGNMENT_NOT_ACCEPTED")
    accepted(registry, uid)
    assert_problem(post(vvb, f"/reports/{uid}/reject", {"reason": " "}), 422, "REASON_REQUIRED")
    response = post(vvb, f"/reports/{uid}/reject", {"reason": "Data gaps"})
    assert response.status_code == 200
    assert (
        response.json()["status"] == "rejected" and response.json()["status_reason"] == "Data gaps"
    )
