"""Gold Standard "Methodology for Metered & Measured Energy Cooking Devices"
(MECD), version 1.2, Method 2 (controlled cooking test), for electric
project devices whose every unit is metered.

EC_p,y = EG_p,y × 0.0036                          (energy used by the project devices, TJ)
BE_y   = EC_p,y × (SC_b / SC_p) × EF_b,input       (baseline: the same meals cooked on the baseline fuel mix)
PE_y   = EG_p,y × EF_el,y × (1 + TDL_y)            (project: grid electricity with its transmission losses)
ER_y   = (BE_y − PE_y) × (1 − uncertainty deduction)

EG_p,y is summed from the devices' meters (MWh). SC_b and SC_p are the
specific energy consumptions per person and test of the controlled cooking
test; EF_b,input the baseline fuel mix's emission factor per TJ of fuel
input (fNRB already applied to the biomass share). This is the form of the
verification calculation tool of ATEC's GS11817 (see the test); leakage is
zero there (the methodology's Option 1, no leakage assessment), so a project
using this module must have had that option accepted. The defaults are
ATEC's values and are replaced by each project's own."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from tonne.methodologies.domain import Input, Methodology, Parameter, VintageResult, deducted, fmt

TJ_PER_MWH = Decimal("0.0036")

ATEC = "ATEC GS11817 (Bangladesh) MECD v1.2 verification calculation tool"


def calculate(
    vintage: int, inputs: Mapping[str, Decimal], params: Mapping[str, Decimal], facts: Mapping[str, Decimal]
) -> VintageResult:
    used = inputs["cooking_electricity"]
    energy = used * TJ_PER_MWH
    ratio = params["sc_baseline"] / params["sc_project"]
    baseline = energy * ratio * params["ef_baseline_input"]
    project = used * params["ef_grid"] * (1 + params["grid_losses"])
    return deducted(
        vintage,
        baseline - project,
        params["uncertainty_deduction"],
        (
            ("EG_p (MWh)", fmt(used)),
            ("EC_p = EG_p × 0.0036 (TJ)", fmt(energy)),
            ("SC_b / SC_p", _shown(ratio)),
            ("EF_b,input (tCO2e/TJ)", fmt(params["ef_baseline_input"])),
            ("BE = EC_p × SC_b/SC_p × EF_b,input (tCO2e)", _shown(baseline)),
            ("PE = EG_p × EF_el × (1 + TDL) (tCO2e)", _shown(project)),
        ),
        shown=_shown,
    )


def _shown(value: Decimal) -> str:
    return fmt(value.quantize(Decimal("0.000001")))


METHODOLOGY = Methodology(
    code="GS-MECD",
    version="1.2",
    title="Metered & Measured Energy Cooking Devices, Method 2 (controlled cooking test), electric devices",
    kind="reduction",
    reference="https://globalgoals.goldstandard.org/news-methodology-for-metered-measured-energy-cooking-devices/",
    inputs=(Input("cooking_electricity", "MWh", "sum", "Electricity used by the project cooking devices, at each device's meter."),),
    parameters=(
        Parameter("sc_baseline", Decimal("0.002402"), "TJ/test/person",
                  f"Controlled cooking test on the baseline fuel mix; {ATEC}, cell BE F61",
                  "Specific energy consumption, baseline"),
        Parameter("sc_project", Decimal("0.000276"), "TJ/test/person",
                  f"Controlled cooking test on the project device; {ATEC}, cell BE F62",
                  "Specific energy consumption, project device"),
        Parameter("ef_baseline_input", Decimal("93.74"), "tCO2e/TJ",
                  f"Baseline fuel mix (80 % wood at fNRB 0.8347, 11 % natural gas, 9 % LPG); {ATEC}, cell BE F12",
                  "Emission factor of the baseline fuel mix per TJ of fuel input"),
        Parameter("ef_grid", Decimal("0.412"), "tCO2/MWh",
                  f"Bangladesh grid, UNFCCC harmonised IFI list; {ATEC}, cell PE F28",
                  "Emission factor of the grid electricity the devices use"),
        Parameter("grid_losses", Decimal("0.1041"), "fraction",
                  f"Bangladesh Power Division; {ATEC}, cell PE F29", "Transmission and distribution losses"),
        Parameter("uncertainty_deduction", Decimal("0"), "fraction",
                  "Set by the VVB when metering or test precision requires it", "Precision discount"),
    ),
    calculate=calculate,
)
