"""A throwaway PostgreSQL cluster for crash drills: made with the server's
own initdb/pg_ctl (Debian's PostgreSQL 15 by default, TONNE_PG_BIN to
choose), on a port of its own, crashed at will (every server process killed
at once, or an immediate stop) and restarted, recovering from its WAL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg

PG_BIN = Path(os.environ.get("TONNE_PG_BIN", "/usr/lib/postgresql/15/bin"))
# Group commit as a busy installation would tune it: a committer waits
# commit_delay for others before flushing (holding the WAL write lock, so
# nothing else writes WAL meanwhile). Checkpoints and the background writer
# stay out of the way; the WAL writer is stopped and started by the drills.
DRILL_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "60",
    "shared_buffers": "32MB",
    "fsync": "on",
    "synchronous_commit": "on",
    "commit_delay": "2000",
    "commit_siblings": "0",
    "checkpoint_timeout": "30min",
    "max_wal_size": "1GB",
    "bgwriter_lru_maxpages": "0",
    "log_min_messages": "warning",
}


def available() -> str | None:
    """Why drills cannot run here, or None."""
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not (PG_BIN / tool).exists():
            return f"no {PG_BIN / tool} (set TONNE_PG_BIN)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser (initdb refuses root)"
    return None


class Cluster:
    def __init__(self, directory: Path, port: int, settings: dict[str, str] | None = None) -> None:
        self.directory = Path(directory)
        self.data = self.directory / "data"
        self.port = port
        self.settings = {**DRILL_SETTINGS, **(settings or {})}

    # -- running the server's tools ---------------------------------------------------

    def _run(self, args: Sequence[str | Path]) -> None:
        command = [str(a) for a in args]
        if os.geteuid() == 0:  # initdb and postgres refuse root: run them as postgres
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True)  # noqa: S603 (our own arguments)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr or done.stdout}")

    def init(self) -> Cluster:
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run([PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\nport = {self.port}\nunix_socket_directories = '{self.directory}'\n")
            conf.writelines(f"{name} = {value}\n" for name, value in self.settings.items())
        return self

    def standby(self, directory: Path, port: int) -> Cluster:
        """A hot standby of this (running) cluster, streaming from it: a base
        backup taken with pg_basebackup -R (which writes primary_conninfo and
        standby.signal), on a port of its own; not started."""
        replica = Cluster(directory, port, self.settings)
        replica.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(replica.directory, "postgres", "postgres")
        self._run([PG_BIN / "pg_basebackup", "-D", replica.data, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                   "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"])
        with open(replica.data / "postgresql.conf", "a") as conf:  # later lines win
            conf.write(f"\nport = {port}\nunix_socket_directories = '{replica.directory}'\nhot_standby = on\n")
        return replica

    def start(self) -> None:
        self._run([PG_BIN / "pg_ctl", "-D", self.data, "-l", self.directory / "server.log", "-w", "-t", "120", "start"])

    def stop(self) -> None:
        if self.postmaster() is not None:
            self._run([PG_BIN / "pg_ctl", "-D", self.data, "-w", "-t", "120", "-m", "fast", "stop"])

    def immediate_stop(self) -> None:
        """Every server process quits at once, nothing written: recovery at the next start."""
        self._run([PG_BIN / "pg_ctl", "-D", self.data, "-w", "-t", "120", "-m", "immediate", "stop"])

    def kill(self) -> None:
        """kill -9 of the postmaster and every server process, all at once:
        WAL not yet handed to the kernel is lost, as in a power cut."""
        postmaster = self.postmaster()
        if postmaster is None:
            return
        os.kill(postmaster, signal.SIGSTOP)  # no child is restarted while they go
        for pid in self.children(postmaster):
            _signal(pid, signal.SIGKILL)
        os.kill(postmaster, signal.SIGKILL)
        _wait_gone(postmaster)
        # Left a zombie if nobody reaps it yet, which postgres would take for a
        # live postmaster: the lock files go with the process they name.
        (self.data / "postmaster.pid").unlink(missing_ok=True)
        (self.directory / f".s.PGSQL.{self.port}.lock").unlink(missing_ok=True)

    def crash(self, how: str = "kill") -> None:
        self.kill() if how == "kill" else self.immediate_stop()

    # -- processes --------------------------------------------------------------------

    def postmaster(self) -> int | None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None
        return pid if _alive(pid) else None

    def children(self, parent: int) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == parent:
                    found.append(int(entry.name))
        return found

    def process(self, title: str) -> int | None:
        """A server process by its title (e.g. 'walwriter')."""
        postmaster = self.postmaster()
        for pid in self.children(postmaster) if postmaster else []:
            try:
                if title in (Path("/proc") / str(pid) / "cmdline").read_bytes().decode(errors="replace"):
                    return pid
            except OSError:
                continue
        return None

    def pause_wal_writer(self) -> int | None:
        """Stop the WAL writer: asynchronous commits stay in shared memory
        (not even in the kernel's cache) until someone flushes."""
        pid = self.process("walwriter")
        if pid is not None:
            os.kill(pid, signal.SIGSTOP)
        return pid

    # -- connecting -------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.url(database), autocommit=True, connect_timeout=10)

    def create_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')

    def destroy(self) -> None:
        try:
            self.kill()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _wait_gone(pid: int) -> None:
    while _alive(pid):  # SIGKILL cannot be ignored: this ends
        time.sleep(0.01)
