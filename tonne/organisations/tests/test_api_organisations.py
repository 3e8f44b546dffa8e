"""Organisations, users and /me over HTTP."""

from __future__ import annotations

from django.test import Client

from tonne.core.tests.test_api_core import assert_problem, bearer, get, post, state
from tonne.organisations.models import Organisation, User


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_apply_is_public_and_admin_decides(registry) -> None:
    anon = Client()
    response = post(
        anon,
        "/organisations",
        {
            "name": "Cocoa Carbon SA",
            "kind": "developer",
            "country": "ci",
            "registration_number": "RCCM-123",
            "contact_email": "a@b.ci",
        },
    )
    assert response.status_code == 201, response.content
    org = response.json()
    assert (
        org["status"] == "applied"
        and org["country"] == "CI"
        and org["registration_number"] == "RCCM-123"
    )
    # Applications are not public.
    assert_problem(get(anon, f"/organisations/{org['uid']}"), 404, "ORGANISATION_NOT_FOUND")
    admin = logged_in(registry.admin)
    assert get(admin, f"/organisations/{org['uid']}").json()["registration_number"] == "RCCM-123"
    dev = logged_in(registry.developer)
    decision = {"status": "approved", "reason": "KYC complete"}
    assert_problem(
        post(dev, f"/organisations/{org['uid']}/status", decision), 404, "ORGANISATION_NOT_FOUND"
    )
    response = post(admin, f"/organisations/{org['uid']}/status", decision)
    assert response.status_code == 200 and response.json()["status"] == "approved"
    # Now public, but KYC fields only for self and admin.
    public = get(anon, f"/organisations/{org['uid']}").json()
    assert public["name"] == "Cocoa Carbon SA" and public["registration_number"] is None
    assert_problem(
        post(admin, f"/organisations/{org['uid']}/status", {"status": "applied", "reason": "x"}),
        422,
        "ORGANISATION_TRANSITION_NOT_ALLOWED",
    )
    assert_problem(
        post(
            anon,
            "/organisations",
            {"name": "Cocoa Carbon SA", "kind": "developer", "country": "CI"},
        ),
        422,
        "ORGANISATION_EXISTS",
    )
    assert_problem(
        post(anon, "/organisations", {"name": "X", "kind": "pirate", "country": "CI"}),
        422,
        "ORGANISATION_KIND_INVALID",
    )


def test_public_fields_and_self_view(registry) -> None:
    anon = Client()
    listed = get(anon, "/organisations", kind="developer").json()
    assert listed["count"] == 2
    assert all(o["contact_email"] is None for o in listed["items"])
    mine = get(logged_in(registry.developer), f"/organisations/{registry.developer_org.uid}").json()
    assert mine["contact_email"] == ""
    assert mine["status_reason"] == "KYC complete"


def test_accreditation_is_admin_only(registry) -> None:
    org = registry.vvb_org
    dev = logged_in(registry.developer)
    assert_problem(
        post(dev, f"/organisations/{org.uid}/accreditation", {"accredited": False}),
        403,
        "NOT_REGISTRY_ADMINISTRATOR",
    )
    admin = logged_in(registry.admin)
    response = post(admin, f"/organisations/{org.uid}/accreditation", {"accredited": False})
    assert response.status_code == 200 and response.json()["accredited"] is False
    assert_problem(
        post(admin, f"/organisations/{registry.buyer_org.uid}/accreditation", {"accredited": True}),
        422,
        "NOT_A_VVB",
    )


def test_users_created_by_org_admin(registry) -> None:
    dev = logged_in(registry.developer)
    body = {
        "username": "dev-trader",
        "email": "t@example.org",
        "password": "a long enough passphrase 42",
        "role": "initiator",
    }
    response = post(dev, f"/organisations/{registry.developer_org.uid}/users", body)
    assert response.status_code == 201, response.content
    assert response.json()["organisation"]["name"] == registry.developer_org.name
    assert User.objects.get(username="dev-trader").check_password(body["password"])
    assert "password" not in response.json()
    listed = get(dev, f"/organisations/{registry.developer_org.uid}/users").json()
    assert "dev-trader" in [u["username"] for u in listed["items"]]
    # Not in another organisation; not by a non-admin.
    before = state()
    other = {**body, "username": "intruder"}
    assert_problem(
        post(dev, f"/organisations/{registry.buyer_org.uid}/users", other),
        403,
        "USER_ADMIN_NOT_ALLOWED",
    )
    assert_problem(
        get(dev, f"/organisations/{registry.buyer_org.uid}/users"), 403, "ORGANISATION_NOT_YOURS"
    )
    viewer = User.objects.get(username="dev-trader")
    response = post(logged_in(viewer), f"/organisations/{registry.developer_org.uid}/users", other)
    assert response.status_code == 403
    assert response.json()["code"] in {"USER_ADMIN_NOT_ALLOWED", "ROLE_NOT_ALLOWED"}
    assert_problem(
        post(
            dev,
            f"/organisations/{registry.developer_org.uid}/users",
            {**other, "password": "short"},
        ),
        422,
        "PASSWORD_TOO_WEAK",
    )
    assert state() == before
    assert not User.objects.filter(username="intruder").exists()


def test_me(registry) -> None:
    body = get(logged_in(registry.admin), "/me").json()
    assert body["is_registry_administrator"] is True and body["token_scope"] is None
    body = get(Client(), "/me", headers=bearer(registry.buyer, "read")).json()
    assert body["is_registry_administrator"] is False
    assert body["organisation"]["name"] == registry.buyer_org.name


def test_admin_sees_all_accounts(registry) -> None:
    admin = logged_in(registry.admin)
    everything = get(admin, "/accounts", limit=100).json()
    assert everything["count"] >= 9  # three holding accounts and six system accounts
    holding = get(admin, "/accounts", type="holding").json()
    assert holding["count"] == 3
    assert get(admin, "/accounts", organisation=str(registry.buyer_org.uid)).json()["count"] == 1
    assert Organisation.objects.count() == 5
