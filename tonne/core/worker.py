"""Background work from the database, no broker needed: today, signing a
checkpoint every N entries or T minutes. Run by `tonne worker`, or in a
thread of `tonne serve`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db import close_old_connections, connection

log = logging.getLogger("tonne.worker")


def run_once(say: Callable[[str], None] = log.info) -> None:
    from tonne.ledger.services import checkpoint_due, make_checkpoint

    if not connection.in_atomic_block:  # a caller's transaction is not ours to close
        close_old_connections()
    from tonne.controls.services import run_due

    for txn in run_due():
        say(f"settled {txn.identifier} ({txn.status})")
    from tonne.aml.services import scan

    for alert in scan():
        say(f"monitoring alert {alert.pk}: {alert.rule}")
    if checkpoint_due():
        checkpoint = make_checkpoint()
        if checkpoint is not None:
            say(f"signed checkpoint {checkpoint.size} {checkpoint.root_hash}")


def run(stop: threading.Event, interval: float, say: Callable[[str], None] = log.info) -> None:
    while not stop.is_set():
        try:
            run_once(say)
        except Exception:  # keep working; the next round retries
            log.exception("background work failed")
        stop.wait(interval)
    connection.close()


def start_thread(interval: float = 5.0) -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=run, args=(stop, interval), name="tonne-worker", daemon=True).start()
    return stop
