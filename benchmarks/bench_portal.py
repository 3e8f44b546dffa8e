"""Benchmark 4: the public portal's project search and transparency dashboard,
p50 / p95 server time with 100,000 projects, against a trivial portal page
served by the same Django stack in the same run.

Data: the serial-lookup benchmark's generator (organisations, projects,
issuances, unit blocks and their history, bulk-loaded with COPY), plus the
child records the search facets and the dashboard read (locations with
regions, methodologies, co-benefits, labels), varied sectors, types,
crediting periods and Article 6 statuses.

The bulk load goes around the services, so the portal's search summary
(tonne.portal.summary) is rebuilt afterwards, as `tonne portal
rebuild-summary` does; its time is reported.

Server time is measured in-process through Django's test client: URL
routing, middleware, the view, its queries and template rendering; no
network. Cold requests follow a registry change: before each one, a random
project's summary is recomputed (what the project services do on every
change, timed separately as "refresh") and the cache is emptied, so nothing
computed for an earlier request is reused. Search keeps no result cache; the
dashboard is also measured as served (cache keyed by the ledger size).

Run by benchmarks/run.py (`--only portal`) in its own process, DATABASE_URL
pointing at a freshly migrated ``tonne_bench_portal`` database; or alone:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tonne_bench_portal \\
        python benchmarks/bench_portal.py --projects 100000 --blocks 200000 --out /tmp/portal.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

PORTAL_DB = "tonne_bench_portal"
TARGET_MS = 300.0
TARGET = "public search and dashboard p95 <= 300 ms server time (100,000 projects)"
REGIONS = ["Lagunes", "Savanes", "Montagnes", "Bas-Sassandra", "Comoé", "Denguélé", "Gôh-Djiboua", "Lacs",
           "Sassandra-Marahoué", "Vallée du Bandama", "Woroba", "Zanzan", "Yamoussoukro", "Abidjan"]
SECTORS = [("Energy industries (renewable-/ non renewable sources)", "Solar"), ("Energy demand", "Cookstoves"),
           ("Afforestation and reforestation", "Afforestation"), ("Agriculture", "Agriculture"),
           ("Waste handling and disposal", "Landfill Gas"), ("Transport", "Transport")]
CO_BENEFITS = ["SDG 13 - Climate action", "SDG 15 - Life on land", "SDG 7 - Affordable and clean energy",
               "SDG 5 - Gender equality", "SDG 3 - Good health and well-being", "SDG 14 - Life below water"]
LABELS = ["Blue carbon", "CCB Gold", "CORSIA eligible", "Article 6 pilot"]
ARTICLE6 = ["not_requested"] * 6 + ["requested", "authorised", "authorised", "refused"]


def enrich(n_projects: int, seed: int = 17) -> dict:
    """Child records and varied fields on the generated projects (COPY)."""
    from bulk import Copier, next_id, reset_sequence
    from django.db import connection, transaction

    from tonne.projects.models import (
        CoBenefit,
        Label,
        Location,
        Methodology,
        Project,
        ProjectMethodology,
    )

    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    t = time.perf_counter()
    with transaction.atomic():
        methodologies = [
            Methodology.objects.create(uid=uuid.uuid4(), code=f"BM-{i:03d}", name=f"Benchmark methodology {i}",
                                       created_at=now, updated_at=now)
            for i in range(40)
        ]
        ids = list(Project.objects.order_by("id").values_list("id", flat=True))
        with connection.cursor() as cursor:
            # Sectors and types follow the scope; crediting periods and Article 6 statuses vary.
            for k, (sector, ptype) in enumerate(SECTORS):
                cursor.execute(
                    "UPDATE projects_project SET sectors = %s::jsonb, types = %s::jsonb WHERE sectoral_scope %% %s = %s",
                    [f'["{sector}"]', f'["{ptype}"]', len(SECTORS), k],
                )
            cursor.execute(
                "UPDATE projects_project SET crediting_period_start = DATE '2015-01-01' + (id %% 3000)::int, "
                "crediting_period_end = DATE '2015-01-01' + (id %% 3000)::int + 3650 WHERE id %% 5 <> 0",
                [],
            )
            for k, status in enumerate(ARTICLE6):
                cursor.execute("UPDATE projects_project SET article6_status = %s WHERE id %% %s = %s",
                               [status, len(ARTICLE6), k])
        rows_loc, rows_meth, rows_cob, rows_lab = [], [], [], []
        for pid in ids:
            for _ in range(1 if rng.random() < 0.9 else 2):
                lat, lon = 4.5 + rng.random() * 6, -8.5 + rng.random() * 6
                rows_loc.append((pid, uuid.UUID(int=rng.getrandbits(128), version=4), "Cote d'Ivoire",
                                 rng.choice(REGIONS), f"{lat:.4f},{lon:.4f}", now, now))
            rows_meth.append((pid, uuid.UUID(int=rng.getrandbits(128), version=4), rng.choice(methodologies).pk,
                              now, now))
            for cob in rng.sample(CO_BENEFITS, rng.randint(0, 3)):
                rows_cob.append((pid, uuid.UUID(int=rng.getrandbits(128), version=4), cob, now, now))
            if rng.random() < 0.2:
                rows_lab.append((pid, uuid.UUID(int=rng.getrandbits(128), version=4), rng.choice(LABELS),
                                 "Certification", now, now))
        cols = ["project_id", "uid"]
        for model, extra, rows in (
            (Location, ["country", "region", "gis"], rows_loc),
            (ProjectMethodology, ["methodology_id"], rows_meth),
            (CoBenefit, ["co_benefit"], rows_cob),
            (Label, ["name", "type"], rows_lab),
        ):
            start = next_id(model)
            Copier(model, ["id", *cols, *extra, "created_at", "updated_at"]).copy(
                (start + i, *r) for i, r in enumerate(rows)
            )
            reset_sequence(model)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "locations": len(rows_loc),
        "methodologies": len(rows_meth),
        "co_benefits": len(rows_cob),
        "labels": len(rows_lab),
        "seconds": round(time.perf_counter() - t, 1),
    }


def search_params(rng: random.Random) -> dict[str, Any]:
    """A reader's search: words, facets, a sort order, sometimes a later page."""
    from bench_lookup import WORDS

    params: dict[str, Any] = {}
    r = rng.random()
    if r < 0.5:
        params["q"] = rng.choice(WORDS)
    elif r < 0.6:
        params["q"] = f"{rng.choice(WORDS)} {rng.choice(WORDS)}"
    if rng.random() < 0.3:
        params["region"] = rng.choice(REGIONS)
    if rng.random() < 0.2:
        params["sector"] = rng.choice(SECTORS)[0]
    if rng.random() < 0.2:
        params["status"] = "registered"
    if rng.random() < 0.15:
        params["article6"] = "authorised"
    if rng.random() < 0.1:
        params["vintage"] = str(rng.randint(2001, 2024))
    if rng.random() < 0.1:
        params["cobenefit"] = rng.choice(CO_BENEFITS)
    if rng.random() < 0.1:
        params["methodology"] = f"BM-{rng.randint(0, 39):03d}"
    if rng.random() < 0.05:
        params["crediting"] = "current"
    if rng.random() < 0.3:
        params["sort"] = rng.choice(["name", "-number", "-updated", "crediting"])
    if rng.random() < 0.2:
        params["page"] = rng.randint(2, 5)
    return params


def timed(fn: Any, args_list: list, warmup: int = 5) -> dict:
    for a in args_list[:warmup]:
        fn(a)
    samples = []
    for a in args_list:
        t = time.perf_counter()
        fn(a)
        samples.append(time.perf_counter() - t)
    samples.sort()
    return {
        "n": len(samples),
        "p50_ms": common.percentile(samples, 50) * 1000,
        "p95_ms": common.percentile(samples, 95) * 1000,
        "max_ms": samples[-1] * 1000,
    }


def measure(samples: int) -> dict:
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client

    client = Client()
    statuses: dict[str, set[int]] = {}

    def get(name: str, path: str, params: dict | None = None) -> None:
        response = client.get(path, params or {})
        statuses.setdefault(name, set()).add(response.status_code)

    rng = random.Random(23)
    out: dict = {}
    out["baseline"] = timed(lambda _: get("baseline", "/ledger/verifier-key.txt"), list(range(samples)))
    out["baseline"]["path"] = "GET /ledger/verifier-key.txt (portal page, no query but the session-less stack)"
    params = [search_params(rng) for _ in range(samples)]

    from tonne.portal import summary
    from tonne.projects.models import Project

    project_ids = list(Project.objects.values_list("id", flat=True))
    refresh_samples: list[float] = []

    def registry_change() -> None:
        """Outside the timed request: one project changed, the cache emptied."""
        t = time.perf_counter()
        summary.refresh([rng.choice(project_ids)])
        refresh_samples.append(time.perf_counter() - t)
        cache.clear()

    def timed_cold(name: str, path: str, args_list: list, warmup: int = 5) -> dict:
        for a in args_list[:warmup]:
            get(name, path, a)
        samples_ = []
        for a in args_list:
            registry_change()
            t = time.perf_counter()
            get(name, path, a)
            samples_.append(time.perf_counter() - t)
        samples_.sort()
        return {"n": len(samples_), "p50_ms": common.percentile(samples_, 50) * 1000,
                "p95_ms": common.percentile(samples_, 95) * 1000, "max_ms": samples_[-1] * 1000}

    out["search_cold"] = timed_cold("search", "/projects/", params)
    out["search_cold"]["path"] = "GET /projects/?... right after a project change, cache emptied"
    cache.clear()
    out["search_served"] = timed(lambda p: get("search", "/projects/", p), params + params)
    out["search_served"]["path"] = "the same requests twice over, no change in between"
    out["search_unfiltered_cold"] = timed_cold("search", "/projects/", [{}] * max(20, samples // 10), warmup=2)
    out["search_unfiltered_cold"]["path"] = "GET /projects/ (all 100,000 projects, every facet) after a change"
    out["dashboard_cold"] = timed_cold("dashboard", "/dashboard/", [{}] * max(20, samples // 5), warmup=2)
    out["dashboard_cold"]["path"] = "GET /dashboard/ right after a project change, cache emptied"
    refresh_samples.sort()
    out["refresh"] = {"n": len(refresh_samples), "p50_ms": common.percentile(refresh_samples, 50) * 1000,
                      "p95_ms": common.percentile(refresh_samples, 95) * 1000, "max_ms": refresh_samples[-1] * 1000,
                      "path": "tonne.portal.summary.refresh of one project (its row, bitmaps and figures)"}
    cache.clear()
    out["dashboard_served"] = timed(lambda _: get("dashboard", "/dashboard/"), list(range(samples)))
    out["dashboard_served"]["path"] = "GET /dashboard/ as served (aggregates cached by ledger size)"
    out["statuses"] = {k: sorted(v) for k, v in statuses.items()}
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN SELECT project_id FROM portal_projectsummary WHERE public AND text LIKE %s", ["%cocoa%"]
        )
        out["plan_search_word"] = "\n".join(r[0] for r in cursor.fetchall())
    return out


def report(r: dict, rep: Any) -> None:
    """Print the figures into benchmarks/run.py's report."""
    from run import fmt_ms

    rep.add("### 5. Public portal: project search and transparency dashboard (server time)")
    if "error" in r:
        rep.verdict("portal", None, r["error"])
        return
    d = r["data"]
    rep.add(f"  data: {d['projects']:,} projects, {d['issuances']:,} issuances, {d['unit_blocks']:,} unit blocks; "
            f"{r['children']['locations']:,} locations, {r['children']['co_benefits']:,} co-benefits, "
            f"{r['children']['labels']:,} labels, {r['children']['methodologies']:,} project methodologies")
    m = r["measure"]
    base = m["baseline"]
    rep.add(f"  baseline  {base['path']}: p50 {fmt_ms(base['p50_ms'])}, p95 {fmt_ms(base['p95_ms'])}")
    if "summary_rebuild_s" in r:
        rep.add(f"  search summary rebuilt after the bulk load in {r['summary_rebuild_s']:.1f} s")
    for key in ("search_cold", "search_served", "search_unfiltered_cold", "dashboard_cold", "dashboard_served",
                "refresh"):
        x = m[key]
        rep.add(f"  {key:<22} p50 {fmt_ms(x['p50_ms'])}, p95 {fmt_ms(x['p95_ms'])} "
                f"= {x['p95_ms'] / base['p95_ms']:.1f} x baseline p95, {x['n']} samples  [{x['path']}]")
    rep.add(f"  HTTP statuses: {m['statuses']}")
    worst = max(m["search_cold"]["p95_ms"], m["dashboard_cold"]["p95_ms"])
    rep.verdict("portal", worst <= TARGET_MS,
                f"search p95 {m['search_cold']['p95_ms']:.0f} ms, dashboard p95 {m['dashboard_cold']['p95_ms']:.0f} ms, "
                f"both uncached (need <= {TARGET_MS:.0f} ms); served: search {m['search_served']['p95_ms']:.0f} ms, "
                f"dashboard {m['dashboard_served']['p95_ms']:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--blocks", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--out", required=True)
    parser.add_argument("--reuse", action="store_true", help="measure the data already in the database")
    args = parser.parse_args()
    common.django_setup()
    from bench_lookup import generate
    from django.core.cache import cache

    from tonne.projects.models import CoBenefit, Label, Location, Project, ProjectMethodology
    from tonne.units.models import Issuance, UnitBlock

    out: dict = {}
    if not (args.reuse and Project.objects.count() >= args.projects):
        print(f"  bulk-generating {args.projects:,} projects and {args.blocks:,} unit blocks (COPY) ...", flush=True)
        generate(args.projects, args.blocks)
    if not (args.reuse and Location.objects.exists()):
        print("  adding locations, methodologies, co-benefits and labels ...", flush=True)
        enrich(args.projects)
    out["data"] = {"projects": Project.objects.count(), "issuances": Issuance.objects.count(),
                   "unit_blocks": UnitBlock.objects.count()}
    out["children"] = {"locations": Location.objects.count(), "co_benefits": CoBenefit.objects.count(),
                       "labels": Label.objects.count(), "methodologies": ProjectMethodology.objects.count()}
    from django.db import connection

    from tonne.portal import summary

    print("  rebuilding the portal's search summary ...", flush=True)
    t = time.perf_counter()
    summary.rebuild()
    out["summary_rebuild_s"] = time.perf_counter() - t
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    cache.clear()
    print(f"  measuring ({args.samples} samples each) ...", flush=True)
    out["measure"] = measure(args.samples)
    for k, v in out["measure"].items():
        if isinstance(v, dict) and "p95_ms" in v:
            print(f"    {k}: p50 {v['p50_ms']:.1f} ms, p95 {v['p95_ms']:.1f} ms", flush=True)
    common.write_json(args.out, out)


if __name__ == "__main__":
    main()
