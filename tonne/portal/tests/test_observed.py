"""Other registries' records in the portal: an observer's home, dashboard, CSV
files and project lists come from them, each figure with its registry; a
registry that also holds observed records keeps its own figures apart."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.db.models import Sum

from tonne import testing
from tonne.observer.models import ObservedProject, ObservedUnits
from tonne.observer.tests.conftest import load
from tonne.organisations import services as orgs
from tonne.organisations.models import User
from tonne.portal import dashboard, observed, selectors
from tonne.portal.tests.conftest import Portal
from tonne.portal.tests.test_views import get, text

FILES = ("verra/transactions.csv", "art-trees/issuances.csv", "art-trees/retirements.csv", "art-trees/projects.csv",
         "isometric/issuances.csv", "isometric/retirements.csv", "arb/nc-arboc_issuance_sheet3.csv")


def rows_of(path: str, **params: object) -> list[list[str]]:
    response = get(path, **params)
    assert response.status_code == 200, response.content
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _sum(**conditions: object) -> Decimal:
    return ObservedUnits.objects.filter(**conditions).aggregate(q=Sum("quantity"))["q"] or Decimal(0)


def _expected() -> dict[str, tuple[Decimal, Decimal]]:
    """Issued and retired per registry, read plainly: Verra lists every block it issued (held or
    retired); the others publish issuance and retirement events."""
    return {
        "Verra": (_sum(registry="verra"), _sum(registry="verra", kind="retirement")),
        "ART TREES": (_sum(registry="art", kind="issuance"), _sum(registry="art", kind="retirement")),
        "Isometric": (_sum(registry="isometric", kind="issuance"), _sum(registry="isometric", kind="retirement")),
        "California Air Resources Board": (_sum(registry="carb", kind="issuance"),
                                           _sum(registry="carb", kind="retirement")),
    }


@pytest.fixture
def root(db: None) -> User:
    cache.clear()  # figures are cached under the ledger's size, which each test database starts again
    return orgs.create_user(actor=None, organisation=None, username="observer-root", email="root@example.org",
                            password=testing.PASSWORD, is_root=True)


@pytest.fixture
def observer(root: User, settings: Any) -> None:
    settings.TONNE_MODE = "observer"
    for path in FILES:
        load(root, path)


def test_an_observers_figures_are_the_observed_registries(observer: None) -> None:
    expected = _expected()
    by_registry = rows_of("/dashboard/by-source-registry.csv")
    assert by_registry[0] == ["Registry", "Projects", "Issued", "Retired", "Cancelled", "Remaining"]
    found = {row[0]: (Decimal(row[2]), Decimal(row[3])) for row in by_registry[1:]}
    assert found == expected
    headline = observed.figures(dashboard.DashboardFilter())["headline"]
    issued = sum(i for i, _ in expected.values())
    assert Decimal(str(headline["issued"])) == issued and Decimal(str(headline["retired"])) == sum(
        r for _, r in expected.values())
    # Every per-year and per-vintage row names its registry, and they add up to the headline.
    for chart in ("over-time", "by-vintage"):
        rows = rows_of(f"/dashboard/{chart}.csv")[1:]
        assert {r[0] for r in rows} == set(expected), chart
        assert sum(Decimal(r[2]) for r in rows) == issued, chart
    home = text(get("/"))
    assert "Carbon registries observed" in home and "ART TREES" in home and "Isometric" in home
    assert 'id="observed-registries"' in home
    page = text(get("/dashboard/"))
    assert 'id="observed-origin"' in page and "Public registers" not in page


def test_an_observers_filter_and_project_lists(observer: None) -> None:
    vintage = rows_of("/dashboard/by-vintage.csv", vintage_from=2020, vintage_to=2020)[1:]
    assert vintage and {r[1] for r in vintage} == {"2020"}
    art_2020 = _sum(registry="art", kind="issuance", vintage=2020)
    assert sum(Decimal(r[2]) for r in vintage if r[0] == "ART TREES") == art_2020
    assert rows_of("/dashboard/by-vintage.csv", sector=1)[1:] == []  # no observed project states a scope
    country = ObservedProject.objects.get(registry="art", project_id="ART102").country  # as ART TREES writes it
    guyana = rows_of("/dashboard/by-region.csv", region=country)[1:]
    assert guyana and {(r[0], r[1]) for r in guyana} == {("ART TREES", country)}
    assert Decimal(guyana[0][2]) == _sum(registry="art", project_id="ART102", kind="issuance")
    search = get("/projects/", q="Guyana")
    assert search.status_code == 302 and search.headers["Location"] == "/observer/projects/?q=Guyana"
    download = rows_of("/projects/export.csv")
    assert download[0][:2] == ["registry", "project_id"] and {r[0] for r in download[1:]} == {
        "ART TREES", "California Air Resources Board"}
    art102 = next(r for r in download[1:] if r[1] == "ART102")
    issued, retired, cancelled, remaining = map(Decimal, art102[8:])
    assert issued == _sum(registry="art", project_id="ART102", kind="issuance") and remaining == (
        issued - retired - cancelled)


def test_a_registry_keeps_its_own_figures_apart_from_observed_ones(portal: Portal) -> None:
    cache.clear()
    root = portal.reg.root
    own = selectors.headline_figures()
    own_vintages = rows_of("/dashboard/by-vintage.csv")
    assert "by-source-registry" not in text(get("/dashboard/"))
    for path in FILES[:3]:
        load(root, path)
    after = selectors.headline_figures()
    assert {k: after[k] for k in ("projects", "issued", "retired", "cancelled")} == {
        k: own[k] for k in ("projects", "issued", "retired", "cancelled")}
    assert rows_of("/dashboard/by-vintage.csv") == own_vintages
    page = text(get("/dashboard/"))
    assert "not counted in the figures above" in page
    apart = {r[0]: Decimal(r[2]) for r in rows_of("/dashboard/by-source-registry.csv")[1:]}
    assert apart == {"Verra": _sum(registry="verra"), "ART TREES": _sum(registry="art", kind="issuance")}
