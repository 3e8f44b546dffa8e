"""Reads on a real PostgreSQL streaming replica (tonne.core.replicas): a
throwaway primary with the drill registry, a hot standby made from it with
pg_basebackup -R on another port, and `tonne serve` reading from both. Which
server answered is proved by the data: the standby's replay is paused
(pg_wal_replay_pause) and a project renamed on the primary, so the old name
can only have come from the standby and the new one only from the primary.

Two servers: a patient one (a standby paused for an hour is still in step)
for routing and read-your-writes, a strict one (a standby more than two
seconds behind is skipped) for lag and failover. Every wait is for a state,
never for a time."""

from __future__ import annotations

import http.client
import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tonne.ops.drills import cluster as pg
from tonne.ops.tests.drill_harness import PATIENCE, Drill, free_port, make_drill, wait_for

pytestmark = pytest.mark.postgres


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    read_from: str
    cookie: str | None


@dataclass
class Replicated:
    drill: Drill  # the primary, its registry and the drill's accounts
    standby: pg.Cluster
    patient: Drill
    strict: Drill
    project: str

    def rename(self, name: str) -> None:
        with self.drill.cluster.connect("tonne") as conn:
            conn.execute("UPDATE projects_project SET name = %s WHERE project_id = %s", [name, self.project])

    def name_on(self, server: pg.Cluster) -> str:
        with server.connect("tonne") as conn:
            row = conn.execute("SELECT name FROM projects_project WHERE project_id = %s", [self.project]).fetchone()
        assert row is not None
        return str(row[0])

    def pause(self) -> None:
        with self.standby.connect() as conn:
            conn.execute("SELECT pg_wal_replay_pause()")

    def resume(self) -> None:
        with self.standby.connect() as conn:
            conn.execute("SELECT pg_wal_replay_resume()")

    def caught_up(self) -> bool:
        with self.drill.cluster.connect() as primary, self.standby.connect() as standby:
            (flushed,) = primary.execute("SELECT pg_current_wal_flush_lsn()").fetchone()  # type: ignore[misc]
            (replayed,) = standby.execute("SELECT pg_last_wal_replay_lsn()").fetchone()  # type: ignore[misc]
        return bool(replayed >= flushed)


def call(server: Drill, method: str, path: str, *, body: Any = None, token: str | None = None,
         cookie: str | None = None, key: str | None = None) -> Answer:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if cookie:
        headers["Cookie"] = cookie
    if key:
        headers["Idempotency-Key"] = key
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=PATIENCE)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        set_cookie = response.getheader("Set-Cookie")
        try:
            body = json.loads(raw or b"{}")
        except ValueError:  # a page
            body = {"page": raw.decode(errors="replace")}
        return Answer(
            response.status, body, response.getheader("X-Tonne-Read-From", ""),
            set_cookie.split(";", 1)[0] if set_cookie and "tonne_wrote" in set_cookie else None,
        )
    finally:
        conn.close()


def _server(drill: Drill, **env: str) -> Drill:
    server = Drill(cluster=drill.cluster, root=drill.root, env={**drill.env, **env}, world=drill.world)
    server.start_serve()
    return server


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicated]:
    missing = pg.available() or (None if (pg.PG_BIN / "pg_basebackup").exists() else f"no {pg.PG_BIN}/pg_basebackup")
    if missing:
        if os.environ.get("TONNE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"read replicas need PostgreSQL's server binaries: {missing}")
        pytest.skip(f"read replicas need PostgreSQL's server binaries: {missing}")
    drill = make_drill(tmp_path_factory.mktemp("replicas"))
    standby: pg.Cluster | None = None
    servers: list[Drill] = []
    try:
        standby = drill.cluster.standby(Path(tempfile.mkdtemp(prefix="tonne-standby-pg-")), free_port())
        standby.start()
        with drill.cluster.connect("tonne") as conn:
            (project,) = conn.execute("SELECT project_id FROM projects_project ORDER BY id LIMIT 1").fetchone()  # type: ignore[misc]
        env = {"DATABASE_REPLICA_URLS": standby.url("tonne"), "TONNE_REPLICA_HEADER": "1"}
        servers.append(_server(drill, **env, TONNE_REPLICA_MAX_LAG_SECONDS="3600", TONNE_REPLICA_CHECK_SECONDS="0.2"))
        servers.append(_server(drill, **env, TONNE_REPLICA_MAX_LAG_SECONDS="2", TONNE_REPLICA_CHECK_SECONDS="0.2"))
        yield Replicated(drill, standby, servers[0], servers[1], project)
    finally:
        for server in servers:
            server.kill_serve()
        if standby is not None:
            standby.destroy()
        drill.cluster.destroy()


@pytest.fixture
def world(replicated: Replicated) -> Iterator[Replicated]:
    """Each test starts with the standby replaying and in step, and leaves it so."""
    yield replicated
    if replicated.standby.postmaster() is None:
        replicated.standby.start()
    replicated.resume()
    wait_for("the standby to catch up", replicated.caught_up)


def _project(server: Drill, world: Replicated, **kw: Any) -> Answer:
    answer = call(server, "GET", f"/api/v1/projects/{world.project}", **kw)
    assert answer.status == 200, answer.body
    return answer


def _in_step(server: Drill, world: Replicated, name: str) -> None:
    wait_for("reads from the standby", lambda: (a := _project(server, world)).read_from == "replica_1"
             and a.body["name"] == name)


def test_public_reads_come_from_the_standby_and_token_reads_from_the_primary(world: Replicated) -> None:
    before = world.name_on(world.drill.cluster)
    _in_step(world.patient, world, before)
    world.pause()
    world.rename("Renamed while the standby is paused")
    assert world.name_on(world.standby) == before  # the standby has not replayed it

    public = _project(world.patient, world)
    assert (public.body["name"], public.read_from) == (before, "replica_1")
    token = world.drill.world["accounts"]["buyer"]["token"]
    api_client = _project(world.patient, world, token=token)  # clients with a token write and read back: primary
    assert (api_client.body["name"], api_client.read_from) == ("Renamed while the standby is paused", "primary")
    assert public.cookie is None and api_client.cookie is None  # reading is not writing

    world.resume()
    _in_step(world.patient, world, "Renamed while the standby is paused")


def test_a_move_is_made_on_the_primary_and_its_writer_reads_its_writes(world: Replicated) -> None:
    accounts = world.drill.world["accounts"]
    before = world.name_on(world.drill.cluster)
    _in_step(world.patient, world, before)
    world.pause()
    moved = call(world.patient, "POST", "/api/v1/transfers", token=accounts["seller"]["token"], key=uuid.uuid4().hex,
                 body={"from_account": accounts["seller"]["account"], "to_account": accounts["buyer"]["account"],
                       "quantity": 7})
    assert moved.status in (200, 201), moved.body
    identifier = moved.body["identifier"]
    with world.drill.cluster.connect("tonne") as conn:
        assert conn.execute("SELECT count(*) FROM units_transaction WHERE identifier = %s", [identifier]).fetchone() == (1,)
    with world.standby.connect("tonne") as conn:  # paused: the move exists on the primary only
        assert conn.execute("SELECT count(*) FROM units_transaction WHERE identifier = %s", [identifier]).fetchone() == (0,)
    assert moved.cookie is not None  # the writer is marked

    world.rename("Renamed after a move")
    mine = _project(world.patient, world, cookie=moved.cookie)
    assert (mine.body["name"], mine.read_from) == ("Renamed after a move", "primary")
    others = _project(world.patient, world)
    assert (others.body["name"], others.read_from) == (before, "replica_1")
    forged = _project(world.patient, world, cookie=moved.cookie.split("=", 1)[0] + "=1:forged:mark")
    assert forged.read_from == "replica_1"  # an unsigned mark counts for nothing


def test_a_lagging_standby_is_skipped_and_used_again_once_in_step(world: Replicated) -> None:
    before = world.name_on(world.drill.cluster)
    _in_step(world.strict, world, before)
    world.pause()
    world.rename("Renamed while the standby lags")
    # More than two seconds behind: the strict server reads the primary instead.
    skipped = wait_for("the lagging standby to be skipped",
                       lambda: (a := _project(world.strict, world)).read_from == "primary" and a)
    assert skipped.body["name"] == "Renamed while the standby lags"
    assert world.name_on(world.standby) == before
    world.resume()
    _in_step(world.strict, world, "Renamed while the standby lags")


def test_reads_fail_over_to_the_primary_when_the_standby_stops(world: Replicated) -> None:
    name = world.name_on(world.drill.cluster)
    _in_step(world.strict, world, name)
    world.standby.stop()
    # From the very first read after the stop (the server has not checked yet): answered, never an error.
    answers = [_project(world.strict, world) for _ in range(5)]
    assert all(a.body["name"] == name and a.read_from == "primary" for a in answers)
    portal = call(world.strict, "GET", "/projects/")
    assert portal.status == 200
    world.standby.start()
    _in_step(world.strict, world, name)
