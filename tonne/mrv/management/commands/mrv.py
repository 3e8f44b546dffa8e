"""tonne mrv recompute REPORT"""

from __future__ import annotations

import json
import uuid

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tonne.core.errors import RegistryError
from tonne.mrv.computation import recompute
from tonne.mrv.models import MonitoringReport


class Command(BaseCommand):
    help = "Digital MRV: recompute a computed monitoring report from its stored inputs."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        again = sub.add_parser("recompute", help="recompute REPORT (its uid) and say whether it matches")
        again.add_argument("report")
        again.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: object, **options: object) -> None:
        try:
            report = MonitoringReport.objects.select_related("project").get(uid=uuid.UUID(str(options["report"])))
        except (ValueError, MonitoringReport.DoesNotExist):
            raise CommandError(f"REPORT_NOT_FOUND: no monitoring report {options['report']}") from None
        try:
            result = recompute(report)
        except RegistryError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps({
                "report": str(report.uid), "matches": result.matches, "inputs_match": result.inputs_match,
                "code_matches": result.code_matches, "stored": result.stored, "recomputed": result.recomputed,
                "stored_root": result.stored_root, "recomputed_root": result.recomputed_root,
                "reading_count": result.reading_count}, sort_keys=True))
        else:
            self.stdout.write(f"report {report.uid} ({report.project.project_id} #{report.number})")
            self.stdout.write(f"readings: {result.reading_count}, root {result.recomputed_root} "
                              f"({'matches' if result.inputs_match else 'DIFFERS FROM stored ' + result.stored_root})")
            for vintage in sorted(set(result.stored) | set(result.recomputed)):
                self.stdout.write(f"vintage {vintage}: stored {result.stored.get(vintage)}, "
                                  f"recomputed {result.recomputed.get(vintage)}")
            if not result.code_matches:
                self.stdout.write("note: the methodology's code changed since the report was computed")
            self.stdout.write("MATCHES" if result.matches else "DOES NOT MATCH")
        if not result.matches:
            raise SystemExit(1)
