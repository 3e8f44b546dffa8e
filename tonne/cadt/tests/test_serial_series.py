"""The series rule of the CAD Trust importer's overlap check (tonne.cadt.serial_series.import_range)."""

from __future__ import annotations

import pytest

from tonne.cadt.serial_series import import_range
from tonne.core.errors import ValidationFailed

V1 = ("serialNumberBlock", "unitBlockStart", "unitBlockEnd", "unitCount", "issuanceId")
V2 = ("unitSerialId", "unitStartBlock", "unitEndBlock", "unitCount", "cadTrustIssuanceId")


def _v1(block: str, start: str, end: str, **more: str) -> dict[str, str]:
    return {"serialNumberBlock": block, "unitBlockStart": start, "unitBlockEnd": end, "issuanceId": "i-1", **more}


def test_bare_cdm_blocks_of_different_parties_are_different_series() -> None:
    honduras = import_range(_v1("1-2210", "1", "2210", unitRegistryLink="CDM", countryJurisdictionOfOwner="HN"), V1)
    india = import_range(_v1("1-2210", "1", "2210", unitRegistryLink="CDM", countryJurisdictionOfOwner="IN"), V1)
    assert (honduras.namespace, india.namespace) == ("kyoto:HN", "kyoto:IN")
    assert not honduras.overlaps(india)


def test_the_same_units_written_three_ways_are_one_series() -> None:
    kyoto = import_range(_v1("BR-5-65142364-65147657-1-1-0-2569", "65142364", "65147657"), V1)
    bare = import_range(_v1("65142364-65147657", "65142364", "65147657", unitRegistryLink="CDM",
                            countryJurisdictionOfOwner="BR"), V1)
    two = import_range({"unitSerialId": "BR-5-65142364-1-1-0-2569 - BR-5-65147657-1-1-0-2569",
                        "unitStartBlock": "65142364", "unitEndBlock": "65147657"}, V2)
    assert kyoto == bare == two
    assert kyoto.namespace == "kyoto:BR"


def test_gold_standard_rows_carrying_cdm_serials_are_the_cdm_units() -> None:
    gs = import_range(_v1("RW-5-1459975-2-2-0-7014 - RW-5-1460107-2-2-0-7014", "1459975", "1460107",
                          unitRegistryLink="Gold Standard"), V1)
    cdm = import_range(_v1("1459975-1467609", "1459975", "1467609", unitRegistryLink="CDM",
                           countryJurisdictionOfOwner="RW"), V1)
    assert gs.namespace == "kyoto:RW" and gs.overlaps(cdm)


def test_registry_grammars_and_other_origins() -> None:
    verra = import_range(_v1("19385-941467007-941467431-VCS-VCU-1507-VER-ET-14-1340-01012020-31122020-1",
                             "941467007", "941467431"), V1)
    assert (verra.namespace, verra.start, verra.end) == ("verra:VCU", 941467007, 941467431)
    apx = import_range(_v1("ACR-US-1185-2025-3078-1 to 85847", "1", "85847"), V1)
    assert apx.namespace == "acr:ACR-US-1185-2025-3078"
    other = import_range(_v1("1-100", "1", "100", unitRegistryLink="Some Registry"), V1)
    assert other.namespace == "cadt:some-registry"
    # A CDM block whose Party is not given keeps the series the row's own text gives it.
    assert import_range(_v1("1-100", "1", "100", unitRegistryLink="CDM"), V1).namespace == "1-100"
    # Prefixed blocks keep their prefix as the series.
    assert import_range(_v1("", "AXJJ1000", "AXJJ1100"), V1).namespace == "AXJJ"


def test_blocks_are_still_checked() -> None:
    with pytest.raises(ValidationFailed) as reversed_:
        import_range(_v1("BR-5-65147657-65142364-1-1-0-2569", "65147657", "65142364"), V1)
    assert reversed_.value.code == "UNIT_BLOCK_REVERSED"
    with pytest.raises(ValidationFailed) as mismatch:
        import_range(_v1("", "AX1", "BX9"), V1)
    assert mismatch.value.code == "UNIT_BLOCK_SERIES_MISMATCH"
