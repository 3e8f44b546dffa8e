"""tonne worker: background work from the database (no broker needed).
Today: signs a checkpoint every N entries or T minutes."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections, connection


class Command(BaseCommand):
    help = "Run background work: periodic signed checkpoints."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="do what is due now, then exit")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between polls")

    def handle(self, *args: object, **options: object) -> None:
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._loop(options, lambda: stopping)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _loop(self, options: dict, stopping: Callable[[], bool]) -> None:
        from tonne.ledger.services import checkpoint_due, make_checkpoint

        self.stdout.write(
            f"tonne worker: checkpoint every {settings.TONNE_CHECKPOINT_EVERY_ENTRIES} entries "
            f"or {settings.TONNE_CHECKPOINT_EVERY_MINUTES} minutes"
        )
        while not stopping():
            if not connection.in_atomic_block:  # (a caller's transaction is not ours to close)
                close_old_connections()
            if checkpoint_due():
                checkpoint = make_checkpoint()
                if checkpoint is not None:
                    self.stdout.write(f"signed checkpoint {checkpoint.size} {checkpoint.root_hash}")
            if options["once"]:
                break
            time.sleep(float(options["interval"]))  # type: ignore[arg-type]
