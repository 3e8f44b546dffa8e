"""tonne worker: background work (settlements, monitoring, signed checkpoints,
CAD Trust sync) in its own process."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from tonne.ledger.services import check_against_mark
from tonne.ops import backup, worker


class Command(BaseCommand):
    help = "Run background work: delayed settlements, AML monitoring, signed checkpoints, CAD Trust sync."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="do what is due now, then exit")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")

    def handle(self, *args: object, **options: object) -> None:
        backup.hold_running_lock()  # `tonne restore` refuses while this is held
        rolled_back = check_against_mark()
        if rolled_back:
            self.stderr.write(f"LEDGER ROLLED BACK: {rolled_back}. Unit moves are refused until an administrator "
                              "runs `tonne ledger acknowledge-restore`.")
        if options["once"]:
            worker.run_once(self.stdout.write)
            return
        self.stdout.write(
            f"tonne worker: checkpoint every {settings.TONNE_CHECKPOINT_EVERY_ENTRIES} entries "
            f"or {settings.TONNE_CHECKPOINT_EVERY_MINUTES} minutes"
        )
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            worker.run(stop, float(options["interval"]), self.stdout.write)  # type: ignore[arg-type]
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
