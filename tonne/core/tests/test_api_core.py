"""The API's shared behaviour: problem documents, authentication, token
scopes, CSRF, pagination, OpenAPI and docs."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from tonne.core import clock
from tonne.ledger.models import LedgerHead
from tonne.organisations import services as orgs
from tonne.organisations.models import ApiToken, User
from tonne.units.models import Transaction, UnitBlock

API = "/api/v1"


# -- helpers shared by the API tests (imported by the other test_api_* modules) -----


def bearer(
    user: User, scope: str = ApiToken.Scope.TRADE, days: int | None = None
) -> dict[str, str]:
    _, secret = orgs.issue_api_token(actor=user, name="test", scope=scope, days=days)
    return {"Authorization": f"Bearer {secret}"}


def post(client: Client, path: str, body: Any = None, headers: dict | None = None, **kw: Any):
    return client.post(
        API + path,
        data=json.dumps(body if body is not None else {}),
        content_type="application/json",
        headers=headers or {},
        **kw,
    )


def patch(client: Client, path: str, body: Any, headers: dict | None = None):
    return client.patch(
        API + path, data=json.dumps(body), content_type="application/json", headers=headers or {}
    )


def get(client: Client, path: str, headers: dict | None = None, **params: Any):
    return client.get(API + path, params, headers=headers or {})


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json"), response["Content-Type"]
    body = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    return body


def state() -> tuple:
    """What must not change when a request is refused."""
    blocks = tuple(
        UnitBlock.objects.order_by("serial_start").values_list(
            "serial_start", "serial_end", "account_id"
        )
    )
    return blocks, LedgerHead.objects.get(pk=1).size, Transaction.objects.count()


# -- tests -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_openapi_document_is_3_1_with_operation_ids(client: Client) -> None:
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.1.")
    operations = [op for item in doc["paths"].values() for op in item.values()]
    assert len(operations) > 40
    ids = [op.get("operationId") for op in operations]
    assert all(ids)
    assert len(ids) == len(set(ids))
    schemes = doc["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())


@pytest.mark.django_db
def test_docs_page_uses_local_assets(client: Client) -> None:
    response = client.get(f"{API}/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn." not in html and "unpkg" not in html


@pytest.mark.django_db
def test_unknown_path_and_method_are_problems(client: Client) -> None:
    assert_problem(client.get(f"{API}/no-such-thing"), 404, "NOT_FOUND")
    response = client.put(f"{API}/projects")
    body = assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response["Allow"] and body["detail"]


def test_malformed_json_is_400_problem(registry, client: Client) -> None:
    client.force_login(registry.developer)
    before = state()
    response = client.post(
        f"{API}/transfers",
        data="{not json",
        content_type="application/json",
        headers={"Idempotency-Key": "x"},
    )
    assert_problem(response, 400, "REQUEST_MALFORMED")
    assert state() == before


def test_shape_errors_are_422_with_pydantic_errors(registry, client: Client) -> None:
    client.force_login(registry.developer)
    response = post(client, "/transfers", {"from_account": 5}, headers={"Idempotency-Key": "x"})
    body = assert_problem(response, 422, "REQUEST_INVALID")
    assert isinstance(body["errors"], list) and body["errors"]
    assert {"loc", "msg", "type"} <= set(body["errors"][0])
    # Unknown fields are refused rather than silently ignored.
    response = post(client, "/accounts", {"name": "x", "colour": "red"})
    assert_problem(response, 422, "REQUEST_INVALID")


def test_unexpected_exception_is_500_problem_without_traceback(
    registry, client: Client, monkeypatch
) -> None:
    from tonne.units import services

    def boom(**kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(services, "transfer", boom)
    client.force_login(registry.developer)
    response = post(
        client,
        "/transfers",
        {
            "from_account": registry.developer_account.identifier,
            "to_account": registry.buyer_account.identifier,
            "quantity": 1,
        },
        headers={"Idempotency-Key": "boom"},
    )
    body = assert_problem(response, 500, "INTERNAL_ERROR")
    assert "secret internals" not in response.content.decode()
    assert "Traceback" not in json.dumps(body)


def test_anonymous_gets_401_on_private_endpoints(client: Client, registry) -> None:
    for path in ("/me", "/accounts", "/transactions", "/tokens"):
        assert_problem(client.get(API + path), 401, "NOT_AUTHENTICATED")
    assert_problem(post(client, "/transfers", {}), 401, "NOT_AUTHENTICATED")


def test_bearer_token_authenticates(registry, client: Client) -> None:
    response = get(client, "/me", headers=bearer(registry.buyer, "read"))
    assert response.status_code == 200
    assert response.json()["username"] == registry.buyer.username
    assert response.json()["token_scope"] == "read"


def test_expired_revoked_and_unknown_tokens_are_401(registry, client: Client) -> None:
    headers = bearer(registry.buyer, "trade", days=1)
    clock.freeze(clock.now() + dt.timedelta(days=2))
    assert_problem(get(client, "/me", headers=headers), 401, "TOKEN_INVALID")
    clock.freeze(None)
    token, secret = orgs.issue_api_token(actor=registry.buyer, name="x")
    orgs.revoke_api_token(actor=registry.buyer, token=token)
    assert_problem(
        get(client, "/me", headers={"Authorization": f"Bearer {secret}"}), 401, "TOKEN_INVALID"
    )
    assert_problem(
        get(client, "/me", headers={"Authorization": "Bearer tonne_nope"}), 401, "TOKEN_INVALID"
    )
    # A bad token on a public endpoint is refused too, not treated as anonymous.
    assert_problem(
        get(client, "/projects", headers={"Authorization": "Bearer tonne_nope"}),
        401,
        "TOKEN_INVALID",
    )


def test_read_token_cannot_write(registry, client: Client) -> None:
    headers = {**bearer(registry.developer, "read"), "Idempotency-Key": "k1"}
    before = state()
    response = post(
        client,
        "/transfers",
        {
            "from_account": registry.developer_account.identifier,
            "to_account": registry.buyer_account.identifier,
            "quantity": 1,
        },
        headers=headers,
    )
    assert_problem(response, 403, "TOKEN_SCOPE_INSUFFICIENT")
    assert_problem(
        post(client, "/accounts", {"name": "x"}, headers=headers), 403, "TOKEN_SCOPE_INSUFFICIENT"
    )
    assert state() == before


def test_admin_actions_need_admin_scope_token(registry, client: Client) -> None:
    org = orgs.apply_for_organisation(actor=None, name="Newco", kind="trader", country="CI")
    trade = bearer(registry.admin, "trade")
    response = post(
        client,
        f"/organisations/{org.uid}/status",
        {"status": "approved", "reason": "ok"},
        headers=trade,
    )
    assert_problem(response, 403, "TOKEN_SCOPE_INSUFFICIENT")
    admin = bearer(registry.admin, "admin")
    response = post(
        client,
        f"/organisations/{org.uid}/status",
        {"status": "approved", "reason": "ok"},
        headers=admin,
    )
    assert response.status_code == 200
    assert response.json()["status"] == "approved"


def test_session_writes_need_csrf(registry) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(registry.buyer)
    response = post(client, "/accounts", {"name": "Second"})
    assert_problem(response, 403, "CSRF_FAILED")
    # With the token from the cookie, the same request goes through.
    client.get(f"{API}/me")
    from django.middleware.csrf import get_token
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    token = get_token(request)
    client.cookies["csrftoken"] = request.META["CSRF_COOKIE"]
    response = post(client, "/accounts", {"name": "Second"}, headers={"X-CSRFToken": token})
    assert response.status_code == 201, response.content
    # Bearer tokens need no CSRF token.
    response = post(
        Client(enforce_csrf_checks=True),
        "/accounts",
        {"name": "Third"},
        headers=bearer(registry.buyer, "trade"),
    )
    assert response.status_code == 201


def test_tokens_create_list_revoke(registry, client: Client) -> None:
    client.force_login(registry.buyer)
    response = post(client, "/tokens", {"name": "bot", "scope": "read", "days": 10})
    assert response.status_code == 201
    created = response.json()
    assert created["secret"].startswith("tonne_")
    assert created["scope"] == "read"
    listed = get(client, "/tokens").json()
    assert listed["count"] == 1 and "secret" not in listed["items"][0]
    assert not ApiToken.objects.filter(token_hash=created["secret"]).exists()  # hashed at rest
    headers = {"Authorization": f"Bearer {created['secret']}"}
    assert get(client, "/me", headers=headers).status_code == 200
    response = client.delete(f"{API}/tokens/{created['id']}")
    assert response.status_code == 200 and response.json()["revoked_at"]
    assert_problem(get(Client(), "/me", headers=headers), 401, "TOKEN_INVALID")
    # Someone else's token is not found; only admins may hold admin tokens.
    other = Client()
    other.force_login(registry.developer)
    assert_problem(other.delete(f"{API}/tokens/{created['id']}"), 404, "TOKEN_NOT_FOUND")
    assert_problem(post(client, "/tokens", {"scope": "admin"}), 403, "TOKEN_SCOPE_NOT_ALLOWED")


def test_token_cannot_mint_a_stronger_token(registry, client: Client) -> None:
    response = post(client, "/tokens", {"scope": "admin"}, headers=bearer(registry.admin, "trade"))
    assert_problem(response, 403, "TOKEN_SCOPE_INSUFFICIENT")


def test_pagination_and_ordering(registry, client: Client) -> None:
    response = get(client, "/organisations", limit=2, offset=1, ordering="-name")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 5 and body["limit"] == 2 and body["offset"] == 1
    names = [o["name"] for o in body["items"]]
    assert names == sorted(names, reverse=True)
    assert_problem(get(client, "/organisations", ordering="password"), 422, "ORDERING_INVALID")
    assert_problem(get(client, "/organisations", limit=0), 422, "REQUEST_INVALID")


@pytest.mark.parametrize(
    "path",
    [
        "/blocks/99999999999999999999999",
        "/ledger/entries/99999999999999999999999",
        "/ledger/checkpoints/99999999999999999999999",
        "/ledger/proofs/inclusion/99999999999999999999999",
        "/tokens/99999999999999999999999",
    ],
)
def test_huge_ids_are_clean_problems(registry, client: Client, path: str) -> None:
    client.force_login(registry.buyer)
    response = client.delete(API + path) if path.startswith("/tokens") else client.get(API + path)
    assert response.status_code in (404, 422), response.content
    assert response["Content-Type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "params",
    [
        {"offset": 10**30},
        {"vintage": 10**30},
        {"vintage": 40000},
        {"issuance": "not-a-uuid"},
    ],
)
def test_huge_query_values_are_clean(registry, client: Client, params: dict) -> None:
    response = client.get(f"{API}/blocks", params)
    assert response.status_code in (200, 422), response.content
    assert get(client, "/projects").status_code == 200  # the connection is still usable
