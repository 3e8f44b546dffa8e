"""The search summary, token bitmaps and dashboard figures never drift from
the projects: after every kind of change, search and dashboard results read
from them equal a straightforward computation over the projects' own tables."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Count, Sum
from django.http import QueryDict

from tonne import testing
from tonne.core.clock import now
from tonne.portal import dashboard, selectors, summary
from tonne.portal.models import FacetToken, ProjectSummary
from tonne.portal.tests.conftest import Portal, key
from tonne.projects import services as projects
from tonne.projects.models import CoBenefit, Label, Location, Methodology, Project
from tonne.projects.selectors import PRIVATE_STATUSES
from tonne.units import services as units
from tonne.units.domain import Selection
from tonne.units.models import Issuance

REGIONS = ["Lagunes", "Savanes", "Zanzan", "Comoé"]
COBENEFITS = ["SDG 13 - Climate action", "SDG 14 - Life below water", "SDG 5 - Gender equality"]
WORDS = ["mangrove", "SOLAR", "lagoon", "park", "ci-00", "cook", "zzz"]


# -- the straightforward computation -----------------------------------------------------------


def _crediting(p: Project, today: dt.date) -> str:
    if p.crediting_period_end and p.crediting_period_end < today:
        return "ended"
    if p.crediting_period_start is None:
        return "unknown"
    if p.crediting_period_start > today:
        return "future"
    return "current"


def _values(p: Project, today: dt.date) -> dict[str, set[str]]:
    return {
        "region": {loc.region for loc in p.locations.all() if loc.region},
        "sector": {v for v in p.sectors if v},
        "type": {v for v in p.types if v},
        "methodology": {m.methodology.code for m in p.methodologies.all()},
        "status": {p.status},
        "crediting": {_crediting(p, today)},
        "vintage": {str(i.vintage) for i in p.issuances.all()},
        "label": {label.name for label in p.labels.all() if label.name},
        "cobenefit": {c.co_benefit for c in p.co_benefits.all() if c.co_benefit},
        "article6": {p.article6_status} - {""},
    }


def reference_search(query: selectors.SearchQuery) -> tuple[list[int], dict[str, list[tuple[str, int]]]]:
    """(ids of the matches by number, facet counts), from the projects and their child rows."""
    today = now().date()
    rows = []
    qs = Project.objects.exclude(status__in=PRIVATE_STATUSES).prefetch_related(
        "locations", "methodologies__methodology", "labels", "co_benefits", "issuances"
    )
    for p in qs.order_by("number"):
        text = [p.name.lower(), p.project_id.lower(), p.description.lower()]
        if all(any(w.lower() in t for t in text) for w in query.q.split()):
            rows.append((p, _values(p, today)))

    def chosen(values: dict[str, set[str]], skip: str | None = None) -> bool:
        wanted = {
            name: {str(int(v)) for v in vs if v.isdigit()} if name == "vintage" else set(vs)
            for name, vs in query.filters.items()
        }
        return all(values[name] & vs for name, vs in wanted.items() if name != skip)

    facets: dict[str, list[tuple[str, int]]] = {}
    for name in selectors.FACETS:
        counts: dict[str, int] = {}
        for _, values in rows:
            if chosen(values, name):
                for v in values[name]:
                    counts[v] = counts.get(v, 0) + 1
        facets[name] = selectors._count_rows(counts.items())
    facets["vintage"] = sorted(facets["vintage"], key=lambda item: item[0], reverse=True)
    order = {state: i for i, state in enumerate(selectors.CREDITING_STATES)}
    facets["crediting"] = sorted(facets["crediting"], key=lambda item: order[item[0]])
    return [p.pk for p, values in rows if chosen(values)], facets


def _first(p: Project, children: str, attr: Any) -> str:
    rows = sorted(getattr(p, children).all(), key=lambda r: r.pk)
    return attr(rows[0]) if rows else ""


def reference_dashboard() -> dict[str, Any]:
    issued = Issuance.objects.values("project").annotate(n=Sum("quantity"), c=Count("id"))
    by: dict[str, dict[Any, list[int]]] = {"sector": {}, "article6": {}, "region": {}, "methodology": {}}
    for row in issued:
        p = Project.objects.prefetch_related("locations", "methodologies__methodology").get(pk=row["project"])
        for name, value in (
            ("sector", p.sectoral_scope),
            ("article6", p.article6_status),
            ("region", _first(p, "locations", lambda r: r.region)),
            ("methodology", _first(p, "methodologies", lambda r: r.methodology.code)),
        ):
            totals = by[name].setdefault(value, [0, 0])
            totals[0] += int(row["n"])
            totals[1] += 1
    public = Project.objects.exclude(status__in=PRIVATE_STATUSES)
    return {
        "by_sector": sorted((v, n, p) for v, (n, p) in by["sector"].items()),
        "by_article6": sorted((v, n, p) for v, (n, p) in by["article6"].items()),
        "by_region": sorted(((v, n, p) for v, (n, p) in by["region"].items()), key=lambda r: (-r[1], r[0])),
        "by_methodology": sorted(((v, n, p) for v, (n, p) in by["methodology"].items()), key=lambda r: (-r[1], r[0])),
        "projects_by_status": sorted(public.values_list("status").annotate(n=Count("pk")).order_by()),
        "projects": public.count(),
        "issued": int(Issuance.objects.aggregate(n=Sum("quantity"))["n"] or 0),
    }


# -- the comparison ------------------------------------------------------------------------------

QUERIES = [
    "",
    "q=mangrove",
    "q=SOLAR+park",
    "q=ci-00",
    "region=Lagunes",
    "region=Lagunes&region=Savanes",
    "region=Savanes&status=registered",
    "sector=Energy+industries+%28renewable-%2F+non+renewable+sources%29&article6=authorised",
    "vintage=2022&vintage=2023",
    "vintage=02023&q=lagoon",
    "crediting=current&crediting=unknown",
    "crediting=ended&region=Lagunes",
    "cobenefit=SDG+13+-+Climate+action&label=Blue+carbon",
    "methodology=AR-AM0014&status=validated&status=registered",
    "type=Solar&q=zzz",
    "status=draft",
]


def assert_in_step(queries: list[str] = QUERIES) -> None:
    assert summary.drift() == []
    for params in queries:
        query = selectors.SearchQuery.from_params(QueryDict(params))
        ids, facets = reference_search(query)
        counted = selectors.search_counts(query)
        assert counted.total == len(ids), params
        assert counted.facets == facets, params
        assert set(selectors.search_projects(query).values_list("pk", flat=True)) == set(ids), params
        page, total, _ = selectors.result_page(query)
        assert [p.pk for p in page] == ids[: selectors.PAGE_SIZE] and total == len(ids), params
    expected = reference_dashboard()
    board = selectors._dashboard()
    for name in ("by_sector", "by_article6", "by_region", "by_methodology", "projects_by_status"):
        assert board[name] == expected[name], name
    figures = selectors.headline_figures()
    assert (figures["projects"], figures["issued"]) == (expected["projects"], expected["issued"])
    # The filtered dashboard's path, given no filter, says what the kept figures say.
    computed = dashboard.compute(dashboard.DashboardFilter())
    assert computed == {k: v for k, v in board.items() if k != "article6_units"}
    headline = dashboard.headline(dashboard.DashboardFilter(), computed)
    assert headline == {k: figures[k] for k in headline}


@pytest.fixture
def fresh_cache() -> None:
    from django.core.cache import cache

    cache.clear()


def test_summary_follows_every_kind_of_change(portal: Portal, fresh_cache: None) -> None:
    reg = portal.reg
    assert_in_step()
    # A draft edited (fields and child records replaced in bulk), then made public.
    projects.update_project(
        actor=reg.developer,
        project=portal.draft,
        data={
            "name": "Cookstoves of Zanzan",
            "locations": [{"country": "Cote d'Ivoire", "region": "Zanzan", "gis": "8.0,-3.0"}],
            "labels": [{"name": "Blue carbon", "type": "Certification"}],
            "crediting_period_start": "2099-01-01",
        },
    )
    assert_in_step()
    draft = projects.change_project_status(actor=reg.developer, project=portal.draft, status="submitted")
    assert_in_step()
    # Child rows written one by one, outside the services' bulk path.
    now_ = now()
    Location.objects.create(project=portal.solar, uid=uuid.uuid4(), country="Cote d'Ivoire", region="Comoé",
                            created_at=now_, updated_at=now_)
    Label.objects.filter(project=portal.mangrove).delete()
    CoBenefit.objects.filter(project=portal.solar).update(co_benefit="SDG 5 - Gender equality")
    summary.refresh([portal.solar.pk])  # a queryset update sends no signal: its writer refreshes
    assert_in_step()
    # A methodology renamed, a project's Article 6 status changed by a save.
    methodology = Methodology.objects.get(code="ACM0002")
    methodology.code = "ACM0002-v2"
    methodology.save()
    mangrove = Project.objects.get(pk=portal.mangrove.pk)
    mangrove.article6_status = "requested"
    mangrove.save()
    assert_in_step(QUERIES + ["methodology=ACM0002-v2", "article6=requested"])
    # Issuance, transfer and retirement.
    testing.issue(reg, portal.solar, {2024: 700})
    units.transfer(
        actor=reg.developer,
        from_account=reg.developer_account.identifier,
        to_account=reg.buyer_account.identifier,
        selection=Selection.build(quantity=100, project=portal.solar.project_id, vintage=2024),
        idempotency_key=key(),
    )
    units.retire(
        actor=reg.buyer,
        from_account=reg.buyer_account.identifier,
        selection=Selection.build(quantity=50),
        beneficiary="Abidjan Airways",
        purpose="voluntary",
        jurisdiction="CI",
        idempotency_key=key(),
    )
    assert_in_step(QUERIES + ["vintage=2024"])
    assert draft.pk in reference_search(selectors.SearchQuery(q="zanzan"))[0]


def test_rebuild_and_check_commands(portal: Portal, fresh_cache: None) -> None:
    stored = {row.project_id: (row.tokens, row.issued) for row in ProjectSummary.objects.all()}
    call_command("portal", "rebuild-summary")
    assert {row.project_id: (row.tokens, row.issued) for row in ProjectSummary.objects.all()} == stored
    call_command("portal", "check-summary")
    # A bitmap that lost a project, and a summary row changed behind the services' back, are both caught.
    token = FacetToken.objects.get(token="region:Lagunes")
    token.bits = b""
    token.save()
    ProjectSummary.objects.filter(project=portal.solar).update(issued=1)
    with pytest.raises(Exception, match="out of step"):
        call_command("portal", "check-summary")
    assert "token region:Lagunes" in summary.drift() and f"project {portal.solar.pk}" in summary.drift()
    summary.rebuild()
    assert summary.drift() == []


@pytest.mark.django_db
def test_randomised_projects_and_queries_match_the_plain_computation(fresh_cache: None) -> None:
    rng = random.Random(5)
    reg = testing.build_registry()
    projects.add_methodology(actor=reg.admin, code="M-1", name="One", type="Removal - nature")
    projects.add_methodology(actor=reg.admin, code="M-2", name="Two", type="Avoidance - technical")
    made = []
    for i in range(7):
        start = rng.choice([None, "2015-03-01", "2026-06-15", "2031-01-01"])
        fields: dict[str, Any] = {
            "name": rng.choice(["Solar park", "Mangrove lagoon", "Cookstoves"]) + f" {i}",
            "locations": [
                {"country": "Cote d'Ivoire", "region": r, "gis": "5.3,-4.0"}
                for r in rng.sample(REGIONS + [""], rng.randint(0, 2))
            ],
            "co_benefits": [{"co_benefit": c} for c in rng.sample(COBENEFITS, rng.randint(0, 2))],
            "methodologies": [{"code": c} for c in rng.sample(["M-1", "M-2"], rng.randint(0, 2))],
            "article6_status": rng.choice(["not_requested", "requested", "authorised"]),
        }
        if start:
            fields["crediting_period_start"] = start
            end = rng.choice([None, "2020-12-31", "2040-12-31"])
            if end and end > start:
                fields["crediting_period_end"] = end
        if rng.random() < 0.6:
            made.append(testing.registered_project(reg, **fields))
        else:
            made.append(projects.register_project(actor=reg.developer, data=testing.project_fields(**fields)))
    for p in made:
        if p.status == "registered" and rng.random() < 0.5:
            year, quantity = rng.choice([2021, 2022]), rng.randint(1, 500)
            p.refresh_from_db()
            first, last = p.crediting_period_start, p.crediting_period_end
            # Units are issued only for a period inside the crediting period.
            if (first is None or first <= dt.date(year, 1, 1)) and (last is None or dt.date(year, 12, 31) <= last):
                testing.issue(reg, p, {year: quantity})
    queries = [""]
    pools = {
        "region": REGIONS,
        "cobenefit": COBENEFITS,
        "methodology": ["M-1", "M-2", "M-9"],
        "status": ["registered", "draft", "submitted"],
        "article6": ["requested", "authorised"],
        "crediting": list(selectors.CREDITING_STATES),
        "vintage": ["2021", "2022", "1999"],
    }
    for _ in range(40):
        params = QueryDict(mutable=True)
        if rng.random() < 0.4:
            params["q"] = rng.choice(WORDS)
        for name in rng.sample(sorted(pools), rng.randint(0, 3)):
            params.setlist(name, rng.sample(pools[name], rng.randint(1, 2)))
        queries.append(params.urlencode())
    assert_in_step(queries)
