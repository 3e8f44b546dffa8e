"""One worker at a time per job, and a crashed worker's job taken over in
seconds: the lease is something that dies with its holder, never a row
with an expiry to wait out.

- PostgreSQL: a session advisory lock on the job's own connection. The
  server drops it the moment the session ends (process killed, connection
  lost), so the next worker's round takes the job over.
- SQLite (one machine by nature): an exclusive flock on a file beside the
  data; the kernel drops it when the process dies."""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection


def lock_key(job: str) -> int:
    """A stable signed 64-bit advisory lock key for the job's name."""
    return int.from_bytes(hashlib.sha256(f"tonne.job.{job}".encode()).digest()[:8], "big", signed=True)


def lease_path(job: str) -> Path:
    name = str(connection.settings_dict.get("NAME") or "")
    if name and name != ":memory:" and not name.startswith("file:"):  # beside the database it guards
        return Path(name).with_name(Path(name).name + ".leases") / f"{job}.lease"
    return Path(settings.DATA_DIR) / "leases" / f"{job}.lease"


@contextmanager
def job_lease(job: str) -> Iterator[bool]:
    """Yields True while this worker holds the job's lease (it runs the
    job), False when another worker holds it (it skips this round)."""
    if connection.vendor == "postgresql":
        with _advisory(job) as held:
            yield held
    else:
        with _flock(job) as held:
            yield held


@contextmanager
def _advisory(job: str) -> Iterator[bool]:
    key = lock_key(job)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        (held,) = cursor.fetchone()
    try:
        yield bool(held)
    finally:
        if held:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            except DatabaseError:  # the session is gone, and its lock with it
                pass


@contextmanager
def _flock(job: str) -> Iterator[bool]:
    path = lease_path(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
