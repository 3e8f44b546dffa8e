"""A project's form is corrected in one go: every broken rule is refused at
once, by the service, over HTTP (beside the first code clients know) and in
the workspace (each beside its field)."""

from __future__ import annotations

import pytest
from django.test import Client

from tonne import testing
from tonne.core.errors import Refusals, ValidationFailed
from tonne.core.tests.test_api_core import assert_problem, post
from tonne.projects import domain
from tonne.projects import services as projects
from tonne.projects.models import Project

pytestmark = pytest.mark.django_db

BROKEN = {"sectoral_scope": 16, "buffer_basis_points": 20000, "crediting_period_start": "2030-01-01",
          "crediting_period_end": "2025-12-31"}
CODES = ["SECTORAL_SCOPE_INVALID", "BUFFER_INVALID", "CREDITING_PERIOD_INVALID"]


def test_the_domain_names_every_broken_rule_in_order() -> None:
    with pytest.raises(Refusals) as refused:
        domain.clean_project_fields(testing.project_fields(
            **BROKEN, estimations=[{"start_date": "2022-12-31", "end_date": "2022-01-01", "unit_count": -3}]))
    found = [(e.code, e.field) for e in refused.value.errors]
    assert found == [("SECTORAL_SCOPE_INVALID", "sectoral_scope"), ("BUFFER_INVALID", "buffer_basis_points"),
                     ("CREDITING_PERIOD_INVALID", "crediting_period_end"), ("FIELD_INVALID", "estimations[0].unit_count"),
                     ("ESTIMATION_PERIOD_INVALID", "estimations[0].end_date")]
    assert refused.value.code == "SECTORAL_SCOPE_INVALID"  # it reads as its first refusal
    # One broken rule is refused as before, alone.
    with pytest.raises(ValidationFailed) as one:
        domain.clean_project_fields(testing.project_fields(sectoral_scope=16))
    assert not isinstance(one.value, Refusals) and one.value.code == "SECTORAL_SCOPE_INVALID"


def test_registration_refuses_the_fields_and_the_vvb_together(registry: testing.Registry) -> None:
    with pytest.raises(Refusals) as refused:
        projects.register_project(actor=registry.developer, data=testing.project_fields(**BROKEN), vvb="not-a-vvb")
    assert [e.code for e in refused.value.errors] == [*CODES, "VVB_UNKNOWN"]
    assert not Project.objects.exists()


def test_the_api_answers_every_refusal_beside_the_first(registry: testing.Registry) -> None:
    dev = Client()
    dev.force_login(registry.developer)
    body = assert_problem(post(dev, "/projects", testing.project_fields(**BROKEN)), 422, "SECTORAL_SCOPE_INVALID")
    assert body["field"] == "sectoral_scope"
    assert [(e["code"], e["field"]) for e in body["errors"]] == [
        ("SECTORAL_SCOPE_INVALID", "sectoral_scope"), ("BUFFER_INVALID", "buffer_basis_points"),
        ("CREDITING_PERIOD_INVALID", "crediting_period_end")]
    assert all(e["detail"] for e in body["errors"])
    french = Client(headers={"accept-language": "fr"})
    french.force_login(registry.developer)
    body = french.post("/api/v1/projects", testing.project_fields(**BROKEN), content_type="application/json").json()
    assert body["errors"][2] == {"code": "CREDITING_PERIOD_INVALID", "field": "crediting_period_end",
                                 "detail": "La période de comptabilisation se termine avant de commencer."}
