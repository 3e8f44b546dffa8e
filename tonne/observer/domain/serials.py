"""Serial identity: the registries' serial grammars and their series.

Written once in `tonne.cadt.serial_series` (the CAD Trust importer's overlap
check uses the same rule); the observer reads every registry's rows with it."""

from tonne.cadt.serial_series import (
    APX_REGISTRIES,
    KILOGRAM_SERIES,
    SerialError,
    Serials,
    apx,
    cadt_block,
    cercarbono,
    gold_standard,
    isometric,
    kyoto,
    parse_any,
    puro,
    tonnes,
    verra,
)

__all__ = ["APX_REGISTRIES", "KILOGRAM_SERIES", "SerialError", "Serials", "apx", "cadt_block", "cercarbono",
           "gold_standard", "isometric", "kyoto", "parse_any", "puro", "tonnes", "verra"]
