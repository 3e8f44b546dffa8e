"""Background work from the database, no broker needed: today, signing a
checkpoint every N entries or T minutes. Run by `tonne worker`, or in a
thread of `tonne serve`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db import close_old_connections, connection

from tonne.aml.services import scan
from tonne.cadt.worker import run_once as cadt_run_once
from tonne.controls.services import run_due
from tonne.ledger.services import checkpoint_due, make_checkpoint
from tonne.ledger.watermark import LedgerRolledBack

log = logging.getLogger("tonne.worker")


def run_once(say: Callable[[str], None] = log.info) -> None:
    if not connection.in_atomic_block:  # a caller's transaction is not ours to close
        close_old_connections()
    for txn in run_due():
        say(f"settled {txn.identifier} ({txn.status})")
    for alert in scan():
        say(f"monitoring alert {alert.pk}: {alert.rule}")
    if checkpoint_due():
        try:
            checkpoint = make_checkpoint()
        except LedgerRolledBack as exc:  # nothing to sign until the ledger passes its mark; the rest goes on
            say(f"no checkpoint: {exc.message}")
            checkpoint = None
        if checkpoint is not None:
            say(f"signed checkpoint {checkpoint.size} {checkpoint.root_hash}")
    cadt_run_once(say)  # CAD Trust push sync and webhooks


def run(stop: threading.Event, interval: float, say: Callable[[str], None] = log.info) -> None:
    while not stop.is_set():
        try:
            run_once(say)
        except Exception:  # keep working; the next round retries
            log.exception("background work failed")
        stop.wait(interval)
    connection.close()


def start_thread(interval: float = 1.0) -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=run, args=(stop, interval), name="tonne-worker", daemon=True).start()
    return stop
