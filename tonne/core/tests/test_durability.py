"""Nothing read leaves before it is durable (core.durability). The crash
drill (ops/tests/test_crash_drills.py) shows it end to end under a crash;
these show the pieces."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection
from django.db.utils import OperationalError
from django.http import StreamingHttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tonne.core import durability

pytestmark = pytest.mark.django_db


def test_an_answer_leaves_once_its_reads_are_durable(client) -> None:  # noqa: ANN001
    from django.conf import settings

    assert settings.MIDDLEWARE[1] == "tonne.core.durability.DurableAnswersMiddleware"  # just inside the outcome log
    assert client.get("/api/v1/ledger").status_code == 200


def test_an_answer_whose_durability_cannot_be_established_is_not_sent(monkeypatch) -> None:  # noqa: ANN001
    def lost() -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(durability, "wait_until_durable", lost)
    response = Client(raise_request_exception=False).get("/api/v1/ledger")
    assert response.status_code == 503
    assert response.json()["code"] == "DATABASE_UNAVAILABLE"
    assert "size" not in response.json()


def test_a_streamed_answer_is_released_chunk_by_chunk(monkeypatch) -> None:  # noqa: ANN001
    checks: list[str] = []
    monkeypatch.setattr(durability, "wait_until_durable", lambda: checks.append("checked"))
    middleware = durability.DurableAnswersMiddleware(lambda request: StreamingHttpResponse(iter([b"a", b"b"])))
    response = middleware(None)  # type: ignore[arg-type]
    assert checks == ["checked"]
    assert list(response.streaming_content) == [b"a", b"b"]  # type: ignore[attr-defined]
    assert checks == ["checked"] * 3


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite")
def test_sqlite_needs_no_wait() -> None:
    durability.note_read(connection)
    with CaptureQueriesContext(connection) as queries:
        durability.wait_until_durable()
    assert not queries.captured_queries


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL")
def test_the_barrier_flushes_past_an_asynchronous_commit() -> None:
    db = connection.settings_dict
    other = psycopg.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
                            dbname=db["NAME"], autocommit=True)
    try:
        with other.transaction():
            other.execute("SET LOCAL synchronous_commit = off")
            other.execute("SELECT pg_logical_emit_message(true, 'tonne.test', '')")
        (committed,) = other.execute("SELECT pg_current_wal_insert_lsn()").fetchone()
        with other.cursor() as cursor:
            durability.make_durable(cursor)
        assert other.execute("SELECT pg_current_wal_flush_lsn() >= %s::pg_lsn", [committed]).fetchone()[0]
    finally:
        other.close()
