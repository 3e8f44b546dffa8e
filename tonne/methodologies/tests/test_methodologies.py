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


def _brackets(published: str, low: Decimal, high: Decimal) -> bool:
    """`published` (rounded to its last digit) agrees with a value known to lie in [low, high]."""
    value = Decimal(published)
    half = Decimal(1).scaleb(value.as_tuple().exponent) / 2  # type: ignore[operator]
    return low - half <= value < high + half


def test_gs_mecd_matches_the_verified_calculation_of_atec_gs11817() -> None:
    """Gold Standard MECD v1.2, Method 2, as applied by the verification
    calculation tool of ATEC's "Electric Cooking Program in Bangladesh —
    VPA02" (GS11817, PoA GS11815, verified by Earthood), whose cells are
    transcribed in hashgraph/guardian, "Methodology Library/Gold Standard/
    Metered Energy Cooking/MECD v2.0/test-fixtures/parameter-map.md"
    (commit 44f960d78b907d3ac6a4266719245df39a502251): SC_b 0.002402 and
    SC_p 0.000276 TJ/test/person (BE F61, F62), EF_b,input "≈ 93.74"
    tCO2e/TJ (BE F12), EF_el 0.412 tCO2/MWh (PE F28), TDL 0.1041 (PE F29),
    0.3285 MWh per device-year (PE F13); leakage zero (Option 1).
    The tool's results: per device-year BE 0.9648, PE 0.1494, ER 0.8154
    (ERs C12-C14); January 2022, 4.6 MWh metered on 214 devices: BE 13.5,
    PE 2.1, ER 11.4; year-3 benchmark, 62,143 devices: BE 59,958, PE 9,286,
    ER 50,672. EF_b,input is given truncated, so each result is computed at
    93.74 and at 93.75 and the published figure must fall between them."""
    m = catalogue.get("GS-MECD", "1.2")
    cases = (
        (Decimal("0.3285"), "0.9648", "0.1494", "0.8154"),
        (Decimal("4.6"), "13.5", "2.1", "11.4"),
        (Decimal("62143") * Decimal("0.3285"), "59958", "9286", "50672"),
    )
    for used, be, pe, er in cases:
        (low,), (high,) = (
            m.compute({2024: {"cooking_electricity": used}}, m.parameter_values({"ef_baseline_input": ef}))
            for ef in ("93.74", "93.75")
        )
        steps_low, steps_high = dict(low.steps), dict(high.steps)
        baseline = "BE = EC_p × SC_b/SC_p × EF_b,input (tCO2e)"
        project = "PE = EG_p × EF_el × (1 + TDL) (tCO2e)"
        assert _brackets(be, Decimal(steps_low[baseline]), Decimal(steps_high[baseline])), (used, be)
        assert _brackets(pe, Decimal(steps_low[project]), Decimal(steps_high[project])), (used, pe)
        assert _brackets(er, low.exact, high.exact), (used, er, low.exact, high.exact)
    # Issued in whole tonnes, rounded down: the January 2022 month gives 11.
    (january,) = m.compute({2022: {"cooking_electricity": Decimal("4.6")}}, m.parameter_values())
    assert january.quantity == 11


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
