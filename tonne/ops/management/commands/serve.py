"""tonne serve: the registry over HTTP: waitress in one process (the
embedded default, with the background work in a thread), or with
--production gunicorn's worker processes (tonne/ops/gunicorn_conf.py)."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

from django.core.management.base import BaseCommand, CommandParser
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver
from waitress import serve

from tonne.ledger import keys
from tonne.ledger.services import check_against_mark
from tonne.ops import backup, worker


class Command(BaseCommand):
    help = "Serve the registry over HTTP."
    # The system checks are `tonne check`'s (and CI's) work, not every start's;
    # the URLs, which they would load, are loaded below before serving.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument(
            "--no-worker", action="store_true", help="do not run background work here (a separate `tonne worker` does)"
        )
        parser.add_argument(
            "--production", action="store_true",
            help="gunicorn with several worker processes (tonne/ops/gunicorn_conf.py); run `tonne worker` beside it",
        )
        parser.add_argument("--workers", type=int, help="with --production: worker processes (default 2 a core + 1)")

    def handle(self, *args: object, **options: object) -> None:
        if options["production"]:
            self._production(options)
        application = get_wsgi_application()
        get_resolver().url_patterns  # noqa: B018 (load every API now: the first request is not slow, a broken one stops the start)
        keys.ensure_key()
        backup.hold_running_lock()  # `tonne restore` refuses while this is held
        rolled_back = check_against_mark()
        if rolled_back:
            self.stderr.write(f"LEDGER ROLLED BACK: {rolled_back}. Unit moves are refused until an administrator "
                              "runs `tonne ledger acknowledge-restore`.")
        if not options["no_worker"]:
            worker.start_thread()
        self.stdout.write(f"Tonne registry at http://{options['host']}:{options['port']}/ (Ctrl-C to stop)")
        serve(application, host=options["host"], port=options["port"], threads=options["threads"], ident="tonne")

    def _production(self, options: dict[str, object]) -> NoReturn:
        """Become gunicorn (same process id: a service manager keeps
        following it), with the project's configuration; --host and --port
        are its bind address, --workers its worker count."""
        argv = [sys.executable, "-m", "gunicorn", "-c", "python:tonne.ops.gunicorn_conf",
                "--bind", f"{options['host']}:{options['port']}"]
        if options["workers"]:
            argv += ["--workers", str(options["workers"])]
        self.stdout.write(f"Tonne registry (gunicorn) at http://{options['host']}:{options['port']}/")
        self.stdout.flush()
        os.execv(sys.executable, [*argv, "tonne.wsgi:application"])  # noqa: S606 (our own interpreter, fixed arguments)
