"""An anonymous organisation application is screened against the sanctions
lists: its cost must not grow with the lists, and a visitor may not send
applications without limit (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from django.test import Client

from tonne import testing
from tonne.core.tests.test_api_core import assert_problem, post
from tonne.kyc import domain
from tonne.kyc import services as kyc
from tonne.kyc.models import ScreeningHit
from tonne.organisations.models import Organisation

pytestmark = pytest.mark.django_db


def _list(size: int) -> bytes:
    rows = ["id,schema,name,aliases"]
    rows += [f"FILL-{i},Company,Mohammed Trading {i:05d} Company,Mohammed Traders {i}" for i in range(size)]
    rows.append("NK-1,Person,Ivan Petrovich Sidorovsky,Ivan Sidorovsky")
    return "\n".join(rows).encode()


def test_anonymous_application_screening_cost_is_bounded(registry: testing.Registry,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    kyc.load_sanctions_list(actor=registry.admin, source="opensanctions", content=_list(1000))
    monkeypatch.setattr(domain, "MAX_CANDIDATES", 100)
    scored: list[int] = []
    extract = kyc.process.extract

    def counting(query, choices, **kwargs):  # noqa: ANN001, ANN003, ANN202
        scored.append(len(choices))
        return extract(query, choices, **kwargs)

    monkeypatch.setattr(kyc.process, "extract", counting)
    client = Client()
    # A name made of the lists' commonest words scores at most MAX_CANDIDATES names, not all 2001.
    response = post(client, "/organisations", {"name": "Mohammed Trading Company", "kind": "developer", "country": "CI"})
    assert response.status_code == 201, response.content
    assert scored and max(scored) <= 100
    # Matching still finds a listed name with a misspelt ending or another word order.
    response = post(client, "/organisations", {"name": "Sidorovski Ivan Petrovich", "kind": "developer", "country": "CI"})
    assert response.status_code == 201
    org = Organisation.objects.get(name="Sidorovski Ivan Petrovich")
    assert ScreeningHit.objects.filter(organisation=org, entry_reference="NK-1").exists()


def test_anonymous_applications_are_rate_limited(registry: testing.Registry, settings) -> None:  # noqa: ANN001
    settings.TONNE_ANONYMOUS_WRITES_PER_HOUR = 3
    client = Client()
    for i in range(3):
        body = {"name": f"Applicant {i}", "kind": "developer", "country": "CI"}
        assert post(client, "/organisations", body).status_code == 201
    body = {"name": "Applicant 4", "kind": "developer", "country": "CI"}
    assert_problem(post(client, "/organisations", body), 429, "RATE_LIMITED")
    assert not Organisation.objects.filter(name="Applicant 4").exists()
    # Signed-in people are not counted with visitors.
    assert post(_signed_in(registry), "/tokens", {"name": "r", "scope": "read"}).status_code == 201


def _signed_in(registry: testing.Registry) -> Client:
    client = Client()
    client.force_login(registry.buyer)
    return client


def test_name_index_files_words_and_their_beginnings() -> None:
    index = domain.NameIndex(["ivan petrovich sidorovsky", "sahel carbon brokers", "acme"])
    assert index.candidates("sidorovski ivan") == [0]
    assert index.candidates("sahel brokerage") == [1]
    assert index.candidates("unrelated words") == []
