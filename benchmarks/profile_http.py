"""CPU per request of POST /api/v1/transfers, end to end in one process
(middleware, authentication, rate counters, idempotency, the move, the
response), against the CPU of the same transfer through the service layer.

It counts this process's CPU time (time.process_time), not throughput, so
it says the same on a busy machine; the database server's own CPU is not in
it. With --profile FILE it writes a cProfile of the HTTP requests.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tonne_mine \\
        .venv/bin/python benchmarks/profile_http.py --requests 1000

The database named must be an empty one of your own: it is migrated and filled."""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

QUANTITY = 5


def _env() -> None:
    data_dir = os.environ.setdefault("TONNE_DATA_DIR", tempfile.mkdtemp(prefix="tonne-profile-http-"))
    for key, value in common.child_env("tonne_bench", data_dir).items():
        if key != "DATABASE_URL":
            os.environ.setdefault(key, value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--profile", help="write the cProfile of the HTTP requests here")
    parser.add_argument("--batch", type=int, default=100,
                        help="also POST /api/v1/transfers/batch with this many transfers (0: not)")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()
    if "DATABASE_URL" not in os.environ:
        sys.exit("set DATABASE_URL to a database of your own")
    _env()
    common.django_setup()
    import bench_transfers
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from tonne.organisations.models import User
    from tonne.units import services as units
    from tonne.units.domain import Selection

    if connection.introspection.table_names():
        sys.exit("give an empty database: this one has tables")
    call_command("migrate", verbosity=0)
    state = bench_transfers.setup(2, QUANTITY * (2 * args.requests + 20 + 2 * max(args.requests, args.batch)))
    service_pair, http_pair = state["pairs"]

    user = User.objects.select_related("organisation").get(pk=service_pair["user_id"])
    selection = Selection.build(quantity=QUANTITY)

    def service_transfer() -> None:
        units.transfer(actor=user, from_account=service_pair["from"], to_account=service_pair["to"],
                       selection=selection, idempotency_key=str(uuid.uuid4()))

    client = Client(HTTP_AUTHORIZATION=f"Bearer {http_pair['token']}")
    body = json.dumps({"from_account": http_pair["from"], "to_account": http_pair["to"], "quantity": QUANTITY})

    def http_transfer() -> None:
        response = client.post("/api/v1/transfers", data=body, content_type="application/json",
                               HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
        if response.status_code >= 300:
            raise SystemExit(f"HTTP transfer refused: {response.status_code} {response.content[:300]!r}")

    def http_batch() -> None:
        items = [{"idempotency_key": str(uuid.uuid4()), "from_account": http_pair["from"], "to_account": http_pair["to"],
                  "quantity": QUANTITY} for _ in range(args.batch)]
        response = client.post("/api/v1/transfers/batch", data=json.dumps({"items": items}),
                               content_type="application/json")
        if response.status_code != 200 or b'"status": 201' not in response.content:
            raise SystemExit(f"HTTP batch refused: {response.status_code} {response.content[:300]!r}")

    for _ in range(5):  # warm-up: connections, caches, imports
        service_transfer()
        http_transfer()

    def measure(fn, profile: str | None = None) -> float:  # noqa: ANN001
        profiler = cProfile.Profile(time.process_time) if profile else None  # CPU, not waits
        cpu0 = time.process_time()
        if profiler:
            profiler.enable()
        for _ in range(args.requests):
            fn()
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile)
        return (time.process_time() - cpu0) / args.requests

    service_cpu = measure(service_transfer)
    http_cpu = measure(http_transfer)
    out = {
        "requests": args.requests,
        "service_cpu_ms_per_transfer": round(service_cpu * 1000, 3),
        "http_cpu_ms_per_request": round(http_cpu * 1000, 3),
        "http_over_service": round(http_cpu / service_cpu, 2),
    }
    if args.batch:
        batches = max(1, args.requests // args.batch)
        cpu0 = time.process_time()
        for _ in range(batches):
            http_batch()
        batch_cpu = (time.process_time() - cpu0) / (batches * args.batch)
        out[f"http_batch_{args.batch}_cpu_ms_per_transfer"] = round(batch_cpu * 1000, 3)
        out["http_batch_over_service"] = round(batch_cpu / service_cpu, 2)
    if args.profile:
        measure(http_transfer, args.profile)
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(40)
    print(json.dumps(out, indent=2))
    if args.out:
        common.write_json(args.out, out)


if __name__ == "__main__":
    main()
