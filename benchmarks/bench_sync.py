"""Benchmark 4: CAD Trust push sync, commit to delivered.

A registry with one issued project pushes to a stand-in CAD Trust node (an
HTTP server in this process) through a real `tonne worker --interval 1`
process. Each sample transfers one unit and measures the time from the
transfer's commit to the node receiving the commit call that carries the
moved unit (median, p95). Baseline: one bare HTTP round trip to the same
node, measured in the same run.

Run by benchmarks/run.py in its own process, DATABASE_URL pointing at a
freshly migrated database."""

from __future__ import annotations

import argparse
import http.client
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

WORKER_INTERVAL = 1.0


def bare_round_trips(url: str, n: int) -> list[float]:
    host, port = url.removeprefix("http://").split(":")
    out = []
    for _ in range(n):
        t = time.perf_counter()
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("POST", "/v2/nothing", body=b"{}")
        conn.getresponse().read()
        conn.close()
        out.append((time.perf_counter() - t) * 1000)
    return sorted(out)


def main() -> None:  # noqa: C901
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    import os

    os.environ.setdefault("TONNE_OUTBOUND_ALLOW", "127.0.0.0/8")  # the stand-in node, for this process and the worker
    common.django_setup()

    from tonne import testing
    from tonne.cadt import sync
    from tonne.cadt.mapping import unit_uid
    from tonne.cadt.standin import StandInNode
    from tonne.units import services as units
    from tonne.units.domain import Selection

    reg = testing.build_registry("sy")
    project = testing.registered_project(reg)
    _, (issuance,) = testing.issue(reg, project, {2024: args.samples + 10})
    rng = random.Random(11)
    latencies: list[float] = []
    missed = 0
    with StandInNode() as node:
        baseline = bare_round_trips(node.url, 50)
        sync.add_destination(actor=reg.admin, name="bench", url=node.url)
        worker = subprocess.Popen(
            [sys.executable, "-m", "tonne.cli", "worker", "--interval", str(WORKER_INTERVAL)],
            env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            for i in range(args.samples):
                time.sleep(rng.uniform(0, WORKER_INTERVAL))  # not in step with the worker's polling
                start = issuance.serial_start + i
                seen = len(node.commits)
                units.transfer(
                    actor=reg.developer, from_account=reg.developer_account.identifier,
                    to_account=reg.buyer_account.identifier, selection=Selection.build(ranges=[(start, start)]),
                    idempotency_key=f"bench-sync-{i}",
                )
                committed = time.monotonic()
                wanted = ("unit", unit_uid(start))
                deadline = committed + 30
                found = None
                while found is None and time.monotonic() < deadline:
                    for commit in node.commits[seen:]:
                        if wanted in commit.records:
                            found = commit
                            break
                    else:
                        time.sleep(0.005)
                if found is None:
                    missed += 1
                else:
                    latencies.append((found.at - committed) * 1000)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
    latencies.sort()
    out = {
        "samples": args.samples,
        "delivered": len(latencies),
        "missed": missed,
        "worker_interval_s": WORKER_INTERVAL,
        "p50_ms": common.percentile(latencies, 50),
        "p95_ms": common.percentile(latencies, 95),
        "max_ms": latencies[-1] if latencies else None,
        "baseline_round_trip_p50_ms": common.percentile(baseline, 50),
    }
    print(f"    commit to delivered: p50 {out['p50_ms']:.0f} ms, p95 {out['p95_ms']:.0f} ms "
          f"({len(latencies)}/{args.samples} delivered); bare round trip p50 {out['baseline_round_trip_p50_ms']:.2f} ms",
          flush=True)
    common.write_json(args.out, out)


if __name__ == "__main__":
    main()
