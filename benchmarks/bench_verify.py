"""Benchmark 2: `tonne ledger verify` entries per second over a generated
ledger of at least a million entries, against a bare hashlib loop over the
same entry bodies (sha256(b"\\x00" + body), bytes already in memory).

Run by benchmarks/run.py in its own process, DATABASE_URL pointing at a
freshly migrated ``tonne_bench_ledger`` database."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def bare_hashing(repeats: int = 3) -> dict:
    """Load every entry body as bytes, then time only the hashing loop."""
    from django.db import connection

    bodies: list[bytes] = []
    with connection.cursor() as cursor:
        raw = cursor.cursor
        raw.execute("SELECT body FROM ledger_ledgerentry ORDER BY seq")
        while True:
            rows = raw.fetchmany(50000)
            if not rows:
                break
            bodies.extend(r[0].encode("utf-8") for r in rows)
    sha256 = hashlib.sha256
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for body in bodies:
            sha256(b"\x00" + body).digest()
        best = min(best, time.perf_counter() - t)
    total_bytes = sum(len(b) for b in bodies)
    return {
        "entries": len(bodies),
        "seconds": best,
        "rate": len(bodies) / best,
        "mean_body_bytes": total_bytes / max(len(bodies), 1),
        "repeats": repeats,
    }


def run_verify() -> dict:
    cmd = [sys.executable, "-m", "tonne.cli", "ledger", "verify", "--json"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=common.ROOT, env=os.environ.copy(), capture_output=True, text=True)
    wall = time.perf_counter() - t
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError:
        result = {"ok": False, "error": (proc.stdout + proc.stderr)[-2000:]}
    result["wall_seconds"] = wall
    result["exit_status"] = proc.returncode
    # The verifier is this process's only child: its peak resident set (Linux: KiB).
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    if result.get("seconds"):
        result["rate"] = result["entries"] / result["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    common.django_setup()
    from ledger_gen import NOT_GENERATED, Plan, generate

    out: dict = {"requested_entries": args.entries}
    plan = Plan.for_size(args.entries)
    print(f"  generating a valid ledger of {args.entries:,} entries "
          f"({plan.issuances:,} issuances, {plan.accounts} holding accounts, {plan.projects} projects) ...", flush=True)
    stats = generate(plan, log=lambda m: print(m, flush=True))
    out["generator"] = {
        "entries": stats.entries,
        "generated_entries": stats.generated,
        "issuances": stats.issuances,
        "moves": stats.moves,
        "unit_blocks": stats.blocks,
        "checkpoints": stats.checkpoints,
        "seconds": {k: round(v, 1) for k, v in stats.seconds.items()},
        "not_generated": NOT_GENERATED,
    }
    print(f"    {stats.entries:,} entries, {stats.blocks:,} unit blocks, checkpoints at {stats.checkpoints} "
          f"in {stats.seconds['total']:.0f} s", flush=True)
    print("  tonne ledger verify ...", flush=True)
    out["verify"] = run_verify()
    v = out["verify"]
    if v.get("ok"):
        print(f"    ok: {v['entries']:,} entries in {v['seconds']:.1f} s = {v['rate']:,.0f} entries/s", flush=True)
    else:
        print(f"    NOT OK: {json.dumps(v)[:1500]}", flush=True)
    print("  bare hashlib baseline ...", flush=True)
    out["bare"] = bare_hashing()
    print(f"    {out['bare']['rate']:,.0f} entries/s ({out['bare']['mean_body_bytes']:.0f} bytes per body)", flush=True)
    common.write_json(args.out, out)


if __name__ == "__main__":
    main()
