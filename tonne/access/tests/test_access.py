"""Second factors, step-up, token rules, session timeouts, rate limits,
lockout and security headers: each with the attack it must stop."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.test import Client

from tonne import testing
from tonne.access.testing import confirm_second_factor, give_totp, stepped_up
from tonne.core import clock
from tonne.core.tests.test_api_core import assert_problem, bearer, get, post
from tonne.organisations.models import ApiToken
from tonne.units.models import UnitBlock

pytestmark = [pytest.mark.django_db, pytest.mark.controls]


@pytest.fixture
def funded(registry, settings):  # noqa: ANN001, ANN201
    # Only the second-factor rules here: four-eyes, delays and KYC have their own tests.
    settings.TONNE_FOUR_EYES = frozenset()
    settings.TONNE_DELAY_NON_TRUSTED = False
    settings.TONNE_KYC_REQUIRED = False
    settings.TONNE_MIN_REPRESENTATIVES = 0
    project = testing.registered_project(registry)
    testing.issue(registry, project, {2024: 1000})
    return registry


_keys = iter(range(10**9))


def transfer(client: Client, reg, headers: dict | None = None):  # noqa: ANN001, ANN201
    return post(
        client,
        "/transfers",
        {"from_account": reg.developer_account.identifier, "to_account": reg.buyer_account.identifier, "quantity": 5},
        headers={"Idempotency-Key": f"acc-{next(_keys)}", **(headers or {})},
    )


def moved(reg) -> int:  # noqa: ANN001
    return sum(b.quantity for b in UnitBlock.objects.filter(account=reg.buyer_account))


# -- second factors and step-up ----------------------------------------------------------


def test_stolen_session_without_a_fresh_second_factor_moves_nothing(funded) -> None:  # noqa: ANN001
    reg = funded
    give_totp(reg.developer)
    thief = Client()
    thief.force_login(reg.developer)  # a session cookie, but no second factor in it
    assert_problem(transfer(thief, reg), 403, "STEP_UP_REQUIRED")
    confirm_second_factor(thief, reg.developer, at=clock.now().timestamp() - 16 * 60)  # too long ago
    body = assert_problem(transfer(thief, reg), 403, "STEP_UP_REQUIRED")
    assert body["details"]["reauthenticate"] == "/accounts/2fa/reauthenticate/"
    assert moved(reg) == 0
    confirm_second_factor(thief, reg.developer)
    assert transfer(thief, reg).status_code == 201
    assert moved(reg) == 5


def test_people_who_move_units_must_have_a_second_factor(funded) -> None:  # noqa: ANN001
    reg = funded
    client = Client()
    client.force_login(reg.developer)
    assert_problem(transfer(client, reg), 403, "MFA_REQUIRED")
    # Pages send them to set one up; the sign-in pages themselves stay reachable.
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/"
    assert client.get("/accounts/2fa/").status_code == 200
    # A viewer moves nothing anyway and needs no second factor.
    viewer = testing.make_user(reg.developer_org, "acc-viewer", "viewer", actor=reg.admin)
    v = Client()
    v.force_login(viewer)
    assert v.get("/").status_code == 200


def test_no_session_before_enrolment(funded) -> None:  # noqa: ANN001
    reg = funded
    client = Client()
    client.force_login(reg.developer)  # password alone; the role requires a second factor
    # No API call: not reading KYC data, not creating a token, not adding a user.
    assert_problem(get(client, "/me"), 403, "MFA_REQUIRED")
    assert_problem(get(client, f"/organisations/{reg.developer_org.uid}/kyc"), 403, "MFA_REQUIRED")
    assert_problem(post(client, "/tokens", {"name": "reader", "scope": "read"}), 403, "MFA_REQUIRED")
    assert not ApiToken.objects.filter(user=reg.developer).exists()
    # No page but enrolment and signing out.
    assert client.get("/cadt/v2/project").status_code == 403
    for path in ("/workspace/", "/accounts/email/", "/accounts/password/change/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"] == "/accounts/2fa/", path
    assert client.get("/accounts/2fa/").status_code == 200
    assert client.get("/accounts/2fa/totp/activate/").status_code in (200, 302)
    give_totp(reg.developer)
    assert get(client, "/me").status_code == 200


def test_no_token_of_a_person_without_the_required_second_factor(funded) -> None:  # noqa: ANN001
    from tonne.organisations import services as orgs
    from tonne.organisations.models import User

    reg = funded
    with pytest.raises(Exception) as refused:  # noqa: PT011 - the registry's PermissionDenied
        orgs.issue_api_token(actor=reg.developer, name="early", scope="read")
    assert getattr(refused.value, "code", None) == "MFA_REQUIRED"
    # A viewer's read token (no second factor needed) stops working once the
    # viewer is made an initiator and has not enrolled.
    viewer = testing.make_user(reg.developer_org, "acc-early", "viewer", actor=reg.admin)
    _, secret = orgs.issue_api_token(actor=viewer, name="early", scope="read")
    token = {"Authorization": f"Bearer {secret}"}
    assert get(Client(), "/me", headers=token).status_code == 200
    User.objects.filter(pk=viewer.pk).update(role=User.Role.INITIATOR)
    assert_problem(get(Client(), "/me", headers=token), 403, "MFA_REQUIRED")
    give_totp(viewer)
    assert get(Client(), "/me", headers=token).status_code == 200


def test_sign_in_with_password_and_totp_through_allauth(funded, settings) -> None:  # noqa: ANN001
    from allauth.mfa.totp.internal.auth import (
        format_hotp_value,
        hotp_value,
        yield_hotp_counters_from_time,
    )

    reg = funded
    secret = give_totp(reg.developer)
    client = Client()
    response = client.post("/accounts/login/", {"login": reg.developer.username, "password": testing.PASSWORD})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/2fa/authenticate")
    assert_problem(get(client, "/me"), 401, "NOT_AUTHENTICATED")  # password alone is not a sign-in
    page = client.get(response["Location"])
    assert page.status_code == 200 and b"extends" not in page.content
    assert b"skip-link" in page.content  # allauth's pages sit in Tonne's layout
    assert client.post(response["Location"], {"code": "000000"}).status_code == 200  # wrong code: form again
    code = format_hotp_value(hotp_value(secret, next(iter(yield_hotp_counters_from_time()))))
    response = client.post("/accounts/2fa/authenticate/", {"code": code})
    assert response.status_code == 302, response.content
    assert get(client, "/me").status_code == 200
    assert transfer(client, reg).status_code == 201  # the sign-in's second factor is fresh


def test_trade_tokens_are_born_from_a_fresh_second_factor(funded) -> None:  # noqa: ANN001
    reg = funded
    give_totp(reg.developer)
    client = Client()
    client.force_login(reg.developer)
    assert post(client, "/tokens", {"name": "reader", "scope": "read"}).status_code == 201
    assert_problem(post(client, "/tokens", {"name": "bot", "scope": "trade"}), 403, "STEP_UP_REQUIRED")
    confirm_second_factor(client, reg.developer)
    response = post(client, "/tokens", {"name": "bot", "scope": "trade"})
    assert response.status_code == 201
    token = {"Authorization": f"Bearer {response.json()['secret']}"}
    # The token moves units without a browser step-up: it was made with one.
    assert transfer(Client(), reg, token).status_code == 201
    # Once its owner has no second factor any more, it stops moving units.
    from allauth.mfa.models import Authenticator

    Authenticator.objects.filter(user=reg.developer).delete()
    assert_problem(transfer(Client(), reg, token), 403, "MFA_REQUIRED")


def test_approving_needs_a_fresh_second_factor(registry, settings) -> None:  # noqa: ANN001
    settings.TONNE_DELAY_NON_TRUSTED = False
    settings.TONNE_FOUR_EYES = settings.TONNE_FOUR_EYES - {"issuance"}
    settings.TONNE_KYC_REQUIRED = False
    reg = registry
    project = testing.registered_project(reg)
    testing.issue(reg, project, {2024: 1000})
    approver = testing.make_user(reg.developer_org, "acc-approver", "approver", actor=reg.admin)
    txn = transfer(stepped_up(reg.developer), reg).json()
    assert txn["status"] == "awaiting_approval"
    give_totp(approver)
    client = Client()
    client.force_login(approver)
    item = get(client, "/approvals").json()["items"][0]
    assert_problem(post(client, f"/approvals/{item['uid']}/approve", {"request_hash": item["request_hash"]}), 403,
                   "STEP_UP_REQUIRED")
    confirm_second_factor(client, approver)
    assert post(client, f"/approvals/{item['uid']}/approve", {"request_hash": item["request_hash"]}).status_code == 200


def test_lifting_a_freeze_or_resuming_transfers_without_a_recent_second_factor_is_refused(registry) -> None:  # noqa: ANN001
    from tonne.controls import services as controls

    admin = registry.admin
    give_totp(admin)
    thief = Client()
    thief.force_login(admin)  # a stolen session cookie: no second factor in it
    frozen = controls.freeze(actor=admin, scope="account", account=registry.developer_account.identifier,
                             reason="investigation")
    controls.set_transfers_suspended(actor=admin, suspended=True, reason="incident")
    assert_problem(post(thief, f"/freezes/{frozen.uid}/lift"), 403, "STEP_UP_REQUIRED")
    resume = json.dumps({"transfers_suspended": False, "reason": "over"})
    assert_problem(thief.put("/api/v1/controls/switch", data=resume, content_type="application/json"), 403,
                   "STEP_UP_REQUIRED")
    # Suspending never waits for a second factor.
    suspend = json.dumps({"transfers_suspended": True, "reason": "again"})
    assert thief.put("/api/v1/controls/switch", data=suspend, content_type="application/json").status_code == 200
    confirm_second_factor(thief, admin)
    assert post(thief, f"/freezes/{frozen.uid}/lift").status_code == 200
    assert thief.put("/api/v1/controls/switch", data=resume, content_type="application/json").status_code == 200


# -- sessions ------------------------------------------------------------------------------


def test_idle_and_absolute_session_timeouts(registry, settings) -> None:  # noqa: ANN001
    start = dt.datetime(2026, 3, 3, 8, 0, tzinfo=dt.UTC)
    clock.freeze(start)
    client = Client()
    client.post("/accounts/login/", {"login": registry.buyer.username, "password": testing.PASSWORD})
    settings.TONNE_MFA_REQUIRED = False
    assert get(client, "/me").status_code == 200
    clock.freeze(start + dt.timedelta(minutes=settings.TONNE_SESSION_IDLE_MINUTES + 1))
    assert_problem(get(client, "/me"), 401, "NOT_AUTHENTICATED")
    # Busy, but past the absolute limit.
    clock.freeze(start)
    client.post("/accounts/login/", {"login": registry.buyer.username, "password": testing.PASSWORD})
    at = start
    while at < start + dt.timedelta(hours=settings.TONNE_SESSION_MAX_HOURS - 1):
        at += dt.timedelta(minutes=20)
        clock.freeze(at)
        assert get(client, "/me").status_code == 200
    clock.freeze(start + dt.timedelta(hours=settings.TONNE_SESSION_MAX_HOURS, minutes=1))
    assert_problem(get(client, "/me"), 401, "NOT_AUTHENTICATED")


def test_session_writes_need_csrf(registry, settings) -> None:  # noqa: ANN001
    settings.TONNE_MFA_REQUIRED = False
    client = Client(enforce_csrf_checks=True)
    client.force_login(registry.buyer)
    assert_problem(post(client, "/tokens", {"name": "x", "scope": "read"}), 403, "CSRF_FAILED")
    client.get("/")  # a page with a form sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    assert post(client, "/tokens", {"name": "x", "scope": "read"}, headers={"X-CSRFToken": token}).status_code == 201


# -- rate limits and lockout -----------------------------------------------------------------


def test_api_rate_limit(settings) -> None:  # noqa: ANN001
    settings.TONNE_API_RATE_PER_MINUTE = 3
    clock.freeze(dt.datetime(2026, 3, 3, 8, 0, 5, tzinfo=dt.UTC))
    client = Client()
    for _ in range(3):
        assert client.get("/api/v1/ledger/checkpoints").status_code != 429
    limited = assert_problem(client.get("/api/v1/ledger/checkpoints"), 429, "RATE_LIMITED")
    assert limited["status"] == 429
    assert client.get("/api/v1/ledger/checkpoints")["Retry-After"] == "55"
    clock.freeze(dt.datetime(2026, 3, 3, 8, 1, 0, tzinfo=dt.UTC))
    assert client.get("/api/v1/ledger/checkpoints").status_code != 429


@pytest.mark.django_db
def test_one_proxys_bad_tokens_do_not_lock_everyone_out(registry, settings) -> None:  # noqa: ANN001
    settings.TONNE_AUTH_FAILURES_PER_HOUR = 3
    give_totp(registry.buyer)
    good = bearer(registry.buyer, ApiToken.Scope.READ)
    client = Client()  # everyone behind one proxy shares its address
    for i in range(5):
        get(client, "/me", headers={"Authorization": f"Bearer tonne_guess{i}-{'x' * 40}"})
    assert get(client, "/me", headers=good).status_code == 200  # a real token still works
    viewer = Client()
    viewer.force_login(testing.make_user(registry.buyer_org, "acc-proxy-viewer", "viewer", actor=registry.admin))
    assert get(viewer, "/me").status_code == 200  # and so does a session


def test_token_spraying_is_still_limited(registry, settings) -> None:  # noqa: ANN001
    settings.TONNE_AUTH_FAILURES_PER_HOUR = 3
    client = Client()
    for i in range(3):
        assert_problem(get(client, "/me", headers={"Authorization": f"Bearer tonne_guess{i}-{'x' * 40}"}), 401,
                       "TOKEN_INVALID")
    # Every further guess from the address is refused before it is checked.
    assert_problem(get(client, "/me", headers={"Authorization": "Bearer tonne_another-guess-xxxxxxxxxx"}), 429,
                   "AUTHENTICATION_LOCKED_OUT")


def test_guessing_one_tokens_secret_locks_that_token_only(registry, settings) -> None:  # noqa: ANN001
    settings.TONNE_AUTH_FAILURES_PER_HOUR = 3
    give_totp(registry.buyer)
    good = bearer(registry.buyer, ApiToken.Scope.READ)
    other = bearer(registry.buyer, ApiToken.Scope.READ)
    secret = good["Authorization"].removeprefix("Bearer ")
    for i in range(3):
        wrong = {"Authorization": f"Bearer {secret[:12]}{'y' * 30}{i}"}
        assert_problem(get(Client(), "/me", headers=wrong), 401, "TOKEN_INVALID")
    assert_problem(get(Client(), "/me", headers=good), 429, "AUTHENTICATION_LOCKED_OUT")
    assert get(Client(), "/me", headers=other).status_code == 200


def test_sign_in_lockout_after_failed_passwords(registry) -> None:  # noqa: ANN001
    client = Client()
    for _ in range(5):
        response = client.post("/accounts/login/", {"login": registry.buyer.username, "password": "not it at all"})
        assert response.status_code == 200
    response = client.post("/accounts/login/", {"login": registry.buyer.username, "password": testing.PASSWORD})
    assert response.status_code in (200, 429) and not response.wsgi_request.user.is_authenticated
    from tonne.audit.models import AuditEvent

    assert AuditEvent.objects.filter(category="login_failed", username=registry.buyer.username).count() >= 5


def test_sign_in_lockout_behind_a_proxy_counts_the_forwarded_client(registry, settings) -> None:  # noqa: ANN001
    settings.TONNE_USE_X_FORWARDED_FOR = True
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "2/m/ip"}
    attacker = Client(headers={"x-forwarded-for": "203.0.113.5"})  # every client arrives from the proxy's address
    for name in ("guess-a", "guess-b", "guess-c"):
        attacker.post("/accounts/login/", {"login": name, "password": "not it at all"})
    response = attacker.post("/accounts/login/", {"login": registry.buyer.username, "password": testing.PASSWORD})
    assert not response.wsgi_request.user.is_authenticated  # the attacker's address is limited
    colleague = Client(headers={"x-forwarded-for": "203.0.113.6"})
    response = colleague.post("/accounts/login/", {"login": registry.buyer.username, "password": testing.PASSWORD})
    assert response.status_code == 302 and response.wsgi_request.user.is_authenticated


def test_cookies_set_over_tls_are_secure(registry) -> None:  # noqa: ANN001
    from django.conf import settings

    give_totp(registry.buyer)
    over_tls = Client().post("/accounts/login/", {"login": registry.buyer.username, "password": testing.PASSWORD},
                             secure=True)
    assert over_tls.cookies and all(m["secure"] for m in over_tls.cookies.values())
    assert over_tls.cookies[settings.SESSION_COOKIE_NAME]["httponly"]
    # The plain-HTTP demo (make run) still signs in.
    plain = Client().post("/accounts/login/", {"login": registry.buyer.username, "password": testing.PASSWORD})
    assert plain.status_code == 302 and settings.SESSION_COOKIE_NAME in plain.cookies


# -- headers -----------------------------------------------------------------------------------


def test_security_headers(client: Client) -> None:
    for path in ("/", "/api/v1/openapi.json", "/api/v1/docs", "/accounts/login/"):
        response = client.get(path)
        csp = response["Content-Security-Policy"]
        script_src = re.search(r"script-src ([^;]+)", csp).group(1)
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
        assert "frame-ancestors 'none'" in csp
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in response  # plain HTTP
    secure = client.get("/", secure=True)
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")


def test_pages_carry_no_inline_script(client: Client, registry) -> None:  # noqa: ANN001
    give_totp(registry.buyer)
    client.force_login(registry.buyer)
    for path in ("/", "/accounts/login/", "/api/v1/docs", "/accounts/2fa/"):
        html = client.get(path).content.decode()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
    assert json.loads(client.get("/api/v1/openapi.json").content)["openapi"].startswith("3.1")


def test_the_admin_site_signs_in_through_allauth(client: Client) -> None:
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
