"""Test harness. The same tests run on SQLite (default) and on PostgreSQL when
DATABASE_URL points at one (`make test` runs both)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from hypothesis import settings as hypothesis_settings

from tonne import testing
from tonne.core import clock

pytest_plugins = ["tonne.browser"]

hypothesis_settings.register_profile("dev", deadline=None)
hypothesis_settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_unconfigure(config: pytest.Config) -> None:
    # settings.py made a throwaway data directory for this run: remove it.
    data_dir = Path(os.environ.get("TONNE_DATA_DIR", ""))
    if data_dir.name.startswith("tonne-test-") and data_dir.parent == Path(tempfile.gettempdir()):
        shutil.rmtree(data_dir, ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> str:
    url = os.environ.get("DATABASE_URL", "")
    return f"tonne database: {'PostgreSQL' if url.startswith('postgres') else 'SQLite'}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    on_postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    skip = pytest.mark.skip(reason="needs PostgreSQL (runs in the PostgreSQL pass of `make test`)")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    from django.conf import settings  # import here: pytest-django names the settings first

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("postgresql"):
        # Lets the test runner TRUNCATE append-only tables between tests.
        db.setdefault("OPTIONS", {})["options"] = "-c tonne.maintenance=on"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    # Argon2 is the registry's hasher (tested on its own); tests hash faster.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _controls_off_unless_asked(request: pytest.FixtureRequest, settings: Any) -> None:
    # Four-eyes, delayed settlement, MFA, KYC and representative rules are on by
    # default in a registry; tests of other features move units directly unless
    # marked `controls`.
    if "controls" not in request.keywords:
        settings.TONNE_FOUR_EYES = frozenset()
        settings.TONNE_DELAY_NON_TRUSTED = False
        settings.TONNE_EXPORT_TRUSTED_ONLY = False
        settings.TONNE_MFA_REQUIRED = False
        settings.TONNE_KYC_REQUIRED = False
        settings.TONNE_MIN_REPRESENTATIVES = 0
        settings.TONNE_AML_HOLD_RULES = frozenset()  # alerts, but no holds


@pytest.fixture(autouse=True)
def _own_checkpoint_mark(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    # The signed high-water mark lives outside the database: each test's fresh ledger gets its own.
    settings.TONNE_CHECKPOINT_MARK_FILE = tmp_path_factory.mktemp("mark") / "checkpoint-mark.json"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    # Rate-limit counters (API, sign-in lockout) live in the cache: none carry over.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _unfreeze_clock():
    yield
    clock.freeze(None)


@pytest.fixture
def registry(db: None) -> testing.Registry:
    return testing.build_registry()


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def loopback_outbound(settings: Any) -> None:
    """Tests that stand in for a webhook consumer or CAD Trust node on 127.0.0.1
    list loopback as an operator would; outgoing requests refuse it otherwise."""
    settings.TONNE_OUTBOUND_ALLOW = ("127.0.0.0/8",)
