"""schemathesis against /cadt/openapi.json, served by the live WSGI
application: generated requests (valid and invalid) to every CAD Trust read
operation never meet a server error, and answer with the statuses, content
types and bodies the document states (issue 13: the CAD Trust read API is
anonymous, so whatever anyone sends must cost little and break nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from tonne.cadt.cadt_api import api
from tonne.wsgi import application

schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/cadt"))
schema.app = application
schema.location = "/cadt/openapi.json"

pytestmark = pytest.mark.django_db
# A schema-valid request may still be refused as CAD Trust refuses it (page
# without limit, a filter naming no column): the document cannot state those rules.
EXCLUDED_CHECKS = [positive_data_acceptance]


@pytest.fixture
def live(settings: Any) -> Iterator[None]:  # noqa: ANN401
    from django.core import signals
    from django.db import close_old_connections

    settings.TONNE_API_RATE_PER_MINUTE = 10**6
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_cadt_api_meets_its_document(cadt_reg: Any, live: None) -> None:
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=2, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            case.call_and_validate(excluded_checks=EXCLUDED_CHECKS)

        try:
            run()
        except BaseException as exc:  # collected: one report names every failing operation
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:2000]}")
    assert not failures, f"{len(failures)} operations fail:\n\n" + "\n\n".join(failures)
