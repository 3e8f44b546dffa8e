"""tonne serve: the registry over HTTP (waitress, a production WSGI server)."""

from __future__ import annotations

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

    def handle(self, *args: object, **options: object) -> None:
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
