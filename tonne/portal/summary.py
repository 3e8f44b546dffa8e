"""Keeps tonne.portal.models.ProjectSummary in step with the registry.

A project's row is recomputed from its own tables in the transaction that
changes the project, a child record (location, methodology, label,
co-benefit) or an issuance: the model signals cover every ORM write, and the
project services announce bulk child replacements with `project_changed`.
`rebuild()` (`tonne portal rebuild-summary`) recomputes every row in a few
set-based queries, for data loaded around the services (bulk imports)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.signals import post_delete, post_save

from tonne.portal.models import DashboardFigure, FacetToken, ProjectSummary
from tonne.projects.models import (
    CoBenefit,
    Label,
    Location,
    Methodology,
    Project,
    ProjectMethodology,
)
from tonne.projects.selectors import PRIVATE_STATUSES
from tonne.projects.signals import project_changed
from tonne.units.models import Issuance

PROJECT_COLUMNS = (
    "id", "number", "name", "project_id", "description", "status", "updated_at", "crediting_period_start",
    "crediting_period_end", "sectoral_scope", "article6_status", "sectors", "types",
)
REBUILD_CHUNK = 5000
ALL = "all:"  # every project has it: its count is the number of public projects


def token(facet: str, value: Any) -> str:
    return f"{facet}:{value}"


def search_text(name: str, project_id: str, description: str) -> str:
    return "\n".join(part.replace("\n", " ") for part in (name, project_id, description or "")).lower()


def _rows(project_ids: list[int] | None) -> list[ProjectSummary]:
    """Summary rows of the given projects (all when None), computed afresh."""

    def scoped(qs: Any, field: str = "project_id") -> Any:
        return qs if project_ids is None else qs.filter(**{f"{field}__in": project_ids})

    projects = list(scoped(Project.objects.all(), "id").order_by("id").values_list(*PROJECT_COLUMNS))
    tokens: dict[int, set[str]] = defaultdict(set)
    first: dict[str, dict[int, str]] = {"region": {}, "methodology": {}}
    children = (
        ("region", scoped(Location.objects.all()).values_list("project_id", "region")),
        ("methodology", scoped(ProjectMethodology.objects.all()).values_list("project_id", "methodology__code")),
        ("label", scoped(Label.objects.all()).values_list("project_id", "name")),
        ("cobenefit", scoped(CoBenefit.objects.all()).values_list("project_id", "co_benefit")),
    )
    for facet, rows in children:
        for pid, value in rows.order_by("id").iterator(chunk_size=10000):
            if facet in first:
                first[facet].setdefault(pid, value or "")
            if value:
                tokens[pid].add(token(facet, value))
    issued: dict[int, list[int]] = {}
    by_vintage = scoped(Issuance.objects.all()).order_by().values("project_id", "vintage")
    for pid, vintage, n, c in by_vintage.annotate(n=Sum("quantity"), c=Count("id")).values_list(
        "project_id", "vintage", "n", "c"
    ):
        tokens[pid].add(token("vintage", vintage))
        totals = issued.setdefault(pid, [0, 0])
        totals[0] += int(n or 0)
        totals[1] += int(c)
    out = []
    for (pid, number, name, project_id, description, status, updated_at, start, end, scope, article6, sectors,
         types) in projects:
        own = tokens.get(pid, set())
        own.add(ALL)
        own.add(token("status", status))
        own.add(token("credit_start_year", start.year) if start else token("credit_start", "none"))
        if end:
            own.add(token("credit_end_year", end.year))
        if article6:
            own.add(token("article6", article6))
        own.update(token("sector", v) for v in sectors or () if v)
        own.update(token("type", v) for v in types or () if v)
        n, c = issued.get(pid, (0, 0))
        out.append(
            ProjectSummary(
                project_id=pid,
                public=status not in PRIVATE_STATUSES,
                number=number,
                name=name,
                project_code=project_id,
                status=status,
                updated_at=updated_at,
                crediting_period_start=start,
                crediting_period_end=end,
                sectoral_scope=scope,
                article6_status=article6,
                first_region=first["region"].get(pid, ""),
                first_methodology=first["methodology"].get(pid, ""),
                issued=n,
                issuances=c,
                text=search_text(name, project_id, description),
                tokens=sorted(own),
            )
        )
    return out


def _token_ids(names: Iterable[str]) -> dict[str, int]:
    wanted = set(names)
    known = dict(FacetToken.objects.filter(token__in=wanted).values_list("token", "id"))
    missing = wanted - set(known)
    if missing:
        FacetToken.objects.bulk_create([FacetToken(token=t) for t in sorted(missing)], ignore_conflicts=True)
        known.update(FacetToken.objects.filter(token__in=missing).values_list("token", "id"))
    return known


def _with_ids(rows: list[ProjectSummary]) -> list[ProjectSummary]:
    """Turns each row's token names into FacetToken ids (created when new)."""
    ids = _token_ids(t for row in rows for t in row.tokens)
    for row in rows:
        row.tokens = sorted(ids[t] for t in row.tokens)
    return rows


def set_bit(bits: bytearray, n: int, on: bool) -> None:
    byte, bit = divmod(n, 8)
    if byte >= len(bits):
        if not on:
            return
        bits.extend(bytes(byte + 1 - len(bits)))
    if on:
        bits[byte] |= 1 << bit
    else:
        bits[byte] &= ~(1 << bit)


def bitmap(ids: Iterable[int]) -> int:
    """The set of project ids as an integer whose bit n is project n."""
    bits = bytearray()
    for n in ids:
        set_bit(bits, n, True)
    return int.from_bytes(bits, "little")


def _apply(changes: dict[int, dict[int, bool]]) -> None:
    """Sets (True) or clears (False) project bits of tokens, token rows locked in id order
    so that concurrent refreshes wait for each other instead of deadlocking."""
    if not changes:
        return
    tokens = FacetToken.objects.select_for_update().filter(pk__in=changes).order_by("pk")
    for facet_token in tokens:
        bits = bytearray(facet_token.bits)
        for pid, on in changes[facet_token.pk].items():
            set_bit(bits, pid, on)
        FacetToken.objects.filter(pk=facet_token.pk).update(bits=bytes(bits.rstrip(b"\x00")))


def figures_of(row: ProjectSummary) -> dict[tuple[str, str], tuple[int, int]]:
    """What one project adds to DashboardFigure: (dimension, value) -> (units, projects)."""
    out: dict[tuple[str, str], tuple[int, int]] = {}
    if row.issuances:
        for dimension, value in (
            ("sector", str(row.sectoral_scope)),
            ("article6", row.article6_status),
            ("region", row.first_region),
            ("methodology", row.first_methodology),
        ):
            out[(dimension, value)] = (row.issued, 1)
    if row.public:
        out[("status", row.status)] = (0, 1)
    return out


def _add_figures(rows: Iterable[ProjectSummary], sign: int, into: dict[tuple[str, str], list[int]]) -> None:
    for row in rows:
        for key, (units, projects) in figures_of(row).items():
            total = into.setdefault(key, [0, 0])
            total[0] += sign * units
            total[1] += sign * projects


def _apply_figures(delta: dict[tuple[str, str], list[int]]) -> None:
    changed = {key: d for key, d in delta.items() if d[0] or d[1]}
    if not changed:
        return
    DashboardFigure.objects.bulk_create(
        [DashboardFigure(dimension=d, value=v) for d, v in changed], ignore_conflicts=True
    )
    # Locked in one order, so that concurrent refreshes wait instead of deadlocking.
    wanted = Q()
    for dimension, value in changed:
        wanted |= Q(dimension=dimension, value=value)
    for figure in DashboardFigure.objects.select_for_update().filter(wanted).order_by("dimension", "value"):
        units, projects = changed[(figure.dimension, figure.value)]
        DashboardFigure.objects.filter(pk=figure.pk).update(units=F("units") + units, projects=F("projects") + projects)


def refresh(project_ids: Iterable[int]) -> None:
    """Recompute the summary rows of these projects, and their bits in the
    token bitmaps, in the caller's transaction."""
    ids = sorted({int(i) for i in project_ids if i is not None})
    if not ids:
        return
    with transaction.atomic():
        changes: dict[int, dict[int, bool]] = defaultdict(dict)
        old = ProjectSummary.objects.select_for_update().filter(project_id__in=ids, public=True)
        for pid, tokens in old.values_list("project_id", "tokens"):
            for t in tokens:
                changes[t][pid] = False
        figures: dict[tuple[str, str], list[int]] = {}
        _add_figures(ProjectSummary.objects.filter(project_id__in=ids), -1, figures)
        rows = _with_ids(_rows(ids))
        _add_figures(rows, 1, figures)
        for row in rows:
            if row.public:
                for t in row.tokens:
                    if changes[t].pop(row.project_id, None) is None:
                        changes[t][row.project_id] = True
        ProjectSummary.objects.filter(project_id__in=ids).delete()
        ProjectSummary.objects.bulk_create(rows)
        _apply({t: c for t, c in changes.items() if c})
        _apply_figures(figures)


def rebuild() -> int:
    """Recompute every row and every bitmap; returns how many projects were summarised."""
    with transaction.atomic():
        ProjectSummary.objects.all().delete()
        DashboardFigure.objects.all().delete()
        figures: dict[tuple[str, str], list[int]] = {}
        members: dict[int, list[int]] = defaultdict(list)
        ids = list(Project.objects.order_by("id").values_list("id", flat=True))
        for i in range(0, len(ids), REBUILD_CHUNK):
            rows = _with_ids(_rows(ids[i : i + REBUILD_CHUNK]))
            _add_figures(rows, 1, figures)
            for row in rows:
                if row.public:
                    for t in row.tokens:
                        members[t].append(row.project_id)
            ProjectSummary.objects.bulk_create(rows, batch_size=1000)
        for facet_token in FacetToken.objects.select_for_update().order_by("pk"):
            as_int = bitmap(members.get(facet_token.pk, ()))
            facet_token.bits = as_int.to_bytes((as_int.bit_length() + 7) // 8, "little")
            facet_token.save(update_fields=["bits"])
        DashboardFigure.objects.bulk_create(
            DashboardFigure(dimension=d, value=v, units=units, projects=projects)
            for (d, v), (units, projects) in sorted(figures.items())
        )
    return len(ids)


# -- hooks ---------------------------------------------------------------------------------------------


def _project_saved(sender: Any, instance: Project, raw: bool = False, **kwargs: Any) -> None:
    if not raw:
        refresh([instance.pk])


def _child_changed(sender: Any, instance: Any, raw: bool = False, origin: Any = None, **kwargs: Any) -> None:
    # A child deleted with its project leaves nothing to summarise.
    if raw or isinstance(origin, Project) or getattr(origin, "model", None) is Project:
        return
    refresh([instance.project_id])


def _methodology_saved(sender: Any, instance: Methodology, raw: bool = False, **kwargs: Any) -> None:
    if not raw:
        refresh(ProjectMethodology.objects.filter(methodology=instance).values_list("project_id", flat=True))


def _projects_changed(sender: Any, project_ids: Iterable[int], **kwargs: Any) -> None:
    refresh(project_ids)


def connect() -> None:
    post_save.connect(_project_saved, sender=Project, dispatch_uid="portal-summary-project")
    for model in (Location, ProjectMethodology, Label, CoBenefit, Issuance):
        for signal in (post_save, post_delete):
            signal.connect(_child_changed, sender=model, dispatch_uid=f"portal-summary-{model.__name__}")
    post_save.connect(_methodology_saved, sender=Methodology, dispatch_uid="portal-summary-methodology")
    project_changed.connect(_projects_changed, dispatch_uid="portal-summary-bulk")


def _comparable(row: ProjectSummary) -> tuple[Any, ...]:
    return tuple(getattr(row, f.attname) for f in ProjectSummary._meta.concrete_fields)


def drift() -> list[str]:
    """What differs between the stored summary and one computed afresh:
    project ids of differing, missing or orphaned rows, and tokens whose
    bitmap is wrong. Empty when all is in step."""
    names = dict(FacetToken.objects.values_list("id", "token"))
    stored_rows = list(ProjectSummary.objects.all())
    for row in stored_rows:
        row.tokens = sorted(names.get(t, f"?{t}") for t in row.tokens)
    fresh_rows = _rows(None)
    for row in fresh_rows:
        row.tokens = sorted(row.tokens)
    fresh = {row.project_id: _comparable(row) for row in fresh_rows}
    stored = {row.project_id: _comparable(row) for row in stored_rows}
    out = [f"project {pid}" for pid in sorted(set(fresh) | set(stored)) if fresh.get(pid) != stored.get(pid)]
    members: dict[str, list[int]] = defaultdict(list)
    for row in fresh_rows:
        if row.public:
            for t in row.tokens:
                members[t].append(row.project_id)
    kept = {t: int.from_bytes(bytes(bits), "little") for t, bits in FacetToken.objects.values_list("token", "bits")}
    out += [f"token {t}" for t in sorted(set(members) | set(kept)) if bitmap(members.get(t, ())) != kept.get(t, 0)]
    figures: dict[tuple[str, str], list[int]] = {}
    _add_figures(fresh_rows, 1, figures)
    expected = {key: tuple(v) for key, v in figures.items() if v != [0, 0]}
    stored_figures = {
        (d, v): (units, projects)
        for d, v, units, projects in DashboardFigure.objects.values_list("dimension", "value", "units", "projects")
        if units or projects
    }
    out += [f"figure {d}={v}" for d, v in sorted(set(expected) | set(stored_figures))
            if expected.get((d, v)) != stored_figures.get((d, v))]
    return out
