"""Background work from the database, no broker needed: delayed
settlements, AML monitoring, CAD Trust sync, witnessing other registries'
logs (and collecting the cosignatures of this one's), and (on a thread of
their own) checkpoints every N entries or T minutes. Run by `tonne worker`,
or in a thread of `tonne serve`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections, connection

from tonne.aml.services import scan
from tonne.cadt.worker import run_once as cadt_run_once
from tonne.controls.services import run_due
from tonne.ledger import cosigning, witness
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
    witness_once(say)


_last_witnessed: list[float] = []  # when this process last witnessed (monotonic)


def witness_once(say: Callable[[str], None] = log.info, *, force: bool = False) -> None:
    """Every TONNE_WITNESS_EVERY_MINUTES: cosign each witnessed log's latest
    checkpoint (a rollback or a fork is refused and kept as evidence), then
    collect this registry's cosignatures from its own witnesses."""
    every = settings.TONNE_WITNESS_EVERY_MINUTES * 60
    now = time.monotonic()
    if not force and (every <= 0 or (_last_witnessed and now - _last_witnessed[-1] < every)):
        return
    _last_witnessed[:] = [now]
    for outcome in witness.witness_all():
        if outcome.cosigned:
            say(f"witnessed {outcome.origin} at size {outcome.size}")
        elif outcome.code:
            say(f"refused to cosign {outcome.origin}: {outcome.code}: {outcome.message}")
    for collected in cosigning.collect_all():
        if collected.code:
            say(f"no cosignature from {collected.witness}: {collected.code}: {collected.message}")
        elif collected.size:
            say(f"cosignature of {collected.size} from {collected.witness}")


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
