"""Where reads go (tonne.core.replicas) without a standby: the lag bound, the
router's rules, the middleware's choices, the read-your-writes mark and the
second answer from the primary. A real standby: ops/tests/test_read_replicas."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from allauth.account.models import EmailAddress
from django.contrib.sessions.models import Session
from django.db import transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.test import RequestFactory
from hypothesis import given
from hypothesis import strategies as st

from tonne.access.models import RateCounter
from tonne.core import replicas
from tonne.organisations.models import User
from tonne.projects.models import Project

ROUTER = replicas.ReplicaRouter()
REPO = Path(__file__).resolve().parents[3]


# -- how far behind ----------------------------------------------------------------------


def test_lag_is_the_age_of_the_newest_position_the_standby_has_replayed() -> None:
    samples = [(10.0, 100), (11.0, 200), (12.0, 300)]
    assert replicas.lag_seconds(samples, 300, now=12.5) == 0.5
    assert replicas.lag_seconds(samples, 250, now=12.5) == 1.5  # has everything committed before 11.0
    assert replicas.lag_seconds(samples, 99, now=12.5) == math.inf  # older than anything known: unbounded


@given(
    st.lists(st.integers(0, 10**6), min_size=1, max_size=20).map(sorted),
    st.integers(0, 10**6), st.integers(0, 10**6),
)
def test_a_standby_that_replayed_more_is_never_judged_further_behind(lsns: list[int], a: int, b: int) -> None:
    samples = [(float(i), lsn) for i, lsn in enumerate(lsns)]
    low, high = sorted((a, b))
    now = float(len(lsns))
    assert replicas.lag_seconds(samples, high, now) <= replicas.lag_seconds(samples, low, now)
    # Never less than the truth: whatever the bound says, the standby has replayed the primary's position then.
    lag = replicas.lag_seconds(samples, high, now)
    if lag != math.inf:
        assert any(lsn <= high and at >= now - lag for at, lsn in samples)


def test_wal_positions_read_as_byte_offsets() -> None:
    assert replicas.parse_lsn("0/16B3740") == 0x16B3740
    assert replicas.parse_lsn("1/0") == 1 << 32


class ScriptedHealth(replicas.ReplicaHealth):
    """Checks answered from a script instead of servers."""

    def __init__(self, answers: dict[str, Any], **kw: Any) -> None:
        super().__init__(["replica_1"], max_lag=kw.get("max_lag", 5.0), every=kw.get("every", 0.0),
                         background=kw.get("background", False))
        self.answers = answers

    def _fetch(self, alias: str, sql: str) -> tuple[Any, ...]:
        answer = self.answers[alias]
        if isinstance(answer, Exception):
            raise answer
        return tuple(answer)


def test_a_standby_in_step_is_used_and_one_that_is_down_lagging_or_promoted_is_not() -> None:
    health = ScriptedHealth({"default": ["0/100"], "replica_1": [True, "0/100"]})
    assert health.choose() == "replica_1"
    health.answers["replica_1"] = psycopg.OperationalError("connection refused")
    assert health.choose() is None and "unreachable" in health.states["replica_1"].why
    health.answers["replica_1"] = [False, None]
    assert health.choose() is None and "not a standby" in health.states["replica_1"].why
    health.answers.update({"default": ["0/200"], "replica_1": [True, "0/50"]})
    assert health.choose() is None and health.states["replica_1"].lag == math.inf
    health.answers["default"] = psycopg.OperationalError("primary down")
    assert health.choose() is None and "primary unreachable" in health.states["replica_1"].why


def test_a_standby_behind_more_than_the_limit_is_skipped() -> None:
    health = ScriptedHealth({"default": ["0/100"], "replica_1": [True, "0/100"]}, max_lag=5.0)
    health.check()
    health.samples[0] = (health.samples[0][0] - 10, 100)  # the primary was at 0/100 ten seconds ago ...
    health.answers["default"] = ["0/200"]  # ... and is further now; the standby still at 0/100
    health.check()
    assert not health.states["replica_1"].usable and health.states["replica_1"].lag >= 10
    health.answers["replica_1"] = [True, "0/200"]
    health.check()
    assert health.states["replica_1"].usable


def test_checks_are_made_at_most_every_interval() -> None:
    health = ScriptedHealth({"default": ["0/100"], "replica_1": [True, "0/100"]}, every=3600.0)
    assert health.choose() == "replica_1"
    health.answers["replica_1"] = psycopg.OperationalError("gone")
    assert health.choose() == "replica_1"  # not checked again yet
    health.mark_failed("replica_1", "a read failed there")
    assert health.choose() is None  # a failed read takes it out at once


def test_later_checks_run_beside_the_requests() -> None:
    health = ScriptedHealth({"default": ["0/100"], "replica_1": [True, "0/100"]}, background=True)
    assert health.choose() == "replica_1"  # the first one is waited for
    health.answers["replica_1"] = psycopg.OperationalError("gone")
    health.choose()  # starts the next check and goes on
    with health._lock:  # held by the check until it is done
        assert not health.states["replica_1"].usable


# -- the router --------------------------------------------------------------------------


def test_without_a_route_every_read_is_on_the_primary() -> None:
    assert ROUTER.db_for_read(Project) == "default"


def test_a_routed_request_reads_public_models_on_its_standby_only() -> None:
    with replicas.reading_from("replica_1") as route:
        assert not route.used
        assert ROUTER.db_for_read(Project) == "replica_1"
        assert route.used
        # Sessions, sign-in, second factors' accounts, rate counters: what the next request must see.
        for model in (Session, User, EmailAddress, RateCounter):
            assert ROUTER.db_for_read(model) == "default", model
        assert ROUTER.db_for_write(Project) == "default"
        assert ROUTER.db_for_read(Project) == "default"  # after a write the request reads its own writes
    assert ROUTER.allow_migrate("replica_1", "projects") is False
    assert ROUTER.allow_migrate("default", "projects") is True


@pytest.mark.django_db
def test_reads_inside_a_transaction_stay_on_the_primary() -> None:
    with replicas.reading_from("replica_1"), transaction.atomic():
        assert ROUTER.db_for_read(Project) == "default"


# -- the middleware ----------------------------------------------------------------------


class FakeHealth:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def choose(self) -> str | None:
        return None if self.failed else "replica_1"

    def mark_failed(self, alias: str, why: str) -> None:
        self.failed.append(alias)


@pytest.fixture
def fake_health(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[FakeHealth]:
    fake = FakeHealth()
    monkeypatch.setattr(replicas, "_health", fake)
    settings.TONNE_REPLICA_HEADER = True
    yield fake


def _reads(request: HttpRequest) -> HttpResponse:
    """A view that reads a project and says where from."""
    return HttpResponse(ROUTER.db_for_read(Project))


def _serve(request: HttpRequest, view: Any = _reads) -> HttpResponse:
    return replicas.ReplicaReadsMiddleware(view)(request)  # type: ignore[return-value]


def test_public_reads_of_visitors_go_to_a_standby(fake_health: FakeHealth, rf: RequestFactory) -> None:
    for path in ("/", "/projects/", "/api/v1/projects/P-1", "/cadt/v1/projects", "/dashboard/"):
        response = _serve(rf.get(path))
        assert (response.content, response["X-Tonne-Read-From"]) == (b"replica_1", "replica_1"), path
    for request in (
        rf.get("/workspace/"), rf.get("/accounts/login/"), rf.get("/admin/"),  # not public
        rf.get("/api/v1/holdings", headers={"Authorization": "Bearer t"}),  # API clients read back their writes
        rf.options("/api/v1/projects"),
    ):
        response = _serve(request)
        assert (response.content, response["X-Tonne-Read-From"]) == (b"default", "primary"), request.path


def test_a_browser_that_wrote_reads_the_primary_for_a_while(fake_health: FakeHealth, rf: RequestFactory, settings: Any) -> None:
    settings.TONNE_REPLICA_READ_YOUR_WRITES_SECONDS = 1  # raised to the lag limit plus a check
    assert replicas.read_your_writes_seconds() == settings.TONNE_REPLICA_MAX_LAG_SECONDS + settings.TONNE_REPLICA_CHECK_SECONDS
    wrote = _serve(rf.post("/api/v1/transfers"), view=lambda request: HttpResponse(status=201))
    mark = wrote.cookies[replicas.mark_cookie_name()]
    assert mark["httponly"] and mark["max-age"] == math.ceil(replicas.read_your_writes_seconds())
    request = rf.get("/projects/")
    request.COOKIES[mark.key] = mark.value
    assert _serve(request).content == b"default"
    forged = rf.get("/projects/")
    forged.COOKIES[mark.key] = "1:forged:mark"
    assert _serve(forged).content == b"replica_1"


def test_a_get_that_writes_marks_the_browser_and_reads_its_write(fake_health: FakeHealth, rf: RequestFactory) -> None:
    def writes_then_reads(request: HttpRequest) -> HttpResponse:
        ROUTER.db_for_write(Project)
        return HttpResponse(ROUTER.db_for_read(Project))

    response = _serve(rf.get("/projects/"), view=writes_then_reads)
    assert response.content == b"default"
    assert replicas.mark_cookie_name() in response.cookies


def test_a_read_that_fails_on_the_standby_is_answered_from_the_primary(fake_health: FakeHealth, rf: RequestFactory) -> None:
    def standby_gone(request: HttpRequest) -> HttpResponse:
        where = ROUTER.db_for_read(Project)
        return HttpResponse(where, status=503 if where == "replica_1" else 200)

    response = _serve(rf.get("/api/v1/projects/P-1"), view=standby_gone)
    assert (response.status_code, response.content, response["X-Tonne-Read-From"]) == (200, b"default", "primary")
    assert fake_health.failed == ["replica_1"]


def test_an_export_is_streamed_from_the_standby(fake_health: FakeHealth, rf: RequestFactory) -> None:
    def export(request: HttpRequest) -> StreamingHttpResponse:
        return StreamingHttpResponse(ROUTER.db_for_read(Project) for _ in range(2))

    response = _serve(rf.get("/projects/export.csv"), view=export)
    assert isinstance(response, StreamingHttpResponse)
    assert b"".join(response.streaming_content) == b"replica_1replica_1"  # type: ignore[arg-type]


# -- settings ----------------------------------------------------------------------------

SETTINGS_PROBE = """
import json
from tonne import settings as s
print(json.dumps({"aliases": sorted(s.DATABASES), "replica": s.DATABASES.get("replica_2"),
                  "routers": getattr(s, "DATABASE_ROUTERS", []), "last": s.MIDDLEWARE[-1]}))
"""


def _settings(tmp_path: Any, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "TONNE_", "DJANGO_"))}
    clean.update({"TONNE_DATA_DIR": str(tmp_path), "TONNE_SECRET_KEY": "test-secret", **env})
    return subprocess.run([sys.executable, "-c", SETTINGS_PROBE], env=clean, cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def test_replicas_are_read_from_database_replica_urls(tmp_path: Any) -> None:
    done = _settings(tmp_path, DATABASE_URL="postgres://u@primary:5432/tonne",
                     DATABASE_REPLICA_URLS="postgres://u@standby-a:5432/tonne, postgres://u@standby-b:5433/tonne")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["aliases"] == ["default", "replica_1", "replica_2"]
    assert (found["replica"]["HOST"], found["replica"]["PORT"], found["replica"]["TEST"]) == (
        "standby-b", 5433, {"MIRROR": "default"})
    assert found["routers"] == ["tonne.core.replicas.ReplicaRouter"]
    assert found["last"] == "tonne.core.replicas.ReplicaReadsMiddleware"

    plain = json.loads(_settings(tmp_path, DATABASE_URL="postgres://u@primary:5432/tonne").stdout.strip().splitlines()[-1])
    assert plain["aliases"] == ["default"] and plain["routers"] == []
    assert plain["last"] != "tonne.core.replicas.ReplicaReadsMiddleware"

    refused = _settings(tmp_path, DATABASE_REPLICA_URLS="postgres://u@standby-a:5432/tonne")  # SQLite primary
    assert refused.returncode != 0 and "replicas are PostgreSQL standbys" in refused.stderr


def test_only_changes_mark_the_browser(fake_health: FakeHealth, rf: RequestFactory) -> None:
    for request in (rf.get("/projects/"), rf.head("/projects/"), rf.options("/api/v1/projects"), rf.get("/workspace/")):
        assert replicas.mark_cookie_name() not in _serve(request).cookies, request.method
    for request in (rf.put("/api/v1/x"), rf.patch("/api/v1/x"), rf.delete("/api/v1/x"), rf.post("/accounts/login/")):
        assert replicas.mark_cookie_name() in _serve(request).cookies, request.method


def test_the_checks_connect_as_django_does() -> None:
    info = psycopg.conninfo.conninfo_to_dict(replicas._conninfo({
        "NAME": "tonne", "USER": "u", "PASSWORD": "p", "HOST": "standby", "PORT": 5433,
        "OPTIONS": {"sslmode": "verify-full", "isolation_level": 1, "connect_timeout": 30},
    }, timeout=2))
    assert info["sslmode"] == "verify-full" and info["port"] == "5433" and info["host"] == "standby"
    assert info["connect_timeout"] == "2" and "isolation_level" not in info
