"""The worker's jobs: each on its own thread (checkpoints are signed while
another job is stuck), each under a lease that dies with its holder (a
killed worker's job is taken over at once), and the start-up check against
the checkpoint mark hashes only what follows the nearest stored checkpoint."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
import threading

import pytest
from django.conf import settings
from django.db import connection

from tonne import testing
from tonne.ledger import services as ledger_services
from tonne.ledger import watermark
from tonne.ledger.services import make_checkpoint
from tonne.ops import leases, worker


def _in_thread(work):  # noqa: ANN001, ANN202
    """Run `work` on a thread of its own (its own database connection)."""
    result: list = []

    def run() -> None:
        try:
            result.append(work())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return result[0]


def _try_lease(job: str) -> bool:
    def attempt() -> bool:
        with leases.job_lease(job) as held:
            return held
    return _in_thread(attempt)


@pytest.mark.django_db
def test_a_job_runs_in_one_worker_at_a_time() -> None:
    with leases.job_lease("settlements") as held:
        assert held
        assert not _try_lease("settlements")  # another worker skips the round
        assert _try_lease("monitoring")  # other jobs are not held back
    assert _try_lease("settlements")


@pytest.mark.django_db
def test_checkpoints_are_signed_while_other_work_is_stuck(monkeypatch) -> None:  # noqa: ANN001
    """Settlements, monitoring and sync stuck in a long round: the checkpoint
    job, on its own thread and lease, still runs."""
    stop, release, signed = threading.Event(), threading.Event(), threading.Event()

    def stuck(say) -> None:  # noqa: ANN001
        release.wait()

    def sign(say) -> None:  # noqa: ANN001
        signed.set()

    jobs = tuple(
        dataclasses.replace(job, work=sign if job.name == "checkpoints" else stuck) for job in worker.JOBS
    )
    monkeypatch.setattr(worker, "JOBS", jobs)
    runner = threading.Thread(target=worker.run, args=(stop, 0.01))
    runner.start()
    try:
        assert _wait(signed.is_set)
    finally:
        stop.set()
        release.set()
        runner.join()


def _wait(condition) -> bool:  # noqa: ANN001
    done = threading.Event()
    while not done.wait(0.02):
        if condition():
            return True
    return False


LEASE_HOLDER = textwrap.dedent(
    """
    import sys, time, django
    django.setup()
    from tonne.ops import leases
    with leases.job_lease("cadt-sync") as held:
        print(held, flush=True)
        time.sleep(3600)
    """
)


@pytest.mark.django_db
def test_a_killed_workers_lease_is_taken_over_at_once() -> None:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    else:
        url = "sqlite:///:memory:"  # the lease file lies in the data directory, as the test's does
    env = {**os.environ, "DATABASE_URL": url, "TONNE_DATA_DIR": str(settings.DATA_DIR),
           "DJANGO_SETTINGS_MODULE": "tonne.settings"}
    holder = subprocess.Popen([sys.executable, "-c", LEASE_HOLDER], env=env, stdout=subprocess.PIPE, text=True)  # noqa: S603
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "True"
        assert not _try_lease("cadt-sync")
    finally:
        holder.kill()  # kill -9: no clean-up of its own
        holder.wait()
    assert _wait(lambda: _try_lease("cadt-sync"))


@pytest.mark.django_db
def test_the_start_up_check_hashes_only_what_follows_the_stored_checkpoint(monkeypatch) -> None:  # noqa: ANN001
    testing.build_registry()
    signed = make_checkpoint()
    assert signed is not None
    starts: list[int] = []
    real = ledger_services.leaf_hashes

    def leaf_hashes(size=None, *, start=0):  # noqa: ANN001, ANN202
        starts.append(start)
        return real(size, start=start)

    monkeypatch.setattr(ledger_services, "leaf_hashes", leaf_hashes)
    assert watermark.root_at(signed.size) == signed.root_hash
    assert starts == [signed.size]  # nothing before the stored checkpoint was read
