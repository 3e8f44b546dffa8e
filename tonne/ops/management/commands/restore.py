"""tonne restore FILE [--force]: put a `tonne backup` back in place of the SQLite registry."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tonne.core.errors import RegistryError
from tonne.ledger.services import check_against_mark
from tonne.ops import backup


class Command(BaseCommand):
    help = "Restore the SQLite registry from a backup (refused while it runs unless --force)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="a file written by `tonne backup`")
        parser.add_argument("--force", action="store_true", help="restore even though the registry is running")

    def handle(self, *args: object, **options: object) -> None:
        try:
            backup.restore(Path(str(options["file"])), force=bool(options["force"]))
        except RegistryError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None
        self.stdout.write(f"Registry restored from {options['file']}.")
        rolled_back = check_against_mark()
        if rolled_back:
            self.stderr.write(
                f"LEDGER ROLLED BACK: {rolled_back}. Unit moves are refused until an administrator checks "
                "what was lost and runs `tonne ledger acknowledge-restore --by USERNAME`."
            )
