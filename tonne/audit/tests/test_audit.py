"""The audit log: logins (and failures), denials, administrative actions and
configuration changes, with who, when and from where; append-only in the
database; searchable and exportable by the registry administrator only."""

from __future__ import annotations

import csv
import io

import pytest
from django.core import mail
from django.db import DatabaseError, IntegrityError, transaction
from django.test import Client

from tonne import testing
from tonne.audit.models import AuditEvent
from tonne.audit.services import record
from tonne.core.tests.test_api_core import assert_problem, bearer, get, post
from tonne.organisations.models import ApiToken

pytestmark = pytest.mark.django_db
Category = AuditEvent.Category
BROWSER = {"HTTP_USER_AGENT": "Mozilla/5.0 (X11) Firefox/140.0", "REMOTE_ADDR": "198.51.100.7"}


def test_login_success_and_failure_are_recorded(registry) -> None:  # noqa: ANN001
    client = Client(**BROWSER)
    assert not client.login(username=registry.developer.username, password="wrong password")
    failed = AuditEvent.objects.get(category=Category.LOGIN_FAILED)
    assert failed.username == registry.developer.username and failed.outcome == "failure"
    assert client.login(username=registry.developer.username, password=testing.PASSWORD)
    ok = AuditEvent.objects.get(category=Category.LOGIN)
    assert ok.actor_id == registry.developer.pk and ok.organisation_id == registry.developer_org.pk
    client.logout()
    assert AuditEvent.objects.filter(category=Category.LOGOUT, actor_id=registry.developer.pk).exists()


def test_login_through_the_page_records_where_from_and_announces_new_devices(registry) -> None:  # noqa: ANN001
    registry.developer.email = "dev@example.org"
    registry.developer.save()
    laptop = Client(**BROWSER)
    form = {"username": registry.developer.username, "login": registry.developer.username, "password": testing.PASSWORD}
    laptop.get("/accounts/login/")
    response = laptop.post("/accounts/login/", form)
    assert response.status_code == 302, response.content
    login = AuditEvent.objects.filter(category=Category.LOGIN).latest("id")
    assert login.ip == "198.51.100.7" and "Firefox" in login.user_agent and login.path == "/accounts/login/"
    assert AuditEvent.objects.filter(category=Category.NEW_DEVICE).count() == 1
    assert mail.outbox == []  # the first device is no news
    # Same browser again: known.
    laptop.post("/accounts/logout/")  # (Client.logout would drop every cookie)
    laptop.post("/accounts/login/", form)
    assert AuditEvent.objects.filter(category=Category.NEW_DEVICE).count() == 1
    # Another browser: recorded and emailed.
    phone = Client(HTTP_USER_AGENT="Phone", REMOTE_ADDR="203.0.113.9")
    phone.get("/accounts/login/")
    phone.post("/accounts/login/", form)
    assert AuditEvent.objects.filter(category=Category.NEW_DEVICE).count() == 2
    assert len(mail.outbox) == 1 and "203.0.113.9" in mail.outbox[0].body
    assert mail.outbox[0].to == ["dev@example.org"]


def test_permission_denials_are_recorded(registry) -> None:  # noqa: ANN001
    client = Client(**BROWSER)
    client.force_login(registry.developer)
    assert_problem(get(client, "/audit/events"), 403, "NOT_REGISTRY_ADMINISTRATOR")
    denial = AuditEvent.objects.get(category=Category.PERMISSION_DENIED)
    assert denial.action == "NOT_REGISTRY_ADMINISTRATOR" and denial.actor_id == registry.developer.pk
    assert denial.path == "/api/v1/audit/events" and denial.ip == "198.51.100.7"
    # A bad token is recorded too.
    assert_problem(get(Client(), "/me", headers={"Authorization": "Bearer tonne_nonsense"}), 401, "TOKEN_INVALID")
    assert AuditEvent.objects.filter(category=Category.PERMISSION_DENIED, action="TOKEN_INVALID").exists()


def test_administrative_actions_and_configuration_changes_are_recorded(registry) -> None:  # noqa: ANN001
    org = testing.make_org(None, "Applicant SA", "trader")
    admin = Client(**BROWSER)
    admin.force_login(registry.admin)
    response = post(admin, f"/organisations/{org.uid}/status", {"status": "approved", "reason": "KYC complete"})
    assert response.status_code == 200
    action = AuditEvent.objects.get(category=Category.ADMIN_ACTION)
    assert action.actor_id == registry.admin.pk and action.target == f"/api/v1/organisations/{org.uid}/status"
    assert action.outcome == "success"
    response = admin.put(
        "/api/v1/controls/switch", data='{"transfers_suspended": true, "reason": "Incident"}',
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    change = AuditEvent.objects.get(category=Category.CONFIGURATION)
    assert change.action == "transfers.suspended" and change.detail == {"reason": "Incident"}


def test_the_log_is_append_only(registry) -> None:  # noqa: ANN001
    event = record(Category.SECURITY, "test", username="x")
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="edited")
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "test"


def test_search_and_export_are_for_the_administrator(registry) -> None:  # noqa: ANN001
    record(Category.LOGIN_FAILED, "login", username="mallory", outcome="failure")
    record(Category.LOGIN_FAILED, "login", username="=HYPERLINK(\"http://x\")", outcome="failure")
    admin = Client()
    admin.force_login(registry.admin)
    page = get(admin, "/audit/events", category="login_failed", username="mallory").json()
    assert page["count"] == 1 and page["items"][0]["username"] == "mallory"
    assert_problem(get(admin, "/audit/events", category="nonsense"), 422, "AUDIT_CATEGORY_INVALID")
    assert_problem(get(admin, "/audit/events", ip="not-an-ip"), 422, "IP_ADDRESS_INVALID")
    response = admin.get("/api/v1/audit/events.csv", {"category": "login_failed"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {r["username"] for r in rows} == {"mallory", "'=HYPERLINK(\"http://x\")"}
    assert AuditEvent.objects.filter(category=Category.AUDIT_EXPORT, actor_id=registry.admin.pk).exists()
    # Not for others, nor for an administrator's read-scoped token.
    dev = Client()
    dev.force_login(registry.developer)
    assert_problem(dev.get("/api/v1/audit/events.csv"), 403, "NOT_REGISTRY_ADMINISTRATOR")
    assert_problem(get(Client(), "/audit/events", headers=bearer(registry.admin, ApiToken.Scope.READ)), 403,
                   "TOKEN_SCOPE_INSUFFICIENT")
    assert get(Client(), "/audit/events", headers=bearer(registry.admin, ApiToken.Scope.ADMIN)).status_code == 200
    assert_problem(get(Client(), "/audit/events"), 401, "NOT_AUTHENTICATED")
