"""Simplified afforestation / reforestation removals from area and growth
(after CDM AR-TOOL14 "Estimation of carbon stocks and change in carbon
stocks of trees and shrubs", with the IPCC 2013 Wetlands Supplement defaults
for mangroves).

ΔC_y = A_y × G_w × (1 + R) × CF × 44/12 × (days in the period / days in the year) × (1 − uncertainty deduction)

A_y is the planted area mapped by remote sensing (latest reading of the
vintage, ha); G_w the above-ground biomass growth (plot measurements of the
vintage when there are any, else the default). The buffer for
non-permanence is NOT deducted here: issuance withholds the project's
buffer share (its risk rating's basis points) into the pool, so the trail
shows it once, where the units go."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from tonne.methodologies.domain import Input, Methodology, Parameter, VintageResult, deducted, fmt

CO2_PER_C = Decimal(44) / Decimal(12)


def calculate(
    vintage: int, inputs: Mapping[str, Decimal], params: Mapping[str, Decimal], facts: Mapping[str, Decimal]
) -> VintageResult:
    area = inputs["area"]
    growth = inputs.get("biomass_growth", params["biomass_growth"])
    share = inputs.get("_days", Decimal(1)) / inputs.get("_year_days", Decimal(1))
    biomass = area * growth * (1 + params["root_shoot_ratio"]) * share
    removal = biomass * params["carbon_fraction"] * CO2_PER_C
    buffer_bp = facts.get("buffer_basis_points", Decimal(0))
    return deducted(
        vintage,
        removal,
        params["uncertainty_deduction"],
        (
            ("A (ha)", fmt(area)),
            ("G_w (t d.m./ha/yr)", fmt(growth)),
            ("R (root-shoot ratio)", fmt(params["root_shoot_ratio"])),
            ("share of the year", _shown(share)),
            ("biomass growth (t d.m.)", _shown(biomass)),
            ("CF (t C/t d.m.)", fmt(params["carbon_fraction"])),
            ("removal = biomass × CF × 44/12 (tCO2)", _shown(removal)),
        ),
        result="removal, rounded down (tCO2e)",
        shown=_shown,
        after=(("buffer withheld at issuance (basis points)", fmt(buffer_bp)),),
    )


def _shown(value: Decimal) -> str:
    return fmt(value.quantize(Decimal("0.000001")))


METHODOLOGY = Methodology(
    code="AR-MANGROVE",
    version="1.0",
    title="Mangrove reforestation removals from mapped area and plot growth (simplified AR-TOOL14)",
    kind="removal",
    reference="https://cdm.unfccc.int/methodologies/ARmethodologies/tools/ar-am-tool-14-v4.2.pdf",
    inputs=(
        Input("area", "ha", "last", "Planted mangrove area mapped by remote sensing."),
        Input("biomass_growth", "t/ha/yr", "last", "Above-ground biomass growth from sample plots.", required=False),
    ),
    parameters=(
        Parameter("biomass_growth", Decimal("9.9"), "t d.m./ha/yr",
                  "IPCC 2013 Wetlands Supplement, Table 4.5 (mangroves, tropical wet)", "Default above-ground growth"),
        Parameter("root_shoot_ratio", Decimal("0.49"), "ratio",
                  "IPCC 2013 Wetlands Supplement, Table 4.5 (mangroves, tropical wet)", "Below- to above-ground biomass"),
        Parameter("carbon_fraction", Decimal("0.451"), "t C/t d.m.",
                  "IPCC 2013 Wetlands Supplement, Table 4.2 (mangroves)", "Carbon fraction of dry matter"),
        Parameter("uncertainty_deduction", Decimal("0"), "fraction",
                  "AR-TOOL14: discount when plot sampling misses the 90/10 precision target", "Sampling discount"),
    ),
    calculate=calculate,
    project_facts=("buffer_basis_points",),
)
