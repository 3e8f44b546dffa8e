"""Truthful answers when the stack fails: "nothing was changed" only when
the registry knows it rolled back; a move whose COMMIT was in flight is
OUTCOME_UNKNOWN and found again by its Idempotency-Key; database failures,
including those raised in middleware, are retryable problem documents."""

from __future__ import annotations

import psycopg
import pytest
from django.db.utils import OperationalError
from django.test import Client

from tonne import testing
from tonne.access import counters
from tonne.core import faults, outcomes
from tonne.core.tests.test_api_core import API, post
from tonne.units.models import Transaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(registry):
    project = testing.registered_project(registry)
    testing.issue(registry, project, {2022: 1000})
    return registry


def body(reg) -> dict:
    return {
        "from_account": reg.developer_account.identifier,
        "to_account": reg.buyer_account.identifier,
        "quantity": 10,
    }


def assert_retryable(response, code: str) -> dict:
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert int(response["Retry-After"]) >= 1
    problem = response.json()
    assert problem["code"] == code
    return problem


@pytest.mark.postgres  # a real COMMIT: the test database is flushed afterwards, which SQLite's guards refuse
@pytest.mark.django_db(transaction=True)
def test_connection_lost_after_commit_is_outcome_unknown_and_found_by_key(issued, monkeypatch) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(issued.developer)

    def lost() -> None:  # the COMMIT reached the server; its answer did not come back
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(outcomes, "commit_done", lost)
    response = post(client, "/transfers", body(issued), headers={"Idempotency-Key": "k-1"})
    problem = assert_retryable(response, "OUTCOME_UNKNOWN")
    assert "nothing was changed" not in problem["detail"] and "Idempotency-Key" in problem["detail"]
    monkeypatch.undo()

    client.force_login(issued.developer)
    found = client.get(f"{API}/transactions", {"idempotency_key": "k-1"}).json()
    assert found["count"] == 1 and found["items"][0]["quantity"] == 10
    retry = post(client, "/transfers", body(issued), headers={"Idempotency-Key": "k-1"})
    assert retry.status_code == 200  # the first result; nothing moved twice
    assert Transaction.objects.filter(idempotency_key="k-1").count() == 1
    # Someone else's key finds nothing.
    client.force_login(issued.buyer)
    assert client.get(f"{API}/transactions", {"idempotency_key": "k-1"}).json()["count"] == 0


def test_database_lost_before_commit_says_nothing_was_changed(issued) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(issued.developer)

    def lost() -> None:
        raise OperationalError("terminating connection due to administrator command")

    faults.install("move.after_read", lost)
    try:
        response = post(client, "/transfers", body(issued), headers={"Idempotency-Key": "k-2"})
    finally:
        faults.install("move.after_read", None)
    problem = assert_retryable(response, "DATABASE_UNAVAILABLE")
    assert "nothing was changed" in problem["detail"]
    assert not Transaction.objects.filter(idempotency_key="k-2").exists()


def test_commit_in_flight_is_never_called_nothing_changed(issued) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(issued.developer)

    def lost_while_committing() -> None:
        outcomes.commit_sent()
        raise OperationalError("server closed the connection unexpectedly")

    faults.install("move.after_read", lost_while_committing)
    try:
        response = post(client, "/transfers", body(issued), headers={"Idempotency-Key": "k-3"})
    finally:
        faults.install("move.after_read", None)
    assert "nothing was changed" not in assert_retryable(response, "OUTCOME_UNKNOWN")["detail"]
    retry = post(client, "/transfers", body(issued), headers={"Idempotency-Key": "k-3"})
    assert retry.status_code in (200, 201)
    assert Transaction.objects.filter(idempotency_key="k-3").count() == 1


def test_failure_in_middleware_is_a_problem_document(issued, monkeypatch) -> None:
    client = Client(raise_request_exception=False)

    def down(*args, **kwargs):
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr(counters, "hit_many", down)
    response = client.get(f"{API}/issuances")
    assert_retryable(response, "DATABASE_UNAVAILABLE")


def test_statement_timeout_and_full_disk_are_retryable() -> None:
    def wrapped(cause: Exception) -> OperationalError:
        try:
            raise OperationalError(str(cause)) from cause
        except OperationalError as exc:
            return exc

    timeout = wrapped(psycopg.errors.QueryCanceled("canceling statement due to statement timeout"))
    assert outcomes.database_failure(timeout) == "timeout"
    assert outcomes.database_failure(wrapped(psycopg.errors.DiskFull("could not extend file"))) == "unavailable"
    assert outcomes.database_failure(wrapped(psycopg.errors.TooManyConnections("too many clients"))) == "unavailable"
    assert outcomes.database_failure(ValueError("a bug")) is None
