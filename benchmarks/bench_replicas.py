"""Public read throughput with 0, 1 and 2 PostgreSQL streaming replicas.

A throwaway primary cluster of its own (initdb/pg_ctl, as the crash drills
make theirs, on a free port; database ``tonne_bench_replicas``), migrated
and given the drill registry plus extra projects; hot standbys made from it
with pg_basebackup -R, each a second ``postgres`` on another port. For each
configuration one `tonne serve` (DATABASE_REPLICA_URLS naming 0, 1 or 2
standbys) answers anonymous GETs of public pages and API reads from
`--clients` keep-alive clients for `--seconds`; reported: requests per
second, p50 / p95, and where the database work was done (rows read and
transactions per server, from pg_stat_database).

Everything runs on one machine here, so the standbys share its cores with
the primary, the server and the clients: the throughput is indicative only.
What carries over to separate machines is the share of reads the primary no
longer serves.

    python benchmarks/bench_replicas.py --clients 8 --seconds 20 --out /tmp/replicas.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import common  # noqa: E402

from tonne.ops.drills import cluster as pg  # noqa: E402

DATABASE = "tonne_bench_replicas"
TONNE = str(Path(sys.executable).with_name("tonne"))
READ_PATHS = [  # anonymous public reads: portal pages and API GETs (ORM reads)
    "/api/v1/projects/{project}", "/api/v1/projects?page=1", "/api/v1/issuances?page=1",
    "/projects/", "/projects/{project}/", "/dashboard/",
]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tonne(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([TONNE, *args], env=env, capture_output=True, text=True)  # noqa: S603 (our own command)
    if done.returncode != 0:
        raise RuntimeError(f"tonne {' '.join(args)}: {done.stderr[-2000:]}")
    return done.stdout


def more_projects(primary: pg.Cluster, copies: int) -> None:
    """Copies of the drill's project (new ids), so searches and the dashboard have rows to read."""
    with primary.connect(DATABASE) as conn:
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'projects_project' "
            "AND column_name NOT IN ('id', 'uid', 'project_id', 'number', 'name') ORDER BY ordinal_position"
        ).fetchall()]
        listed = ", ".join(columns)
        conn.execute(
            f"INSERT INTO projects_project (uid, project_id, number, name, {listed}) "  # noqa: S608 (catalogue names)
            f"SELECT gen_random_uuid(), p.project_id || '-' || g, 1000 + g, p.name || ' ' || g, {', '.join('p.' + c for c in columns)} "
            f"FROM projects_project p, generate_series(1, %s) g WHERE p.id = (SELECT min(id) FROM projects_project)",
            [copies],
        )


def stats(servers: dict[str, pg.Cluster]) -> dict[str, tuple[int, int]]:
    found = {}
    for name, server in servers.items():
        with server.connect(DATABASE) as conn:
            rows, xacts = conn.execute(
                "SELECT tup_returned + tup_fetched, xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
                [DATABASE],
            ).fetchone()  # type: ignore[misc]
        found[name] = (int(rows), int(xacts))
    return found


def load(port: int, paths: list[str], clients: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        i = n
        while time.monotonic() < stop:
            path = paths[i % len(paths)]
            i += 1
            started = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors.append(f"{path}: {response.status}")
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{path}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                continue
            mine.append(time.perf_counter() - started)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    latencies.sort()
    return {
        "requests": len(latencies), "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 1) if latencies else None,
        "errors": len(errors), "first_errors": errors[:3],
    }


def serve(env: dict[str, str], root: Path, threads: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    log = open(root / f"serve-{port}.log", "wb")  # noqa: SIM115 (lives as long as the server)
    proc = subprocess.Popen([TONNE, "serve", "--port", str(port), "--no-worker", "--threads", str(threads)],  # noqa: S603
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/ledger")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("tonne serve did not answer")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--threads", type=int, default=8, help="tonne serve's threads")
    parser.add_argument("--projects", type=int, default=2000, help="extra projects (copies) to read")
    parser.add_argument("--order", default="0,1,2", help="how many replicas, in the order measured")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    missing = pg.available() or (None if (pg.PG_BIN / "pg_basebackup").exists() else "no pg_basebackup")
    if missing:
        print(f"bench_replicas needs PostgreSQL's server binaries: {missing}", file=sys.stderr)
        return 2

    root = Path(tempfile.mkdtemp(prefix="tonne-bench-replicas-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    primary = pg.Cluster(root / "primary", free_port(), {"shared_buffers": "128MB", "commit_delay": "0"}).init()
    standbys: list[pg.Cluster] = []
    procs: list[subprocess.Popen[bytes]] = []
    results: dict[str, Any] = {"machine": common.machine(), "clients": args.clients, "seconds": args.seconds,
                               "serve_threads": args.threads, "configurations": {}}
    try:
        primary.start()
        primary.create_database(DATABASE)
        env = {**common.child_env(DATABASE, str(root / "data")), "DATABASE_URL": primary.url(DATABASE),
               "TONNE_DB_CONN_MAX_AGE": "600"}
        began = time.monotonic()
        world = json.loads(tonne(env, "drill", "world", "--scratch").strip().splitlines()[-1])
        more_projects(primary, args.projects)
        tonne(env, "portal", "rebuild-summary")
        with primary.connect(DATABASE) as conn:
            (project,) = conn.execute("SELECT project_id FROM projects_project ORDER BY id LIMIT 1").fetchone()  # type: ignore[misc]
            conn.execute("VACUUM ANALYZE")
        for n in range(2):
            standby = primary.standby(root / f"standby{n + 1}", free_port())
            standby.start()
            standbys.append(standby)
        results["setup_seconds"] = round(time.monotonic() - began, 1)
        results["projects"] = args.projects + 1
        del world
        paths = [p.format(project=project) for p in READ_PATHS]
        for count in [int(n) for n in args.order.split(",")]:
            used = standbys[:count]
            run_env = {**env, "DATABASE_REPLICA_URLS": ",".join(s.url(DATABASE) for s in used)}
            proc, port = serve(run_env, root, args.threads)
            procs.append(proc)
            load(port, paths, args.clients, min(3.0, args.seconds))  # warm: connections, caches, health checks
            servers = {"primary": primary, **{f"replica_{i + 1}": s for i, s in enumerate(used)}}
            time.sleep(1.5)  # statistics are flushed about once a second
            before = stats(servers)
            figures = load(port, paths, args.clients, args.seconds)
            time.sleep(1.5)
            after = stats(servers)
            rows = {name: after[name][0] - before[name][0] for name in servers}
            total = sum(rows.values()) or 1
            figures["rows_read_share"] = {name: round(v / total, 3) for name, v in rows.items()}
            figures["transactions"] = {name: after[name][1] - before[name][1] for name in servers}
            figures["primary_transactions_per_request"] = round(
                figures["transactions"]["primary"] / max(figures["requests"], 1), 2)
            results["configurations"][f"{count} replicas"] = figures
            print(f"{count} replicas: {json.dumps(figures)}", flush=True)
            proc.kill()
            proc.wait()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        for standby in standbys:
            standby.destroy()
        primary.destroy()
        shutil.rmtree(root, ignore_errors=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
