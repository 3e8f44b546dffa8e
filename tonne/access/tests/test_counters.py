"""Rate-limit and lockout counters are shared by every server process:
counts made on one database connection are seen on another."""

from __future__ import annotations

import threading

import pytest

from tonne.access import counters
from tonne.core.tests.test_api_core import assert_problem, get


def _hits_in_another_connection(key: str, n: int) -> None:
    def run() -> None:
        from django.db import connection as own

        try:
            for _ in range(n):
                counters.hit(key, 60)
        finally:
            own.close()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_counts_are_shared_between_connections() -> None:
    _hits_in_another_connection("test:shared", 7)
    _hits_in_another_connection("test:shared", 5)
    assert counters.current("test:shared") == 12
    assert counters.hit("test:shared", 60) == 13


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_api_limit_counts_requests_made_by_other_processes(client, settings) -> None:  # noqa: ANN001
    settings.TONNE_API_RATE_PER_MINUTE = 5
    first = get(client, "/controls")  # any API request: learn this client's key
    assert first.status_code in (200, 401)
    from tonne.access.models import RateCounter

    key = RateCounter.objects.get().key
    _hits_in_another_connection(key, 5)  # the same client, served by another process
    assert_problem(get(client, "/controls"), 429, "RATE_LIMITED")


@pytest.mark.django_db
def test_windows_count_apart_and_ended_windows_go() -> None:
    import datetime as dt

    from tonne.access.models import RateCounter
    from tonne.core import clock

    assert [counters.hit("test:a", 60) for _ in range(3)] == [1, 2, 3]
    assert counters.hit("test:b", 60) == 1
    clock.freeze(clock.now() + dt.timedelta(seconds=61))
    assert counters.current("test:a") == 0  # the window ended
    assert counters.hit("test:c", 60) == 1  # a new window sweeps ended ones
    assert set(RateCounter.objects.values_list("key", flat=True)) == {"test:c"}
