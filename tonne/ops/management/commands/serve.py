"""tonne serve: the registry over HTTP (waitress, a production WSGI server)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser
from django.core.wsgi import get_wsgi_application
from waitress import serve

from tonne.ledger import keys
from tonne.ledger.services import check_against_mark
from tonne.ops import backup, worker


class Command(BaseCommand):
    help = "Serve the registry over HTTP."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument(
            "--no-worker", action="store_true", help="do not run background work here (a separate `tonne worker` does)"
        )

    def handle(self, *args: object, **options: object) -> None:
        application = get_wsgi_application()
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
