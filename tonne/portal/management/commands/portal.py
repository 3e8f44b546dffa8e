"""tonne portal rebuild-summary | check-summary"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tonne.portal import summary


class Command(BaseCommand):
    help = "Public portal: rebuild or check the per-project search summary."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("rebuild-summary", help="recompute every project's search summary row (after a bulk load)")
        sub.add_parser("check-summary", help="compare the stored summary with one computed afresh; exit 1 on a difference")

    def handle(self, *args: object, **options: object) -> None:
        started = time.perf_counter()
        if options["action"] == "rebuild-summary":
            n = summary.rebuild()
            self.stdout.write(f"summarised {n} projects in {time.perf_counter() - started:.1f} s")
            return
        differing = summary.drift()
        if differing:
            raise CommandError(f"the search summary is out of step: {', '.join(differing[:10])}")
        self.stdout.write("the search summary matches the projects")
