"""The methodologies this registry runs. Adding one is a module with a
METHODOLOGY and its worked-example test, listed here (docs/methodologies.md)."""

from __future__ import annotations

from tonne.methodologies import ams_i_d, ams_ii_g, ar_mangrove, gs_mecd
from tonne.methodologies.domain import Methodology, MethodologyError

CATALOGUE: dict[tuple[str, str], Methodology] = {
    (m.code, m.version): m
    for m in (ams_i_d.METHODOLOGY, ams_ii_g.METHODOLOGY, ar_mangrove.METHODOLOGY, gs_mecd.METHODOLOGY)
}


def get(code: str, version: str) -> Methodology:
    try:
        return CATALOGUE[(code, version)]
    except KeyError:
        raise MethodologyError(
            "METHODOLOGY_UNKNOWN", f"No methodology {code} version {version} runs in this registry.",
            details={"methodology": f"{code} {version}"},
        ) from None


def every() -> list[Methodology]:
    return sorted(CATALOGUE.values(), key=lambda m: (m.code, m.version))
