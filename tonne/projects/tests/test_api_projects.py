"""Projects, their life cycle and documents over HTTP; plus the full journey
from registration to a verified retirement proof, through HTTP only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tonne import testing
from tonne.core.tests.test_api_core import API, assert_problem, bearer, get, patch, post, state
from tonne.ledger import proofs
from tonne.ledger.services import make_checkpoint


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_register_update_and_drafts_are_private(registry) -> None:
    dev = logged_in(registry.developer)
    response = post(
        dev, "/projects", {**testing.project_fields(), "vvb": str(registry.vvb_org.uid)}
    )
    assert response.status_code == 201, response.content
    project = response.json()
    assert project["status"] == "draft" and project["project_id"] == "CI-0001"
    assert project["locations"][0]["region"] == "Lagunes"
    assert project["vvb"]["name"] == registry.vvb_org.name
    pid = project["project_id"]
    # Drafts are hidden from the public and other organisations, visible to the VVB.
    assert_problem(get(Client(), f"/projects/{pid}"), 404, "PROJECT_NOT_FOUND")
    assert get(Client(), "/projects").json()["count"] == 0
    assert_problem(
        get(logged_in(registry.other_developer), f"/projects/{pid}"), 404, "PROJECT_NOT_FOUND"
    )
    assert get(logged_in(registry.vvb), f"/projects/{pid}").status_code == 200
    # Edit a draft: only the fields sent change.
    response = patch(dev, f"/projects/{pid}", {"name": "Lagoon mangroves II"})
    assert response.status_code == 200
    assert response.json()["name"] == "Lagoon mangroves II"
    assert response.json()["description"] == "Restoring mangroves along the lagoon."
    # Another developer cannot edit it.
    assert_problem(
        patch(logged_in(registry.other_developer), f"/projects/{pid}", {"name": "x"}),
        404,
        "PROJECT_NOT_FOUND",
    )
    # Submitted projects are no longer editable, and are public.
    assert post(dev, f"/projects/{pid}/status", {"status": "submitted"}).status_code == 200
    assert_problem(patch(dev, f"/projects/{pid}", {"name": "y"}), 422, "PROJECT_FIELD_LOCKED")  # after submission
    assert get(Client(), f"/projects/{pid}").json()["status"] == "submitted"


def test_register_refusals(registry) -> None:
    before = state()
    dev = logged_in(registry.developer)
    body = assert_problem(
        post(dev, "/projects", testing.project_fields(sectors=["Not a sector"])),
        422,
        "PICKLIST_VALUE_NOT_ALLOWED",
    )
    assert body["field"] == "sectors" and body["details"]["allowed"]
    assert_problem(
        post(dev, "/projects", testing.project_fields(sectoral_scope=16)),
        422,
        "SECTORAL_SCOPE_INVALID",
    )
    assert_problem(post(dev, "/projects", {"name": "x", "colour": "red"}), 422, "REQUEST_INVALID")
    assert_problem(
        post(logged_in(registry.buyer), "/projects", testing.project_fields()),
        403,
        "NOT_A_DEVELOPER",
    )
    assert_problem(post(Client(), "/projects", testing.project_fields()), 401, "NOT_AUTHENTICATED")
    assert_problem(
        post(
            dev, "/projects", testing.project_fields(), headers=bearer(registry.developer, "read")
        ),
        403,
        "TOKEN_SCOPE_INSUFFICIENT",
    )
    assert state() == before


def test_status_changes_belong_to_their_party(registry) -> None:
    project = testing.registered_project(registry)
    pid = project.project_id
    dev = logged_in(registry.developer)
    assert_problem(
        post(dev, f"/projects/{pid}/status", {"status": "completed"}),
        403,
        "NOT_REGISTRY_ADMINISTRATOR",
    )
    assert_problem(
        post(dev, f"/projects/{pid}/status", {"status": "draft"}),
        422,
        "PROJECT_TRANSITION_NOT_ALLOWED",
    )
    admin = logged_in(registry.admin)
    assert_problem(
        post(admin, f"/projects/{pid}/status", {"status": "on_hold"}), 422, "REASON_REQUIRED"
    )
    # An administrator's trade token may not do administrative steps.
    response = post(
        Client(),
        f"/projects/{pid}/status",
        {"status": "on_hold", "reason": "audit"},
        headers=bearer(registry.admin, "trade"),
    )
    assert_problem(response, 403, "TOKEN_SCOPE_INSUFFICIENT")
    response = post(admin, f"/projects/{pid}/status", {"status": "on_hold", "reason": "audit"})
    assert response.status_code == 200
    history = response.json()["status_history"]
    assert history[-1] == {
        **history[-1],
        "from_status": "registered",
        "to_status": "on_hold",
        "reason": "audit",
    }


def test_list_filters_search_and_ordering(registry) -> None:
    testing.registered_project(registry)
    testing.registered_project(
        registry, name="Solar mini-grids", description="Village solar", sectoral_scope=1
    )
    anon = Client()
    assert get(anon, "/projects").json()["count"] == 2
    assert [p["name"] for p in get(anon, "/projects", q="solar").json()["items"]] == [
        "Solar mini-grids"
    ]
    assert get(anon, "/projects", q="CI-0001").json()["count"] == 1
    assert get(anon, "/projects", sectoral_scope=14).json()["count"] == 1
    assert get(anon, "/projects", status="registered", host_party="ci").json()["count"] == 2
    assert get(anon, "/projects", status="draft").json()["count"] == 0
    names = [p["name"] for p in get(anon, "/projects", ordering="-name").json()["items"]]
    assert names == sorted(names, reverse=True)
    assert_problem(get(anon, "/projects", ordering="developer__password"), 422, "ORDERING_INVALID")


def test_documents_public_and_private(registry, settings, tmp_path) -> None:
    settings.TONNE_DOCUMENTS_DIR = tmp_path
    project = testing.registered_project(registry)
    pid = project.project_id
    dev = logged_in(registry.developer)
    upload = SimpleUploadedFile("pdd.pdf", b"%PDF-1.7 design", content_type="application/pdf")
    response = dev.post(
        f"{API}/projects/{pid}/documents", {"file": upload, "kind": "design", "title": "PDD"}
    )
    assert response.status_code == 201, response.content
    public_doc = response.json()
    assert len(public_doc["sha256"]) == 64
    secret = SimpleUploadedFile("kyc.pdf", b"private bits", content_type="application/pdf")
    response = dev.post(
        f"{API}/projects/{pid}/documents",
        {"file": secret, "kind": "other", "title": "Consent", "is_public": "false"},
    )
    private_doc = response.json()
    assert private_doc["is_public"] is False
    anon = Client()
    detail = get(anon, f"/projects/{pid}").json()
    assert [d["uid"] for d in detail["documents"]] == [public_doc["uid"]]
    download = anon.get(public_doc["download"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.7 design"
    assert download["X-Content-SHA256"] == public_doc["sha256"]
    assert_problem(anon.get(private_doc["download"]), 404, "DOCUMENT_NOT_FOUND")
    assert_problem(
        logged_in(registry.buyer).get(private_doc["download"]), 404, "DOCUMENT_NOT_FOUND"
    )
    for party in (registry.developer, registry.vvb, registry.admin):
        assert logged_in(party).get(private_doc["download"]).status_code == 200
    # Outsiders cannot upload.
    other = logged_in(registry.other_developer)
    up = SimpleUploadedFile("x.txt", b"x")
    assert_problem(
        other.post(f"{API}/projects/{pid}/documents", {"file": up, "kind": "other"}),
        403,
        "PROJECT_NOT_YOURS",
    )
    empty = SimpleUploadedFile("x.txt", b"")
    assert_problem(
        dev.post(f"{API}/projects/{pid}/documents", {"file": empty, "kind": "other"}),
        422,
        "DOCUMENT_EMPTY",
    )
    assert_problem(
        dev.post(f"{API}/projects/{pid}/documents", {"kind": "other"}), 422, "REQUEST_INVALID"
    )


def test_full_journey_through_http(registry, settings, tmp_path) -> None:
    settings.TONNE_DOCUMENTS_DIR = tmp_path
    dev = Client()
    dev.force_login(registry.developer)
    admin_headers = bearer(registry.admin, "admin")
    vvb_headers = bearer(registry.vvb, "trade")
    admin = Client()
    vvb = Client()

    response = post(
        dev, "/projects", {**testing.project_fields(), "vvb": str(registry.vvb_org.uid)}
    )
    assert response.status_code == 201, response.content
    pid = response.json()["project_id"]
    assert post(dev, f"/projects/{pid}/status", {"status": "submitted"}).status_code == 200
    assert (
        post(
            admin, f"/projects/{pid}/status", {"status": "approved"}, headers=admin_headers
        ).status_code
        == 200
    )
    report_doc = vvb.post(
        f"{API}/projects/{pid}/documents",
        {
            "file": SimpleUploadedFile("val.pdf", b"validation report"),
            "kind": "validation_report",
            "title": "Validation",
        },
        headers=vvb_headers,
    )
    assert report_doc.status_code == 201, report_doc.content
    response = post(
        vvb,
        f"/projects/{pid}/status",
        {"status": "validated", "validation": {"report": report_doc.json()["uid"]}},
        headers=vvb_headers,
    )
    assert response.status_code == 200, response.content
    assert response.json()["validations"][0]["report_sha256"] == report_doc.json()["sha256"]
    assert (
        post(
            admin, f"/projects/{pid}/status", {"status": "registered"}, headers=admin_headers
        ).status_code
        == 200
    )

    response = post(
        dev,
        "/reports",
        {
            "project": pid,
            "period_start": "2022-01-01",
            "period_end": "2022-12-31",
            "vintages": [{"vintage": 2022, "quantity": 5000}],
            "vvb": str(registry.vvb_org.uid),
        },
    )
    assert response.status_code == 201, response.content
    report = response.json()["uid"]
    response = post(vvb, f"/reports/{report}/assignment", {"decision": "accepted", "no_conflict_of_interest": True},
                    headers=vvb_headers)
    assert response.status_code == 200, response.content
    response = post(
        vvb,
        f"/reports/{report}/verify",
        {"verified": [{"vintage": 2022, "quantity": 4000}]},
        headers=vvb_headers,
    )
    assert response.status_code == 200, response.content
    assert response.json()["vintages"][0]["verified"] == 4000
    response = post(admin, f"/reports/{report}/issuance", headers=admin_headers)
    assert response.status_code == 201, response.content
    issuance = response.json()[0]
    assert issuance["quantity"] == 4000 and issuance["serial"] == "CI-VER-14-0001-2022-1-1-4000"

    response = post(
        dev,
        "/transfers",
        {
            "from_account": registry.developer_account.identifier,
            "to_account": registry.buyer_account.identifier,
            "quantity": 1500,
        },
        headers={"Idempotency-Key": "journey-transfer"},
    )
    assert response.status_code == 201, response.content
    first = make_checkpoint()
    buyer = Client()
    response = post(
        buyer,
        "/retirements",
        {
            "from_account": registry.buyer_account.identifier,
            "ranges": [{"start": 1, "end": 1000}],
            "beneficiary": "Société Ivoire",
            "purpose": "voluntary",
            "jurisdiction": "CI",
        },
        headers={**bearer(registry.buyer, "trade"), "Idempotency-Key": "journey-retire"},
    )
    assert response.status_code == 201, response.content
    seq = response.json()["ledger_seq"]

    # Not yet in a signed checkpoint: 409 with a code.
    assert_problem(
        get(Client(), f"/ledger/proofs/inclusion/{seq}"), 409, "LEDGER_ENTRY_NOT_YET_CHECKPOINTED"
    )
    second = make_checkpoint()
    bundle = get(Client(), f"/ledger/proofs/inclusion/{seq}").json()
    key = get(Client(), "/ledger/key").json()["verifier_key"]
    proved = proofs.verify_bundle(bundle, key)
    assert proved["entry"]["kind"] == "units.retirement"
    assert proved["entry"]["data"]["beneficiary"] == "Société Ivoire"
    consistency = get(
        Client(), "/ledger/proofs/consistency", old=first.size, new=second.size
    ).json()
    assert proofs.verify_bundle(consistency, key)["new_size"] == second.size

    lookup = get(Client(), "/serials/CI-VER-14-0001-2022-1-1-1000").json()
    assert lookup["blocks"][0]["state"] == "retired"
    assert [h["kind"] for h in lookup["blocks"][0]["history"]] == [
        "issuance",
        "transfer",
        "retirement",
    ]
    detail = get(Client(), f"/projects/{pid}").json()
    assert detail["issuances"][0]["quantity"] == 4000
    assert dt.date.fromisoformat(detail["estimations"][0]["start_date"]) == dt.date(2022, 1, 1)


@pytest.mark.django_db
def test_unknown_project_is_404(client: Client) -> None:
    assert_problem(get(client, "/projects/CI-9999"), 404, "PROJECT_NOT_FOUND")
