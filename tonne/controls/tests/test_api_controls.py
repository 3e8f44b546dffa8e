"""The controls over HTTP: a holder sees its controls; approvals go by the
request hash; other organisations get 404; tokens keep their scopes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from tonne.access.testing import stepped_up
from tonne.controls.models import Approval
from tonne.controls.tests.conftest import World, key
from tonne.core import clock
from tonne.core.tests.test_api_core import assert_problem, bearer, get, post
from tonne.organisations.models import ApiToken
from tonne.units.models import Transaction

pytestmark = [pytest.mark.django_db, pytest.mark.controls]


def logged_in(user) -> Client:  # noqa: ANN001
    # People who move units or approve have a second factor, confirmed just now.
    return stepped_up(user)


def start_transfer(w: World, client: Client, quantity: int = 100) -> dict:
    response = post(
        client,
        "/transfers",
        {"from_account": w.reg.developer_account.identifier, "to_account": w.reg.buyer_account.identifier,
         "quantity": quantity},
        headers={"Idempotency-Key": key()},
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_approval_flow_over_http(world: World) -> None:
    w = world
    dev = logged_in(w.reg.developer)
    txn = start_transfer(w, dev)
    assert txn["status"] == "awaiting_approval" and txn["blocks"] == []
    approver = logged_in(w.dev_approver)
    pending = get(approver, "/approvals", status="pending").json()
    assert pending["count"] == 1
    item = pending["items"][0]
    assert item["transaction"]["identifier"] == txn["identifier"] and item["pending"]["ranges"]
    uid = item["uid"]
    # The initiator may not approve; another organisation does not even see it.
    assert_problem(post(dev, f"/approvals/{uid}/approve", {"request_hash": item["request_hash"]}), 403,
                   "SELF_APPROVAL_NOT_ALLOWED")
    buyer = logged_in(w.buyer_approver)
    assert_problem(get(buyer, f"/approvals/{uid}"), 404, "APPROVAL_NOT_FOUND")
    assert_problem(post(buyer, f"/approvals/{uid}/approve", {"request_hash": item["request_hash"]}), 404,
                   "APPROVAL_NOT_FOUND")
    assert_problem(post(approver, f"/approvals/{uid}/approve", {"request_hash": "0" * 64}), 409,
                   "APPROVAL_HASH_MISMATCH")
    # A read token cannot approve.
    assert_problem(post(Client(), f"/approvals/{uid}/approve", {"request_hash": item["request_hash"]},
                        headers=bearer(w.dev_approver, ApiToken.Scope.READ)), 403, "TOKEN_SCOPE_INSUFFICIENT")
    done = post(approver, f"/approvals/{uid}/approve", {"request_hash": item["request_hash"]})
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["status"] == "approved" and body["transaction"]["status"] == "delayed"
    assert body["pending"]["execute_at"].startswith("2026-03-04T12:00")
    # Cancellable until executed; not by another organisation.
    assert_problem(post(buyer, f"/transactions/{txn['identifier']}/cancel"), 404, "TRANSACTION_NOT_FOUND")
    cancelled = post(dev, f"/transactions/{txn['identifier']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert_problem(post(dev, f"/transactions/{txn['identifier']}/cancel"), 409, "TRANSACTION_NOT_WAITING")


def test_holder_sees_its_controls(world: World) -> None:
    w = world
    dev = logged_in(w.reg.developer)
    config = get(dev, "/controls").json()
    assert "transfer" in config["four_eyes"] and config["trusted_delay_working_days"] == 4
    account = w.reg.developer_account.identifier
    response = post(dev, f"/accounts/{account}/trusted", {"account": w.reg.buyer_account.identifier})
    assert response.status_code == 202 and response.json()["status"] == "awaiting_approval"
    uid = response.json()["approval"]
    approval = Approval.objects.get(uid=uid)
    assert post(logged_in(w.dev_approver), f"/approvals/{uid}/approve",
                {"request_hash": approval.request_hash}).status_code == 200
    trusted = get(dev, f"/accounts/{account}/trusted").json()
    assert trusted[0]["trusted"] == w.reg.buyer_account.identifier and trusted[0]["active"] is False
    clock.freeze(dt.datetime.fromisoformat(trusted[0]["effective_at"]))
    dev = logged_in(w.reg.developer)  # days later: a new session (the old one timed out)
    assert get(dev, f"/accounts/{account}/trusted").json()[0]["active"] is True
    # Other organisations see none of it.
    buyer = logged_in(w.reg.buyer)
    assert_problem(get(buyer, f"/accounts/{account}/trusted"), 403, "ACCOUNT_NOT_VISIBLE")
    assert_problem(post(buyer, f"/accounts/{account}/trusted", {"account": w.reg.buyer_account.identifier}), 403,
                   "ACCOUNT_NOT_VISIBLE")
    response = dev.delete(f"/api/v1/accounts/{account}/trusted/{w.reg.buyer_account.identifier}")
    assert response.status_code == 200 and response.json()["removed_at"]
    # Limits: visible to the holder, changed with a second person.
    assert get(dev, f"/accounts/{account}/limits").json()["per_transfer"] is None
    response = dev.put(f"/api/v1/accounts/{account}/limits", data='{"per_transfer": 10}', content_type="application/json")
    assert response.status_code == 202, response.content


def test_freezes_are_visible_to_the_affected_holder_only(world: World) -> None:
    w = world
    admin = logged_in(w.reg.admin)
    response = post(admin, "/freezes", {"scope": "account", "account": w.reg.developer_account.identifier,
                                        "reason": "Suspected phishing"})
    assert response.status_code == 201, response.content
    uid = response.json()["uid"]
    assert_problem(post(logged_in(w.reg.developer), "/freezes", {"scope": "project", "project": w.project.project_id,
                                                                 "reason": "x"}), 403, "NOT_REGISTRY_ADMINISTRATOR")
    dev_view = get(logged_in(w.reg.developer), "/freezes", active=True).json()
    assert dev_view["count"] == 1 and dev_view["items"][0]["reason"] == "Suspected phishing"
    assert get(logged_in(w.reg.buyer), "/freezes").json()["count"] == 0
    assert_problem(post(logged_in(w.reg.developer), "/transfers",
                        {"from_account": w.reg.developer_account.identifier,
                         "to_account": w.reg.buyer_account.identifier, "quantity": 1},
                        headers={"Idempotency-Key": key()}), 422, "ACCOUNT_FROZEN")
    assert post(admin, f"/freezes/{uid}/lift").json()["lifted_at"]
    assert get(logged_in(w.reg.developer), "/freezes", active=True).json()["count"] == 0
    assert_problem(post(admin, "/freezes", {"scope": "everything", "reason": "x"}), 422, "FREEZE_SCOPE_INVALID")


def test_kill_switch_over_http(world: World) -> None:
    w = world
    dev = logged_in(w.reg.developer)
    assert get(dev, "/controls/switch").json()["transfers_suspended"] is False
    body = '{"transfers_suspended": true, "reason": "Incident"}'
    assert_problem(dev.put("/api/v1/controls/switch", data=body, content_type="application/json"), 403,
                   "NOT_REGISTRY_ADMINISTRATOR")
    admin = logged_in(w.reg.admin)
    assert admin.put("/api/v1/controls/switch", data=body, content_type="application/json").status_code == 200
    assert get(dev, "/controls/switch").json()["transfers_suspended"] is True
    assert_problem(post(dev, "/transfers", {"from_account": w.reg.developer_account.identifier,
                                            "to_account": w.reg.buyer_account.identifier, "quantity": 1},
                        headers={"Idempotency-Key": key()}), 422, "TRANSFERS_SUSPENDED")
    assert Transaction.objects.filter(status="awaiting_approval").count() == 0
