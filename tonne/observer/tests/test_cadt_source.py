"""Observed records in the CAD Trust exports and totals, through the source-registry port of cadt."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from tonne import wiring
from tonne.cadt import sources
from tonne.cadt.schema import V1, V2, v2_tables
from tonne.observer.cadt_source import ObservedRecords
from tonne.observer.tests.conftest import load
from tonne.organisations.models import User


@pytest.fixture
def installed() -> Iterator[None]:
    sources.install(ObservedRecords())
    yield
    sources.install()


def test_a_full_export_carries_the_observed_records(root: User, installed: None) -> None:
    load(root, "art-trees/projects.csv")
    load(root, "art-trees/retirements.csv")
    doc1: dict[str, list[dict[str, object]]] = {"projects": [], "units": []}
    sources.extend(V1, doc1)
    assert len(doc1["projects"]) == 20 and len(doc1["units"]) == 8
    assert {p["registryOfOrigin"] for p in doc1["projects"]} == {"ART TREES"}
    doc2: dict[str, list[dict[str, object]]] = {name: [] for name in v2_tables()}
    sources.extend(V2, doc2)
    assert len(doc2["project"]) == 20 and len(doc2["unit"]) == 8 and len(doc2["issuance"]) == 20
    issuances = {i["cadTrustIssuanceId"] for i in doc2["issuance"]}
    assert all(u["cadTrustIssuanceId"] in issuances for u in doc2["unit"])  # every unit under an issuance
    fields = set(v2_tables()["unit"].names)
    assert all(set(u) <= fields for u in doc2["unit"])
    [art] = sources.totals()
    assert (art.registry, art.projects, art.issued) == ("ART TREES", 20, 0)
    assert art.retired == sum(u["unitCount"] for u in doc1["units"])


def test_only_an_observer_node_installs_its_records(root: User) -> None:
    try:
        with override_settings(TONNE_MODE="registry"):
            wiring.install()
            assert sources.installed() == ()
        with override_settings(TONNE_MODE="observer"):
            wiring.install()
            assert [type(s) for s in sources.installed()] == [ObservedRecords]
    finally:
        sources.install()
    load(root, "art-trees/retirements.csv")
    with pytest.raises(ValueError, match="no place"):
        sources.install(ObservedRecords())
        try:
            sources.extend(V1, {"projects": []})
        finally:
            sources.install()
