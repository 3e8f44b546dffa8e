"""Background work from the database, no broker needed: delayed
settlements, AML monitoring, signed checkpoints, CAD Trust sync, notifications and
witnessing (other registries' logs, and collecting this one's
cosignatures), each job on a thread and schedule of its own (a slow one
never holds back the others: checkpoints are signed on time whatever else runs), each under a
lease that dies with its holder (`ops.leases`), so a crashed worker's jobs
are taken over at the next round of another. Run by `tonne worker`, or in a
thread of `tonne serve`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections, connection

from tonne.aml.services import scan
from tonne.cadt.worker import run_once as cadt_run_once
from tonne.controls.services import run_due
from tonne.ledger import cosigning, witness
from tonne.ledger.services import checkpoint_due, make_checkpoint
from tonne.ledger.watermark import LedgerRolledBack
from tonne.linkage import delivery as linkage
from tonne.notifications.services import deliver, send_mail_due
from tonne.ops.leases import job_lease

log = logging.getLogger("tonne.worker")
Say = Callable[[str], None]


def settle(say: Say) -> None:
    for txn in run_due():
        say(f"settled {txn.identifier} ({txn.status})")


def monitor(say: Say) -> None:
    for alert in scan():
        say(f"monitoring alert {alert.pk}: {alert.rule}")


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


def checkpoint_once(say: Say = log.info) -> None:
    if not checkpoint_due():
        return
    try:
        checkpoint = make_checkpoint()
    except LedgerRolledBack as exc:  # nothing to sign until the ledger passes its mark; the rest goes on
        say(f"no checkpoint: {exc.message}")
        return
    if checkpoint is not None:
        say(f"signed checkpoint {checkpoint.size} {checkpoint.root_hash}")


def notify(say: Say) -> None:
    made = deliver()
    if made:
        say(f"{made} notifications")
    send_mail_due()


def sync(say: Say) -> None:
    cadt_run_once(say)  # CAD Trust push sync and webhooks


@dataclass(frozen=True)
class Job:
    name: str
    work: Callable[[Say], None]
    every: float = 1.0  # times the worker's interval


JOBS = (
    Job("settlements", settle),
    Job("monitoring", monitor),
    Job("checkpoints", checkpoint_once),
    Job("cadt-sync", sync),
    Job("notifications", notify),
    Job("witness", witness_once),  # keeps its own schedule (TONNE_WITNESS_EVERY_MINUTES)
    Job("linkage", linkage.run_once),  # international transfers' messages to partner registries
    Job("reconcile", linkage.reconcile_once, 60.0),  # statements to partner registries (TONNE_LINKAGE_RECONCILE_HOURS)
)


def run_job(job: Job, say: Say = log.info) -> bool:
    """One round of a job, if this worker holds its lease. True if it ran."""
    if not connection.in_atomic_block:  # a caller's transaction is not ours to close
        close_old_connections()
    with job_lease(job.name) as held:
        if held:
            job.work(say)
        return held


def run_once(say: Say = log.info, *, checkpoints: bool = True) -> None:
    for job in JOBS:
        if checkpoints or job.name != "checkpoints":
            run_job(job, say)


def _loop(stop: threading.Event, interval: float, job: Job, say: Say) -> None:
    while not stop.is_set():
        try:
            run_job(job, say)
        except Exception:  # keep working; the next round retries
            log.exception("background work failed: %s", job.name)
        stop.wait(interval * job.every)
    connection.close()


def run(stop: threading.Event, interval: float, say: Say = log.info) -> None:
    threads = [
        threading.Thread(target=_loop, args=(stop, interval, job, say), name=f"tonne-{job.name}", daemon=True)
        for job in JOBS
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def start_thread(interval: float = 1.0) -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=run, args=(stop, interval), name="tonne-worker", daemon=True).start()
    return stop
