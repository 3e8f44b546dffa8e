"""`tonne serve`'s start-up time and resident memory: the time from the
command's start until /api/v1/ledger first answers, the resident set at
rest, and after N public API requests (the ledger head, blocks, projects,
reports, a serial lookup's 404). One process: `tonne serve` is one process
whatever its threads; under gunicorn each worker is one such process.

    DATABASE_URL=sqlite:////tmp/mine.sqlite3 .venv/bin/tonne demo
    DATABASE_URL=sqlite:////tmp/mine.sqlite3 .venv/bin/python benchmarks/serve_footprint.py

The registry named by DATABASE_URL must exist (migrated; `tonne demo` gives one
with data). Targets: start-up ≤ 3 s, ≤ 250 MB a worker. On a busy machine
the start-up's CPU time (also reported) says more than its wall time."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATHS = ["/api/v1/ledger", "/api/v1/blocks?limit=20", "/api/v1/projects?limit=20", "/api/v1/reports?limit=20",
         "/api/v1/ledger/checkpoints/latest", "/api/v1/blocks/999999999"]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_s(pid: int) -> float:
    """User + system CPU the process has used (the machine may be busy: wall time says less)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(conn: http.client.HTTPConnection, path: str) -> int:
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    return response.status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()
    if "DATABASE_URL" not in os.environ:
        sys.exit("set DATABASE_URL to an existing registry (e.g. one made by `tonne demo`)")
    port = _free_port()
    env = {**os.environ, "TONNE_API_RATE_PER_MINUTE": "1000000", "TONNE_LOG_LEVEL": "ERROR"}
    cmd = [sys.executable, "-m", "tonne.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                sys.exit(f"tonne serve exited with status {proc.returncode}")
            if time.perf_counter() - t0 > 120:
                sys.exit("tonne serve did not answer within 120 s")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                if _get(conn, PATHS[0]) == 200:
                    break
            except OSError:
                time.sleep(0.05)
        startup = time.perf_counter() - t0
        startup_cpu = _cpu_s(proc.pid)
        time.sleep(1.0)
        at_rest = _rss_mb(proc.pid)
        statuses: dict[int, int] = {}
        for i in range(args.requests):
            status = _get(conn, PATHS[i % len(PATHS)])
            statuses[status] = statuses.get(status, 0) + 1
        after = _rss_mb(proc.pid)
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    out = {
        "startup_s": round(startup, 2),
        "startup_cpu_s": round(startup_cpu, 2),
        "rss_at_rest_mb": round(at_rest, 1),
        f"rss_after_{args.requests}_requests_mb": round(after, 1),
        "statuses": statuses,
    }
    print(json.dumps(out, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
