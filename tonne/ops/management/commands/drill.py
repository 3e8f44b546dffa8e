"""tonne drill: the crash drills' registry side.

  tonne drill world --scratch    make the drill's registry, print its accounts and tokens (JSON)
  tonne drill check FILE         compare what clients were told (JSON: acknowledged, in_doubt, heads)
                                 with what the registry kept; exit 1 and say why if they differ
  tonne drill simulate --scratch --seed S --steps N
                                 the randomised fault run on this registry's database (steps also
                                 from TONNE_DRILL_STEPS); exit 1 at the first broken invariant"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tonne.ops.drills import simulate, world


class Command(BaseCommand):
    help = "Crash drills: make the drill registry, check it after a crash, run the randomised fault run."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        world_parser = sub.add_parser("world")
        world_parser.add_argument("--scratch", action="store_true", help="this database is a scratch one")
        check = sub.add_parser("check")
        check.add_argument("file")
        sim = sub.add_parser("simulate")
        sim.add_argument("--seed", type=int, default=1)
        sim.add_argument("--steps", type=int, default=int(os.environ.get("TONNE_DRILL_STEPS", "200")))
        sim.add_argument("--check-every", type=int, default=1)
        sim.add_argument("--scratch", action="store_true", help="this database is a scratch one")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] != "check" and not options["scratch"]:
            # It makes people, issues units and relaxes the rules: never on a live registry.
            raise CommandError(f"tonne drill {options['action']} writes a drill registry into this database; "
                               "run it only on a scratch database, with --scratch.")
        world.apply_drill_settings()
        if options["action"] == "world":
            call_command("migrate", verbosity=0)
            self.stdout.write(json.dumps(world.build()))
        elif options["action"] == "check":
            told = json.loads(Path(options["file"]).read_text())
            problems = world.check(acknowledged=told.get("acknowledged", []), in_doubt=told.get("in_doubt", []),
                                   heads=told.get("heads", []), nothing_changed=told.get("nothing_changed", []))
            for problem in problems:
                self.stderr.write(problem)
            if problems:
                sys.exit(1)
            self.stdout.write("OK: every acknowledged move kept, every head seen still there, units conserved")
        else:
            call_command("migrate", verbosity=0)
            simulate.run(seed=options["seed"], steps=options["steps"], say=self.stdout.write,
                         check_every=options["check_every"])
