"""The reader's words for the CAD Trust picklist values shown in lists (sectors,
project types, unit types). The value stored and exported stays CAD Trust's;
only its label is translated (tonne/projects/locale/{fr,es})."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

LABELS: dict[str, Promise] = {
    "Afforestation and reforestation": _("Afforestation and reforestation"),
    "Agriculture": _("Agriculture"),
    "Any combination of the above": _("Any combination of the above"),
    "Carbon capture and storage": _("Carbon capture and storage"),
    "Chemical industries": _("Chemical industries"),
    "Construction": _("Construction"),
    "Energy demand": _("Energy demand"),
    "Energy distribution": _("Energy distribution"),
    "Energy industries (renewable-/ non renewable sources)": _("Energy industries (renewable-/ non renewable sources)"),
    "Fugitive emissions from fuel (solid, oil and gas)": _("Fugitive emissions from fuel (solid, oil and gas)"),
    "Fugitive emissions from the production and consumption of halocarbons and sulfur hexafluoride": _("Fugitive emissions from the production and consumption of halocarbons and sulfur hexafluoride"),
    "Livestock and manure management": _("Livestock and manure management"),
    "Manufacturing industries": _("Manufacturing industries"),
    "Metal production": _("Metal production"),
    "Mining/mineral production": _("Mining/mineral production"),
    "Others": _("Others"),
    "Solvent use": _("Solvent use"),
    "Transport": _("Transport"),
    "Urban Development": _("Urban Development"),
    "Waste handling and disposal": _("Waste handling and disposal"),
    "Afforestation": _("Afforestation"),
    "Agriculture, forestry and other land use (AFOLU)": _("Agriculture, forestry and other land use (AFOLU)"),
    "Biogas": _("Biogas"),
    "Biomass Energy": _("Biomass Energy"),
    "CO2 usage": _("CO2 usage"),
    "Cement": _("Cement"),
    "Coal bed/mine methane": _("Coal bed/mine methane"),
    "Energy Efficiency Industry": _("Energy Efficiency Industry"),
    "Energy Efficiency households": _("Energy Efficiency households"),
    "Energy Efficiency own generation": _("Energy Efficiency own generation"),
    "Energy Efficiency service": _("Energy Efficiency service"),
    "Energy Efficiency supply side": _("Energy Efficiency supply side"),
    "Fugitive": _("Fugitive"),
    "Geothermal": _("Geothermal"),
    "Hydro": _("Hydro"),
    "Landfill gas": _("Landfill gas"),
    "Methane avoidance": _("Methane avoidance"),
    "N2O": _("N2O"),
    "PFCs and SF6": _("PFCs and SF6"),
    "Reforestation": _("Reforestation"),
    "Solar": _("Solar"),
    "Tidal": _("Tidal"),
    "Waste": _("Waste"),
    "Wind": _("Wind"),
    "Avoidance - nature": _("Avoidance - nature"),
    "Avoidance - technical": _("Avoidance - technical"),
    "Not Determined": _("Not Determined"),
    "Reduction - nature": _("Reduction - nature"),
    "Reduction - technical": _("Reduction - technical"),
    "Removal - nature": _("Removal - nature"),
    "Removal - technical": _("Removal - technical"),
    "European Union": _("European Union"),
}


def label(value: str) -> str:
    """A picklist value in the reader's language (the value itself when it has no label)."""
    found = LABELS.get(value)
    return value if found is None else str(found)
