#!/usr/bin/env python
"""Tonne benchmarks: one command runs them all.

    python benchmarks/run.py                 # full size (~15 min on 2 cores)
    python benchmarks/run.py --quick         # smoke size (~2 min)
    python benchmarks/run.py --only verify   # transfers, verify, lookup, sync, portal, cadt (comma-separated)
    python benchmarks/run.py --record        # also write the figures into benchmarks/RESULTS.md
    python benchmarks/run.py --strict        # exit 1 if a target fails

Every figure is printed as a ratio against a baseline measured in the same
run, and checked against its target (PASS/FAIL). The exit code is 0 whatever
the figures, unless --strict. Needs PostgreSQL at 127.0.0.1:5432 (user
postgres; override with BENCH_PGHOST/BENCH_PGPORT/BENCH_PGUSER) and pgbench.
The benchmarks create and drop their own databases only (tonne_bench*,
pgbench_baseline)."""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

BENCHES = ("transfers", "verify", "lookup", "sync", "portal", "observer", "mrv", "cadt")
SIZES = {
    "full": {"transfer_seconds": 20, "entries": 1_000_000, "projects": 100_000, "blocks": 1_000_000, "samples": 1000,
             "sync_samples": 100, "observer_rows": 2_000_000, "observer_projects": 30_000, "readings": 1_000_000,
             "cadt": ((1_000, 5_000), (100_000, 500_000))},
    "quick": {"transfer_seconds": 5, "entries": 50_000, "projects": 10_000, "blocks": 100_000, "samples": 200,
              "sync_samples": 20, "observer_rows": 50_000, "observer_projects": 3_000, "readings": 50_000,
              "cadt": ((1_000, 5_000), (10_000, 50_000))},
}
TARGETS = {
    "transfers": "service-layer transfers/s >= 0.3 x pgbench TPS (4 clients)",
    "verify": "tonne ledger verify entries/s >= 0.2 x bare hashlib entries/s",
    "lookup": "serial lookup p95 <= 10 ms (1M unit blocks)",
    "sync": "CAD Trust push sync commit-to-delivered median <= 2 s (stand-in node)",
    "portal": "public search and dashboard p95 <= 300 ms server time (100,000 projects)",
    "observer": "observer import >= 10,000 rows/s of 2,000,000 (ratio to COPY), < 500 MB flat; search <= 60 s",
    "mrv": "signed-reading intake >= 0.25 x bare Ed25519 verification; report over 1M readings <= 10 s",
    "cadt": "CAD Trust reads p95 <= 30 ms (1,000 projects), <= 60 ms (100,000), ratio between sizes <= 2",
}


def fmt_ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f} ms"


class Report:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.verdicts: list[tuple[str, str, str]] = []  # (bench, PASS/FAIL/ERROR, detail)

    def add(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)

    def verdict(self, bench: str, ok: bool | None, detail: str) -> None:
        word = "ERROR" if ok is None else ("PASS" if ok else "FAIL")
        self.verdicts.append((bench, word, detail))
        self.add(f"  [{word}] {TARGETS[bench]}: {detail}")


def report_transfers(r: dict, rep: Report) -> None:
    rep.add("### 1. Transfers per second (PostgreSQL, 4 concurrent clients)")
    if "error" in r:
        rep.verdict("transfers", None, r["error"])
        return
    base = r["pgbench"]["tps"]
    s = r["service"]
    rep.add(f"  workload: {r['workload']}; {r['seconds']} s per measurement")
    for note in r.get("notes", []):
        rep.add(f"  NOTE: {note}")
    rep.add(f"  baseline  pgbench TPC-B-like ({r['pgbench']['command']}): {base:,.0f} tps")
    rep.add(f"  service   tonne.units.services.transfer: {s['tps']:,.1f} transfers/s "
            f"({s['transfers']} in {s['seconds']} s, {s['errors']} refused; latency p50 {fmt_ms(s['p50_ms'])}, "
            f"p95 {fmt_ms(s['p95_ms'])}) = {s['tps'] / base:.3f} x pgbench")
    for key in ("http", "http_production"):
        h = r.get(key, {})
        if "tps" in h:
            rep.add(f"  HTTP      POST /api/v1/transfers via {h['server']}: {h['tps']:,.1f} transfers/s "
                    f"({h['transfers']} in {h['seconds']} s, {h['errors']} refused; p50 {fmt_ms(h['p50_ms'])}, "
                    f"p95 {fmt_ms(h['p95_ms'])}) = {h['tps'] / base:.3f} x pgbench, "
                    f"{h['tps'] / s['tps'] if s['tps'] else 0:.2f} x service layer (issue 21 target: >= 0.5)")
            b = h.get("batches", {})
            if "tps" in b:
                rep.add(f"            batches of {b['batch']} (POST /api/v1/transfers/batch): {b['tps']:,.1f} transfers/s "
                        f"(p50 {fmt_ms(b['p50_ms'])} a batch) = {b['tps'] / s['tps'] if s['tps'] else 0:.2f} x service "
                        "layer (issue 21 target: >= 0.8)")
        else:
            rep.add(f"  HTTP      {key}: skipped: {h.get('skipped', 'not run')}")
    ratio = s["tps"] / base if base else 0.0
    rep.verdict("transfers", ratio >= 0.3, f"{ratio:.3f} x (need >= 0.3)")


def report_verify(r: dict, rep: Report, min_entries: int) -> None:
    rep.add("### 2. Ledger verification (tonne ledger verify)")
    if "error" in r:
        rep.verdict("verify", None, r["error"])
        return
    g, v, b = r["generator"], r["verify"], r["bare"]
    rep.add(f"  ledger: {g['entries']:,} entries ({g['generated_entries']:,} generated: {g['issuances']:,} issuances, "
            f"{g['moves']:,} transfers/retirements/cancellations), {g['unit_blocks']:,} unit blocks, "
            f"signed checkpoints at {g['checkpoints']}; generated in {g['seconds']['total']:.0f} s")
    rep.add(f"  not generated: {g['not_generated']}")
    rep.add(f"  baseline  bare hashlib sha256(b'\\x00' + body) over the same {b['entries']:,} bodies in memory "
            f"(mean {b['mean_body_bytes']:.0f} bytes): {b['rate']:,.0f} entries/s (best of {b['repeats']})")
    if not v.get("ok"):
        rep.add(f"  verify    NOT OK: {v.get('divergence') or v.get('error')}")
        rep.verdict("verify", False, "the verifier did not report ok on a valid generated ledger")
        return
    ratio = v["rate"] / b["rate"]
    rep.add(f"  verify    ok: {v['entries']:,} entries, {v['checkpoints']} checkpoints, {v['blocks']:,} blocks compared "
            f"in {v['seconds']:.1f} s (process wall {v['wall_seconds']:.1f} s) = {v['rate']:,.0f} entries/s "
            f"= {ratio:.3f} x bare hashing; {v.get('path', 'python')} path, {v.get('workers', 1)} process(es)")
    detail = f"{ratio:.3f} x (need >= 0.2)"
    if v["entries"] < min_entries:
        detail += f"; NOTE only {v['entries']:,} entries (smoke size)"
    rep.verdict("verify", ratio >= 0.2, detail)


def report_lookup(r: dict, rep: Report) -> None:
    rep.add("### 3. Serial lookup and project search latency")
    if "error" in r:
        rep.verdict("lookup", None, r["error"])
        return
    d, x = r["data"], r["direct"]
    rep.add(f"  data: {d['projects']:,} projects, {d['unit_blocks']:,} unit blocks, {d['issuances']:,} issuances, "
            f"{d['transactions']:,} transactions / {d['transaction_blocks']:,} transaction blocks; {d['note']}")

    def line(label: str, m: dict, base: dict) -> None:
        rep.add(f"  {label:<10} p50 {fmt_ms(m['p50_ms'])}, p95 {fmt_ms(m['p95_ms'])} "
                f"= {m['p50_ms'] / base['p50_ms']:.1f} x / {m['p95_ms'] / base['p95_ms']:.1f} x baseline (p50/p95), "
                f"{m['n']} samples"
                + (f"  [{m['path']}]" if "path" in m else ""))

    bb, bp = x["baseline_pk_block"], x["baseline_pk_project"]
    rep.add(f"  baseline  SELECT * FROM units_unitblock WHERE id = %s: p50 {fmt_ms(bb['p50_ms'])}, p95 {fmt_ms(bb['p95_ms'])}; "
            f"projects_project by id: p50 {fmt_ms(bp['p50_ms'])}, p95 {fmt_ms(bp['p95_ms'])} ({bb['n']} samples)")
    line("lookup", x["lookup"], bb)
    line("(alt)", x["lookup_containing_block_query"], bb)
    line("search", x["search"], bp)
    h = r.get("http", {})
    if "skipped" in h or not h:
        rep.add(f"  HTTP      skipped: {h.get('skipped', 'not run')}")
    else:
        hb = h["baseline_block_by_id"]
        rep.add(f"  HTTP baseline GET /api/v1/blocks/{{id}}: p50 {fmt_ms(hb['p50_ms'])}, p95 {fmt_ms(hb['p95_ms'])}")
        line("HTTP lookup", h["lookup"], hb)
        line("HTTP search", h["search"], hb)
    p95 = x["lookup"]["p95_ms"]
    rep.verdict("lookup", p95 <= 10.0, f"p95 {p95:.2f} ms (need <= 10 ms; {x['lookup']['path']})")


def report_mrv(r: dict, rep: Report) -> None:
    rep.add("### 6. Digital MRV: signed-reading intake and report computation")
    if "error" in r:
        rep.verdict("mrv", None, r["error"])
        return
    rep.add(f"  baseline  bare Ed25519 verification loop: {r['bare_rate']:,.0f} readings/s")
    rep.add(f"  intake    tonne.mrv.readings.submit_readings, {r['readings']:,} readings in batches of {r['batch']:,}: "
            f"{r['intake_rate']:,.0f} readings/s = {r['ratio']:.3f} x bare")
    computed = r.get("compute_readings", r["readings"])
    rep.add(f"  compute   AMS-I.D report over {computed:,} readings: {r['compute_seconds']:.2f} s "
            f"(recompute {r['recompute_seconds']:.2f} s, matches: {r['recompute_matches']})")
    ok = r["ratio"] >= 0.25 and r["compute_seconds"] <= 10 and r["recompute_matches"]
    detail = f"{r['ratio']:.3f} x; {r['compute_seconds']:.2f} s"
    if min(r["readings"], computed) < 1_000_000:
        detail += f"; NOTE {r['readings']:,} readings taken in, report over {computed:,} (below full size)"
    rep.verdict("mrv", ok, detail)


def report_sync(r: dict, rep: Report) -> None:
    rep.add("### 4. CAD Trust push sync, commit to delivered (stand-in node, tonne worker --interval 1)")
    if "error" in r:
        rep.verdict("sync", None, r["error"])
        return
    base = r["baseline_round_trip_p50_ms"]
    rep.add(f"  baseline  bare HTTP round trip to the node: p50 {fmt_ms(base)}")
    rep.add(f"  sync      {r['delivered']}/{r['samples']} changes delivered: p50 {fmt_ms(r['p50_ms'])}, "
            f"p95 {fmt_ms(r['p95_ms'])}, max {fmt_ms(r['max_ms'])} = {r['p50_ms'] / base:.0f} x the round trip")
    ok = r["delivered"] == r["samples"] and r["p50_ms"] <= 2000
    rep.verdict("sync", ok, f"median {r['p50_ms'] / 1000:.2f} s")


def write_results(rep: Report, machine: dict, mode: str, started: dt.datetime, elapsed: float) -> None:
    path = common.BENCH_DIR / "RESULTS.md"
    block = [
        "<!-- results:start (written by `python benchmarks/run.py --record`) -->",
        f"Run: {started:%Y-%m-%d %H:%M} UTC, size `{mode}`, {elapsed / 60:.1f} min in all.",
        "",
        "Machine:",
        "",
        *(f"- {k}: {v}" for k, v in machine.items()),
        "",
        "| target | verdict | figure |",
        "|---|---|---|",
        *(f"| {TARGETS[b]} | **{w}** | {d} |" for b, w, d in rep.verdicts),
        "",
        "```",
        *rep.lines,
        "```",
        "<!-- results:end -->",
    ]
    text = path.read_text() if path.exists() else "# Benchmark results\n\n<!-- results:start -->\n<!-- results:end -->\n"
    head, sep, rest = text.partition("<!-- results:start")
    if sep:
        _, sep2, tail = rest.partition("<!-- results:end -->")
        text = head + "\n".join(block) + (tail if sep2 else "\n")
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(block) + "\n"
    path.write_text(text)
    print(f"\nwrote {path}")


def run_cadt(size: dict, data_dir: str) -> dict:
    """The CAD Trust read benchmark at each size, on PostgreSQL and on SQLite (a fresh file each)."""
    out: dict[str, dict] = {"postgresql": {}, "sqlite": {}}
    samples = str(max(size["samples"] // 5, 50))
    for projects, units in size["cadt"]:
        args = ["--projects", str(projects), "--units", str(units), "--samples", samples]
        common.create_database("tonne_bench_cadt", common.TEMPLATE_DB)
        out["postgresql"][str(projects)] = common.run_child(
            "bench_cadt.py", args, common.child_env("tonne_bench_cadt", data_dir), timeout=3600)
        common.drop_database("tonne_bench_cadt")
        sqlite_dir = tempfile.mkdtemp(prefix="tonne-bench-cadt-", dir=data_dir)
        (Path(sqlite_dir) / "static").mkdir()
        env = common.child_env("tonne_bench_cadt", sqlite_dir)
        del env["DATABASE_URL"]  # the default: SQLite in TONNE_DATA_DIR
        out["sqlite"][str(projects)] = common.run_child("bench_cadt.py", [*args, "--migrate"], env, timeout=3600)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke size (~2 minutes)")
    parser.add_argument("--only", default=",".join(BENCHES),
                        help="comma-separated: transfers,verify,lookup,sync,portal,observer,mrv,cadt")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any target fails")
    parser.add_argument("--record", action="store_true", help="write the figures into benchmarks/RESULTS.md")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases afterwards")
    args = parser.parse_args()
    only = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = set(only) - set(BENCHES)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose from {', '.join(BENCHES)}")
    mode = "quick" if args.quick else "full"
    size = SIZES[mode]
    started = dt.datetime.now(dt.UTC)
    t_all = time.perf_counter()

    if not shutil.which("pgbench") and "transfers" in only:
        print("pgbench not found (Debian: apt-get install postgresql-client)", file=sys.stderr)
        return 2
    machine = common.machine()
    rep = Report()
    rep.add(f"## Tonne benchmarks ({mode} size)")
    for k, v in machine.items():
        rep.add(f"  {k}: {v}")

    data_dir = tempfile.mkdtemp(prefix="tonne-bench-")
    (Path(data_dir) / "static").mkdir()
    databases = {"transfers": common.TRANSFERS_DB, "verify": common.LEDGER_DB, "lookup": common.LOOKUP_DB,
                 "sync": common.SYNC_DB, "portal": "tonne_bench_portal", "observer": "tonne_bench_observer",
                 "mrv": "tonne_bench_mrv", "cadt": "tonne_bench_cadt"}
    try:
        print(f"\nmigrating {common.TEMPLATE_DB} ...", flush=True)
        common.create_database(common.TEMPLATE_DB)
        subprocess.run([sys.executable, "-m", "tonne.cli", "migrate", "-v", "0"], cwd=common.ROOT,
                       env=common.child_env(common.TEMPLATE_DB, data_dir), check=True)
        results: dict[str, dict] = {}
        for bench in only:
            print(f"\n== {bench} ==", flush=True)
            db = databases[bench]
            common.create_database(db, common.TEMPLATE_DB)
            env = common.child_env(db, data_dir)
            t = time.perf_counter()
            if bench == "transfers":
                results[bench] = common.run_child(
                    "bench_transfers.py", ["--seconds", str(size["transfer_seconds"]), "--production"], env, timeout=900)
            elif bench == "verify":
                results[bench] = common.run_child("bench_verify.py", ["--entries", str(size["entries"])], env,
                                                  timeout=1200)
            elif bench == "sync":
                results[bench] = common.run_child("bench_sync.py", ["--samples", str(size["sync_samples"])], env,
                                                  timeout=900)
            elif bench == "observer":
                results[bench] = common.run_child(
                    "bench_observer.py", ["--rows", str(size["observer_rows"]),
                                          "--projects", str(size["observer_projects"])], env, timeout=3600)
            elif bench == "mrv":
                results[bench] = common.run_child("bench_mrv.py", ["--readings", str(size["readings"])], env,
                                                  timeout=3600)
            elif bench == "cadt":
                results[bench] = run_cadt(size, data_dir)
            elif bench == "portal":
                results[bench] = common.run_child(
                    "bench_portal.py", ["--projects", str(size["projects"]), "--samples", str(size["samples"] // 5)],
                    env, timeout=1800)
            else:
                results[bench] = common.run_child(
                    "bench_lookup.py",
                    ["--projects", str(size["projects"]), "--blocks", str(size["blocks"]),
                     "--samples", str(size["samples"])], env, timeout=1200)
            print(f"   ({time.perf_counter() - t:.0f} s)", flush=True)
            if not args.keep:
                common.drop_database(db)
    finally:
        if not args.keep:
            common.drop_database(common.TEMPLATE_DB)
        if args.keep:
            print(f"kept the data directory (signing key): {data_dir}", flush=True)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)

    rep.add("")
    if "transfers" in results:
        report_transfers(results["transfers"], rep)
    if "verify" in results:
        report_verify(results["verify"], rep, SIZES["full"]["entries"])
    if "lookup" in results:
        report_lookup(results["lookup"], rep)
    if "sync" in results:
        report_sync(results["sync"], rep)
    if "mrv" in results:
        report_mrv(results["mrv"], rep)
    if "portal" in results:
        import bench_portal

        bench_portal.report(results["portal"], rep)
    if "observer" in results:
        import bench_observer

        bench_observer.report(results["observer"], rep)
    if "cadt" in results:
        import bench_cadt

        bench_cadt.report(results["cadt"], rep)
    elapsed = time.perf_counter() - t_all
    rep.add("")
    rep.add(f"Summary ({elapsed / 60:.1f} min): " + ", ".join(f"{b} {w}" for b, w, _ in rep.verdicts))
    if args.record:
        write_results(rep, machine, mode, started, elapsed)
    failed = any(w != "PASS" for _, w, _ in rep.verdicts)
    return 1 if (args.strict and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
