"""tonne backup FILE [--keys KEYFILE]: a consistent copy of the running SQLite registry."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tonne.core.errors import RegistryError
from tonne.ops import backup


class Command(BaseCommand):
    help = "Back the SQLite registry up (safe while it runs); --keys also saves the signing and KYC keys."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="where to write the database backup")
        parser.add_argument("--keys", help="also write the ledger signing and KYC keys to this SEPARATE file")

    def handle(self, *args: object, **options: object) -> None:
        try:
            size = backup.backup(Path(str(options["file"])))
        except RegistryError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None
        self.stdout.write(f"Database backed up to {options['file']} ({size:,} bytes).")
        if options.get("keys"):
            saved = backup.backup_keys(Path(str(options["keys"])))
            self.stderr.write(
                f"WARNING: {options['keys']} holds the registry's private keys ({', '.join(saved) or 'none on disk'}). "
                "Whoever has it can sign checkpoints and read KYC documents: keep it apart from the database "
                "backups, encrypted, in escrow (docs/operations.md)."
            )
