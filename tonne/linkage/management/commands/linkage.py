"""tonne linkage partners | deliver | outgoing | incoming | answer | accept | reject
             | reconcile | statement | statement-in | statement-answer | resolve

The file route of the transfer protocol and of reconciliation, for partners
that are not online: the same messages and answers as over HTTP, carried as
files, through the same states (docs/linkage.md §3)."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tonne.controls.models import Approval
from tonne.core import clock
from tonne.core.errors import RegistryError
from tonne.linkage import delivery, receiving, reconciliation, selectors, sending
from tonne.linkage.models import Partner
from tonne.organisations.models import User


class Command(BaseCommand):
    help = "Linkage with partner registries: the partner list, and transfer messages by file or by the worker."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("partners", help="the partner registries and their keys").add_argument("--user", required=True)
        sub.add_parser("deliver", help="one round of the worker's delivery of transfer messages")
        out = sub.add_parser("outgoing", help="write the next message of a transfer we proposed to a file")
        out.add_argument("transfer")
        out.add_argument("file")
        inc = sub.add_parser("incoming", help="take a partner's message from a file, write our signed answer")
        inc.add_argument("file")
        inc.add_argument("answer")
        ans = sub.add_parser("answer", help="take a partner's answer to one of our messages from a file")
        ans.add_argument("file")
        for name in ("accept", "reject"):
            step = sub.add_parser(name, help=f"{name} a transfer a partner proposed")
            step.add_argument("registry_id")
            step.add_argument("transfer")
            step.add_argument("--user", required=True, help="the registry administrator")
            if name == "reject":
                step.add_argument("--reason", required=True)
        rec = sub.add_parser("reconcile", help="send a reconciliation statement to every active partner (or one) now")
        rec.add_argument("registry_id", nargs="?")
        rec.add_argument("--user", required=True, help="the registry administrator")
        st = sub.add_parser("statement", help="write our reconciliation statement to a partner to a file")
        st.add_argument("registry_id")
        st.add_argument("file")
        st_in = sub.add_parser("statement-in", help="take a partner's statement from a file, write our signed answer")
        st_in.add_argument("file")
        st_in.add_argument("answer")
        sub.add_parser("statement-answer", help="take a partner's answer to our statement from a file").add_argument("file")
        res = sub.add_parser("resolve", help="resolve a reconciliation mismatch (lifts its freezes)")
        res.add_argument("mismatch")
        res.add_argument("--reason", required=True)
        res.add_argument("--user", required=True, help="the registry administrator")

    def handle(self, *args: object, **options: object) -> None:
        try:
            self._handle(options)
        except RegistryError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc

    def _user(self, options: dict) -> User:
        user = User.objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user {options['user']}.")
        return user

    def _handle(self, options: dict) -> None:
        action = options["action"]
        if action == "partners":
            now = clock.now()
            found = [selectors.partner_out(p, now) for p in selectors.partners(self._user(options))]
            self.stdout.write(json.dumps(found, indent=2, default=str))
        elif action == "deliver":
            delivery.run_once(self.stdout.write)
        elif action == "outgoing":
            note = sending.next_message(str(options["transfer"]))
            if note is None:
                raise CommandError("Nothing to send for this transfer now.")
            Path(str(options["file"])).write_text(note)
            self.stdout.write(f"written {options['file']}")
        elif action == "incoming":
            answer = receiving.handle(Path(str(options["file"])).read_text())
            Path(str(options["answer"])).write_text(answer)
            self.stdout.write(f"answer written to {options['answer']}")
        elif action == "answer":
            out, theirs = sending.take_answer(Path(str(options["file"])).read_text())
            self.stdout.write(f"transfer {out.uid}: {out.state} ({out.partner.registry_id}: {theirs})")
        elif action in ("reconcile", "statement", "statement-in", "statement-answer", "resolve"):
            self._reconciliation(action, options)
        elif action == "accept":
            result = receiving.accept(actor=self._user(options), registry_id=str(options["registry_id"]),
                                      transfer=str(options["transfer"]))
            if isinstance(result, Approval):
                self.stdout.write(f"acceptance requested: approval {result.uid} waits for a second administrator")
            else:
                self.stdout.write(f"transfer {result.transfer}: {result.state}")
        else:
            result = receiving.reject(actor=self._user(options), registry_id=str(options["registry_id"]),
                                      transfer=str(options["transfer"]), reason=str(options["reason"]))
            self.stdout.write(f"transfer {result.transfer}: {result.state}")

    def _reconciliation(self, action: str, options: dict) -> None:
        if action == "reconcile":
            for said in reconciliation.reconcile_now(actor=self._user(options), post=delivery.post,
                                                     registry_id=options["registry_id"]):
                self.stdout.write(said)
        elif action == "statement":
            partner = Partner.objects.filter(registry_id=str(options["registry_id"]).strip().upper()).first()
            if partner is None:
                raise CommandError(f"{options['registry_id']} is not a partner registry.")
            Path(str(options["file"])).write_text(reconciliation.statement_for(partner))
            self.stdout.write(f"written {options['file']}")
        elif action == "statement-in":
            Path(str(options["answer"])).write_text(reconciliation.handle_statement(Path(str(options["file"])).read_text()))
            self.stdout.write(f"answer written to {options['answer']}")
        elif action == "statement-answer":
            taken = reconciliation.take_answer(Path(str(options["file"])).read_text())
            self.stdout.write(f"{taken.partner.registry_id}: {taken.mismatches} mismatch(es)")
        else:
            found = reconciliation.resolve(actor=self._user(options), uid=str(options["mismatch"]),
                                           reason=str(options["reason"]))
            self.stdout.write(f"mismatch {found.uid}: {found.state}")
