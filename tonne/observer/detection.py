"""Finding double counting over everything observed (called by services in their transaction).

Ranges are streamed from the database in series order and swept once;
projects are compared by cross-references, by the serials they share, and
by name within a country."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Min, Sum

from tonne.observer.domain import matching
from tonne.observer.models import Finding, ObservedProject, ObservedUnits
from tonne.observer.selectors import amount

WRITE_BATCH = 2000


@dataclass
class FindingCounts:
    serial_overlap: int = 0
    retired_twice: int = 0
    duplicate_project: int = 0
    issued_in_both: int = 0
    moved_uncancelled: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"serial_overlap": self.serial_overlap, "retired_twice": self.retired_twice,
                "duplicate_project": self.duplicate_project, "issued_in_both": self.issued_in_both,
                "moved_uncancelled": self.moved_uncancelled}


def ranges() -> Iterator[matching.Range]:
    """Every range in (series, start) order, narrow rows only: the published serial text of the
    few that overlap is read afterwards (_with_serial_texts), so the sort stays small."""
    rows = (ObservedUnits.objects.exclude(series="").order_by("series", "serial_start", "pk")
            .values_list("pk", "registry", "kind", "series", "serial_start", "serial_end", "project_id"))
    for pk, registry, kind, series, start, end, project in rows.iterator(chunk_size=10000):
        yield matching.Range(pk, registry, kind, series, int(start or 0), int(end or 0), project, "")


def _with_serial_texts(findings: list[Finding]) -> None:
    """Put each side's serials as its registry published them into the evidence (one query per batch)."""
    sides = [side for f in findings for side in f.evidence.values() if isinstance(side, dict) and "pk" in side]
    texts = dict(ObservedUnits.objects.filter(pk__in={side["pk"] for side in sides}).values_list("pk", "serial_text"))
    for side in sides:
        side["serials"] = texts.get(side.pop("pk"), "")


def _label(r: matching.Range) -> str:
    return f"{r.registry}:{r.kind}:{r.series}:{r.start}-{r.end}"


def run(*, now: dt.datetime, name_threshold: float) -> FindingCounts:
    if connection.vendor == "postgresql":
        # The sweep reads every range in series order: room to sort them in memory, for this transaction only.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")
    counts = FindingCounts()
    pending: list[Finding] = []
    shared: dict[tuple[tuple[str, str], tuple[str, str]], int] = {}

    def emit(finding: Finding) -> None:
        pending.append(finding)
        setattr(counts, finding.kind, getattr(counts, finding.kind) + 1)
        if len(pending) >= WRITE_BATCH:
            _with_serial_texts(pending)
            Finding.objects.bulk_create(pending)
            pending.clear()

    for o in matching.overlaps(ranges()):
        if o.kind == matching.MOVED:
            moved = _moved(o, now)  # None: the origin cancelled every unit of the stretch, a proper move
            if moved is not None:
                emit(moved)
        else:
            emit(Finding(
                kind=o.kind, registry_a=o.a.registry, record_a=_label(o.a)[:300], registry_b=o.b.registry,
                record_b=_label(o.b)[:300], series=o.a.series, quantity=Decimal(o.quantity), found_at=now,
                evidence={"a": _side(o.a), "b": _side(o.b), "overlap": [max(o.a.start, o.b.start), min(o.a.end, o.b.end)]},
            ))
        if o.a.registry != o.b.registry and o.a.project_id and o.b.project_id:
            first, second = sorted([(o.a.registry, o.a.project_id), (o.b.registry, o.b.project_id)])
            shared[(first, second)] = shared.get((first, second), 0) + o.quantity
    seen: set[tuple[tuple[str, str], tuple[str, str]]] = set()
    for (a, b), quantity in shared.items():
        seen.add((a, b))
        emit(_duplicate(a, b, 1.0, {"shared_serials": quantity}, now))
    for a, b, evidence in _cross_referenced():
        if (a, b) not in seen:
            seen.add((a, b))
            emit(_duplicate(a, b, 1.0, evidence, now))
    for ca, cb, score, evidence in matching.similar_projects(_candidates(), threshold=name_threshold):
        first, second = sorted([(ca.registry, ca.project_id), (cb.registry, cb.project_id)])
        if (first, second) not in seen:
            seen.add((first, second))
            emit(_duplicate(first, second, score, evidence, now))
    # A project in two registries with the same vintage issued in both under each one's own
    # serials (so no overlap shows it; pairs sharing serials were judged above): the registry
    # that issued it first is the origin, and what it did not cancel was moved without
    # cancellation. When the dates cannot tell the origin, the vintage is issued in both.
    for finding in _vintage_findings(seen - set(shared), now):
        emit(finding)
    _with_serial_texts(pending)
    Finding.objects.bulk_create(pending)
    return counts


def _moved(o: matching.Overlap, now: dt.datetime) -> Finding | None:
    """A stretch of the origin's live units found in another registry, less what the origin cancelled."""
    home = matching.home_registry(o.a.series)
    origin, other = (o.a, o.b) if o.a.registry == home else (o.b, o.a)
    lo, hi = max(o.a.start, o.b.start), min(o.a.end, o.b.end)
    cancelled = (ObservedUnits.objects.filter(registry=home, kind="cancellation", series=o.a.series,
                                              serial_start__lte=hi, serial_end__gte=lo)
                 .values_list("serial_start", "serial_end"))
    gaps = matching.uncovered(lo, hi, [(int(s or 0), int(e or 0)) for s, e in cancelled])
    if not gaps:
        return None
    return Finding(
        kind=Finding.Kind.MOVED_UNCANCELLED, registry_a=origin.registry, record_a=_label(origin)[:300],
        registry_b=other.registry, record_b=_label(other)[:300], series=o.a.series,
        quantity=Decimal(sum(e - s + 1 for s, e in gaps)), found_at=now,
        evidence={"origin": _side(origin), "found_in": _side(other), "overlap": [lo, hi],
                  "not_cancelled_at_origin": [list(g) for g in gaps[:20]],
                  "how": "the same serials, live at the origin and recorded in another registry"},
    )


def _side(r: matching.Range) -> dict[str, Any]:
    return {"registry": r.registry, "kind": r.kind, "project": r.project_id, "pk": r.pk,
            "start": r.start, "end": r.end}


def _duplicate(a: tuple[str, str], b: tuple[str, str], score: float, evidence: dict[str, Any],
               now: dt.datetime) -> Finding:
    return Finding(kind=Finding.Kind.DUPLICATE_PROJECT, registry_a=a[0], record_a=a[1][:300], registry_b=b[0],
                   record_b=b[1][:300], score=score, evidence=evidence, found_at=now)


def _cross_referenced() -> Iterator[tuple[tuple[str, str], tuple[str, str], dict[str, Any]]]:
    """Projects naming another registry's project id (e.g. "GS1234", a CARB row's OPR id)."""
    known_units = set(ObservedUnits.objects.filter(registry="cdm").values_list("registry", "project_id").distinct())
    rows = ObservedProject.objects.exclude(cross_refs=[]).values_list("registry", "project_id", "cross_refs", "name")
    for registry, project_id, refs, name in rows.iterator(chunk_size=2000):
        for ref in refs:
            other_registry, _, other_id = str(ref).partition(":")
            if other_registry == registry:
                continue
            exists = (other_registry, other_id) in known_units or ObservedProject.objects.filter(
                registry=other_registry, project_id=other_id).exists()
            if exists:
                pair = sorted([(registry, project_id), (other_registry, other_id)])
                yield pair[0], pair[1], {"cross_reference": ref, "named_by": f"{registry}:{project_id}", "name": name}


def _vintage_findings(pairs: set[tuple[tuple[str, str], tuple[str, str]]], now: dt.datetime) -> Iterator[Finding]:
    facts = _vintage_facts({side for pair in pairs for side in pair})
    for a, b in sorted(pairs):
        fa, fb = facts.get(a, {}), facts.get(b, {})
        moves: dict[tuple[tuple[str, str], tuple[str, str]], list[matching.VintageMove]] = {}
        unclear = []
        for v in sorted(set(fa) & set(fb)):
            side = matching.origin_of(fa[v].first, fb[v].first)
            if side is None:
                unclear.append((v, fa[v].issued, fb[v].issued))
                continue
            (o, of), (d, df) = ((a, fa), (b, fb)) if side == 0 else ((b, fb), (a, fa))
            move = matching.VintageMove(v, of[v].issued, of[v].cancelled, df[v].issued)
            if move.uncancelled > 0:
                moves.setdefault((o, d), []).append(move)
        for (o, d), vintages in moves.items():
            yield Finding(
                kind=Finding.Kind.MOVED_UNCANCELLED, registry_a=o[0], record_a=o[1][:300], registry_b=d[0],
                record_b=d[1][:300], quantity=sum((m.uncancelled for m in vintages), Decimal(0)), found_at=now,
                evidence={"how": "issued again under the other registry's serials; the origin (first to issue) "
                                 "has no cancellation for them",
                          "origin": o[0], "destination": d[0],
                          "vintages": [{"vintage": m.vintage, "issued_at_origin": amount(m.origin_issued),
                                        "cancelled_at_origin": amount(m.origin_cancelled),
                                        "issued_at_destination": amount(m.destination_issued),
                                        "not_cancelled": amount(m.uncancelled)} for m in vintages]})
        if unclear:
            yield Finding(kind=Finding.Kind.ISSUED_IN_BOTH, registry_a=a[0], record_a=a[1][:300], registry_b=b[0],
                          record_b=b[1][:300], quantity=sum((min(qa, qb) for _, qa, qb in unclear), Decimal(0)),
                          evidence={"vintages": [{"vintage": v, a[0]: amount(qa), b[0]: amount(qb)}
                                                 for v, qa, qb in unclear]},
                          found_at=now)


@dataclass
class _Vintage:
    issued: Decimal = Decimal(0)
    cancelled: Decimal = Decimal(0)
    first: dt.date | None = None  # the first issuance of the vintage in this registry


def _vintage_facts(wanted: set[tuple[str, str]]) -> dict[tuple[str, str], dict[int, _Vintage]]:
    """For each (registry, project): per vintage, the units issued, cancelled, and when first issued."""
    out: dict[tuple[str, str], dict[int, _Vintage]] = {}
    for registry in {r for r, _ in wanted}:
        ids = [p for r, p in wanted if r == registry]
        blocks = registry in matching.BLOCK_REGISTRIES  # every published block is issued units
        issued_kinds = ["issuance", "holding", "retirement", "cancellation"] if blocks else ["issuance"]
        rows = (ObservedUnits.objects.filter(registry=registry, project_id__in=ids,
                                             kind__in=[*issued_kinds, "cancellation"])
                .exclude(vintage=None).values("project_id", "vintage", "kind")
                .annotate(q=Sum("quantity"), first=Min("date")).order_by())
        for row in rows:
            fact = out.setdefault((registry, row["project_id"]), {}).setdefault(int(row["vintage"] or 0), _Vintage())
            if row["kind"] in issued_kinds:
                fact.issued += row["q"]
                if row["first"] is not None and row["kind"] in ("issuance", "holding"):
                    fact.first = row["first"] if fact.first is None else min(fact.first, row["first"])
            if row["kind"] == "cancellation":
                fact.cancelled += row["q"]
    return out


def _candidates() -> list[matching.Candidate]:
    rows = ObservedProject.objects.exclude(name="").values_list(
        "pk", "registry", "project_id", "name", "country", "methodology", "developer")
    return [matching.Candidate(pk, reg, pid, name, matching.country_code(country), meth, dev)
            for pk, reg, pid, name, country, meth, dev in rows.iterator(chunk_size=5000)]
