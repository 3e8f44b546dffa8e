"""schemathesis against the API's own OpenAPI document, served by the live
WSGI application: generated requests (valid and invalid) to every operation,
as the registry administrator and as a holder, must never meet a server
error. Authorisation across organisations is in the authorisation matrix."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tonne import testing
from tonne.access.testing import give_totp
from tonne.organisations import services as orgs
from tonne.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)

pytestmark = [pytest.mark.django_db, pytest.mark.controls]


@pytest.fixture
def keep_connection() -> Iterator[None]:
    # Requests go straight to the WSGI application: keep Django from closing the
    # test's database connection at the end of each (as its test client does).
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def tokens(registry, settings, keep_connection) -> dict[str, str]:  # noqa: ANN001
    settings.TONNE_API_RATE_PER_MINUTE = 10**6
    settings.TONNE_API_WRITE_RATE_PER_MINUTE = 10**6
    settings.TONNE_AUTH_FAILURES_PER_HOUR = 10**6
    project = testing.registered_project(registry)
    settings.TONNE_FOUR_EYES = settings.TONNE_FOUR_EYES - {"issuance"}
    testing.issue(registry, project, {2022: 1000})
    out = {}
    for name, user, scope in (("admin", registry.admin, "admin"), ("holder", registry.developer, "trade")):
        give_totp(user)
        _, secret = orgs.issue_api_token(actor=user, name="fuzz", scope=scope)
        out[name] = f"Bearer {secret}"
    return out


@schema.parametrize()
@settings(max_examples=3, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: Any, tokens: dict[str, str]) -> None:
    for who in ("admin", "holder"):
        case.call_and_validate(headers={"Authorization": tokens[who]}, checks=[not_a_server_error])
