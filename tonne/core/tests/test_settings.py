"""Settings read from the environment: the database choice (PostgreSQL from
DATABASE_URL, else SQLite in WAL mode), and the ledger signing key file."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tonne.ledger import keys

REPO = Path(__file__).resolve().parents[3]

PROBE = """
import json, sqlite3
from tonne import settings as s
db = s.DATABASES["default"]
out = {"engine": db["ENGINE"], "name": str(db.get("NAME")), "test": db.get("TEST", {}),
       "data_dir": str(s.DATA_DIR), "hashers": s.PASSWORD_HASHERS}
if db["ENGINE"].endswith("sqlite3"):
    from django.conf import settings
    settings.configure(DATABASES=s.DATABASES, INSTALLED_APPS=[], USE_TZ=True)
    import django
    django.setup()
    from django.db import connection
    with connection.cursor() as cur:
        cur.execute("PRAGMA journal_mode")
        out["journal_mode"] = cur.fetchone()[0]
        cur.execute("PRAGMA foreign_keys")
        out["foreign_keys"] = cur.fetchone()[0]
        cur.execute("PRAGMA busy_timeout")
        out["busy_timeout"] = cur.fetchone()[0]
print(json.dumps(out))
"""


def _probe(tmp_path: Path, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "TONNE_", "DJANGO_"))}
    clean.update({"TONNE_DATA_DIR": str(tmp_path), "TONNE_SECRET_KEY": "test-secret", **env})
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=clean, cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_database_url_selects_postgresql(tmp_path: Path) -> None:
    out = _probe(
        tmp_path,
        DATABASE_URL="postgres://registry:pw@db.example.org:5433/tonne_prod",
        TONNE_TEST_DATABASE="test_tonne_other",
    )
    assert out["engine"] == "django.db.backends.postgresql"
    assert out["name"] == "tonne_prod"
    assert out["test"]["NAME"] == "test_tonne_other"
    assert not (tmp_path / "tonne.sqlite3").exists()


def test_default_is_sqlite_with_wal_in_data_dir(tmp_path: Path) -> None:
    out = _probe(tmp_path)
    assert out["engine"] == "django.db.backends.sqlite3"
    assert Path(out["name"]) == (tmp_path / "tonne.sqlite3").resolve()
    assert Path(out["data_dir"]) == tmp_path.resolve()
    assert out["journal_mode"].lower() == "wal"
    assert out["foreign_keys"] == 1
    assert out["busy_timeout"] == 30000
    assert (tmp_path / "tonne.sqlite3").exists()


def test_production_hashers_start_with_argon2(tmp_path: Path) -> None:
    out = _probe(tmp_path)
    assert out["hashers"][0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_secret_key_file_made_with_mode_0600(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "TONNE_", "DJANGO_"))}
    env["TONNE_DATA_DIR"] = str(tmp_path)
    code = "from tonne import settings as s; print(s.SECRET_KEY)"
    first = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    path = tmp_path / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert again.stdout == first.stdout  # stable across restarts


@pytest.fixture
def key_settings(settings, tmp_path: Path):  # noqa: ANN001
    settings.TONNE_LEDGER_KEY = ""
    settings.TONNE_LEDGER_KEY_FILE = tmp_path / "keys" / "ledger-ed25519.pem"
    keys.private_key.cache_clear()
    yield settings
    keys.private_key.cache_clear()


def test_ensure_key_creates_file_mode_0600(key_settings) -> None:  # noqa: ANN001
    path = key_settings.TONNE_LEDGER_KEY_FILE
    assert not path.exists()
    assert keys.ensure_key() is True
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert b"PRIVATE KEY" in path.read_bytes()


def test_ensure_key_is_idempotent_and_never_overwrites(key_settings) -> None:  # noqa: ANN001
    path = key_settings.TONNE_LEDGER_KEY_FILE
    assert keys.ensure_key() is True
    before = path.read_bytes()
    assert keys.ensure_key() is False
    assert path.read_bytes() == before


def test_private_key_loaded_from_file_is_stable(key_settings) -> None:  # noqa: ANN001
    first = keys.public_key().public_bytes_raw()
    keys.private_key.cache_clear()
    assert keys.public_key().public_bytes_raw() == first
    assert key_settings.TONNE_LEDGER_KEY_FILE.exists()


def test_key_in_environment_wins_over_file(key_settings) -> None:  # noqa: ANN001
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    seed = bytes(range(32))
    key_settings.TONNE_LEDGER_KEY = base64.b64encode(seed).decode()
    keys.private_key.cache_clear()
    assert keys.ensure_key() is False
    assert not key_settings.TONNE_LEDGER_KEY_FILE.exists()
    expected = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    assert keys.public_key().public_bytes_raw() == expected
