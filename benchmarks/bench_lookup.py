"""Benchmark 3: public serial lookup and project search latency (p50, p95)
with 1,000,000 unit blocks and 100,000 projects, against a primary-key fetch
of one row from the same tables.

The rows are bulk-generated with COPY (organisations, accounts, projects,
monitoring reports, issuances, unit blocks, and a history of one issuance
transaction per issuance plus one transfer per block); they are NOT in the
ledger, which this benchmark does not read.

Run by benchmarks/run.py in its own process, DATABASE_URL pointing at a
freshly migrated ``tonne_bench_lookup`` database."""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

WORDS = (
    "mangrove cookstove solar wind biogas landfill forest savanna cocoa cashew rice methane "
    "efficient lighting water filter hydro geothermal rangeland peatland agroforestry compost"
).split()
OTHER_PARTIES = ["GH", "SN", "KE", "BF", "ML"]
STATUSES = ["registered"] * 8 + ["validated", "completed", "on_hold", "submitted"]


def generate(n_projects: int, n_blocks: int, seed: int = 7) -> dict:  # noqa: C901
    from bulk import Copier, bulk_load, next_id, reset_sequence
    from django.conf import settings
    from django.db import connection, transaction

    from tonne import testing
    from tonne.mrv.models import MonitoringReport
    from tonne.organisations import domain as org_domain
    from tonne.organisations.models import Account, Organisation
    from tonne.projects.models import Project
    from tonne.units.models import Issuance, SerialCounter, Transaction, TransactionBlock, UnitBlock

    rng = random.Random(seed)
    country = settings.TONNE_COUNTRY
    timings = {}
    t_all = time.perf_counter()
    reg = testing.build_registry("lk")
    now = dt.datetime.now(dt.UTC)
    t0 = now - dt.timedelta(days=3 * 365)
    n_orgs, n_accounts = 200, 1000
    blocks_per_issuance = 20
    n_issuances = max(1, n_blocks // blocks_per_issuance)

    with transaction.atomic():
        t = time.perf_counter()
        orgs = [
            Organisation(
                uid=uuid.UUID(int=rng.getrandbits(128), version=4), name=f"Lookup organisation {i:04d}",
                kind=Organisation.Kind.DEVELOPER, status=Organisation.Status.APPROVED, country=country,
                created_at=t0, status_changed_at=t0,
            )
            for i in range(n_orgs)
        ]
        Organisation.objects.bulk_create(orgs)
        number = (Account.objects.order_by("-number").values_list("number", flat=True).first() or 1000000) + 1
        accounts = [
            Account(
                identifier=org_domain.make_account_identifier(country, "holding", number + i), number=number + i,
                type="holding", name=f"Lookup account {i}", organisation=orgs[i % n_orgs], created_at=t0,
            )
            for i in range(n_accounts)
        ]
        Account.objects.bulk_create(accounts)
        account_ids = [a.pk for a in accounts]
        retirement_id = Account.objects.get(type="retirement").pk
        org_ids = [o.pk for o in orgs]

        # projects
        pid0 = next_id(Project)
        pnum0 = (Project.objects.order_by("-number").values_list("number", flat=True).first() or 0) + 1
        projects = Copier(
            Project,
            ["id", "number", "uid", "project_id", "developer_id", "status", "status_changed_at", "name",
             "description", "host_party", "sectoral_scope", "created_at", "updated_at"],
            registry_name=settings.TONNE_REGISTRY_NAME, sectors=["Energy demand"], types=["Cookstoves"],
            unit_class="VER",
        )
        project_rows = []

        def project_iter():
            for i in range(n_projects):
                n = pnum0 + i
                w1, w2, w3 = rng.choice(WORDS), rng.choice(WORDS), rng.choice(WORDS)
                at = t0 + dt.timedelta(seconds=i * 60)
                party = country if rng.random() < 0.8 else rng.choice(OTHER_PARTIES)
                scope = rng.randint(1, 15)
                project_rows.append((pid0 + i, n, party, scope))
                yield (
                    pid0 + i, n, uuid.UUID(int=rng.getrandbits(128), version=4), f"{country}-{n:04d}",
                    org_ids[i % n_orgs], rng.choice(STATUSES), at, f"{w1.capitalize()} {w2} project {n}",
                    f"A {w3} and {w1} activity in {party}, scope {scope}.", party, scope, at, at,
                )

        projects.copy(project_iter())
        reset_sequence(Project)
        timings["projects"] = time.perf_counter() - t

        # reports and issuances (one each per issuance), contiguous serials
        t = time.perf_counter()
        rid0, iid0 = next_id(MonitoringReport), next_id(Issuance)
        reports = Copier(
            MonitoringReport,
            ["id", "uid", "project_id", "number", "period_start", "period_end", "vvb_id", "submitted_by_id",
             "submitted_at"],
            status="issued",
        )
        issuance_projects = [project_rows[i % len(project_rows)] for i in range(n_issuances)]
        per_project: dict[int, int] = {}
        report_numbers = []
        for prow in issuance_projects:
            k = per_project[prow[0]] = per_project.get(prow[0], 0) + 1
            report_numbers.append(k)
        reports.copy(
            (rid0 + i, uuid.UUID(int=rng.getrandbits(128), version=4), issuance_projects[i][0], report_numbers[i],
             dt.date(2000 + report_numbers[i] % 25, 1, 1), dt.date(2000 + report_numbers[i] % 25, 12, 31),
             reg.vvb_org.pk, reg.developer.pk, t0)
            for i in range(n_issuances)
        )
        serial = SerialCounter.objects.get(pk=1).next_serial
        issuances = Copier(
            Issuance,
            ["id", "uid", "project_id", "report_id", "number", "vintage", "quantity", "serial_start", "serial_end",
             "approved_by_id", "issued_at"],
            unit_class="VER", buffer_quantity=0,
        )
        issuance_info = []  # (id, project_id, vintage, start, end, issued_at)

        def issuance_iter():
            nonlocal serial
            for i in range(n_issuances):
                qty = rng.randint(blocks_per_issuance * 50, blocks_per_issuance * 5000)
                vintage = 2000 + report_numbers[i] % 25
                at = t0 + dt.timedelta(seconds=i * 600)
                issuance_info.append((iid0 + i, issuance_projects[i][0], vintage, serial, serial + qty - 1, at))
                yield (iid0 + i, uuid.UUID(int=rng.getrandbits(128), version=4), issuance_projects[i][0], rid0 + i,
                       report_numbers[i], vintage, qty, serial, serial + qty - 1, reg.admin.pk, at)
                serial += qty

        issuances.copy(issuance_iter())
        SerialCounter.objects.filter(pk=1).update(next_serial=serial)
        reset_sequence(MonitoringReport)
        reset_sequence(Issuance)
        timings["issuances"] = time.perf_counter() - t

        # blocks, and their history: an issuance transaction per issuance and
        # one transfer (or retirement) per block but the first
        t = time.perf_counter()
        bid0, tid0, tbid0 = next_id(UnitBlock), next_id(Transaction), next_id(TransactionBlock)
        block_rows, tx_rows, txb_rows = [], [], []
        tid, tbid = tid0, tbid0
        for iid, project_id, vintage, start, end, at in issuance_info:
            qty = end - start + 1
            cuts = sorted(rng.sample(range(start + 1, end + 1), blocks_per_issuance - 1))
            bounds = [start, *cuts, end + 1]
            holder = account_ids[project_id % n_accounts]
            tx_rows.append((tid, f"TX-{at:%Y%m%d}-{tid:010X}", "issuance", None, holder, qty, iid, project_id, at, at,
                            tid - tid0, reg.admin.pk))
            txb_rows.append((tbid, tid, iid, start, end))
            tid += 1
            tbid += 1
            for j in range(blocks_per_issuance):
                bs, be = bounds[j], bounds[j + 1] - 1
                if j == 0:
                    account, acquired = holder, at
                else:
                    retire = rng.random() < 0.15
                    account = retirement_id if retire else account_ids[rng.randrange(n_accounts)]
                    acquired = at + dt.timedelta(days=rng.randint(1, 300))
                    tx_rows.append((tid, f"TX-{acquired:%Y%m%d}-{tid:010X}", "retirement" if retire else "transfer",
                                    holder, account, be - bs + 1, None, project_id, acquired, acquired, tid - tid0,
                                    reg.developer.pk))
                    txb_rows.append((tbid, tid, iid, bs, be))
                    tid += 1
                    tbid += 1
                block_rows.append((bid0 + len(block_rows), iid, project_id, vintage, bs, be, account, acquired))
        with bulk_load(UnitBlock._meta.db_table, Transaction._meta.db_table, TransactionBlock._meta.db_table):
            UnitBlock_copier = Copier(
                UnitBlock,
                ["id", "issuance_id", "project_id", "vintage", "serial_start", "serial_end", "account_id", "acquired_at"],
                unit_class="VER",
            )
            UnitBlock_copier.copy(block_rows)
            Copier(
                Transaction,
                ["id", "identifier", "kind", "from_account_id", "to_account_id", "quantity", "issuance_id", "project_id",
                 "created_at", "completed_at", "ledger_seq", "initiated_by_id"],
                status="completed",
            ).copy(tx_rows)
            Copier(TransactionBlock, ["id", "transaction_id", "issuance_id", "serial_start", "serial_end"]).copy(txb_rows)
        for model in (UnitBlock, Transaction, TransactionBlock):
            reset_sequence(model)
        timings["blocks_and_history"] = time.perf_counter() - t
    t = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    timings["analyze"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t_all
    return {
        "projects": Project.objects.count(),
        "unit_blocks": UnitBlock.objects.count(),
        "issuances": Issuance.objects.count(),
        "transactions": Transaction.objects.count(),
        "transaction_blocks": TransactionBlock.objects.count(),
        "serial_range": [issuance_info[0][3], issuance_info[-1][4]],
        "seconds": {k: round(v, 1) for k, v in timings.items()},
        "note": "rows bulk-generated with COPY; they are not in the ledger (this benchmark does not read it)",
    }


# -- measuring ------------------------------------------------------------------------------


TIME_BUDGET = 40.0  # seconds per measurement: a slow path stops early (at least MIN_SAMPLES)
MIN_SAMPLES = 100


def timed(fn, args_list: list, warmup: int = 20) -> dict:  # noqa: ANN001
    for a in args_list[:warmup]:
        fn(a)
    samples = []
    started = time.perf_counter()
    for a in args_list:
        t = time.perf_counter()
        fn(a)
        samples.append(time.perf_counter() - t)
        if len(samples) >= MIN_SAMPLES and t - started > TIME_BUDGET:
            break
    samples.sort()
    return {
        "n": len(samples),
        "p50_ms": common.percentile(samples, 50) * 1000,
        "p95_ms": common.percentile(samples, 95) * 1000,
        "max_ms": samples[-1] * 1000,
    }


def search_params(rng: random.Random) -> dict:
    params: dict = {}
    r = rng.random()
    if r < 0.7:
        params["q"] = rng.choice(WORDS)
    elif r < 0.85:
        params["q"] = f"{rng.choice(WORDS)} {rng.choice(WORDS)}"
    if rng.random() < 0.5:
        params["status"] = "registered"
    if rng.random() < 0.3:
        params["host_party"] = rng.choice(["CI", *OTHER_PARTIES])
    if rng.random() < 0.3:
        params["sectoral_scope"] = rng.randint(1, 15)
    if rng.random() < 0.2:
        params["offset"] = 20 * rng.randint(1, 5)
    return params


def project_search_function():
    """The public path: tonne.projects.api.list_projects called with an
    anonymous request (the view's own queryset, filters, count and page), or,
    if that is not importable, the same query written with the ORM."""
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    try:
        from tonne.projects.api import ProjectQuery, list_projects

        factory = RequestFactory()

        def search(params: dict) -> int:
            request = factory.get("/api/v1/projects", params)
            request.user = AnonymousUser()
            page = list_projects(request, ProjectQuery(limit=20, **params))
            return page["count"]

        return search, "tonne.projects.api.list_projects (view function, anonymous request)"
    except ImportError:
        from django.db.models import Q

        from tonne.projects.models import Project

        def search(params: dict) -> int:
            qs = Project.objects.select_related("developer", "vvb").exclude(status="draft")
            for k in ("status", "host_party", "sectoral_scope"):
                if k in params:
                    qs = qs.filter(**{k: params[k]})
            for word in params.get("q", "").split():
                qs = qs.filter(Q(name__icontains=word) | Q(description__icontains=word) | Q(project_id__icontains=word))
            qs = qs.order_by("number")
            count = qs.count()
            off = params.get("offset", 0)
            list(qs[off : off + 20])
            return count

        return search, "ORM query equivalent to GET /api/v1/projects (projects api not importable)"


def lookup_function():
    try:
        from tonne.units.selectors import lookup_serials

        def lookup(n: int) -> int:
            return len(lookup_serials(None, str(n), require_match=True)["blocks"])

        return lookup, "tonne.units.selectors.lookup_serials (block + history)"
    except ImportError:
        from tonne.units.models import TransactionBlock, UnitBlock

        def lookup(n: int) -> int:
            block = UnitBlock.objects.filter(serial_start__lte=n).order_by("-serial_start").first()
            if block is None or block.serial_end < n:
                return 0
            list(TransactionBlock.objects.filter(issuance_id=block.issuance_id, serial_start__lte=block.serial_end,
                                                 serial_end__gte=block.serial_start).select_related("transaction"))
            return 1

        return lookup, "ORM: block containing n + its history (selectors not importable)"


def explain(sql: str, params: list) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS OFF, TIMING OFF) " + sql, params)
        return "\n".join(r[0] for r in cursor.fetchall())


def measure_direct(n: int, serial_range: list[int]) -> dict:
    from django.db import connection

    from tonne.projects.models import Project
    from tonne.units.models import TransactionBlock, UnitBlock

    rng = random.Random(11)
    out: dict = {}
    max_block = UnitBlock.objects.order_by("-id").values_list("id", flat=True).first()
    max_project = Project.objects.order_by("-id").values_list("id", flat=True).first()
    block_ids = [rng.randint(1, max_block) for _ in range(n)]
    project_ids = [rng.randint(1, max_project) for _ in range(n)]
    serials = [rng.randint(serial_range[0], serial_range[1]) for _ in range(n)]

    with connection.cursor() as cursor:
        raw = cursor.cursor

        def pk_block(i: int) -> None:
            raw.execute("SELECT * FROM units_unitblock WHERE id = %s", (i,))
            raw.fetchall()

        def pk_project(i: int) -> None:
            raw.execute("SELECT * FROM projects_project WHERE id = %s", (i,))
            raw.fetchall()

        out["baseline_pk_block"] = timed(pk_block, block_ids)
        out["baseline_pk_project"] = timed(pk_project, project_ids)

    lookup, how = lookup_function()
    out["lookup"] = timed(lookup, serials)
    out["lookup"]["path"] = how

    def containing_block(s: int) -> None:
        block = UnitBlock.objects.filter(serial_start__lte=s).order_by("-serial_start").first()
        assert block is not None and block.serial_end >= s
        list(TransactionBlock.objects.filter(issuance_id=block.issuance_id, serial_start__lte=block.serial_end,
                                             serial_end__gte=block.serial_start).select_related("transaction"))

    out["lookup_containing_block_query"] = timed(containing_block, serials)
    out["lookup_containing_block_query"]["path"] = (
        "ORM: filter(serial_start__lte=n).order_by('-serial_start').first() + history query"
    )

    search, how = project_search_function()
    params = [search_params(rng) for _ in range(max(200, n // 5))]
    out["search"] = timed(search, params, warmup=10)
    out["search"]["path"] = how

    s = serials[len(serials) // 2]
    out["plans"] = {
        "lookup_selector_query": explain(
            "SELECT * FROM units_unitblock WHERE serial_start <= %s AND serial_end >= %s ORDER BY serial_start LIMIT 201",
            [s, s],
        ),
        "search_word_count": explain(
            "SELECT COUNT(*) FROM projects_project WHERE status <> 'draft' AND (UPPER(name::text) LIKE UPPER(%s) "
            "OR UPPER(description) LIKE UPPER(%s) OR UPPER(project_id::text) LIKE UPPER(%s))",
            ["%cocoa%"] * 3,
        ),
    }
    return out


# -- over HTTP -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure_http(n: int, serial_range: list[int]) -> dict:
    from tonne.units.models import UnitBlock

    rng = random.Random(13)
    max_block = UnitBlock.objects.order_by("-id").values_list("id", flat=True).first()
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tonne.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=common.ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while True:
            if proc.poll() is not None:
                return {"skipped": f"tonne serve exited with status {proc.returncode}"}
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.time() > deadline:
                    return {"skipped": "tonne serve did not start"}
                time.sleep(0.2)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        statuses: dict[str, dict[int, int]] = {}

        def get(name: str, path: str) -> None:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            statuses.setdefault(name, {}).setdefault(response.status, 0)
            statuses[name][response.status] += 1

        out: dict = {}
        probe = [("block by id (baseline)", "/api/v1/blocks/1"), ("serial", f"/api/v1/serials/{serial_range[0]}"),
                 ("projects", "/api/v1/projects?limit=20")]
        for name, path in probe:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                out.setdefault("probe_failures", {})[name] = f"{response.status}: {body[:200].decode(errors='replace')}"
        if out.get("probe_failures"):
            out["skipped"] = f"endpoints not available: {out['probe_failures']}"
            return out
        out["baseline_block_by_id"] = timed(lambda i: get("block", f"/api/v1/blocks/{i}"),
                                            [rng.randint(1, max_block) for _ in range(n)])
        out["lookup"] = timed(lambda s: get("serial", f"/api/v1/serials/{s}"),
                              [rng.randint(serial_range[0], serial_range[1]) for _ in range(n)])
        params = [search_params(rng) for _ in range(max(200, n // 5))]
        out["search"] = timed(lambda p: get("search", "/api/v1/projects?" + urlencode({"limit": 20, **p})), params,
                              warmup=10)
        out["statuses"] = {k: {str(c): v for c, v in d.items()} for k, d in statuses.items()}
        conn.close()
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--blocks", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    common.django_setup()
    print(f"  bulk-generating {args.projects:,} projects and {args.blocks:,} unit blocks (COPY; not in the ledger) ...",
          flush=True)
    out: dict = {"data": generate(args.projects, args.blocks)}
    d = out["data"]
    print(f"    {d['projects']:,} projects, {d['unit_blocks']:,} blocks, {d['transactions']:,} transactions "
          f"in {d['seconds']['total']:.0f} s", flush=True)
    print(f"  measuring in-process ({args.samples} samples each) ...", flush=True)
    out["direct"] = measure_direct(args.samples, d["serial_range"])
    for k in ("baseline_pk_block", "lookup", "lookup_containing_block_query", "search"):
        r = out["direct"][k]
        print(f"    {k}: p50 {r['p50_ms']:.2f} ms, p95 {r['p95_ms']:.2f} ms", flush=True)
    print("  measuring over HTTP ...", flush=True)
    try:
        out["http"] = measure_http(max(100, args.samples // 2), d["serial_range"])
    except Exception as exc:  # noqa: BLE001
        out["http"] = {"skipped": f"{type(exc).__name__}: {exc}"}
    if "skipped" in out["http"]:
        print(f"    skipped: {out['http']['skipped']}", flush=True)
    else:
        for k in ("baseline_block_by_id", "lookup", "search"):
            r = out["http"][k]
            print(f"    {k}: p50 {r['p50_ms']:.2f} ms, p95 {r['p95_ms']:.2f} ms", flush=True)
    common.write_json(args.out, out)


if __name__ == "__main__":
    main()
