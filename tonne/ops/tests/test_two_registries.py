"""Two real Tonne installations on loopback, each with its own database and
keys: B witnesses A through `tonne worker`. A is restored from an older copy
of its database; B refuses to cosign it, and A's `tonne ledger verify` held
against what B cosigned names the rollback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="copies SQLite database files (runs in the SQLite pass of `make test`)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Installation:
    def __init__(self, root: Path, name: str) -> None:
        self.dir = root / name
        self.dir.mkdir()
        self.db = self.dir / "tonne.sqlite3"
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{self.db}",
            "TONNE_DATA_DIR": str(self.dir),
            "TONNE_LEDGER_ORIGIN": f"{name}.registry.test/ledger",
            "TONNE_LEDGER_KEY_NAME": f"{name}.registry.test",
            "TONNE_OUTBOUND_ALLOW": "127.0.0.1",
            "TONNE_MFA_REQUIRED": "0",
            "DJANGO_SETTINGS_MODULE": "tonne.settings",
        }
        for variable in ("TONNE_LEDGER_KEY", "TONNE_LEDGER_KEY_FILE", "TONNE_CHECKPOINT_MARK_FILE"):
            self.env.pop(variable, None)
        self.server: subprocess.Popen | None = None
        self.port = 0

    def tonne(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "tonne.cli", *args], env=self.env, capture_output=True,
                              text=True, timeout=300)
        if check:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    def serve(self) -> str:
        self.port = self.port or _free_port()  # the same address again after a restart
        self.server = subprocess.Popen([sys.executable, "-m", "tonne.cli", "serve", "--port", str(self.port)],
                                       env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v1/ledger", timeout=5) as answer:  # noqa: S310 - loopback
                    json.load(answer)
                return url
            except OSError:
                assert self.server.poll() is None, "tonne serve stopped"
                assert time.monotonic() < deadline, "tonne serve did not answer"
                time.sleep(0.5)

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=30)
            self.server = None


def test_a_rolled_back_registry_is_refused_by_its_witness_and_flagged_by_verify(tmp_path: Path) -> None:
    a, b = Installation(tmp_path, "a"), Installation(tmp_path, "b")
    migrations = [subprocess.Popen([sys.executable, "-m", "tonne.cli", "migrate", "-v0"], env=i.env)
                  for i in (a, b)]
    assert [m.wait(timeout=600) for m in migrations] == [0, 0]
    try:
        a.tonne("ledger", "checkpoint")
        backup = tmp_path / "a-backup.sqlite3"
        shutil.copy(a.db, backup)  # an older copy of A, signed checkpoint and all
        a.env["TONNE_ADMIN_PASSWORD"] = "a long enough passphrase for A"
        a.tonne("createadmin", "registrar", "--email", "registrar@a.test")
        a.tonne("ledger", "checkpoint")
        url = a.serve()
        key = a.tonne("ledger", "key").stdout.strip()
        origin = a.env["TONNE_LEDGER_ORIGIN"]
        b.tonne("ledger", "witness", "add", origin, url, key)
        ran = b.tonne("worker", "--once").stdout
        assert f"witnessed {origin}" in ran, ran
        with sqlite3.connect(b.db) as db:
            (size, cosigned) = db.execute("SELECT size, cosigned_note FROM ledger_witnessedlog").fetchone()
        saved = tmp_path / "cosigned-by-b.txt"
        saved.write_text(cosigned)
        assert a.tonne("ledger", "verify", "--checkpoint", str(saved)).returncode == 0

        # A's operator restores the older copy and serves it again.
        a.stop()
        shutil.copy(backup, a.db)
        (a.dir / "checkpoint-mark.json").unlink(missing_ok=True)  # what a dishonest operator does too
        a.serve()
        ran = b.tonne("worker", "--once").stdout
        assert f"refused to cosign {origin}: WITNESS_ROLLBACK" in ran, ran
        with sqlite3.connect(b.db) as db:
            assert db.execute("SELECT size FROM ledger_witnessedlog").fetchone()[0] == size
            assert db.execute("SELECT code FROM ledger_witnessrefusal").fetchall() == [("WITNESS_ROLLBACK",)]
        verified = a.tonne("ledger", "verify", "--checkpoint", str(saved), check=False)
        assert verified.returncode != 0
        assert "LEDGER_ROLLED_BACK" in verified.stdout + verified.stderr
    finally:
        a.stop()
