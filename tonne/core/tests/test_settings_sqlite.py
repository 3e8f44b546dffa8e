"""DATABASE_URL=sqlite:///… gets the same SQLite hardening as the default
path: a second writer waits instead of failing with "database is locked"."""

from __future__ import annotations

import pytest

from tonne import settings as tonne_settings


@pytest.mark.parametrize("url", [None, "sqlite:////tmp/tonne-url.sqlite3"])
def test_sqlite_by_url_keeps_wal_immediate_transactions_and_busy_timeout(monkeypatch: pytest.MonkeyPatch,
                                                                         url: str | None) -> None:
    if url is None:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("DATABASE_URL", url)
    db = tonne_settings._database()
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert db["OPTIONS"]["timeout"] >= 30
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"] and "busy_timeout" in db["OPTIONS"]["init_command"]
