"""Benchmark 1: transfers per second with 4 concurrent clients on PostgreSQL,
through the service layer and through HTTP, against pgbench's TPC-B-like
script run in the same session with the same number of clients.

Run by benchmarks/run.py in its own process, with DATABASE_URL pointing at a
freshly migrated ``tonne_bench`` database.

Workload: each client has its own pair of holding accounts (A_i -> B_i) in
one developer organisation, and its own user. A_i starts with one block of
units from a single issuance; every transfer moves 5 units chosen by criteria
(oldest acquisition first, then lowest serial), so every transfer splits
A_i's block in two. The clients never touch the same account; they contend
only where the registry serialises everyone: the ledger head row lock.

Through HTTP the same clients send single transfers, then batches of
--batch transfers (POST /api/v1/transfers/batch, each item its own key);
both rates are reported as ratios against the service-layer rate of the same
run, for the embedded `tonne serve` and, with --production, then for the
production configuration too (gunicorn's workers, `tonne serve --production`).
Run alone, on a migrated database of your own (a name starting tonne_bench):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tonne_bench_mine \
        .venv/bin/python benchmarks/bench_transfers.py --production --skip-pgbench --out /tmp/t.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

QUANTITY = 5


# -- setup (through the service layer) ------------------------------------------------


def setup(clients: int, units_per_client: int) -> dict:
    from tonne import testing
    from tonne.organisations import services as orgs
    from tonne.units import services as units
    from tonne.units.domain import Selection

    reg = testing.build_registry("bench")
    issued = clients * units_per_client
    # The project estimates what it issues: the registry refuses a claim far above the estimate.
    estimate = [{"start_date": "2023-01-01", "end_date": "2023-12-31", "unit_count": issued}]
    project, notes = registered_project(reg, name="Benchmark cookstoves", estimations=estimate)
    _, issuances = testing.issue(reg, project, {2023: issued})
    issuance = issuances[0]
    pairs = []
    start = issuance.serial_start
    for i in range(clients):
        user = testing.make_user(reg.developer_org, f"bench-client{i}", actor=reg.admin)
        a = orgs.open_holding_account(actor=reg.developer, organisation=reg.developer_org, name=f"client {i} source")
        b = orgs.open_holding_account(actor=reg.developer, organisation=reg.developer_org, name=f"client {i} sink")
        units.transfer(
            actor=reg.developer,
            from_account=reg.developer_account.identifier,
            to_account=a.identifier,
            selection=Selection.build(ranges=[(start, start + units_per_client - 1)]),
            idempotency_key=f"setup-{i}",
        )
        start += units_per_client
        _, secret = orgs.issue_api_token(actor=user, name=f"bench client {i}")
        pairs.append({"user_id": user.pk, "from": a.identifier, "to": b.identifier, "token": secret})
    return {"pairs": pairs, "notes": notes}


def registered_project(reg, **fields):  # noqa: ANN001
    """tonne.testing.registered_project; if a service refuses on this
    database (a bug to report, not to hide), register the project through the
    service and set its status directly so the benchmark can go on."""
    from django.db import NotSupportedError

    from tonne import testing
    from tonne.projects import services as projects
    from tonne.projects.models import Project

    try:
        return testing.registered_project(reg, **fields), []
    except NotSupportedError as exc:
        note = (
            "SETUP WORKAROUND: tonne.projects.services.change_project_status failed on PostgreSQL "
            f"({exc}); the project was registered through the service and its status set to "
            "'registered' directly."
        )
        print(f"  {note}", file=sys.stderr)
        project = projects.register_project(
            actor=reg.developer, data=testing.project_fields(**fields), vvb=str(reg.vvb_org.uid)
        )
        Project.objects.filter(pk=project.pk).update(status=Project.Status.REGISTERED)
        project.refresh_from_db()
        return project, [note]


# -- service-layer clients ---------------------------------------------------------------


def _service_client(pair: dict, start_at: float, seconds: float, queue: mp.Queue) -> None:
    from django.db import connection

    from tonne.core.errors import RegistryError
    from tonne.organisations.models import User
    from tonne.units import services as units
    from tonne.units.domain import Selection

    user = User.objects.select_related("organisation").get(pk=pair["user_id"])
    selection = Selection.build(quantity=QUANTITY)
    done, errors, latencies = 0, 0, []
    # one warm-up transfer (connection, caches), then wait for the common start
    units.transfer(actor=user, from_account=pair["from"], to_account=pair["to"], selection=selection,
                   idempotency_key=f"warm-{uuid.uuid4()}")
    time.sleep(max(0.0, start_at - time.time()))
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while True:
        t = time.perf_counter()
        if t >= deadline:
            break
        try:
            units.transfer(actor=user, from_account=pair["from"], to_account=pair["to"], selection=selection,
                           idempotency_key=str(uuid.uuid4()))
            done += 1
            latencies.append(time.perf_counter() - t)
        except RegistryError as exc:
            errors += 1
            if errors < 3:
                print(f"  service transfer refused: {exc.code}: {exc.message}", file=sys.stderr)
    elapsed = time.perf_counter() - t0
    connection.close()
    queue.put({"done": done, "errors": errors, "elapsed": elapsed, "latencies": latencies})


def _run_clients(target, pairs: list[dict], seconds: float, extra: tuple = ()) -> dict:
    from django.db import connections

    connections.close_all()  # every forked client opens its own connection
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    start_at = time.time() + 3.0
    procs = [ctx.Process(target=target, args=(pair, start_at, seconds, queue, *extra)) for pair in pairs]
    for p in procs:
        p.start()
    results = [queue.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    done = sum(r["done"] for r in results)
    errors = sum(r["errors"] for r in results)
    elapsed = max(r["elapsed"] for r in results)
    lat = sorted(x for r in results for x in r["latencies"])
    return {
        "transfers": done,
        "errors": errors,
        "seconds": round(elapsed, 3),
        "tps": done / elapsed if elapsed else 0.0,
        "p50_ms": common.percentile(lat, 50) * 1000 if lat else None,
        "p95_ms": common.percentile(lat, 95) * 1000 if lat else None,
    }


# -- HTTP clients ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _transfer_request(conn: http.client.HTTPConnection, pair: dict) -> tuple[int, bytes]:
    body = json.dumps({"from_account": pair["from"], "to_account": pair["to"], "quantity": QUANTITY})
    conn.request(
        "POST",
        "/api/v1/transfers",
        body=body,
        headers={
            "Authorization": f"Bearer {pair['token']}",
            "Idempotency-Key": str(uuid.uuid4()),
            "Content-Type": "application/json",
        },
    )
    response = conn.getresponse()
    return response.status, response.read()


def _batch_request(conn: http.client.HTTPConnection, pair: dict, size: int) -> tuple[int, bytes]:
    items = [{"idempotency_key": str(uuid.uuid4()), "from_account": pair["from"], "to_account": pair["to"],
              "quantity": QUANTITY} for _ in range(size)]
    conn.request(
        "POST",
        "/api/v1/transfers/batch",
        body=json.dumps({"items": items}),
        headers={"Authorization": f"Bearer {pair['token']}", "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    return response.status, response.read()


def _batch_client(pair: dict, start_at: float, seconds: float, queue: mp.Queue, port: int, size: int) -> None:
    """Batches of `size` transfers, one after the other: `done` counts transfers
    made (201 items), the latencies are the batches'."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    done, errors, latencies = 0, 0, []
    _batch_request(conn, pair, 2)  # warm-up
    time.sleep(max(0.0, start_at - time.time()))
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while time.perf_counter() < deadline:
        t = time.perf_counter()
        try:
            status, payload = _batch_request(conn, pair, size)
        except (OSError, http.client.HTTPException) as exc:
            errors += 1
            print(f"  HTTP batch failed: {exc}", file=sys.stderr)
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            continue
        if status != 200:
            errors += 1
            print(f"  HTTP batch refused: {status} {payload[:300]!r}", file=sys.stderr)
            if errors > 5 and done == 0:
                break
            continue
        statuses = [item["status"] for item in json.loads(payload)["items"]]
        done += statuses.count(201)
        errors += len(statuses) - statuses.count(201)
        latencies.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - t0
    conn.close()
    queue.put({"done": done, "errors": errors, "elapsed": elapsed, "latencies": latencies})


def _http_client(pair: dict, start_at: float, seconds: float, queue: mp.Queue, port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    done, errors, latencies = 0, 0, []
    _transfer_request(conn, pair)  # warm-up
    time.sleep(max(0.0, start_at - time.time()))
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while True:
        t = time.perf_counter()
        if t >= deadline:
            break
        try:
            status, payload = _transfer_request(conn, pair)
        except (OSError, http.client.HTTPException) as exc:
            errors += 1
            print(f"  HTTP transfer failed: {exc}", file=sys.stderr)
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            continue
        if 200 <= status < 300:
            done += 1
            latencies.append(time.perf_counter() - t)
        else:
            errors += 1
            if errors <= 2:
                print(f"  HTTP transfer refused: {status} {payload[:300]!r}", file=sys.stderr)
            if errors > 50 and done == 0:
                break
    elapsed = time.perf_counter() - t0
    conn.close()
    queue.put({"done": done, "errors": errors, "elapsed": elapsed, "latencies": latencies})


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"tonne serve exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("tonne serve did not start listening")


def http_benchmark(pairs: list[dict], seconds: float, *, production: bool = False, batch: int = 0) -> dict:
    """Single transfers through HTTP, then (batch > 0) batches of `batch`
    transfers, against one server: `tonne serve`, or with `production`
    `tonne serve --production` (gunicorn, tonne/ops/gunicorn_conf.py)."""
    api_file = common.ROOT / "tonne" / "units" / "api.py"
    port = _free_port()
    cmd = [sys.executable, "-m", "tonne.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if production:
        cmd.append("--production")
    proc = subprocess.Popen(cmd, cwd=common.ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL)
    try:
        _wait_for_port(port, proc)
        # Probe once: is the endpoint there at all?
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        status, payload = _transfer_request(conn, pairs[0])
        conn.close()
        if status in (404, 405):
            return {
                "skipped": f"POST /api/v1/transfers answered {status} "
                f"({'tonne/units/api.py does not exist yet' if not api_file.exists() else 'route not mounted'})"
            }
        if not 200 <= status < 300:
            return {"skipped": f"POST /api/v1/transfers answered {status}: {payload[:300].decode(errors='replace')}"}
        result = _run_clients(_http_client, pairs, seconds, extra=(port,))
        workers = _server_workers(proc.pid) if production else 1
        result["server"] = (f"tonne serve --production (gunicorn, {workers} workers)" if production
                            else "tonne serve (waitress, 8 threads)")
        if batch:
            batched = _run_clients(_batch_client, pairs, seconds, extra=(port, batch))
            batched["batch"] = batch
            batched["note"] = "transfers = items moved; p50/p95 are per batch request"
            result["batches"] = batched
        return result
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _server_workers(pid: int) -> int:
    """gunicorn's worker processes: the master's children."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return len(children.read_text().split()) if children.exists() else 0


SERVERS = {"http": False, "http_production": True}  # result key -> production configuration


def ratios(out: dict) -> dict:
    """HTTP rates as fractions of the service-layer rate of the same run, per server."""
    service = out.get("service", {}).get("tps") or 0.0
    found = {}
    for key in SERVERS:
        http = out.get(key, {})
        if service and "tps" in http:
            found[f"{key}_over_service"] = round(http["tps"] / service, 3)
        if service and "tps" in http.get("batches", {}):
            found[f"{key}_batch_{http['batches']['batch']}_over_service"] = round(http["batches"]["tps"] / service, 3)
    return found


# -- pgbench baseline -------------------------------------------------------------------


def pgbench_baseline(clients: int, seconds: int, scale: int) -> dict:
    common.create_database(common.PGBENCH_DB)
    base = ["-h", common.PG_HOST, "-p", str(common.PG_PORT), "-U", common.PG_USER]
    try:
        subprocess.run(["pgbench", *base, "-i", "-q", "-s", str(scale), common.PGBENCH_DB],
                       check=True, capture_output=True, text=True)
        jobs = min(2, clients)
        proc = subprocess.run(
            ["pgbench", *base, "-c", str(clients), "-j", str(jobs), "-T", str(seconds), "-n", common.PGBENCH_DB],
            check=True, capture_output=True, text=True,
        )
        return {
            "tps": common.parse_pgbench_tps(proc.stdout),
            "command": f"pgbench -i -s {scale}; pgbench -c {clients} -j {jobs} -T {seconds} -n",
        }
    finally:
        common.drop_database(common.PGBENCH_DB)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--out", required=True)
    parser.add_argument("--production", action="store_true",
                        help="HTTP also through the production configuration (tonne serve --production: gunicorn)")
    parser.add_argument("--batch", type=int, default=100, help="transfers per batch request (0: no batch phase)")
    parser.add_argument("--skip-pgbench", action="store_true", help="no pgbench baseline (it uses its own database)")
    args = parser.parse_args()

    out: dict = {"clients": args.clients, "seconds": args.seconds}
    if not args.skip_pgbench:
        print(f"  pgbench baseline: {args.clients} clients, {args.seconds} s ...", flush=True)
        out["pgbench"] = pgbench_baseline(args.clients, args.seconds, scale=4)
        print(f"    {out['pgbench']['tps']:.0f} tps", flush=True)

    common.django_setup()
    t = time.perf_counter()
    units_per_client = 2_000_000
    state = setup(args.clients, units_per_client)
    out["setup_seconds"] = round(time.perf_counter() - t, 1)
    out["notes"] = state["notes"]
    out["workload"] = (
        f"{args.clients} processes, each its own DB connection, user and pair of holding accounts "
        f"(A_i -> B_i); {QUANTITY} units per transfer selected by criteria, so each transfer splits a block"
    )
    print(f"  service layer: {args.clients} client processes, {args.seconds} s ...", flush=True)
    out["service"] = _run_clients(_service_client, state["pairs"], args.seconds)
    print(f"    {out['service']['tps']:.0f} transfers/s", flush=True)
    for key, production in SERVERS.items():
        if production and not args.production:
            continue
        server = "tonne serve --production" if production else "tonne serve"
        print(f"  HTTP: {server} + {args.clients} client processes, {args.seconds} s (then batches of {args.batch}) ...",
              flush=True)
        try:
            out[key] = http_benchmark(state["pairs"], args.seconds, production=production, batch=args.batch)
        except Exception as exc:  # noqa: BLE001
            out[key] = {"skipped": f"{type(exc).__name__}: {exc}"}
        if "tps" in out[key]:
            print(f"    {out[key]['tps']:.0f} transfers/s", flush=True)
            if "batches" in out[key]:
                print(f"    batches of {args.batch}: {out[key]['batches']['tps']:.0f} transfers/s", flush=True)
        else:
            print(f"    skipped: {out[key]['skipped']}", flush=True)
    out["ratios"] = ratios(out)
    print(f"    {out['ratios']}", flush=True)
    common.write_json(args.out, out)


if __name__ == "__main__":
    main()
