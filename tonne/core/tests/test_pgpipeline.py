"""The move path's statement pipeline (tonne.core.pgpipeline): placeholders
and parameters, then, on PostgreSQL, batching, ordering against Django's own
queries, errors, and recovery when the server forgets its prepared statements."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal

import psycopg
import pytest
from django.db import connection

from tonne.core import pgpipeline


def test_placeholders_become_numbered_parameters():
    assert pgpipeline.convert("SELECT %s, %s WHERE x LIKE 'a%%'") == (b"SELECT $1, $2 WHERE x LIKE 'a%'", ())
    assert pgpipeline.convert("SELECT %(a)s, %(b)s, %(a)s") == (b"SELECT $1, $2, $1", ("a", "b"))
    with pytest.raises(ValueError):
        pgpipeline.convert("SELECT %s, %(a)s")


def test_parameters_are_sent_in_postgresql_text_form():
    at = dt.datetime(2026, 12, 1, 18, 30, 5, 123456, tzinfo=dt.UTC)
    assert pgpipeline.text_value(None) is None
    assert pgpipeline.text_value(True) == b"t"
    assert pgpipeline.text_value(False) == b"f"
    assert pgpipeline.text_value(-42) == b"-42"
    assert pgpipeline.text_value("žluť") == "žluť".encode()
    assert pgpipeline.text_value(at) == b"2026-12-01T18:30:05.123456+00:00"
    assert pgpipeline.text_value(dt.date(2026, 1, 2)) == b"2026-01-02"
    assert pgpipeline.text_value(Decimal("1.50")) == b"1.50"
    u = uuid.uuid4()
    assert pgpipeline.text_value(u) == str(u).encode()

    class Status(enum.StrEnum):  # like Django's TextChoices
        OPEN = "open"

    assert pgpipeline.text_value(Status.OPEN) == b"open"
    assert pgpipeline.text_value(enum.IntEnum("Level", "LOW HIGH").HIGH) == b"2"
    with pytest.raises(TypeError):
        pgpipeline.text_value(dt.datetime(2026, 1, 1))  # naive: which zone?
    with pytest.raises(TypeError):
        pgpipeline.text_value(1.5)


def batches_sent(monkeypatch) -> list[int]:
    sizes: list[int] = []
    run = pgpipeline.Pipeline.run

    def counting(self) -> None:
        if self.queue:
            sizes.append(len(self.queue))
        run(self)

    monkeypatch.setattr(pgpipeline.Pipeline, "run", counting)
    return sizes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_statements_wait_for_a_result_then_go_together_and_read_like_psycopg(monkeypatch):
    sizes = batches_sent(monkeypatch)
    at = dt.datetime(2026, 12, 1, 18, 30, 5, 123456, tzinfo=dt.UTC)
    sql = "SELECT %s::bigint, %s::text, %s::timestamptz, %s::boolean, NULL::int"
    with pgpipeline.open(connection) as pipeline:
        first, second = pipeline.cursor(), pipeline.cursor()
        first.execute(sql, [7, "seven", at, True])
        second.execute("SELECT n FROM generate_series(1, %s) AS n", [3])
        assert sizes == []  # nothing sent yet
        assert second.fetchone() == (1,)
        assert sizes == [4]  # one Parse and one Execute each, one Sync
        assert second.fetchall() == [(2,), (3,)]
        assert second.fetchone() is None
        row = first.fetchone()
    with connection.cursor() as cursor:
        cursor.execute(sql, [7, "seven", at, True])
        assert row == cursor.fetchone()
    assert row == (7, "seven", at, True, None)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_each_statement_is_prepared_once_per_connection(monkeypatch):
    sizes = batches_sent(monkeypatch)
    for n in range(3):
        with pgpipeline.open(connection) as pipeline:
            cursor = pipeline.cursor()
            cursor.execute("SELECT %s::int + 1", [n])
            assert cursor.fetchone() == (n + 1,)
    assert sizes == [2, 1, 1]
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE name LIKE 'tonne_%%'")
        assert ("SELECT $1::int + 1",) in cursor.fetchall()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_django_query_sends_what_is_queued_first():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE pipeline_order (n int)")
    with pgpipeline.open(connection) as pipeline:
        pipeline.cursor().execute("INSERT INTO pipeline_order VALUES (%s)", [1])
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pipeline_order")
            assert cursor.fetchone() == (1,)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_error_names_its_cause_skips_the_rest_and_leaves_the_connection_usable():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE pipeline_keys (k int PRIMARY KEY)")
    with pytest.raises(psycopg.errors.UniqueViolation):
        with pgpipeline.open(connection) as pipeline:
            cursor = pipeline.cursor()
            cursor.execute("BEGIN", prepare=False)
            cursor.execute("INSERT INTO pipeline_keys VALUES (%s)", [1])
            cursor.execute("INSERT INTO pipeline_keys VALUES (%s)", [1])
            cursor.execute("INSERT INTO pipeline_keys VALUES (%s)", [2])  # skipped by the server
            pipeline.commit()
    raw = connection.connection
    assert raw.pgconn.transaction_status == psycopg.pq.TransactionStatus.INERROR
    raw.execute("ROLLBACK")
    with pgpipeline.open(connection) as pipeline:
        cursor = pipeline.cursor()
        cursor.execute("SELECT count(*) FROM pipeline_keys")
        assert cursor.fetchone() == (0,)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_statements_forgotten_by_the_server_are_prepared_again():
    with pgpipeline.open(connection) as pipeline:
        cursor = pipeline.cursor()
        cursor.execute("SELECT %s::int * 2", [21])
        assert cursor.fetchone() == (42,)
    connection.connection.execute("DEALLOCATE ALL")
    with pytest.raises(psycopg.errors.InvalidSqlStatementName):
        with pgpipeline.open(connection) as pipeline:
            cursor = pipeline.cursor()
            cursor.execute("SELECT %s::int * 2", [21])
            cursor.fetchone()
    with pgpipeline.open(connection) as pipeline:
        cursor = pipeline.cursor()
        cursor.execute("SELECT %s::int * 2", [21])
        assert cursor.fetchone() == (42,)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_past_the_limit_statements_are_sent_unprepared(monkeypatch):
    monkeypatch.setattr(pgpipeline, "MAX_PREPARED", 0)
    with pgpipeline.open(connection) as pipeline:
        cursor = pipeline.cursor()
        cursor.execute("SELECT %s::int - 1", [5])
        assert cursor.fetchone() == (4,)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement = 'SELECT $1::int - 1'")
        assert cursor.fetchone() == (0,)
