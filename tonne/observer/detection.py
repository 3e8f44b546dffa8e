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

from django.db.models import Sum

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

    def as_dict(self) -> dict[str, int]:
        return {"serial_overlap": self.serial_overlap, "retired_twice": self.retired_twice,
                "duplicate_project": self.duplicate_project, "issued_in_both": self.issued_in_both}


def ranges() -> Iterator[matching.Range]:
    rows = (ObservedUnits.objects.exclude(series="").order_by("series", "serial_start", "pk")
            .values_list("pk", "registry", "kind", "series", "serial_start", "serial_end", "project_id", "serial_text"))
    for pk, registry, kind, series, start, end, project, text in rows.iterator(chunk_size=5000):
        yield matching.Range(pk, registry, kind, series, int(start or 0), int(end or 0), project, text)


def _label(r: matching.Range) -> str:
    return f"{r.registry}:{r.kind}:{r.series}:{r.start}-{r.end}"


def run(*, now: dt.datetime, name_threshold: float) -> FindingCounts:
    counts = FindingCounts()
    pending: list[Finding] = []
    shared: dict[tuple[tuple[str, str], tuple[str, str]], int] = {}

    def emit(finding: Finding) -> None:
        pending.append(finding)
        setattr(counts, finding.kind, getattr(counts, finding.kind) + 1)
        if len(pending) >= WRITE_BATCH:
            Finding.objects.bulk_create(pending)
            pending.clear()

    for o in matching.overlaps(ranges()):
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
    # A project in two registries with the same vintage issued in both, its serials in neither's
    # series (so no overlap shows it): moved without cancellation at the origin, or credited twice.
    for (a, b), vintages in _vintages_in_both(seen).items():
        emit(Finding(kind=Finding.Kind.ISSUED_IN_BOTH, registry_a=a[0], record_a=a[1][:300], registry_b=b[0],
                     record_b=b[1][:300], quantity=sum((min(qa, qb) for _, qa, qb in vintages), Decimal(0)),
                     evidence={"vintages": [{"vintage": v, a[0]: amount(qa), b[0]: amount(qb)} for v, qa, qb in vintages]},
                     found_at=now))
    Finding.objects.bulk_create(pending)
    return counts


def _side(r: matching.Range) -> dict[str, Any]:
    return {"registry": r.registry, "kind": r.kind, "project": r.project_id, "serials": r.label,
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


def _vintages_in_both(
    pairs: set[tuple[tuple[str, str], tuple[str, str]]],
) -> dict[tuple[tuple[str, str], tuple[str, str]], list[tuple[int, Decimal, Decimal]]]:
    """For projects found in two registries: the vintages both issued, with each registry's quantity."""
    wanted = {side for pair in pairs for side in pair}
    issued: dict[tuple[str, str], dict[int, Decimal]] = {}
    for registry in {r for r, _ in wanted}:
        ids = [p for r, p in wanted if r == registry]
        kinds = ["issuance", "holding", "retirement", "cancellation"] if registry in matching.BLOCK_REGISTRIES \
            else ["issuance"]
        rows = (ObservedUnits.objects.filter(registry=registry, project_id__in=ids, kind__in=kinds)
                .exclude(vintage=None).values("project_id", "vintage").annotate(q=Sum("quantity")).order_by())
        for row in rows:
            issued.setdefault((registry, row["project_id"]), {})[int(row["vintage"] or 0)] = row["q"]
    out = {}
    for a, b in pairs:
        both = sorted(set(issued.get(a, {})) & set(issued.get(b, {})))
        if both:
            out[(a, b)] = [(v, issued[a][v], issued[b][v]) for v in both]
    return out


def _candidates() -> list[matching.Candidate]:
    rows = ObservedProject.objects.exclude(name="").values_list(
        "pk", "registry", "project_id", "name", "country", "methodology", "developer")
    return [matching.Candidate(pk, reg, pid, name, matching.country_code(country), meth, dev)
            for pk, reg, pid, name, country, meth, dev in rows.iterator(chunk_size=5000)]
