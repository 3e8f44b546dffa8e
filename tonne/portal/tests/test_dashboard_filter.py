"""The dashboard narrowed by date, sector, region and vintage; bad filters
refused with the field named (other registries' figures: test_observed.py)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from tonne.portal import dashboard
from tonne.portal.tests.conftest import Portal
from tonne.portal.tests.test_views import get, text


def rows_of(path: str) -> list[list[str]]:
    response = get(path)
    assert response.status_code == 200, response.content
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))[1:]


def test_each_filter_narrows_the_figures(portal: Portal) -> None:
    # The portal: mangroves (scope 14, Lagunes) 10,000 of 2022 and 5,000 of 2023; solar (scope 1, Savanes)
    # 2,000 of 2023; 1,200 of the 2022 mangroves retired.
    assert rows_of("/dashboard/by-vintage.csv?sector=1") == [["2023", "2000", "0", "0"]]
    assert rows_of("/dashboard/by-vintage.csv?region=Lagunes") == [["2022", "10000", "1200", "0"],
                                                                   ["2023", "5000", "0", "0"]]
    assert rows_of("/dashboard/by-vintage.csv?vintage_from=2023") == [["2023", "7000", "0", "0"]]
    assert rows_of("/dashboard/by-vintage.csv?vintage_to=2022&region=Savanes") == []
    assert rows_of("/dashboard/by-region.csv?vintage_from=2023&vintage_to=2023") == [["Lagunes", "5000", "1"],
                                                                                     ["Savanes", "2000", "1"]]
    year = str(dt.date.today().year)
    assert rows_of(f"/dashboard/over-time.csv?date_from={year}-01-01") == [[year, "17000", "1200", "0"]]
    assert rows_of("/dashboard/over-time.csv?date_to=2000-12-31") == []
    statuses = rows_of("/dashboard/projects-by-status.csv?sector=1")
    assert sum(int(n) for _, n in statuses) == 1

    page = get("/dashboard/", sector="1", vintage_from="2023")
    assert page.status_code == 200
    body = text(page)
    assert 'id="dashboard-narrowed"' in body
    assert "/dashboard/by-vintage.csv?sector=1&amp;vintage_from=2023" in body  # the CSV keeps the filter
    assert "article6-units" not in body  # unit states now: no filter narrows them


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date_from": "2024-13-01"}, "date_from"),
        ({"date_from": "2025-01-02", "date_to": "2025-01-01"}, "date_to"),
        ({"sector": "17"}, "sector"),
        ({"sector": "-1"}, "sector"),
        ({"sector": "1.5"}, "sector"),
        ({"vintage_from": "99999999999999999999"}, "vintage_from"),
        ({"vintage_from": "2030", "vintage_to": "2020"}, "vintage_to"),
        ({"region": "x" * 201}, "region"),
    ],
)
def test_a_bad_filter_is_named_and_nothing_breaks(portal: Portal, params: dict[str, str], field: str) -> None:
    page = get("/dashboard/", **params)
    assert page.status_code == 400
    assert "DASHBOARD_FILTER_INVALID" in text(page) and 'id="dashboard-filter-error"' in text(page)
    csv_answer = get("/dashboard/by-vintage.csv", **params)
    assert csv_answer.status_code == 400 and b"DASHBOARD_FILTER_INVALID" in csv_answer.content
    with pytest.raises(Exception) as exc:
        dashboard.parse(params)
    assert getattr(exc.value, "field", None) == field


def test_the_registry_map_draws_public_projects_and_follows_the_filter(portal: Portal) -> None:
    home = text(get("/"))
    assert 'id="registry-map"' in home
    # The two public projects with a location, each a link to its page; the private draft is not drawn.
    assert f'href="/projects/{portal.mangrove.project_id}/"' in home and f'href="/projects/{portal.solar.project_id}/"' in home
    assert portal.draft.project_id not in home
    narrowed = text(get("/dashboard/", sector="1"))
    assert f'href="/projects/{portal.solar.project_id}/"' in narrowed
    assert f'<a href="/projects/{portal.mangrove.project_id}/"><title>' not in narrowed
