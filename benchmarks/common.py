"""Shared helpers for the benchmarks: the PostgreSQL server, the databases
the benchmarks own, child processes, machine facts and small statistics.

The benchmarks only ever create, use and drop databases whose names start
with ``tonne_bench`` or ``pgbench_baseline``; nothing else on the server is
touched."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository
BENCH_DIR = Path(__file__).resolve().parent

PG_HOST = os.environ.get("BENCH_PGHOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BENCH_PGPORT", "5432"))
PG_USER = os.environ.get("BENCH_PGUSER", "postgres")

OWNED_PREFIXES = ("tonne_bench", "pgbench_baseline")

TEMPLATE_DB = "tonne_bench_template"
TRANSFERS_DB = "tonne_bench"
LEDGER_DB = "tonne_bench_ledger"
LOOKUP_DB = "tonne_bench_lookup"
SYNC_DB = "tonne_bench_sync"
PGBENCH_DB = "pgbench_baseline"


def database_url(name: str) -> str:
    return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def _check_owned(name: str) -> None:
    if not name.startswith(OWNED_PREFIXES):
        raise RuntimeError(f"refusing to touch database {name!r}: the benchmarks own only {OWNED_PREFIXES}")


def admin_connect():
    import psycopg

    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True)


def drop_database(name: str) -> None:
    _check_owned(name)
    with admin_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_database(name: str, template: str | None = None) -> None:
    _check_owned(name)
    drop_database(name)
    with admin_connect() as conn:
        if template:
            _check_owned(template)
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        else:
            conn.execute(f'CREATE DATABASE "{name}"')


def server_version() -> str:
    with admin_connect() as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def child_env(database: str, data_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(database),
        TONNE_DATA_DIR=data_dir,
        DJANGO_SETTINGS_MODULE="tonne.settings",
        TONNE_DB_CONN_MAX_AGE="600",
        TONNE_LOG_LEVEL="ERROR",
        # The controls' checks on every move (kill switch, freezes, limits,
        # sanctions hits, AML holds) stay on; the steps that wait for a person
        # (four-eyes, delayed settlement, second factor, KYC paperwork) are off,
        # as they are not throughput.
        TONNE_FOUR_EYES="",
        TONNE_DELAY_NON_TRUSTED="0",
        TONNE_MFA_REQUIRED="0",
        TONNE_KYC_REQUIRED="0",
        TONNE_MIN_REPRESENTATIVES="0",
        # AML rules still raise their alerts, but none places a hold that
        # waits for a reviewer (the sync benchmark moves units fast into
        # fresh accounts, which is what new-account velocity looks for).
        TONNE_AML_HOLD="",
        # Throughput, not the per-client API rate limit, is measured.
        TONNE_API_RATE_PER_MINUTE="1000000",
        TONNE_API_WRITE_RATE_PER_MINUTE="1000000",
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
    )
    return env


def run_child(script: str, args: list[str], env: dict[str, str], timeout: float) -> dict:
    """Run benchmarks/<script> in its own process; it writes its figures as
    JSON to the file named by --out. Returns them (or an error record)."""
    out = Path(env["TONNE_DATA_DIR"]) / f"{Path(script).stem}-{time.time_ns()}.json"
    cmd = [sys.executable, str(BENCH_DIR / script), *args, "--out", str(out)]
    try:
        proc = subprocess.run(cmd, env=env, cwd=ROOT, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"{script} did not finish within {timeout:.0f} s"}
    if proc.returncode != 0 or not out.exists():
        return {"error": f"{script} exited with status {proc.returncode}"}
    return json.loads(out.read_text())


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    try:
        pg = server_version()
    except Exception as exc:  # noqa: BLE001
        pg = f"unreachable ({exc})"
    pgbench = shutil.which("pgbench")
    pgbench_version = ""
    if pgbench:
        pgbench_version = subprocess.run([pgbench, "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "ram": ram,
        "postgresql": pg,
        "pgbench": pgbench_version or "not found",
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def write_json(path: str, data: dict) -> None:
    Path(path).write_text(json.dumps(data, indent=2, default=str))


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tonne.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


_TPS_RE = re.compile(r"^tps = ([0-9.]+)", re.M)


def parse_pgbench_tps(output: str) -> float:
    match = _TPS_RE.search(output)
    if not match:
        raise ValueError(f"no tps line in pgbench output:\n{output}")
    return float(match.group(1))
