"""tonne cadt: CAD Trust export, import and picklists.

    tonne cadt export [--model 2] [--format json|csv|xlsx] [--since CURSOR] [--table T] [-o FILE]
    tonne cadt import FILE --as USERNAME [--table T] [--dry-run]
    tonne cadt picklists [--from URL --model 1|2]
    tonne cadt node add NAME URL [--api-key KEY] [--from-start]   # a CAD Trust node to push to
    tonne cadt sync [--loop]                                       # deliver due changes now
    tonne cadt status                                              # lag and failures per node
    tonne cadt check-rows                                          # the read API's rows against a fresh mapping
    tonne cadt rebuild-rows                                        # map every row of the read API afresh
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tonne.core.errors import RegistryError


class Command(BaseCommand):
    help = "CAD Trust interoperability: export, import, picklists."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="write this registry's CAD Trust data")
        export.add_argument("--model", default="2", choices=["1", "2"], help="CAD Trust data model version")
        export.add_argument("--format", default="json", choices=["json", "csv", "xlsx"])
        export.add_argument("--since", type=int, default=None, help="only changes since this cursor (ledger position)")
        export.add_argument("--table", default=None, help="one v2 table only")
        export.add_argument("-o", "--output", default="-", help="file to write ('-' for standard output)")
        imp = sub.add_parser("import", help="import a CAD Trust v1/v2 file (JSON, CSV or Excel)")
        imp.add_argument("file")
        imp.add_argument("--as", dest="username", required=True, help="the registry administrator importing it")
        imp.add_argument("--table", default=None, help="the v2 table of a single-table CSV or JSON list")
        imp.add_argument("--dry-run", action="store_true", help="check only, change nothing")
        lists = sub.add_parser("picklists", help="show the picklists in force and their dates, or refresh them")
        lists.add_argument("--from", dest="source", default=None,
                           help="a governance node's picklist URL (…/v1/governance/meta/pickList or …/v2/governance/picklist), or a file of its answer")
        lists.add_argument("--model", default="2", choices=["1", "2"])
        node = sub.add_parser("node", help="CAD Trust nodes to push changes to")
        node_sub = node.add_subparsers(dest="node_action", required=True)
        add = node_sub.add_parser("add")
        add.add_argument("name")
        add.add_argument("url")
        add.add_argument("--api-key", default="")
        add.add_argument("--from-start", action="store_true", help="send the whole registry, not only later changes")
        sync_cmd = sub.add_parser("sync", help="deliver due changes to CAD Trust nodes now")
        sync_cmd.add_argument("--loop", action="store_true", help="keep delivering until interrupted")
        sync_cmd.add_argument("--interval", type=float, default=0.2, help="seconds between rounds with --loop")
        sub.add_parser("status", help="push sync lag and failures per node")
        sub.add_parser("check-rows", help="compare the read API's rows with a fresh mapping; exit 1 on a difference")
        sub.add_parser("rebuild-rows", help="map every row of the CAD Trust read API afresh")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action'].replace('-', '_')}")(options)
        except RegistryError as exc:
            self._print_problem(exc)
            raise CommandError(f"{exc.code}: {exc.message}") from None

    def _print_problem(self, exc: RegistryError) -> None:
        for error in exc.details.get("errors", []):
            where = f"{error.get('sheet') or error['table']} row {error['row']}"
            self.stderr.write(f"{where} {error.get('field') or ''}: {error['code']} {error['message']}")
        for overlap in exc.details.get("double_counting", []):
            self.stderr.write(f"{overlap['code']}: {overlap['message']} known: {json.dumps(overlap['known'])}")

    def _export(self, options: dict[str, Any]) -> None:
        from tonne.cadt import selectors

        doc, cursor = selectors.export_document(options["model"], since=options["since"])
        content = selectors.render(options["model"], options["format"], doc, table=options["table"])
        if options["output"] == "-":
            sys.stdout.buffer.write(content)
            sys.stdout.flush()
        else:
            Path(options["output"]).write_bytes(content)
        self.stderr.write(f"cursor {cursor}")

    def _import(self, options: dict[str, Any]) -> None:
        from tonne.cadt import services
        from tonne.organisations.models import User

        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}")
        report = services.import_file(
            actor=user, content=path.read_bytes(), filename=path.name, table=options["table"],
            dry_run=options["dry_run"],
        )
        for warning in report.warnings:
            self.stderr.write(f"warning: {warning['table']} row {warning['row']} {warning['field']}: {warning['message']}")
        verb = "would import" if options["dry_run"] else "imported"
        self.stdout.write(
            f"{verb} CAD Trust v{report.version} {report.file_format}: {report.created} new, {report.updated} updated, "
            f"{report.unchanged} unchanged, {report.own} own records"
            + ("" if report.changed else " (nothing changed)")
        )

    def _node(self, options: dict[str, Any]) -> None:
        from tonne.cadt import sync

        dest = sync.add_destination(
            actor=None, name=options["name"], url=options["url"], api_key=options["api_key"],
            from_start=options["from_start"],
        )
        self.stdout.write(f"CAD Trust node {dest.name} at {dest.url}: changes from ledger position {dest.cursor}")

    def _sync(self, options: dict[str, Any]) -> None:
        import time

        from django.db import close_old_connections, connection

        from tonne.cadt import sync

        while True:
            if not connection.in_atomic_block:  # a caller's transaction is not ours to close
                close_old_connections()
            for outcome in sync.deliver_due():
                state = f"delivered {outcome.records} records" if outcome.delivered else f"failed: {outcome.error}"
                self.stdout.write(f"{outcome.destination}: ledger {outcome.from_seq}-{outcome.to_seq} {state}")
                self.stdout.flush()
            if not options["loop"]:
                return
            time.sleep(options["interval"])

    def _check_rows(self, options: dict[str, Any]) -> None:
        from tonne.cadt import projection

        found = projection.drift()
        for kind, keys in found.items():
            for key in keys[:20]:
                self.stdout.write(f"{kind}: {key}")
        if any(found.values()):
            counts = ", ".join(f"{len(v)} {k}" for k, v in found.items())
            raise CommandError(f"CAD Trust rows differ from the registry: {counts}; run `tonne cadt rebuild-rows`.")
        self.stdout.write("CAD Trust rows match the registry.")

    def _rebuild_rows(self, options: dict[str, Any]) -> None:
        from tonne.cadt import projection

        self.stdout.write(f"{projection.rebuild()} CAD Trust rows written.")

    def _status(self, options: dict[str, Any]) -> None:
        from tonne.cadt import sync

        for node in sync.status():
            self.stdout.write(
                f"{node['name']} {node['url']}: cursor {node['cursor']}/{node['ledger_size']}, "
                f"{node['pending_entries']} entries pending, lag {node['lag_seconds']} s, "
                f"{node['attempts']} failures in a row" + (f", last error: {node['last_error']}" if node["last_error"] else "")
            )

    def _picklists(self, options: dict[str, Any]) -> None:
        from tonne.projects import picklists

        if options["source"]:
            from django.db import transaction

            from tonne.cadt import picklists as refresh

            with transaction.atomic():
                done = refresh.refresh(actor=None, url=options["source"], version=options["model"])
            self.stdout.write(f"picklists v{done['version']} refreshed from {done['source']}: {done['lists']} lists")

        for version in ("1", "2"):
            data = picklists.picklist_file(version)
            self.stdout.write(f"v{version} ({data.get('date', '')}): {data.get('_source', '')}")
            for name, values in sorted(data["picklists"].items()):
                self.stdout.write(f"  {name}: {len(values)} values")
