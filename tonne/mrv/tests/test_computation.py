"""A report computed from signed readings, compared with the methodology's
worked example, verified, recomputed and issued."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command

from tonne import testing
from tonne.core.errors import ValidationFailed
from tonne.mrv import computation, readings
from tonne.mrv import services as mrv
from tonne.mrv import verification as mrv_verification
from tonne.mrv.models import ReportComputation
from tonne.mrv.tests.dmrv import UTC, device


def test_computed_report_matches_worked_example_and_recomputes(registry) -> None:
    """Two export meters and an import meter summing to the AMS-I.D worked
    example of tonne/methodologies/tests: 48,804.720 MWh exported, 415.440
    imported, EF 0.9027 → 43,681 t."""
    project = testing.registered_project(registry, name="Savanna solar")
    east, west = device(registry, project, "EXP-E"), device(registry, project, "EXP-W")
    imp = device(registry, project, "IMP-1", measurement="electricity_import")
    t = dt.datetime(2021, 1, 1, tzinfo=UTC)
    batch = [east.reading(1, t, "20000.000"), east.reading(2, t + dt.timedelta(days=200), "4402.360"),
             west.reading(1, t, "24402.360"), imp.reading(1, t, "415.440"),
             # next year's reading stays out of a 2021 period
             east.reading(3, dt.datetime(2022, 1, 2, tzinfo=UTC), "99")]
    readings.submit_readings(actor=registry.developer, project=project, readings=batch)
    report = computation.compute_report(
        actor=registry.developer, project=project, methodology="AMS-I.D", version="18.0", period_start="2021-01-01",
        period_end="2021-12-31", vvb=str(registry.vvb_org.uid), parameters={"ef_grid_cm": "0.9027"})
    assert [(v.vintage, v.claimed) for v in report.vintages.all()] == [(2021, 43681)]
    stored = ReportComputation.objects.get(report=report)
    assert stored.reading_count == 4 and stored.inputs["2021"]["electricity_export"] == "48804.72"
    out = io.StringIO()
    call_command("mrv", "recompute", str(report.uid), stdout=out)
    assert "MATCHES" in out.getvalue()
    # A source added later that reports into the same period changes the inputs: recompute says so.
    late = device(registry, project, "EXP-LATE")
    readings.submit_readings(actor=registry.developer, project=project, readings=[late.reading(1, t, "1000")])
    again = computation.recompute(report)
    assert not again.matches and not again.inputs_match and again.recomputed == {2021: 44583}
    # The VVB adjusts only with a reason; issuance never exceeds verified.
    mrv_verification.accept_assignment(actor=registry.vvb, report=report, no_conflict_of_interest=True)
    with pytest.raises(ValidationFailed) as err:
        mrv.verify_report(actor=registry.vvb, report=report, verified=[{"vintage": 2021, "quantity": 43000}])
    assert err.value.code == "ADJUSTMENT_REASON_REQUIRED"
    mrv.verify_report(actor=registry.vvb, report=report, verified=[{"vintage": 2021, "quantity": 43000}],
                      adjustment_reason="EXP-W outage days excluded")
    assert ReportComputation.objects.get(report=report).adjustment_reason == "EXP-W outage days excluded"
    (issuance,) = mrv.approve_issuance(actor=registry.admin, report=report)
    assert issuance.quantity == 43000


def test_compute_refusals(registry) -> None:
    project = testing.registered_project(registry)
    kw = {"actor": registry.developer, "project": project, "period_start": "2021-01-01", "period_end": "2021-12-31",
          "vvb": str(registry.vvb_org.uid)}
    for methodology, version, extra, code in [
        ("AMS-I.D", "0.1", {}, "METHODOLOGY_UNKNOWN"),
        ("AMS-I.D", "18.0", {}, "NO_READINGS"),
        ("AMS-I.D", "18.0", {"parameters": {"ef_grid_cm": "x"}}, "PARAMETER_INVALID"),
    ]:
        with pytest.raises(ValidationFailed) as err:
            computation.compute_report(methodology=methodology, version=version, **extra, **kw)
        assert err.value.code == code
    device(registry, project, "M-KWH", unit="kWh")
    with pytest.raises(ValidationFailed) as err:
        computation.compute_report(methodology="AMS-I.D", version="18.0", **kw)
    assert err.value.code == "SOURCE_UNIT_MISMATCH"
    # A version the registry superseded computes no new report.
    from tonne.core import clock
    from tonne.projects import reference

    reference.add_methodology(actor=registry.admin, code="AMS-I.D", name="Grid electricity", version="18.0")
    reference.supersede_methodology_version(actor=registry.admin, code="AMS-I.D", version="18.0",
                                            superseded_from=clock.now().date())
    with pytest.raises(ValidationFailed) as err:
        computation.compute_report(methodology="AMS-I.D", version="18.0", **kw)
    assert err.value.code == "METHODOLOGY_VERSION_SUPERSEDED"


def test_mangrove_from_area_data(registry) -> None:
    """The worked example of AR-MANGROVE: 100 ha mapped (the latest map of the
    year counts) gives 2,439 t for a full year; issuance withholds the buffer."""
    project = testing.registered_project(registry, name="Lagoon mangroves", non_permanence_risk="medium")
    sat = device(registry, project, "S2-AREA", measurement="area", unit="ha")
    readings.submit_readings(actor=registry.developer, project=project, readings=[
        sat.reading(1, dt.datetime(2022, 3, 1, tzinfo=UTC), "80"),
        sat.reading(2, dt.datetime(2022, 11, 1, tzinfo=UTC), "100")])
    report = computation.compute_report(
        actor=registry.developer, project=project, methodology="AR-MANGROVE", version="1.0", period_start="2022-01-01",
        period_end="2022-12-31", vvb=str(registry.vvb_org.uid))
    assert [(v.vintage, v.claimed) for v in report.vintages.all()] == [(2022, 2439)]
