"""The production server's configuration (tonne/ops/gunicorn_conf.py) and
`tonne serve --production`, which becomes gunicorn with it."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import pytest
from django.core.management import call_command

from tonne.ops import backup, gunicorn_conf


class _Exec(Exception):
    pass


def _config(monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    for name in ("TONNE_BIND", "TONNE_WORKERS", "TONNE_THREADS", "TONNE_TIMEOUT", "TONNE_FORWARDED_ALLOW_IPS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return importlib.reload(gunicorn_conf)


def test_defaults_serve_the_proxy_on_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = _config(monkeypatch)
    assert conf.bind == ["127.0.0.1:8000"]
    assert conf.workers == 2 * (os.cpu_count() or 1) + 1
    assert conf.preload_app is True
    assert conf.forwarded_allow_ips == "127.0.0.1,::1"  # only the local proxy says who the client is
    assert conf.secure_scheme_headers == {"X-FORWARDED-PROTO": "https"}
    assert 0 < conf.max_requests_jitter < conf.max_requests
    assert conf.timeout >= 30


def test_the_environment_sets_every_value(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = _config(monkeypatch, TONNE_BIND="0.0.0.0:9000", TONNE_WORKERS="3", TONNE_THREADS="4",
                   TONNE_TIMEOUT="90", TONNE_FORWARDED_ALLOW_IPS="10.0.0.5")
    assert (conf.bind, conf.workers, conf.threads, conf.timeout, conf.forwarded_allow_ips) == (
        ["0.0.0.0:9000"], 3, 4, 90, "10.0.0.5")
    _config(monkeypatch)


def test_serve_production_becomes_gunicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, list[str]]] = []

    def execv(path: str, argv: list[str]) -> None:
        calls.append((path, argv))
        raise _Exec

    monkeypatch.setattr(os, "execv", execv)
    with pytest.raises(_Exec):
        call_command("serve", "--production", "--host", "127.0.0.1", "--port", "8123", "--workers", "2")
    ((path, argv),) = calls
    assert path == sys.executable
    assert argv[1:5] == ["-m", "gunicorn", "-c", "python:tonne.ops.gunicorn_conf"]
    assert argv[argv.index("--bind") + 1] == "127.0.0.1:8123"
    assert argv[argv.index("--workers") + 1] == "2"
    assert argv[-1] == "tonne.wsgi:application"


@pytest.mark.django_db
def test_the_master_checks_once_and_shares_no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the workers fork: the signing key, the ledger against its mark,
    the lock `tonne restore` waits for; then no open database connection."""
    logged: list[str] = []

    class Log:
        def error(self, message: str, *args: object) -> None:
            logged.append(message % args)

    class Server:
        log = Log()

    monkeypatch.setattr("tonne.ledger.services.check_against_mark", lambda: "size 5 behind the mark 9")
    closed: list[bool] = []
    monkeypatch.setattr("django.db.connections.close_all", lambda: closed.append(True))
    held = len(backup._held)  # noqa: SLF001 (the lock the server holds while it runs)
    gunicorn_conf.when_ready(Server())
    try:
        assert backup.registry_running()
        assert logged and "LEDGER ROLLED BACK: size 5 behind the mark 9" in logged[0]
        assert closed == [True]
    finally:
        for handle in backup._held[held:]:  # noqa: SLF001
            handle.close()
        del backup._held[held:]  # noqa: SLF001
