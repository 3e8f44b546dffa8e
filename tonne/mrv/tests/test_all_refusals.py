"""A monitoring report's period, claim and VVB are refused all at once."""

from __future__ import annotations

import datetime as dt

import pytest

from tonne import testing
from tonne.core.errors import Refusals
from tonne.mrv import services as mrv
from tonne.mrv.models import MonitoringReport

pytestmark = pytest.mark.django_db


def test_report_refuses_period_claim_and_vvb_together(registry: testing.Registry) -> None:
    project = testing.registered_project(registry)
    project.crediting_period_start, project.crediting_period_end = dt.date(2021, 1, 1), dt.date(2030, 12, 31)
    project.save()
    with pytest.raises(Refusals) as refused:
        mrv.submit_report(actor=registry.developer, project=project, period_start="2010-01-01", period_end="2010-12-31",
                          vintages=[{"vintage": 2011, "quantity": 5}], vvb="no-such-vvb")
    assert [(e.code, e.field) for e in refused.value.errors] == [
        ("PERIOD_OUTSIDE_CREDITING", "period_start"), ("VINTAGE_OUTSIDE_PERIOD", "vintages"), ("VVB_UNKNOWN", "vvb")]
    # A period that runs backwards is one refusal; the claim's own form is still checked.
    with pytest.raises(Refusals) as refused:
        mrv.submit_report(actor=registry.developer, project=project, period_start="2024-12-31", period_end="2024-01-01",
                          vintages=[{"vintage": 2024, "quantity": 0}], vvb=str(registry.vvb_org.uid))
    assert [e.code for e in refused.value.errors][0] == "PERIOD_INVALID" and len(refused.value.errors) == 2
    assert not MonitoringReport.objects.exists()


def test_issuance_instruction_lines_refused_together() -> None:
    from tonne.mrv import domain

    with pytest.raises(Refusals) as refused:
        domain.instruction_lines([{"vintage": 2019, "quantity": 0, "account": "A"},
                                  {"vintage": 2024, "quantity": 5, "account": "A", "retire": {"beneficiary": "B"}}], {2024})
    assert [(e.code, e.field) for e in refused.value.errors] == [
        ("VINTAGE_NOT_CLAIMED", "lines[0]"), ("QUANTITY_INVALID", "lines[0]"), ("FIELD_INVALID", "lines[1]")]
