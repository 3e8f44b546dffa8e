"""tonne observe: import other registries' exports and find double counting.

    tonne observe import FILE [FILE …] [--registry verra] [--as USERNAME] [--report report.json]
    tonne observe find [--as USERNAME] [--threshold 90]
    tonne observe findings [--kind serial_overlap] [--registry cdm] [--limit 50]
    tonne observe reconcile [--registry cdm] [--project 2569] [--mismatches-only]
    tonne observe registries
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tonne.core.errors import RegistryError
from tonne.observer import selectors, services
from tonne.observer.domain.records import REGISTRIES
from tonne.organisations.models import User


class Command(BaseCommand):
    help = "Observer: import registry exports, find double counting, reconcile."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="import registry export files (CSV or Excel)")
        imp.add_argument("files", nargs="+")
        imp.add_argument("--registry", choices=sorted(REGISTRIES), default=None,
                         help="the registry the files come from (recognised from the header when left out)")
        imp.add_argument("--as", dest="username", default=None, help="the registry administrator importing")
        imp.add_argument("--report", default=None, help="write the full per-file reports here as JSON")
        imp.add_argument("--quiet", action="store_true", help="no progress bar")
        find = sub.add_parser("find", help="find serial overlaps, retirements counted twice and duplicate projects")
        find.add_argument("--as", dest="username", default=None)
        find.add_argument("--threshold", type=float, default=90.0, help="name similarity (0-100) for duplicates")
        show = sub.add_parser("findings", help="list the findings")
        show.add_argument("--kind", default=None)
        show.add_argument("--registry", default=None)
        show.add_argument("--limit", type=int, default=0, help="0: all")
        rec = sub.add_parser("reconcile", help="issued = retired + cancelled + remaining, per registry and project")
        rec.add_argument("--registry", default=None)
        rec.add_argument("--project", default=None)
        rec.add_argument("--mismatches-only", action="store_true")
        sub.add_parser("registries", help="what is observed, per registry")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except RegistryError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None

    def _actor(self, username: str | None) -> User:
        if username:
            user = User.objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"no user {username!r}")
            return user
        admins = list(User.objects.filter(is_superuser=True, is_active=True)[:2])
        if len(admins) != 1:
            raise CommandError("name the registry administrator importing with --as USERNAME")
        return admins[0]

    def _import(self, options: dict[str, Any]) -> None:
        user = self._actor(options["username"])
        reports = []
        failed = 0
        for name in options["files"]:
            path = Path(name)
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
            bar = _Bar(self.stderr, path.name, path.stat().st_size, quiet=options["quiet"])
            try:
                with path.open("rb") as stream:
                    report = services.import_file(actor=user, stream=stream, filename=path.name,
                                                  registry=options["registry"], progress=bar.update)
            except RegistryError as exc:
                bar.done()
                self.stderr.write(f"{path.name}: refused: {exc.code}: {exc.message}")
                failed += 1
                continue
            bar.done()
            reports.append(report.as_dict())
            self.stdout.write(
                f"{path.name}: {report.file_format} ({REGISTRIES[report.registry]}): {report.rows_read} rows read, "
                f"{report.mapped} mapped, {report.skipped} skipped; {report.created} new, {report.updated} updated, "
                f"{report.unchanged} unchanged records"
            )
            for reason, count in report.skip_reasons.most_common():
                examples = ", ".join(str(n) for n in report.skip_examples.get(reason, []))
                self.stdout.write(f"  skipped {count} rows: {reason} (rows {examples})")
            for warning in report.warnings:
                self.stdout.write(f"  warning: {warning}")
        if options["report"]:
            Path(options["report"]).write_text(json.dumps(reports, indent=2, default=str) + "\n")
        if failed:
            raise CommandError(f"{failed} file(s) refused")

    def _find(self, options: dict[str, Any]) -> None:
        started = time.monotonic()
        counts = services.find_double_counting(actor=self._actor(options["username"]),
                                               name_threshold=options["threshold"])
        self.stdout.write(
            f"{counts.serial_overlap} serial overlaps, {counts.retired_twice} retirements counted twice, "
            f"{counts.duplicate_project} projects in two registries, {counts.moved_uncancelled} moves between "
            f"registries without cancellation at the origin, {counts.issued_in_both} vintages issued in both with "
            f"no telling which came first ({time.monotonic() - started:.1f} s)"
        )

    def _findings(self, options: dict[str, Any]) -> None:
        qs = selectors.findings(kind=options["kind"], registry=options["registry"])
        if options["limit"]:
            qs = qs[: options["limit"]]
        for f in qs.iterator():
            amount = f" {f.quantity} units" if f.quantity is not None else f" score {f.score}"
            self.stdout.write(f"{f.kind}: {f.registry_a} {f.record_a} / {f.registry_b} {f.record_b}:{amount} "
                              f"{json.dumps(f.evidence, default=str, ensure_ascii=False)}")

    def _reconcile(self, options: dict[str, Any]) -> None:
        balances = selectors.reconcile(registry=options["registry"], project=options["project"])
        totals: dict[str, list[Any]] = {}
        for b in balances:
            t = totals.setdefault(b.registry, [0, 0, 0, 0, 0])
            for i, v in enumerate((b.issued, b.retired, b.cancelled, b.remaining, len(b.mismatches))):
                t[i] += v
            if options["mismatches_only"] and not b.mismatches:
                continue
            d = b.as_dict()
            self.stdout.write(f"{b.registry} {b.project_id or '(no project)'}: issued {d['issued']} = retired "
                              f"{d['retired']} + cancelled {d['cancelled']} + remaining {d['remaining']}")
            for m in b.mismatches:
                self.stdout.write(f"  mismatch: {m}")
        for reg, (issued, retired, cancelled, remaining, mismatches) in sorted(totals.items()):
            a = selectors.amount
            self.stdout.write(f"total {reg}: issued {a(issued)} = retired {a(retired)} + cancelled {a(cancelled)} + "
                              f"remaining {a(remaining)}; {mismatches} mismatches")

    def _registries(self, options: dict[str, Any]) -> None:
        for row in selectors.registry_summary():
            parts = ", ".join(f"{k} {v}" for k, v in row.items() if k not in ("registry", "name"))
            self.stdout.write(f"{row['registry']} ({row['name']}): {parts}")


class _Bar:
    """A progress bar on the terminal: bytes read of the file, rows and rows per second."""

    def __init__(self, out: Any, name: str, total: int, *, quiet: bool) -> None:
        self.out, self.name, self.total = out, name, max(total, 1)
        self.quiet = quiet or not getattr(sys.stderr, "isatty", lambda: False)()
        self.started = time.monotonic()
        self.last = 0.0

    def update(self, rows: int, position: int) -> None:
        now = time.monotonic()
        if self.quiet or now - self.last < 0.2:
            return
        self.last = now
        share = min(position / self.total, 1.0)
        filled = int(share * 30)
        rate = rows / max(now - self.started, 1e-6)
        self.out.write(f"\r{self.name} [{'#' * filled}{'.' * (30 - filled)}] {share:4.0%} {rows:,} rows "
                       f"{rate:,.0f} rows/s", ending="")
        self.out.flush()

    def done(self) -> None:
        if not self.quiet:
            self.out.write("\r" + " " * 100 + "\r", ending="")
