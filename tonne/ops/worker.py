"""Background work from the database, no broker needed: delayed
settlements, AML monitoring, CAD Trust sync, and (on a thread of their own)
checkpoints every N entries or T minutes. Run by `tonne worker`, or in a
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


def run_once(say: Callable[[str], None] = log.info, *, checkpoints: bool = True) -> None:
    if not connection.in_atomic_block:  # a caller's transaction is not ours to close
        close_old_connections()
    for txn in run_due():
        say(f"settled {txn.identifier} ({txn.status})")
    for alert in scan():
        say(f"monitoring alert {alert.pk}: {alert.rule}")
    if checkpoints:
        checkpoint_once(say)
    cadt_run_once(say)  # CAD Trust push sync and webhooks


def checkpoint_once(say: Callable[[str], None] = log.info) -> None:
    if not checkpoint_due():
        return
    try:
        checkpoint = make_checkpoint()
    except LedgerRolledBack as exc:  # nothing to sign until the ledger passes its mark; the rest goes on
        say(f"no checkpoint: {exc.message}")
        return
    if checkpoint is not None:
        say(f"signed checkpoint {checkpoint.size} {checkpoint.root_hash}")


def _loop(stop: threading.Event, interval: float, job: Callable[[], None]) -> None:
    while not stop.is_set():
        try:
            job()
        except Exception:  # keep working; the next round retries
            log.exception("background work failed")
        stop.wait(interval)
    connection.close()


def run(stop: threading.Event, interval: float, say: Callable[[str], None] = log.info) -> None:
    # Checkpoints on a thread of their own: signed on time however long
    # settlements, monitoring or CAD Trust sync take.
    checkpoints = threading.Thread(
        target=_loop, args=(stop, interval, lambda: checkpoint_once(say)), name="tonne-checkpoints", daemon=True
    )
    checkpoints.start()
    _loop(stop, interval, lambda: run_once(say, checkpoints=False))
    checkpoints.join(timeout=60)


def start_thread(interval: float = 1.0) -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=run, args=(stop, interval), name="tonne-worker", daemon=True).start()
    return stop
