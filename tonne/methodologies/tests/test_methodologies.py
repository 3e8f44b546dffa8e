"""Each methodology against a worked example from its published text or a
registered project's monitoring figures."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tonne.methodologies import selectors as catalogue
from tonne.methodologies.domain import MethodologyError, whole_tonnes


def test_ams_i_d_net_export_times_combined_margin() -> None:
    """CDM issuance request check 1C7MJILH4KFX0A5 (cdm.unfccc.int/IRCheck):
    the DOE determined EG_export = 48,804.720 MWh and EC_import = 415.440 MWh
    for the monitoring period. AMS-I.D v18 eq. (1)-(2): BE = (EG_export −
    EC_import) × EF_grid,CM. With a combined margin of 0.9027 tCO2/MWh
    (stated here, not that project's value): 48,389.280 × 0.9027 =
    43,681.003056 tCO2 → 43,681 whole tonnes, rounded down."""
    m = catalogue.get("AMS-I.D", "18.0")
    params = m.parameter_values({"ef_grid_cm": "0.9027"})
    inputs = {2021: {"electricity_export": Decimal("48804.720"), "electricity_import": Decimal("415.440")}}
    (result,) = m.compute(inputs, params)
    assert result.exact == Decimal("43681.0030560")
    assert result.quantity == 43681
    # A metered deduction of 5 % comes off before rounding.
    (discounted,) = m.compute(inputs, m.parameter_values({"ef_grid_cm": "0.9027", "uncertainty_deduction": "0.05"}))
    assert discounted.quantity == 41496  # 43,681.003056 × 0.95 = 41,496.95…


def test_ams_ii_g_fuel_saved_times_fnrb_ncv_ef() -> None:
    """AMS-II.G v13 eq. (1): ER = B_savings × f_NRB × NCV_biomass ×
    EF_projected_fossilfuel with the methodology's defaults NCV = 0.015 TJ/t
    and EF = 63.7 tCO2/TJ. 1,000 t of wood saved at f_NRB 0.3:
    1000 × 0.3 × 0.015 × 63.7 = 286.65 → 286 t."""
    m = catalogue.get("AMS-II.G", "13.0")
    (result,) = m.compute({2023: {"fuel_saved": Decimal("1000")}}, m.parameter_values())
    assert result.exact == Decimal("286.65")
    assert result.quantity == 286
    (high,) = m.compute({2023: {"fuel_saved": Decimal("1000")}}, m.parameter_values({"fnrb": "0.88"}))
    assert high.quantity == 840  # 1000 × 0.88 × 0.015 × 63.7 = 840.84


def test_ar_mangrove_area_growth_and_part_year() -> None:
    """AR-TOOL14 with the IPCC 2013 Wetlands Supplement mangrove defaults
    (G_w 9.9 t d.m./ha/yr, R 0.49, CF 0.451): 100 ha for a full year gives
    100 × 9.9 × 1.49 × 0.451 × 44/12 = 2,439.3237 → 2,439 t. Half a year on
    plot-measured growth of 8 t/ha/yr: 100 × 8 × 1.49 × 0.451 × 44/12 × 0.5
    = 985.5893… → 985 t."""
    m = catalogue.get("AR-MANGROVE", "1.0")
    facts = {"buffer_basis_points": Decimal(2000)}
    (full,) = m.compute({2022: {"area": Decimal("100"), "_days": Decimal(365), "_year_days": Decimal(365)}},
                        m.parameter_values(), facts)
    assert full.quantity == 2439
    assert abs(full.exact - Decimal("2439.3237")) < Decimal("0.0001")
    (half,) = m.compute({2022: {"area": Decimal("100"), "biomass_growth": Decimal("8"), "_days": Decimal(1),
                                "_year_days": Decimal(2)}}, m.parameter_values(), facts)
    assert half.quantity == 985


def test_refusals_and_rounding() -> None:
    m = catalogue.get("AMS-I.D", "18.0")
    with pytest.raises(MethodologyError) as err:
        m.parameter_values({"nope": "1"})
    assert err.value.code == "PARAMETER_UNKNOWN"
    with pytest.raises(MethodologyError) as err:
        m.parameter_values({"ef_grid_cm": 0.5})
    assert err.value.code == "PARAMETER_INVALID"
    with pytest.raises(MethodologyError) as err:
        m.compute({2022: {}}, m.parameter_values())
    assert err.value.code == "INPUT_MISSING"
    with pytest.raises(MethodologyError) as err:
        catalogue.get("AMS-I.D", "1.0")
    assert err.value.code == "METHODOLOGY_UNKNOWN"
    with pytest.raises(MethodologyError) as err:
        catalogue.get("AR-MANGROVE", "1.0").compute({2022: {"area": Decimal(1)}}, {})
    assert err.value.code == "PROJECT_FACT_MISSING"
    assert whole_tonnes(Decimal("0.999")) == 0 and whole_tonnes(Decimal("-5")) == 0
    assert len(m.code_version()) == 64
