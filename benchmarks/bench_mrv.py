"""Benchmark 6: digital MRV.

(a) Intake of signed readings through tonne.mrv.readings.submit_readings in
    batches of 1,000, against a bare Ed25519 verification loop over the same
    readings (canonical bytes and signatures already in memory), measured
    batch by batch in the same run. Target: intake >= 0.25 x bare.
(b) Computing a monitoring report (AMS-I.D) over all of them: aggregation,
    Merkle root of every reading used, methodology. Target: <= 10 s.

Run by benchmarks/run.py in its own process, DATABASE_URL pointing at a
freshly migrated database."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

BATCH = 1000


def bulk_load(actor, project, source, key, first, last, start, step) -> None:  # noqa: ANN001
    """Signed readings written straight to the tables (benchmark setup only),
    each 100,000 committed to the ledger with their Merkle root as intake does."""
    import uuid

    from django.db import transaction

    from tonne.core import clock
    from tonne.ledger import merkle
    from tonne.ledger.services import append_entry
    from tonne.mrv import readings
    from tonne.mrv.models import Reading, ReadingBatch

    chunk = 100_000
    for lo in range(first, last, chunk):
        rows = []
        for i in range(lo, min(lo + chunk, last)):
            at = start + step * i
            quantity = f"{i % 7}.{i % 997:03d}"
            message = readings.reading_message(source=source.identifier, reading_id=f"r{i}", taken_at=at,
                                               quantity=quantity, unit="MWh", uncertainty=None)
            sig = key.sign(message)
            rows.append(Reading(source=source, reading_id=f"r{i}", taken_at=at, quantity=quantity,
                                quantity_micro=readings.micro(quantity), signature=sig.hex(),
                                leaf_hash=merkle.leaf_hash(message + sig).hex()))
        with transaction.atomic():
            root = merkle.root_from_leaves([bytes.fromhex(r.leaf_hash) for r in rows]).hex()
            entry = append_entry(kind="mrv.readings_accepted", actor=actor,
                                 data={"project": project.project_id, "count": len(rows), "merkle_root": root})
            batch = ReadingBatch.objects.create(uid=uuid.uuid4(), project=project, channel="bulk", count=len(rows),
                                                merkle_root=root, ledger_seq=entry.seq, received_by=actor,
                                                received_at=clock.now())
            for r in rows:
                r.batch = batch
            Reading.objects.bulk_create(rows, batch_size=5000)
        print(f"    {min(lo + chunk, last):,}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--compute-readings", type=int, default=0,
                        help="top the readings up to this many for the computation, loaded in bulk (signed the "
                             "same way, committed per 100,000 in the ledger) rather than through intake")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    common.django_setup()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from django.conf import settings

    from tonne import testing
    from tonne.core.canonical import utc_timestamp
    from tonne.mrv import computation, readings, sources
    from tonne.projects import services as projects

    settings.TONNE_FOUR_EYES = frozenset()
    settings.TONNE_KYC_REQUIRED = False
    reg = testing.build_registry("bench")
    project = testing.registered_project(reg, name="Benchmark solar", types=["Solar"])
    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    source = sources.register_source(actor=reg.developer, project=project, data={
        "identifier": "BENCH-METER", "kind": "meter", "measurement": "electricity_export", "unit": "MWh",
        "public_key": public.public_bytes(Encoding.Raw, PublicFormat.Raw).hex(), "min_value": "0", "max_value": "10"})
    doc = projects.upload_document(actor=reg.developer, project=project, kind="other", title="calibration",
                                   filename="cal.pdf", content=b"calibration")
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    step = dt.timedelta(seconds=max(1, int(365 * 86400 / max(args.readings, args.compute_readings))))  # all in 2020
    sources.record_calibration(actor=reg.developer, source=source, document=str(doc.uid), valid_from="2019-12-01",
                               valid_until="2021-12-31")
    bare = intake = 0.0
    n = 0
    print(f"  {args.readings:,} readings in batches of {BATCH:,} ...", flush=True)
    while n < args.readings:
        size = min(BATCH, args.readings - n)
        batch, signed = [], []
        for i in range(n, n + size):
            at = start + step * i
            quantity = f"{i % 7}.{i % 997:03d}"
            message = readings.reading_message(source="BENCH-METER", reading_id=f"r{i}", taken_at=at,
                                               quantity=quantity, unit="MWh", uncertainty=None)
            sig = key.sign(message)
            signed.append((sig, message))
            batch.append({"source": "BENCH-METER", "id": f"r{i}", "taken_at": utc_timestamp(at), "quantity": quantity,
                          "unit": "MWh", "uncertainty": None, "signature": sig.hex()})
        t = time.perf_counter()
        verify = public.verify
        for sig, message in signed:
            verify(sig, message)
        bare += time.perf_counter() - t
        t = time.perf_counter()
        result = readings.submit_readings(actor=reg.developer, project=project, readings=batch)
        intake += time.perf_counter() - t
        assert result.accepted == size
        n += size
        if n % 100_000 == 0:
            print(f"    {n:,}: intake {n / intake:,.0f}/s, bare verify {n / bare:,.0f}/s", flush=True)
    out: dict = {"readings": n, "batch": BATCH, "intake_seconds": intake, "intake_rate": n / intake,
                 "bare_seconds": bare, "bare_rate": n / bare, "ratio": (n / intake) / (n / bare)}
    print(f"    intake {out['intake_rate']:,.0f} readings/s; bare Ed25519 verify {out['bare_rate']:,.0f}/s; "
          f"ratio {out['ratio']:.3f}", flush=True)
    if args.compute_readings > n:
        print(f"  topping up to {args.compute_readings:,} readings in bulk for the computation ...", flush=True)
        t = time.perf_counter()
        bulk_load(reg.developer, project, source, key, n, args.compute_readings, start, step)
        out["bulk_seconds"] = time.perf_counter() - t
        n = args.compute_readings
    out["compute_readings"] = n
    t = time.perf_counter()
    report = computation.compute_report(actor=reg.developer, project=project, methodology="AMS-I.D", version="18.0",
                                        period_start="2020-01-01", period_end="2020-12-31", vvb=str(reg.vvb_org.uid))
    out["compute_seconds"] = time.perf_counter() - t
    out["computed"] = {v.vintage: v.claimed for v in report.vintages.all()}
    t = time.perf_counter()
    again = computation.recompute(report)
    out["recompute_seconds"] = time.perf_counter() - t
    out["recompute_matches"] = again.matches
    print(f"    report over {report.computation.reading_count:,} readings computed in {out['compute_seconds']:.2f} s "
          f"(recomputed in {out['recompute_seconds']:.2f} s, matches: {again.matches})", flush=True)
    common.write_json(args.out, out)


if __name__ == "__main__":
    main()
