"""tonne worker: background work from the database (no broker needed).
Today: signs a checkpoint every N entries or T minutes."""

from __future__ import annotations

import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections


class Command(BaseCommand):
    help = "Run background work: periodic signed checkpoints."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="do what is due now, then exit")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between polls")

    def handle(self, *args: object, **options: object) -> None:
        from tonne.ledger.services import checkpoint_due, make_checkpoint

        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(
            f"tonne worker: checkpoint every {settings.TONNE_CHECKPOINT_EVERY_ENTRIES} entries "
            f"or {settings.TONNE_CHECKPOINT_EVERY_MINUTES} minutes"
        )
        while not stopping:
            close_old_connections()
            if checkpoint_due():
                checkpoint = make_checkpoint()
                if checkpoint is not None:
                    self.stdout.write(f"signed checkpoint {checkpoint.size} {checkpoint.root_hash}")
            if options["once"]:
                break
            time.sleep(float(options["interval"]))  # type: ignore[arg-type]
