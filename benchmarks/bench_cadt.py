"""Benchmark 6: the CAD Trust read API (/cadt/v1/), p50 / p95 server time of
the reads a CAD Trust client makes, against a primary-key fetch through the
same stack (`?warehouseProjectId=`) in the same run.

Data: CAD Trust v1 rows written straight into the read API's projection
(tonne.cadt.models.CadtRow) in bulk: projects with their child records,
units with their issuance, varied names, statuses, vintages and serial
blocks; the projection's cursor is set to the ledger's, as after `tonne cadt
rebuild-rows`, with the indexed columns (tonne.cadt.rowfields) and the
per-organisation counts. The full-text index is kept by the database (FTS5
triggers on SQLite, the GIN index on PostgreSQL) during the load.

Server time is measured in-process through Django's test client (routing,
middleware with CAD Trust's headers and the rate limiter, validation, the
queries, the JSON answer); no network. A page's count is kept per ledger
state (tonne.cadt.rowquery.count): queries are also measured "cold", the
cache emptied before each request, as after a registry change.

Run by benchmarks/run.py (`--only cadt`), or alone against a migrated database:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tonne_bench_cadt \\
        python benchmarks/bench_cadt.py --projects 1000 --units 5000 --out /tmp/cadt.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

TARGETS_MS = {1_000: 30.0, 100_000: 60.0}
TARGET = "CAD Trust reads p95 <= 30 ms (1,000 projects), <= 60 ms (100,000), ratio between sizes <= 2"
WORDS = ["mangrove", "lagoon", "savanna", "cookstove", "solar", "forest", "river", "coastal", "biogas", "wind",
         "highland", "delta", "cocoa", "rubber", "landfill", "rice", "peat", "grassland", "valley", "harbour"]
STATUSES = ["Held", "Held", "Held", "Retired", "Cancelled", "Buffer"]
QUERIES = {
    "projects page 1": ("/cadt/v1/projects", {"page": 1, "limit": 10}),
    "units page 1": ("/cadt/v1/units", {"page": 1, "limit": 10}),
    "search (projects)": ("/cadt/v1/projects", {"page": 1, "limit": 10, "search": "{word}"}),
    "filter (units, status)": ("/cadt/v1/units", {"page": 1, "limit": 10, "filter": "unitStatus:Retired:eq"}),
    "order (projects, timeStaged ASC)": ("/cadt/v1/projects", {"page": 1, "limit": 10, "order": "timeStaged:ASC"}),
    "order (projects, projectName ASC)": ("/cadt/v1/projects", {"page": 1, "limit": 10, "order": "projectName:ASC"}),
    "page 40 (units)": ("/cadt/v1/units", {"page": 40, "limit": 10}),
}

# Page counts are kept per ledger state; these are also measured with none kept.
COLD = ("units page 1", "search (projects)", "filter (units, status)")


def generate(n_projects: int, n_units: int, seed: int = 6) -> dict[str, Any]:
    """CAD Trust v1 rows, written with one multi-row INSERT per thousand rows."""
    from django.db import connection, transaction

    from tonne.cadt import mapping, projection, reads, rowfields
    from tonne.cadt.models import CadtProjection
    from tonne.ledger.models import LedgerHead

    rng = random.Random(seed)
    org = mapping.home_org_uid()
    t = time.perf_counter()
    base = 1_700_000_000
    project_ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(n_projects)]

    def project(i: int, pid: str) -> dict[str, Any]:
        name = f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} project {i}"
        staged = str(base + i)
        child = {"warehouseProjectId": pid, "orgUid": org, "timeStaged": staged,
                 "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z"}
        return {
            "warehouseProjectId": pid, "orgUid": org, "currentRegistry": "Tonne", "projectId": f"CI-{i:06d}",
            "originProjectId": f"CI-{i:06d}", "registryOfOrigin": "Tonne", "program": "National programme",
            "projectName": name, "projectLink": f"https://registry.example.org/projects/{i}",
            "projectDeveloper": f"Developer {i % 500}", "sector": "Afforestation and reforestation",
            "projectType": "Afforestation", "projectTags": None, "coveredByNDC": "Inside NDC",
            "ndcInformation": None, "projectStatus": "Registered", "projectStatusDate": "2023-01-01",
            "unitMetric": "tCO2e", "methodology": "AR-AM0014", "methodology2": None, "validationBody": None,
            "validationDate": None, "description": f"{name}: restoring {rng.choice(WORDS)} land.",
            "timeStaged": staged, "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z",
            "projectLocations": [{**child, "id": str(uuid.uuid4()), "country": "Cote d'Ivoire",
                                  "inCountryRegion": "Lagunes", "geographicIdentifier": "5.3,-4.0"}],
            "labels": [], "issuances": [], "coBenefits": [{**child, "id": str(uuid.uuid4()), "cobenefit": "SDG 13"}],
            "relatedProjects": [], "projectRatings": [], "estimations": [],
        }

    def unit(i: int) -> dict[str, Any]:
        pid = project_ids[i % n_projects]
        start = 1 + i * 1000
        return {
            "warehouseUnitId": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "issuanceId": None,
            "projectLocationId": None, "orgUid": org, "unitOwner": f"Holder {i % 997}",
            "countryJurisdictionOfOwner": "Cote d'Ivoire", "inCountryJurisdictionOfOwner": None,
            "serialNumberBlock": f"CI-{start:012d}-{start + 999:012d}", "serialNumberPattern": "[.*\\D]+([0-9]+)",
            "vintageYear": 2015 + i % 10, "unitType": "Removal - nature", "marketplace": None,
            "marketplaceLink": None, "marketplaceIdentifier": None, "unitTags": None,
            "unitStatus": rng.choice(STATUSES), "unitStatusReason": None,
            "unitRegistryLink": f"https://registry.example.org/units/{i}", "correspondingAdjustmentDeclaration":
            "Unknown", "correspondingAdjustmentStatus": "Not Started", "unitBlockStart": str(start),
            "unitBlockEnd": str(start + 999), "unitCount": 1000, "timeStaged": str(base + i),
            "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z",
            "issuance": {"id": str(uuid.uuid4()), "orgUid": org, "warehouseProjectId": pid,
                         "startDate": "2022-01-01", "endDate": "2022-12-31", "verificationApproach": "Full",
                         "verificationReportDate": "2023-02-01", "verificationBody": "350 Solutions"},
            "labels": [],
        }

    def rows() -> Any:
        for i, pid in enumerate(project_ids):
            row = project(i, pid)
            yield ("1", "projects", pid, row)
        for i in range(n_units):
            row = unit(i)
            yield ("1", "units", row["warehouseUnitId"], row)

    columns = [*rowfields.TEXT_COLUMNS, *rowfields.NUMBER_COLUMNS]
    width = 7 + len(columns)
    sql = (f"INSERT INTO cadt_cadtrow (version, \"table\", \"key\", org_uid, time_staged, search, data, "
           f"{', '.join(columns)}) VALUES ")
    with transaction.atomic(), connection.cursor() as cursor:
        batch: list[Any] = []

        def flush() -> None:
            if batch:
                cursor.execute(sql + ",".join(["(" + ", ".join(["%s"] * width) + ")"] * (len(batch) // width)), batch)
                batch.clear()

        for version, table, key, row in rows():
            indexed = rowfields.values(version, table, row)
            batch += [version, table, key, org, row["timeStaged"], " ".join(sorted(reads.row_tokens(row))),
                      json.dumps(row), *(indexed[c] for c in columns)]
            if len(batch) >= width * 500:
                flush()
        flush()
        CadtProjection.objects.update_or_create(pk=1, defaults={"cursor": LedgerHead.objects.get(pk=1).size})
    projection.recount()  # the per-organisation counts, as `tonne cadt rebuild-rows` leaves them
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"projects": n_projects, "units": n_units, "seconds": round(time.perf_counter() - t, 1)}


def measure(samples: int, n_projects: int) -> dict[str, Any]:
    from django.core.cache import cache
    from django.test import Client

    from tonne.cadt.models import CadtRow

    client = Client()
    rng = random.Random(11)
    keys = list(CadtRow.objects.filter(version="1", table="projects").values_list("key", flat=True)[:5000])

    def timed(path: str, make: Any, cold: bool = False) -> dict[str, Any]:
        for _ in range(5):
            client.get(path, make())
        values, statuses = [], set()
        for _ in range(samples):
            query = make()
            if cold:  # no page count kept from an earlier request (as after any registry change)
                cache.clear()
            t = time.perf_counter()
            response = client.get(path, query)
            values.append(time.perf_counter() - t)
            statuses.add(response.status_code)
        values.sort()
        return {"p50_ms": common.percentile(values, 50) * 1000, "p95_ms": common.percentile(values, 95) * 1000,
                "statuses": sorted(statuses)}

    out = {"baseline": timed("/cadt/v1/projects", lambda: {"warehouseProjectId": rng.choice(keys)})}
    for name, (path, query) in QUERIES.items():
        def make(q: dict[str, Any] = query) -> dict[str, Any]:
            return {k: (v.format(word=rng.choice(WORDS)) if isinstance(v, str) else v) for k, v in q.items()}

        out[name] = timed(path, make)
        if name in COLD:
            out[name + ", cold count"] = timed(path, make, cold=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--units", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--migrate", action="store_true", help="migrate first (a fresh SQLite file)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    common.django_setup()
    from django.core.management import call_command
    from django.db import connection

    if args.migrate:
        call_command("migrate", verbosity=0)
    load = generate(args.projects, args.units)
    figures = measure(args.samples, args.projects)
    common.write_json(args.out, {"engine": connection.vendor, "load": load, "samples": args.samples,
                                 "figures": figures})


def report(results: dict[str, Any], rep: Any) -> None:
    """Per engine and size: each query's p50/p95 against the primary-key fetch; the verdict."""
    rep.add("### 6. CAD Trust read API (/cadt/v1/)")
    ok = True
    detail = []
    for engine, sizes in results.items():
        p95s: dict[int, dict[str, float]] = {}
        for size, r in sorted(sizes.items(), key=lambda kv: int(kv[0])):
            if "error" in r:
                rep.add(f"  {engine} {size}: ERROR {r['error']}")
                ok = False
                continue
            n = int(size)
            base = r["figures"]["baseline"]
            rep.add(f"  {engine}, {r['load']['projects']:,} projects / {r['load']['units']:,} units "
                    f"(loaded in {r['load']['seconds']} s, {r['samples']} samples each)")
            rep.add(f"    baseline  primary-key fetch: p50 {base['p50_ms']:.2f} ms, p95 {base['p95_ms']:.2f} ms")
            target = TARGETS_MS.get(n, 60.0)
            p95s[n] = {}
            for name, f in r["figures"].items():
                if name == "baseline":
                    continue
                p95s[n][name] = f["p95_ms"]
                good = f["p95_ms"] <= target and f["statuses"] == [200]
                ok &= good
                rep.add(f"    {name:34s} p50 {f['p50_ms']:7.2f} ms  p95 {f['p95_ms']:7.2f} ms "
                        f"({f['p95_ms'] / base['p95_ms']:.1f} x baseline) {'ok' if good else 'OVER'}")
        if len(p95s) == 2:
            small, large = sorted(p95s)
            worst = max(p95s[large][q] / max(p95s[small][q], 1e-9) for q in p95s[large])
            ok &= worst <= 2
            detail.append(f"{engine}: worst size ratio {worst:.1f}")
            rep.add(f"    worst p95 ratio {large:,} / {small:,} projects: {worst:.1f}")
    rep.verdict("cadt", ok, "; ".join(detail) or "see above")


if __name__ == "__main__":
    main()
