"""The crash drills' side of the test suite: a throwaway PostgreSQL cluster
with a migrated drill registry, `tonne serve` as a subprocess, clients that
write down what they were told, and waiting for state (never for time)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tonne.ops.drills import cluster as pg
from tonne.ops.drills.world import DRILL_ENV

TONNE = str(Path(sys.executable).with_name("tonne"))
# Generous: a busy machine is slow, never wrong. Waits end as soon as the state is reached.
PATIENCE = float(os.environ.get("TONNE_DRILL_PATIENCE", "300"))


def skip_or_fail_without_postgres() -> None:
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("crash drills run once, in the SQLite pass (they bring their own cluster)")
    missing = pg.available()
    if missing:
        if os.environ.get("TONNE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"crash drills need PostgreSQL's server binaries: {missing}")
        pytest.skip(f"crash drills need PostgreSQL's server binaries: {missing}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, condition: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + PATIENCE
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


@dataclass
class Drill:
    cluster: pg.Cluster
    root: Path
    env: dict[str, str]
    world: dict[str, Any] = field(default_factory=dict)
    serve: subprocess.Popen[bytes] | None = None
    port: int = 0

    @property
    def faults(self) -> Path:
        return Path(self.env["TONNE_FAULTS_DIR"])

    def tonne(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([TONNE, *args], env=self.env, capture_output=True, text=True, check=check)  # noqa: S603

    # -- tonne serve ------------------------------------------------------------------

    def start_serve(self) -> None:
        self.port = free_port()
        log = open(self.root / f"serve-{self.port}.log", "wb")  # noqa: SIM115 (lives as long as the server)
        self.serve = subprocess.Popen(  # noqa: S603
            [TONNE, "serve", "--port", str(self.port), "--no-worker", "--threads", "12"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        wait_for("tonne serve to answer", lambda: self.get("/api/v1/ledger")[0] == 200)

    def kill_serve(self) -> None:
        if self.serve is not None:
            self.serve.kill()  # SIGKILL
            self.serve.wait()
            self.serve = None

    # -- the database -----------------------------------------------------------------

    def restart_cluster(self) -> None:
        self.cluster.start()
        wait_for("the registry to answer again", lambda: self.serve is None or self.get("/api/v1/ledger")[0] == 200)

    # -- HTTP -------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, token: str | None = None,
                key: str | None = None) -> tuple[int | None, dict[str, Any]]:
        """(status, JSON body); status None when no answer came (connection lost)."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if key:
            headers["Idempotency-Key"] = key
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=PATIENCE) as response:  # noqa: S310 (our own server)
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            text = exc.read()
            try:
                return exc.code, json.loads(text or b"{}")
            except ValueError:
                return exc.code, {"raw": text.decode(errors="replace")}
        except (OSError, ValueError, http.client.HTTPException):  # cut off: no answer
            return None, {}

    def get(self, path: str, token: str | None = None) -> tuple[int | None, dict[str, Any]]:
        return self.request("GET", path, token=token)

    def transfer(self, source: str, target: str, quantity: int, key: str) -> tuple[int | None, dict[str, Any]]:
        accounts = self.world["accounts"]
        return self.request("POST", "/api/v1/transfers", {
            "from_account": accounts[source]["account"], "to_account": accounts[target]["account"],
            "quantity": quantity,
        }, token=accounts[source]["token"], key=key)

    # -- checking ---------------------------------------------------------------------

    def check(self, told: Told) -> None:
        assert not told.untruthful, told.untruthful
        path = self.root / f"told-{uuid.uuid4().hex[:8]}.json"
        path.write_text(json.dumps(told.as_dict()))
        result = self.tonne("drill", "check", str(path), check=False)
        assert result.returncode == 0, result.stderr + result.stdout
        verify = self.tonne("ledger", "verify", check=False)
        assert verify.returncode == 0, verify.stdout + verify.stderr


@dataclass
class Told:
    """What clients were told."""

    acknowledged: list[str] = field(default_factory=list)
    in_doubt: list[str] = field(default_factory=list)
    nothing_changed: list[str] = field(default_factory=list)
    heads: list[list[Any]] = field(default_factory=list)
    untruthful: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, key: str, status: int | None, body: dict[str, Any]) -> None:
        """File an answer to a move under what it claims."""
        code = body.get("code", "")
        with self.lock:
            if status in (200, 201):
                self.acknowledged.append(key)
            elif status is None or code == "OUTCOME_UNKNOWN":
                self.in_doubt.append(key)  # no answer, or an honest "unknown"
            elif code == "INTERNAL_ERROR" or status == 500:
                self.untruthful.append(f"{key}: {status} {body}")  # "nothing was changed" without knowing
            else:
                self.nothing_changed.append(key)  # refused, unavailable, timed out: claims nothing changed

    def as_dict(self) -> dict[str, Any]:
        return {"acknowledged": self.acknowledged, "in_doubt": self.in_doubt, "heads": self.heads,
                "nothing_changed": self.nothing_changed}


def make_drill(root: Path, **settings: str) -> Drill:
    # Outside pytest's own temporary tree, which only its owner may enter
    # (the server runs as postgres when the tests run as root).
    cluster = pg.Cluster(Path(tempfile.mkdtemp(prefix="tonne-drill-pg-")), free_port(), settings or None).init()
    cluster.start()
    cluster.create_database("tonne")
    env = {
        **os.environ, **DRILL_ENV,
        "DATABASE_URL": cluster.url("tonne"), "TONNE_DATA_DIR": str(root / "data"),
        "TONNE_FAULTS_DIR": str(root / "faults"), "DJANGO_SETTINGS_MODULE": "tonne.settings",
        "TONNE_DB_CONN_MAX_AGE": "0",
    }
    (root / "faults").mkdir()
    drill = Drill(cluster=cluster, root=root, env=env)
    drill.world = json.loads(drill.tonne("drill", "world", "--scratch").stdout.strip().splitlines()[-1])
    return drill
