"""CDM AMS-II.G "Energy efficiency measures in thermal applications of
non-renewable biomass", v13, with metered fuel savings (stove sensors).

ER_y = B_y,savings × f_NRB,y × NCV_biomass × EF_projected_fossilfuel × (1 − uncertainty deduction)

B_y,savings is the woody biomass saved (tonnes), here summed from the stoves'
metered savings. Defaults are the methodology's own: NCV 0.015 TJ/t (IPCC
default for wood fuel) and 63.7 tCO2/TJ for the fossil fuel substitute; f_NRB
is the host country's approved value (the project overrides the default)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from tonne.methodologies.domain import Input, Methodology, Parameter, VintageResult, deducted, fmt


def calculate(
    vintage: int, inputs: Mapping[str, Decimal], params: Mapping[str, Decimal], facts: Mapping[str, Decimal]
) -> VintageResult:
    saved = inputs["fuel_saved"]
    energy = saved * params["fnrb"] * params["ncv_biomass"]
    gross = energy * params["ef_projected_fossilfuel"]
    return deducted(
        vintage,
        gross,
        params["uncertainty_deduction"],
        (
            ("B_savings (t woody biomass)", fmt(saved)),
            ("f_NRB", fmt(params["fnrb"])),
            ("NCV_biomass (TJ/t)", fmt(params["ncv_biomass"])),
            ("non-renewable energy saved (TJ)", fmt(energy)),
            ("EF_projected_fossilfuel (tCO2/TJ)", fmt(params["ef_projected_fossilfuel"])),
            ("ER before deduction (tCO2)", fmt(gross)),
        ),
    )


METHODOLOGY = Methodology(
    code="AMS-II.G",
    version="13.0",
    title="Energy efficiency measures in thermal applications of non-renewable biomass (metered)",
    kind="reduction",
    reference="https://cdm.unfccc.int/methodologies/DB/Q3V9ENCSGIO2XHWR1CQ8V5OBCJW7FS",
    inputs=(Input("fuel_saved", "t", "sum", "Woody biomass saved, metered by the stoves' sensors."),),
    parameters=(
        Parameter("fnrb", Decimal("0.3"), "fraction", "AMS-II.G v13 default where no approved national value exists",
                  "Fraction of non-renewable biomass"),
        Parameter("ncv_biomass", Decimal("0.015"), "TJ/t", "AMS-II.G v13 (IPCC 2006 default for wood fuel)",
                  "Net calorific value of the biomass"),
        Parameter("ef_projected_fossilfuel", Decimal("63.7"), "tCO2/TJ", "AMS-II.G v13 default",
                  "Emission factor of the fossil fuel that would substitute the biomass"),
        Parameter("uncertainty_deduction", Decimal("0"), "fraction",
                  "Set by the VVB when the 90/10 precision of the savings is not met", "Precision discount"),
    ),
    calculate=calculate,
)
