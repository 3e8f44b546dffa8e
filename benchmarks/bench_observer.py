"""Benchmark 6: the observer's import of a registry export and its double-counting search.

Data: a Verra VCU export (the public export's columns, serials in Verra's
grammar, thousands separators, retired and held blocks, a few overlapping
ranges) and Verra and Gold Standard project lists (some projects in both
registries under near-identical names), generated from the samples' shapes
into CSV files.

Figures, each against a baseline in the same run:
  * import rows/s through tonne.observer.services.import_file (reading,
    mapping, hashing, writing) against COPY of the same CSV into a plain table
    of text columns (PostgreSQL's fastest load of the same rows);
  * re-import of the same file (nothing changes: every row's hash compared);
  * peak memory (max RSS of the process) after the first import and after
    the re-import: flat means the import streams;
  * the search for serial overlaps and duplicate projects over everything imported.

Run by benchmarks/run.py (`--only observer`), DATABASE_URL pointing at a
freshly migrated database; or alone:

    python benchmarks/bench_observer.py --database tonne_bench_observer_own --sqlite-rows 200000 --out /tmp/o.json

or, DATABASE_URL naming a migrated database:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tonne_bench_observer \\
        python benchmarks/bench_observer.py --rows 50000 --projects 3000 --out /tmp/observer.json
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import itertools
import os
import random
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

TARGET = "observer import >= 10,000 rows/s (2,000,000 rows), < 500 MB flat on re-import; search <= 60 s"
VCU_HEADER = ["Issuance Date", "Sustainable Development Goals", "Vintage Start", "Vintage End", "ID", "Name",
              "Country/Area", "Project Type", "Methodology", "Total Vintage Quantity", "Quantity Issued",
              "Serial Number", "Additional Certifications", "Retirement/Cancellation Date", "Retirement Beneficiary",
              "Retirement Reason", "Retirement Details"]
COUNTRIES = ["India", "China", "Brazil", "Indonesia", "Kenya", "Peru", "Colombia", "Turkey", "Viet Nam", "Uganda",
             "Mexico", "Cambodia", "Zambia", "Ethiopia", "Chile", "Thailand", "Bangladesh", "Ghana", "Rwanda", "Nigeria"]
WORDS = ["Wind", "Solar", "Hydro", "Biogas", "Cookstove", "REDD+", "Mangrove", "Landfill", "Methane", "Forest", "Power",
         "Grouped", "Efficient", "Rural", "Water", "Filter", "Community", "Bundled", "Restoration", "Energy", "Farm",
         "Valley", "River", "Highlands", "Coastal", "Savanna", "Delta", "Plateau", "Lake", "Mountain"]
TYPES = [("Energy industries (renewable/non-renewable sources)", "ACM0002"), ("Agriculture Forestry and Other Land Use",
         "VM0015"), ("Waste handling and disposal", "AMS-III.H."), ("Energy demand", "VMR0006")]


def _name(rng: random.Random, n: int) -> str:
    return f"{' '.join(rng.sample(WORDS, 3))} Project {n}"


def generate(rows: int, projects: int, folder: Path, seed: int = 7) -> dict[str, Path]:
    rng = random.Random(seed)
    vcus = folder / "verra-vcus.csv"
    serial = 100_000_000
    with vcus.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(VCU_HEADER)
        for i in range(rows):
            pid = rng.randrange(1, projects + 1)
            qty = rng.randrange(1, 5000)
            start = serial
            if i % 1000 == 999:
                start -= rng.randrange(1, 50)  # a few ranges overlapping the one before: double counting to find
            end = start + qty - 1
            serial = end + 1
            vintage = rng.randrange(2010, 2025)
            country = COUNTRIES[pid % len(COUNTRIES)]
            kind, method = TYPES[pid % len(TYPES)]
            retired = rng.random() < 0.6
            text = (f"{10000 + i // 50}-{start}-{end}-VCS-VCU-{rng.randrange(100, 2000)}-VER-XX-1-{pid}-"
                    f"0101{vintage}-3112{vintage}-0")
            issued = dt.date(vintage + 1, 1 + i % 12, 1 + i % 28)
            out.writerow([issued.isoformat(), "", f"{vintage}-01-01", f"{vintage}-12-31", pid, _name(rng, pid), country,
                          kind, method, f"{qty * 10:,}", f"{qty:,}", text, "",
                          (issued + dt.timedelta(days=90)).isoformat() if retired else "",
                          f"Buyer {i % 997}" if retired else "", "Environmental Benefit" if retired else "", ""])
    verra = folder / "verra-projects.csv"
    gs = folder / "gs-projects.csv"
    with verra.open("w", newline="", encoding="utf-8") as fv, gs.open("w", newline="", encoding="utf-8") as fg:
        v, g = csv.writer(fv), csv.writer(fg)
        v.writerow(["ID", "Name", "Proponent", "Project Type", "Methodology", "Status", "Country/Area"])
        g.writerow(["GSID", "Project Name", "Project Developer Name", "Status", "Project Type", "Country", "Methodology"])
        half = projects // 2
        for n in range(1, half + 1):
            country = COUNTRIES[n % len(COUNTRIES)]
            kind, method = TYPES[n % len(TYPES)]
            name = _name(random.Random(n), n)
            v.writerow([n, name, f"Developer {n % 400}", kind, method, "Registered", country])
            # One in fifty also registered at Gold Standard, under a slightly different name.
            gs_name = name.replace("Project", "Programme") if n % 50 == 0 else _name(random.Random(-n), n + 10**6)
            g.writerow([n + 5000, gs_name, f"Developer {n % 400}", "Registered", kind, country, method])
    return {"vcus": vcus, "verra": verra, "gs": gs}


def copy_baseline(path: Path) -> float:
    """The same CSV loaded the plainest way into a table of text columns: rows/s
    (PostgreSQL: COPY; SQLite: executemany in batches of 10,000, one transaction)."""
    from django.db import connection, transaction

    columns = ", ".join(f"c{i} text" for i in range(len(VCU_HEADER)))
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_observer_copy")
        cursor.execute(f"CREATE TABLE bench_observer_copy ({columns})")
        t = time.perf_counter()
        if connection.vendor == "postgresql":
            with path.open("rb") as f, cursor.cursor.copy(
                    "COPY bench_observer_copy FROM STDIN (FORMAT csv, HEADER true)") as cp:
                while chunk := f.read(1 << 20):
                    cp.write(chunk)
        else:
            marks = ", ".join("%s" for _ in VCU_HEADER)
            with path.open(newline="", encoding="utf-8") as f, transaction.atomic():
                rows = csv.reader(f)
                next(rows)
                while batch := list(itertools.islice(rows, 10_000)):
                    cursor.executemany(f"INSERT INTO bench_observer_copy VALUES ({marks})", batch)  # noqa: S608
        elapsed = time.perf_counter() - t
        cursor.execute("SELECT count(*) FROM bench_observer_copy")
        n = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_observer_copy")
    return n / elapsed


def backend_cpu() -> float:
    """CPU seconds the database server's process for this connection has used (PostgreSQL on this machine)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(args: argparse.Namespace) -> None:
    """The figures, in this process, on the database DATABASE_URL names (migrated)."""
    common.django_setup()
    from django.db import connection

    from tonne.observer import services
    from tonne.observer.models import ObservedUnits
    from tonne.organisations import services as orgs

    out: dict = {"rows": args.rows, "projects": args.projects, "engine": connection.vendor}
    root = orgs.create_user(actor=None, organisation=None, username="bench-observer", email="b@example.org",
                            password=secrets.token_urlsafe(16), is_root=True)
    with tempfile.TemporaryDirectory(prefix="tonne-observer-bench-") as tmp:
        print(f"  [{connection.vendor}] generating {args.rows:,} VCU rows and {args.projects:,} projects ...",
              flush=True)
        files = generate(args.rows, args.projects, Path(tmp))
        out["file_mb"] = files["vcus"].stat().st_size / 1e6
        out["copy_rows_per_s"] = copy_baseline(files["vcus"])
        out["rss_before_mb"] = rss_mb()
        for label in ("import", "reimport"):
            print(f"  {label} ...", flush=True)
            t, cpu, server = time.perf_counter(), time.process_time(), backend_cpu()
            with files["vcus"].open("rb") as stream:
                report = services.import_file(actor=root, stream=stream, filename="verra-vcus.csv", registry="verra")
            elapsed, cpu, server = time.perf_counter() - t, time.process_time() - cpu, backend_cpu() - server
            out[label] = {"seconds": elapsed, "rows_per_s": report.rows_read / elapsed, "rows": report.rows_read,
                          "cpu_us_per_row": cpu / report.rows_read * 1e6,
                          "server_cpu_us_per_row": server / report.rows_read * 1e6,
                          "created": report.created, "unchanged": report.unchanged, "skipped": report.skipped,
                          "rss_mb": rss_mb()}
            print(f"    {report.rows_read:,} rows in {elapsed:.1f} s = {report.rows_read / elapsed:,.0f} rows/s "
                  f"({out[label]['cpu_us_per_row']:.0f} us of this process's CPU per row), "
                  f"max RSS {rss_mb():.0f} MB", flush=True)
        for name in ("verra", "gs"):
            with files[name].open("rb") as stream:
                services.import_file(actor=root, stream=stream, filename=files[name].name)
    print("  searching for double counting ...", flush=True)
    t, cpu, server = time.perf_counter(), time.process_time(), backend_cpu()
    counts = services.find_double_counting(actor=root)
    out["search"] = {"seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - cpu,
                     "server_cpu_seconds": backend_cpu() - server, **counts.as_dict(),
                     "ranges": ObservedUnits.objects.exclude(series="").count()}
    print(f"    {out['search']}", flush=True)
    common.write_json(args.out, out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--projects", type=int, default=30_000)
    parser.add_argument("--out", required=True)
    parser.add_argument("--database", help="create this PostgreSQL database (tonne_bench*), migrate it and "
                        "measure there, instead of on DATABASE_URL's")
    parser.add_argument("--sqlite-rows", type=int, default=0,
                        help="also measure on a fresh SQLite file at this many rows")
    args = parser.parse_args()
    if not args.database and not args.sqlite_rows:
        measure(args)
        return
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="tonne-observer-bench-") as data_dir:
        runs: list[tuple[str, dict[str, str], int]] = []
        if args.database:
            common.create_database(args.database)
            runs.append(("postgresql", common.child_env(args.database, data_dir), args.rows))
        else:
            runs.append(("postgresql", {**os.environ, "TONNE_DATA_DIR": data_dir}, args.rows))
        if args.sqlite_rows:
            sqlite_env = common.child_env("tonne_bench_unused", data_dir)
            sqlite_env["DATABASE_URL"] = f"sqlite:///{data_dir}/observer-bench.sqlite3"
            runs.append(("sqlite", sqlite_env, args.sqlite_rows))
        for engine, env, rows in runs:
            if engine == "sqlite" or args.database:
                subprocess.run([sys.executable, "-m", "tonne.cli", "migrate", "-v", "0"], cwd=common.ROOT, env=env,
                               check=True)
            result = common.run_child("bench_observer.py", ["--rows", str(rows), "--projects", str(args.projects)],
                                      env, timeout=3600)
            if engine == "postgresql":
                out.update(result)
            else:
                out["sqlite"] = result
    if args.database:
        common.drop_database(args.database)
    common.write_json(args.out, out)
    report(out, _Printed())


class _Printed:
    """Prints the report when this benchmark runs on its own (run.py's Report collects it)."""

    def add(self, text: str = "") -> None:
        print(text, flush=True)

    def verdict(self, bench: str, ok: bool | None, detail: str) -> None:
        word = "ERROR" if ok is None else ("PASS" if ok else "FAIL")
        print(f"  [{word}] {TARGET}: {detail}", flush=True)


def report(r: dict, rep) -> None:  # noqa: ANN001 - run.Report
    rep.add("### 6. Observer: import of a registry export and the double-counting search (PostgreSQL)")
    if "error" in r:
        rep.verdict("observer", None, r["error"])
        return
    base = r["copy_rows_per_s"]
    rep.add(f"  data: {r['rows']:,} Verra VCU rows ({r['file_mb']:.0f} MB CSV), {r['projects']:,} projects")
    rep.add(f"  baseline  COPY of the same CSV into a plain table: {base:,.0f} rows/s")
    for label in ("import", "reimport"):
        x = r[label]
        rep.add(f"  {label:<9} {x['rows_per_s']:,.0f} rows/s ({x['rows']:,} rows in {x['seconds']:.1f} s; "
                f"{x['created']:,} new, {x['unchanged']:,} unchanged) = {x['rows_per_s'] / base:.3f} x COPY; "
                f"max RSS {x['rss_mb']:.0f} MB")
        cpu, server = x.get("cpu_us_per_row", 0), x.get("server_cpu_us_per_row", 0)
        if cpu and server:
            # Reading/mapping and the database's merge run side by side on two cores: the slower bounds the rate.
            rep.add(f"            CPU per row: {cpu:.0f} us in the importing process, {server:.0f} us in its "
                    f"PostgreSQL backend; on two idle cores at most {1e6 / max(cpu, server):,.0f} rows/s")
    s = r["search"]
    rep.add(f"  search    {s['seconds']:.1f} s over {s['ranges']:,} ranges and {r['projects']:,} projects: "
            f"{s['serial_overlap']} serial overlaps, {s['retired_twice']} retired twice, "
            f"{s['duplicate_project']} duplicate projects")
    if "cpu_seconds" in s:
        rep.add(f"            CPU: {s['cpu_seconds']:.1f} s in the searching process, "
                f"{s['server_cpu_seconds']:.1f} s in its PostgreSQL backend")
    lite = r.get("sqlite")
    if lite and "error" not in lite:
        for label in ("import", "reimport"):
            x = lite[label]
            rep.add(f"  SQLite {label:<9} {x['rows_per_s']:,.0f} rows/s ({x['rows']:,} rows in {x['seconds']:.1f} s) = "
                    f"{x['rows_per_s'] / lite['copy_rows_per_s']:.3f} x executemany of the same rows into a plain "
                    f"table ({lite['copy_rows_per_s']:,.0f} rows/s); {x['cpu_us_per_row']:.0f} us CPU/row; "
                    f"max RSS {x['rss_mb']:.0f} MB")
        ls = lite["search"]
        rep.add(f"  SQLite search {ls['seconds']:.1f} s over {ls['ranges']:,} ranges")
    elif lite:
        rep.add(f"  SQLite: {lite['error']}")
    rate = r["import"]["rows_per_s"]
    flat = r["reimport"]["rss_mb"] <= r["import"]["rss_mb"] * 1.1
    ok = rate >= 10_000 and r["reimport"]["rss_mb"] < 500 and flat and s["seconds"] <= 60
    scale = "" if r["rows"] >= 2_000_000 else f" (at {r['rows']:,} rows, not the full 2,000,000)"
    rep.verdict("observer", ok, f"import {rate:,.0f} rows/s, max RSS {r['reimport']['rss_mb']:.0f} MB "
                f"({'flat' if flat else 'growing'} on re-import), search {s['seconds']:.1f} s{scale}")


if __name__ == "__main__":
    main()
