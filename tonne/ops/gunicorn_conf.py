"""The production server: gunicorn with several worker processes behind the
TLS reverse proxy (docs/operations.md, "Production server").

    tonne serve --production                    # this file, bound to 127.0.0.1:8000
    gunicorn -c python:tonne.ops.gunicorn_conf tonne.wsgi:application

Every value can be set from the environment (TONNE_BIND, TONNE_WORKERS,
TONNE_THREADS, TONNE_TIMEOUT, TONNE_FORWARDED_ALLOW_IPS, TONNE_ACCESS_LOG).
The application is loaded once in the master (preload) and shared by the
workers' memory until written; the start-up checks `tonne serve` makes run
there once. Background work is not done here: run `tonne worker` beside it."""

from __future__ import annotations

import os
from typing import Any

# Behind the proxy on the same machine by default; the proxy terminates TLS.
bind = [os.environ.get("TONNE_BIND", "127.0.0.1:8000")]
# Two per core and one: a worker waiting on the database's commit leaves the CPU to another.
workers = int(os.environ.get("TONNE_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
# A second thread lets a worker keep HTTP connections alive (the sync worker closes each).
worker_class = "gthread"
threads = int(os.environ.get("TONNE_THREADS", "2"))
preload_app = True
# A batch of TONNE_MAX_BATCH_ITEMS moves fits well inside; a stuck worker is replaced.
timeout = int(os.environ.get("TONNE_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# A worker is replaced after this many requests (with jitter, not all at once): memory stays bounded.
max_requests = int(os.environ.get("TONNE_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10
# Which proxies may say the scheme (X-Forwarded-Proto, used with TONNE_BEHIND_TLS_PROXY)
# and the client's address (X-Forwarded-For, used with TONNE_USE_X_FORWARDED_FOR).
forwarded_allow_ips = os.environ.get("TONNE_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
# Over-long request lines and too many headers are refused before Django sees them.
limit_request_line = 8190
limit_request_fields = 100
proc_name = "tonne"
accesslog = os.environ.get("TONNE_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("TONNE_LOG_LEVEL", "warning").lower()


def when_ready(server: Any) -> None:
    """In the master, once the application is loaded and before any worker
    starts: what `tonne serve` checks at start (the ledger's signing key, the
    ledger against its signed high-water mark, the lock `tonne restore` waits for)."""
    # Imported here: the application (and so Django's app registry) is loaded by now.
    from django.db import connections

    from tonne.ledger import keys
    from tonne.ledger.services import check_against_mark
    from tonne.ops import backup

    keys.ensure_key()
    backup.hold_running_lock()  # inherited by every worker: `tonne restore` refuses while the server runs
    rolled_back = check_against_mark()
    if rolled_back:
        server.log.error(
            "LEDGER ROLLED BACK: %s. Unit moves are refused until an administrator runs "
            "`tonne ledger acknowledge-restore`.", rolled_back,
        )
    connections.close_all()  # no database connection may be shared by the forked workers


def pre_fork(server: Any, worker: Any) -> None:
    # Imported here: the application is loaded in the master before any fork (preload_app).
    from django.db import connections

    connections.close_all()
