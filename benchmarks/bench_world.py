#!/usr/bin/env python
"""The registry at ten times today's world carbon market (issue 21): one
command generates it through the fast generators and measures what users
feel at that size, each figure against a baseline of the same run.

    .venv/bin/python benchmarks/bench_world.py --quick     # smoke size, a few minutes
    .venv/bin/python benchmarks/bench_world.py             # full size: see benchmarks/README.md (disk, hours)

Sizes (full): 300,000 projects, 20,000,000 unit blocks and ~20,000,000
transactions (`bench_lookup.generate`, COPY, not in the ledger), the portal's
children and search summary (`bench_portal.enrich`, `summary.rebuild`), one
holder's account holding 100,000 of those blocks, and, in a database of its
own, a valid ledger of 20,000,000 entries (`ledger_gen`, through
`bench_verify.py`). Every generation step reports its own time.

Measured: the public serial lookup (p95 <= 5 ms; baseline: a primary-key
fetch of a block), the public project search and dashboard right after a
registry change with the cache emptied (p95 <= 300 ms; baseline: a page
that reads nothing), the holder's account page (p95 <= 300 ms),
`tonne ledger verify` (>= 0.25 x bare SHA-256 over the same bodies; its
peak resident memory). Not measured: the AEF report of a year with
1,000,000 actions (no generator writes Article 6 actions in bulk yet).

Not part of the test suite nor of run.py. Its databases are its own
(tonne_bench_world, tonne_bench_world_ledger and their template), dropped at
the end unless --keep."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

TEMPLATE_DB = "tonne_bench_world_template"
WORLD_DB = "tonne_bench_world"
LEDGER_DB = "tonne_bench_world_ledger"
SIZES = {
    "full": {"projects": 300_000, "blocks": 20_000_000, "entries": 20_000_000, "account_blocks": 100_000,
             "samples": 500},
    "quick": {"projects": 3_000, "blocks": 100_000, "entries": 100_000, "account_blocks": 5_000, "samples": 60},
}
TARGETS = {
    "lookup_p95_ms": 5.0,
    "search_p95_ms": 300.0,
    "dashboard_p95_ms": 300.0,
    "account_page_p95_ms": 300.0,
    "verify_over_bare": 0.25,
}


# -- the registry database (run in a child process: --phase registry) -----------------------


def holder_with_blocks(blocks: int) -> tuple:
    """A signed-in holder and one of its holding accounts, given `blocks`
    unit blocks taken from other holding accounts (bulk rows: not in the
    ledger, which this database does not verify)."""
    from django.db import connection

    from tonne.organisations.models import Account, User

    for user in User.objects.filter(is_active=True, organisation__isnull=False).order_by("id"):
        account = Account.objects.filter(organisation_id=user.organisation_id, type=Account.Type.HOLDING).first()
        if account is not None:
            break
    else:
        raise SystemExit("no holder with a holding account in the generated registry")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE units_unitblock SET account_id = %s WHERE id IN (SELECT b.id FROM units_unitblock b "
            "JOIN organisations_account a ON a.id = b.account_id WHERE a.type = %s AND b.account_id <> %s LIMIT %s)",
            [account.pk, Account.Type.HOLDING, account.pk, blocks],
        )
        cursor.execute("SELECT count(*) FROM units_unitblock WHERE account_id = %s", [account.pk])
        held = cursor.fetchone()[0]
        cursor.execute("ANALYZE units_unitblock")
    return user, account, held


def account_page(blocks: int, samples: int) -> dict:
    import bench_portal
    from django.test import Client

    t = time.perf_counter()
    user, account, held = holder_with_blocks(blocks)
    prepared = time.perf_counter() - t
    client = Client()
    client.force_login(user)
    path = f"/workspace/accounts/{account.identifier}/"
    statuses: set[int] = set()

    def get(_: int) -> None:
        statuses.add(client.get(path).status_code)

    out = bench_portal.timed(get, list(range(samples)))
    out.update(path=f"GET /workspace/accounts/<id>/ signed in as the holder, {held:,} blocks held",
               blocks_held=held, statuses=sorted(statuses), prepare_seconds=round(prepared, 1))
    return out


def registry_phase(args: argparse.Namespace) -> None:
    common.django_setup()
    import bench_lookup
    import bench_portal
    from django.core.cache import cache
    from django.db import connection

    from tonne.portal import summary

    out: dict = {"generation": {}}
    gen = out["generation"]
    print(f"  generating {args.projects:,} projects, {args.blocks:,} unit blocks and their transactions (COPY) ...",
          flush=True)
    data = bench_lookup.generate(args.projects, args.blocks)
    gen["registry"] = data
    print(f"    {data['projects']:,} projects, {data['unit_blocks']:,} blocks, {data['transactions']:,} transactions "
          f"in {data['seconds']['total']:.0f} s", flush=True)
    t = time.perf_counter()
    bench_portal.enrich(args.projects)
    gen["portal_children_seconds"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    summary.rebuild()
    gen["summary_rebuild_seconds"] = round(time.perf_counter() - t, 1)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute("SELECT pg_database_size(current_database())")
        gen["database_bytes"] = cursor.fetchone()[0]
    print(f"    portal children {gen['portal_children_seconds']} s, summary {gen['summary_rebuild_seconds']} s, "
          f"database {gen['database_bytes'] / 1e9:.2f} GB", flush=True)
    cache.clear()

    print(f"  serial lookup and API project search ({args.samples} samples) ...", flush=True)
    out["lookup"] = bench_lookup.measure_direct(args.samples, data["serial_range"])
    print(f"  portal search and dashboard, uncached ({args.samples} samples) ...", flush=True)
    out["portal"] = bench_portal.measure(args.samples)
    print(f"  a holder's account page with {args.account_blocks:,} blocks ...", flush=True)
    out["account_page"] = account_page(args.account_blocks, args.samples)
    common.write_json(args.out, out)


# -- the orchestrator ---------------------------------------------------------------------------


def _verdict(name: str, value: float | None, target: float, higher_is_better: bool = False) -> str:
    if value is None:
        return f"  [ERROR] {name}: not measured"
    ok = value >= target if higher_is_better else value <= target
    return f"  [{'PASS' if ok else 'FAIL'}] {name}: {value:,.3f} (target {'>=' if higher_is_better else '<='} {target})"


def report(out: dict) -> list[str]:
    lines = [f"## Ten times the world market ({out['size']} size)"]
    reg, led = out.get("registry", {}), out.get("ledger", {})
    if "error" in reg:
        lines.append(f"  registry: ERROR {reg['error']}")
    else:
        g = reg["generation"]
        d = g["registry"]
        lines.append(f"  generated: {d['projects']:,} projects, {d['issuances']:,} issuances, {d['unit_blocks']:,} unit "
                     f"blocks, {d['transactions']:,} transactions in {d['seconds']['total']:.0f} s; portal children "
                     f"{g['portal_children_seconds']} s, summary {g['summary_rebuild_seconds']} s; database "
                     f"{g['database_bytes'] / 1e9:.2f} GB")
        lk = reg["lookup"]
        base = lk["baseline_pk_block"]
        lines.append(f"  baseline  block by primary key: p50 {base['p50_ms']:.2f} ms, p95 {base['p95_ms']:.2f} ms")
        lines.append(f"  lookup    {lk['lookup']['path']}: p50 {lk['lookup']['p50_ms']:.2f} ms, p95 "
                     f"{lk['lookup']['p95_ms']:.2f} ms = {lk['lookup']['p95_ms'] / base['p95_ms']:.1f} x baseline p95")
        lines.append(_verdict("serial lookup p95 ms", lk["lookup"]["p95_ms"], TARGETS["lookup_p95_ms"]))
        lines.append(f"  API search {lk['search']['path']}: p50 {lk['search']['p50_ms']:.1f} ms, p95 "
                     f"{lk['search']['p95_ms']:.1f} ms")
        p = reg["portal"]
        lines.append(f"  baseline  {p['baseline']['path']}: p95 {p['baseline']['p95_ms']:.1f} ms")
        for key, target in (("search_cold", "search_p95_ms"), ("dashboard_cold", "dashboard_p95_ms")):
            lines.append(f"  {key}: p50 {p[key]['p50_ms']:.1f} ms, p95 {p[key]['p95_ms']:.1f} ms = "
                         f"{p[key]['p95_ms'] / p['baseline']['p95_ms']:.1f} x baseline p95")
            lines.append(_verdict(f"portal {key} p95 ms", p[key]["p95_ms"], TARGETS[target]))
        a = reg["account_page"]
        lines.append(f"  account   {a['path']}: p50 {a['p50_ms']:.1f} ms, p95 {a['p95_ms']:.1f} ms "
                     f"(statuses {a['statuses']})")
        lines.append(_verdict("account page p95 ms", a["p95_ms"] if a["statuses"] == [200] else None,
                              TARGETS["account_page_p95_ms"]))
    if "error" in led:
        lines.append(f"  ledger: ERROR {led['error']}")
    else:
        v, bare = led["verify"], led["bare"]
        gen = led["generator"]
        lines.append(f"  ledger    generated {gen['entries']:,} entries in {gen['seconds']['total']:.0f} s")
        if v.get("ok"):
            ratio = v["rate"] / bare["rate"]
            lines.append(f"  verify    {v['entries']:,} entries in {v['seconds']:.1f} s = {v['rate']:,.0f} entries/s "
                         f"({v.get('path', '?')}), bare SHA-256 {bare['rate']:,.0f} entries/s = {ratio:.3f} x; peak "
                         f"resident memory {v.get('peak_rss_mb', 0):.0f} MB")
            lines.append(_verdict("verify / bare hashing", ratio, TARGETS["verify_over_bare"], higher_is_better=True))
        else:
            lines.append(f"  verify    NOT OK: {json.dumps(v)[:500]}")
    lines.append("  [MISSING] AEF report of a year with 1,000,000 actions: no bulk generator of Article 6 actions yet")
    lines.append(f"  whole run: {out['seconds']:.0f} s")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke size (a few minutes)")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument("--out", help="write the figures as JSON here")
    parser.add_argument("--phase", choices=["registry"], help=argparse.SUPPRESS)
    for key, value in SIZES["full"].items():
        parser.add_argument(f"--{key.replace('_', '-')}", type=int, help=f"override the size (full: {value:,})")
    args = parser.parse_args()
    if args.phase == "registry":
        registry_phase(args)
        return
    size_name = "quick" if args.quick else "full"
    size = {key: getattr(args, key) or value for key, value in SIZES[size_name].items()}
    t_all = time.perf_counter()
    data_dir = tempfile.mkdtemp(prefix="tonne-bench-world-")
    (Path(data_dir) / "static").mkdir()
    out: dict = {"size": size_name, "sizes": size, "machine": common.machine()}
    try:
        print(f"migrating {TEMPLATE_DB} ...", flush=True)
        common.create_database(TEMPLATE_DB)
        subprocess.run([sys.executable, "-m", "tonne.cli", "migrate", "-v", "0"], cwd=common.ROOT,
                       env=common.child_env(TEMPLATE_DB, data_dir), check=True)
        print("\n== registry ==", flush=True)
        common.create_database(WORLD_DB, TEMPLATE_DB)
        out["registry"] = common.run_child(
            "bench_world.py",
            ["--phase", "registry", "--projects", str(size["projects"]), "--blocks", str(size["blocks"]),
             "--account-blocks", str(size["account_blocks"]), "--samples", str(size["samples"])],
            common.child_env(WORLD_DB, data_dir), timeout=48 * 3600,
        )
        print("\n== ledger ==", flush=True)
        common.create_database(LEDGER_DB, TEMPLATE_DB)
        out["ledger"] = common.run_child("bench_verify.py", ["--entries", str(size["entries"])],
                                         common.child_env(LEDGER_DB, data_dir), timeout=48 * 3600)
    finally:
        if not args.keep:
            for name in (WORLD_DB, LEDGER_DB, TEMPLATE_DB):
                common.drop_database(name)
    out["seconds"] = time.perf_counter() - t_all
    print()
    for line in report(out):
        print(line, flush=True)
    if args.out:
        common.write_json(args.out, out)


if __name__ == "__main__":
    main()
