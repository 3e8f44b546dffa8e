"""tonne article6 aef | import | status | reconcile"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tonne.article6 import aef, international, review, selectors
from tonne.controls.models import Approval
from tonne.core.errors import RegistryError
from tonne.organisations.models import User


class Command(BaseCommand):
    help = "Article 6: AEF reports, importing transfer files from other Parties, unit status."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        aef = sub.add_parser("aef", help="the AEF tables of a reporting year, from the ledger")
        aef.add_argument("--year", type=int, required=True)
        aef.add_argument("--output", "-o", required=True, help="FILE.xlsx, FILE.json or FILE.csv (a zip of CSV files)")
        aef.add_argument("--force", action="store_true", help="write the file even if a consistency check fails")
        imp = sub.add_parser("import", help="receive units from a signed transfer file of another Party's registry")
        imp.add_argument("file")
        imp.add_argument("--key", help="optional: the partner key the file must be signed with (or a file holding it)")
        imp.add_argument("--user", required=True, help="the registry administrator who imports")
        status = sub.add_parser("status", help="Article 6 status of a serial or range")
        status.add_argument("serials")
        rec = sub.add_parser("reconcile", help="list every mismatch between another Party's AEF and this registry's")
        rec.add_argument("file", help="the other Party's AEF: FILE.json or FILE.xlsx, as `tonne article6 aef` writes it")

    def handle(self, *args: object, **options: object) -> None:
        try:
            if options["action"] == "aef":
                self._aef(options)
            elif options["action"] == "import":
                self._import(options)
            elif options["action"] == "reconcile":
                self._reconcile(options)
            else:

                self.stdout.write(json.dumps(selectors.lookup(str(options["serials"])), indent=2, default=str))
        except RegistryError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc

    def _aef(self, options: dict) -> None:
        output = Path(str(options["output"]))
        fmt = "cadt" if output.name.lower().endswith(".cadt.json") else output.suffix.lstrip(".").lower()
        if fmt not in ("xlsx", "json", "csv", "cadt"):
            raise CommandError("The output file ends in .xlsx, .json, .csv or .cadt.json (CAD Trust AEF T1-T5).")
        report = aef.build(int(options["year"]))  # type: ignore[call-overload]
        self.stdout.write(aef.summary(report))
        if not all(c["ok"] for c in report["checks"]) and not options["force"]:
            raise CommandError("Consistency checks failed; nothing written (--force writes anyway).")
        content, _, _ = aef.render(report, fmt)
        output.write_bytes(content)
        self.stdout.write(f"written {output}")

    def _reconcile(self, options: dict) -> None:
        path = Path(str(options["file"]))
        if not path.is_file():
            raise CommandError(f"No file {path}.")
        theirs = review.read_aef(path.name, path.read_bytes(), aef.TITLES)
        ours = aef.build(int(theirs["year"]))
        found = review.reconcile(ours, theirs)
        for f in found:
            self.stdout.write(f"{f['code']} {f['from']}->{f['to']} {f['itmo']} {f['date']}: {f['detail']}")
        self.stdout.write(f"{len(found)} mismatch(es) between {theirs['party']}'s AEF {theirs['year']} and {ours['party']}'s")
        if found:
            raise CommandError("The AEFs do not agree.")

    def _import(self, options: dict) -> None:
        key = str(options["key"] or "")
        if key and Path(key).is_file():
            key = Path(key).read_text()
        user = User.objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user {options['user']}.")
        record = international.import_transfer(actor=user, signed=Path(str(options["file"])).read_text(),
                                               verifier_key=key or None)
        if isinstance(record, Approval):  # four-eyes: a second administrator approves the import
            self.stdout.write(f"import requested: approval {record.uid} waits for a second administrator")
            return
        self.stdout.write(f"imported transfer {record.uid}: {record.quantity} units into {record.destination_account}")
