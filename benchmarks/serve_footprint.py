"""`tonne serve`'s start-up time and resident memory: the time from the
command's start until /api/v1/ledger first answers, the resident set at
rest, and after N public API requests (the ledger head, blocks, projects,
reports, a serial lookup's 404). One process: `tonne serve` is one process
whatever its threads.

With --production it measures `tonne serve --production` (gunicorn,
tonne/ops/gunicorn_conf.py): the wall time until every worker is up and
answering, and each worker's resident set (RSS, and PSS: its fair share of
the pages the preloaded master shares with it) at rest, while --clients
clients send the requests, and after them; the master's beside them.

    DATABASE_URL=sqlite:////tmp/mine.sqlite3 .venv/bin/tonne demo
    DATABASE_URL=sqlite:////tmp/mine.sqlite3 .venv/bin/python benchmarks/serve_footprint.py [--production]

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
import threading
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


def _pss_mb(pid: int) -> float:
    """Proportional set: shared pages counted as a fraction (what N workers really cost together)."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _memory(pids: list[int]) -> list[dict[str, float]]:
    return [{"pid": p, "rss_mb": round(_rss_mb(p), 1), "pss_mb": round(_pss_mb(p), 1)} for p in pids]


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


def _start(cmd: list[str], env: dict[str, str], port: int) -> tuple[subprocess.Popen, float, float]:
    """Start the server: the process, when it was started, and the wall time until /api/v1/ledger answers."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        if proc.poll() is not None:
            sys.exit(f"the server exited with status {proc.returncode}")
        if time.perf_counter() - t0 > 120:
            sys.exit("the server did not answer within 120 s")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            if _get(conn, PATHS[0]) == 200:
                conn.close()
                return proc, t0, time.perf_counter() - t0
        except OSError:
            time.sleep(0.05)


def _load(port: int, requests: int, clients: int) -> dict[int, int]:
    """`requests` GETs from `clients` threads, each on its own keep-alive connection."""
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for i in range(n, requests, clients):
            status = _get(conn, PATHS[i % len(PATHS)])
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def embedded(args: argparse.Namespace, env: dict[str, str], port: int) -> dict:
    cmd = [sys.executable, "-m", "tonne.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    proc, _started, startup = _start(cmd, env, port)
    try:
        startup_cpu = _cpu_s(proc.pid)
        time.sleep(1.0)
        at_rest = _rss_mb(proc.pid)
        statuses = _load(port, args.requests, 1)
        after = _rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        "server": "tonne serve (waitress, one process)",
        "startup_s": round(startup, 2),
        "startup_cpu_s": round(startup_cpu, 2),
        "rss_at_rest_mb": round(at_rest, 1),
        f"rss_after_{args.requests}_requests_mb": round(after, 1),
        "statuses": statuses,
    }


def production(args: argparse.Namespace, env: dict[str, str], port: int) -> dict:
    cmd = [sys.executable, "-m", "tonne.cli", "serve", "--production", "--host", "127.0.0.1", "--port", str(port)]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    proc, started, first_answer = _start(cmd, env, port)
    try:
        # Every worker forked and answering: the start-up a restart really costs.
        expected = args.workers or 2 * (os.cpu_count() or 1) + 1
        while len(_children(proc.pid)) < expected and time.perf_counter() - started < 60:
            time.sleep(0.05)
        _load(port, expected * 4, expected)
        all_up = time.perf_counter()
        startup_cpu = _cpu_s(proc.pid) + sum(_cpu_s(c) for c in _children(proc.pid))
        time.sleep(1.0)
        workers = _children(proc.pid)
        at_rest = _memory(workers)
        under_load: list[dict[str, float]] = []
        sampler_stop = threading.Event()

        def sample() -> None:  # the largest each worker reached while the clients ran
            while not sampler_stop.wait(0.25):
                for now in _memory(workers):
                    known = next((m for m in under_load if m["pid"] == now["pid"]), None)
                    if known is None:
                        under_load.append(now)
                    elif now["rss_mb"] > known["rss_mb"]:
                        known.update(now)

        sampler = threading.Thread(target=sample)
        sampler.start()
        statuses = _load(port, args.requests, args.clients)
        sampler_stop.set()
        sampler.join()
        after = _memory(workers)
        master = _memory([proc.pid])[0]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        "server": f"tonne serve --production (gunicorn, {len(workers)} workers, preloaded)",
        "startup_first_answer_s": round(first_answer, 2),
        "startup_all_workers_s": round(all_up - started, 2),
        "startup_cpu_s_all_processes": round(startup_cpu, 2),
        "master": master,
        "workers_at_rest": at_rest,
        f"workers_peak_under_{args.clients}_clients": under_load,
        f"workers_after_{args.requests}_requests": after,
        "max_worker_rss_mb": max(m["rss_mb"] for m in [*at_rest, *under_load, *after]),
        "statuses": statuses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--production", action="store_true", help="tonne serve --production (gunicorn)")
    parser.add_argument("--workers", type=int, help="with --production: worker processes (default: the configuration's)")
    parser.add_argument("--clients", type=int, default=8, help="with --production: concurrent clients")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()
    if "DATABASE_URL" not in os.environ:
        sys.exit("set DATABASE_URL to an existing registry (e.g. one made by `tonne demo`)")
    port = _free_port()
    env = {**os.environ, "TONNE_API_RATE_PER_MINUTE": "1000000", "TONNE_LOG_LEVEL": "ERROR"}
    out = production(args, env, port) if args.production else embedded(args, env, port)
    print(json.dumps(out, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
