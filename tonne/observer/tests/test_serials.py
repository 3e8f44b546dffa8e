"""Serial grammars, each read from strings published in the registries' own exports."""

import pytest

from tonne.observer.domain import serials as sn


def test_kyoto_range_in_one_string_and_in_two():
    cer = sn.kyoto("BR-5-65142364-65147657-1-1-0-2569")
    assert (cer.series, cer.start, cer.end, cer.quantity) == ("kyoto:BR", 65142364, 65147657, 5294)
    # Gold Standard rows for GS4823 carry CDM serials, a range written as two serials.
    gs = sn.parse_any("RW-5-1459975-2-2-0-7014 - RW-5-1460107-2-2-0-7014")
    assert (gs.series, gs.start, gs.end, gs.grammar) == ("kyoto:RW", 1459975, 1460107, "kyoto")
    with pytest.raises(sn.SerialError):
        sn.kyoto("RW-5-1459975-2-2-0-7014 - BR-5-1460107-2-2-0-7014")


def test_cdm_blocks_of_different_parties_are_different_series():
    a = sn.cadt_block("1 - 2210", origin="CDM", party="HN")
    b = sn.cadt_block("1 - 48230", origin="CDM", party="IN")
    assert a.series == "kyoto:HN" and b.series == "kyoto:IN"
    bare = sn.cadt_block("65142364-65147657", origin="cdm", party="BR")
    full = sn.kyoto("BR-5-65142364-65147657-1-1-0-2569")
    assert (bare.series, bare.start, bare.end) == (full.series, full.start, full.end)


def test_verra():
    s = sn.verra("19385-941467007-941467431-VCS-VCU-1507-VER-ET-14-1340-01012020-31122020-1")
    assert (s.series, s.start, s.end, s.quantity) == ("verra:VCU", 941467007, 941467431, 425)


def test_gold_standard():
    s = sn.gold_standard("GS1-1-KE-GS11603-16-2025-30256-110-5463")
    assert (s.series, s.start, s.end) == ("gs:GS1-1-KE-GS11603-16-2025-30256", 110, 5463)
    assert sn.gold_standard("GS1-1-UG-GS11236-16-2024-30307-1-19149").quantity == 19149


@pytest.mark.parametrize(("text", "series", "start", "end"), [
    ("ACR-US-1185-2025-3078-1 to 85847", "acr:ACR-US-1185-2025-3078", 1, 85847),
    ("ACR-FR-1129-2025-2917-30932 to 35143", "acr:ACR-FR-1129-2025-2917", 30932, 35143),
    ("CAR-1-US-1335-31-983-KS-2025-9205-1 to 5000", "car:CAR-1-US-1335-31-983-KS-2025-9205", 1, 5000),
    ("CAR-ROC-US-2056-129-2283-WV-2025-8969-1 to 260294", "car:CAR-ROC-US-2056-129-2283-WV-2025-8969", 1, 260294),
    ("ART-GY-102-2021-11-2759599 to 2760598", "art:ART-GY-102-2021-11", 2759599, 2760598),
    ("FCPF-CI-130-2023-20-1 to 46404", "art:FCPF-CI-130-2023-20", 1, 46404),
])
def test_apx_registries(text, series, start, end):
    s = sn.apx(text)
    assert (s.series, s.start, s.end) == (series, start, end)


def test_cercarbono_and_cadt_blocks():
    s = sn.cercarbono("CDC_1_1_1_321_14_1_2009", 4426, 4971)
    assert (s.series, s.quantity) == ("cercarbono:CDC_1_1_1_321_14_1_2009", 546)
    assert sn.cadt_block("1-100", origin="Verra").series == "cadt:verra"
    assert sn.cadt_block("ACR-US-1185-2025-3078-1 to 85847", origin="ACR").series.startswith("acr:")


@pytest.mark.parametrize("text", ["", "65147657 - 65142364", "BR-5-x-1-1-0-2569", "GS1-1-KE", "1 to"])
def test_refused(text):
    with pytest.raises(sn.SerialError):
        sn.cadt_block(text, origin="cdm", party="BR")


# Isometric credit batch serials as its registry lists them, with each batch's size.credit_kgs
# (CarbonPlan offsets-db-data, tests/data/isometric/retirements.csv at 530fef3a, batches
# ctb_1KJFW4WNE1S0PC1V, ctb_1KJFW4WNE1S026DQ and ctb_1KNQPFVGF1S0CA4E): the numbers count
# kilograms and a batch holds end - start of them.
@pytest.mark.parametrize(("text", "kgs"), [
    ("ISO-1-VAULT-USA-01P4-2026-40170350-40182796", 12446),
    ("ISO-1-VAULT-USA-01P4-2026-40227030-40237849", 10819),
    ("ISO-1-VAULT-USA-01P4-2026-41565785-41571173", 5388),
])
def test_isometric_batches_count_kilograms(text, kgs):
    s = sn.isometric(text)
    assert (s.series, s.grammar, s.quantity) == ("isometric:ISO-1-VAULT-USA-01P4-2026", "isometric", kgs)
    assert sn.parse_any(text) == s and sn.cadt_block(text, origin="Isometric") == s
    assert sn.tonnes(s) * 1000 == kgs
    with pytest.raises(sn.SerialError):
        sn.isometric(text.replace("-USA-", "-US-"))  # the country is ISO 3166 alpha-3
    with pytest.raises(sn.SerialError):
        sn.isometric("ISO-1-VAULT-USA-01P4-2026-40182796-40182796")  # an empty batch
