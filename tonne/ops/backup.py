"""Backups of the embedded (SQLite) registry through SQLite's online backup
API: a consistent copy while the registry runs (a `cp` of a live WAL
database is not). PostgreSQL is backed up with its own tools
(docs/operations.md). The keys go to a separate file: a database backup
must be safe to hand to an operator who may not sign checkpoints."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import tarfile
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import connections

from tonne.core.errors import RegistryError


def _database() -> Path:
    db = connections["default"]
    if db.vendor != "sqlite":
        raise RegistryError(
            "BACKUP_NOT_SQLITE",
            "tonne backup/restore are for the embedded SQLite registry; back PostgreSQL up with "
            "pg_basebackup and WAL archiving (docs/operations.md).",
        )
    return Path(db.settings_dict["NAME"])


def backup(target: Path) -> int:
    """Copy the live database to `target`; returns its size in bytes."""
    source = sqlite3.connect(_database(), timeout=30)
    tmp = target.with_name(target.name + ".partial")
    tmp.unlink(missing_ok=True)
    dest = sqlite3.connect(tmp)
    try:
        source.backup(dest)  # all pages in one step: one snapshot, whatever writes meanwhile
        dest.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        dest.close()
        source.close()
    os.replace(tmp, target)
    return target.stat().st_size


def check_backup(path: Path) -> None:
    if not path.is_file():
        raise RegistryError("BACKUP_NOT_FOUND", f"{path} does not exist.")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            (result,) = db.execute("PRAGMA integrity_check").fetchone()
            db.execute("SELECT size FROM ledger_ledgerhead").fetchone()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise RegistryError("BACKUP_INVALID", f"{path} is not a Tonne SQLite backup: {exc}") from None
    if result != "ok":
        raise RegistryError("BACKUP_INVALID", f"{path} fails SQLite's integrity check: {result}")


def restore(source_path: Path, *, force: bool) -> None:
    check_backup(source_path)
    if registry_running() and not force:
        raise RegistryError(
            "REGISTRY_RUNNING",
            "The registry is running (tonne serve or tonne worker); stop it first, or pass --force.",
        )
    connections.close_all()
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    dest = sqlite3.connect(_database(), timeout=30)
    try:
        source.backup(dest)  # through SQLite, so the live WAL and other connections stay consistent
    finally:
        dest.close()
        source.close()


def backup_keys(target: Path) -> list[str]:
    """The ledger signing key and the KYC encryption key, in a tar file
    readable by its owner only. Keys given in the environment are not files
    and are named, not copied."""
    files = [p for p in (settings.TONNE_LEDGER_KEY_FILE, settings.TONNE_KYC_KEY_FILE) if Path(p).is_file()]
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, tarfile.open(fileobj=out, mode="w") as tar:
        for path in files:
            tar.add(path, arcname=Path(path).name)
    return [str(p) for p in files]


# -- is the registry running? ------------------------------------------------------
# `tonne serve` and `tonne worker` hold a shared lock on this file while they
# run; the kernel drops it when they die, so a crash never leaves it stale.


def _lock_path() -> Path:
    return Path(settings.DATA_DIR) / "registry.running"


_held: list[IO[str]] = []


def hold_running_lock() -> None:
    handle = open(_lock_path(), "a")
    fcntl.flock(handle, fcntl.LOCK_SH)
    _held.append(handle)


def registry_running() -> bool:
    if _held:
        return True
    with open(_lock_path(), "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False
