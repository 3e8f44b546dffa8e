"""CDM AMS-I.D "Grid connected renewable electricity generation", v18.

BE_y = EG_PJ,y × EF_grid,CM,y            (baseline emissions, tCO2)
EG_PJ,y = EG_export,y − EC_import,y       (net electricity fed to the grid, MWh)
ER_y = (BE_y − PE_y − LE_y) × (1 − uncertainty deduction)

Solar and wind have no project or leakage emissions under AMS-I.D, so PE and
LE are zero here. EF_grid,CM is the host grid's combined margin from the CDM
"Tool to calculate the emission factor for an electricity system"; the
default below is replaced per project by the host country's published value."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from tonne.methodologies.domain import Input, Methodology, Parameter, VintageResult, deducted, fmt


def calculate(
    vintage: int, inputs: Mapping[str, Decimal], params: Mapping[str, Decimal], facts: Mapping[str, Decimal]
) -> VintageResult:
    exported = inputs["electricity_export"]
    imported = inputs.get("electricity_import", Decimal(0))
    net = exported - imported
    baseline = net * params["ef_grid_cm"]
    return deducted(
        vintage,
        baseline,
        params["uncertainty_deduction"],
        (
            ("EG_export (MWh)", fmt(exported)),
            ("EC_import (MWh)", fmt(imported)),
            ("EG_PJ = EG_export − EC_import (MWh)", fmt(net)),
            ("EF_grid,CM (tCO2/MWh)", fmt(params["ef_grid_cm"])),
            ("BE = EG_PJ × EF_grid,CM (tCO2)", fmt(baseline)),
        ),
    )


METHODOLOGY = Methodology(
    code="AMS-I.D",
    version="18.0",
    title="Grid connected renewable electricity generation",
    kind="reduction",
    reference="https://cdm.unfccc.int/methodologies/DB/W3TINZ7KKWCK7L8WTXFQQOFQQH4SBK",
    inputs=(
        Input("electricity_export", "MWh", "sum", "Electricity fed to the grid, at the export meter."),
        Input("electricity_import", "MWh", "sum", "Electricity drawn from the grid by the plant.", required=False),
    ),
    parameters=(
        Parameter(
            "ef_grid_cm",
            Decimal("0.6"),
            "tCO2/MWh",
            "Host country's combined margin (CDM Tool 07); default to be replaced by the DNA's published value",
            "Combined margin emission factor of the grid",
        ),
        Parameter(
            "uncertainty_deduction",
            Decimal("0"),
            "fraction",
            "Zero for revenue-grade meters calibrated per IEC 62053 (AMS-I.D §monitoring)",
            "Share deducted for measurement uncertainty",
        ),
    ),
    calculate=calculate,
)
