"""Serial numbers (DESIGN §3) and unit selection, without a database:
the display string renders and parses back exactly, malformed input is
refused with SERIAL_MALFORMED, and selections are checked before any lock."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tonne.core.errors import ValidationFailed
from tonne.units.domain import (
    MAX_SERIAL,
    RETIREMENT_PURPOSES,
    Selection,
    Serial,
    SerialPrefix,
    SerialRange,
    check_disjoint,
    check_quantity,
    parse_lookup,
    parse_serial,
    render_serial,
    unit_state,
)

EXAMPLE = "CI-VER-3-0042-2024-17-1000001-1005000"
EXAMPLE_PREFIX = SerialPrefix("CI", "VER", 3, 42, 2024, 17)


def code_of(fn, *args, **kwargs) -> str:  # noqa: ANN001
    with pytest.raises(ValidationFailed) as exc:
        fn(*args, **kwargs)
    return exc.value.code


# --- render / parse -------------------------------------------------------------


def test_design_example_parses() -> None:
    serial = parse_serial(EXAMPLE)
    assert serial.prefix == EXAMPLE_PREFIX
    assert serial.range == SerialRange(1000001, 1005000)
    assert serial.range.count == 5000
    assert serial.render() == EXAMPLE
    assert render_serial(EXAMPLE_PREFIX, SerialRange(1000001, 1005000)) == EXAMPLE


def test_single_unit_may_omit_end() -> None:
    serial = parse_serial("CI-VER-3-0042-2024-17-1000001")
    assert serial.range == SerialRange(1000001, 1000001)
    assert serial.render() == "CI-VER-3-0042-2024-17-1000001-1000001"


def test_parse_normalises_case_and_whitespace() -> None:
    assert parse_serial("  ci-ver-3-0042-2024-17-1000001-1005000\n").render() == EXAMPLE


def test_project_number_padding() -> None:
    assert render_serial(SerialPrefix("CI", "VER", 3, 7, 2024, 1), SerialRange(1, 1)) == "CI-VER-3-0007-2024-1-1-1"
    assert render_serial(SerialPrefix("CI", "VER", 3, 12345, 2024, 1), SerialRange(1, 1)) == "CI-VER-3-12345-2024-1-1-1"
    assert parse_serial("CI-VER-3-12345-2024-1-1-1").prefix.project == 12345


hosts = st.text(alphabet=string.ascii_uppercase, min_size=2, max_size=2)
unit_classes = st.from_regex(r"\A[A-Z][A-Z0-9.]{0,9}\Z")
prefixes = st.builds(
    SerialPrefix,
    host=hosts,
    unit_class=unit_classes,
    scope=st.integers(min_value=1, max_value=15),
    project=st.integers(min_value=0, max_value=10**8),
    vintage=st.integers(min_value=1000, max_value=9999),
    issuance=st.integers(min_value=1, max_value=10**6),
)


@st.composite
def ranges(draw) -> SerialRange:  # noqa: ANN001
    start = draw(st.integers(min_value=1, max_value=MAX_SERIAL))
    end = draw(st.integers(min_value=start, max_value=min(MAX_SERIAL, start + draw(st.sampled_from([0, 1, 10**6, MAX_SERIAL])))))
    return SerialRange(start, end)


@given(prefixes, ranges())
def test_render_parse_round_trip(prefix: SerialPrefix, serials: SerialRange) -> None:
    text = render_serial(prefix, serials)
    parsed = parse_serial(text)
    assert parsed == Serial(prefix, serials)
    assert parsed.render() == text
    assert parse_serial(text.lower()) == parsed
    assert parse_lookup(text) == (prefix, serials)


@given(prefixes, ranges())
def test_rendered_string_has_eight_fields(prefix: SerialPrefix, serials: SerialRange) -> None:
    parts = render_serial(prefix, serials).split("-")
    assert len(parts) == 8
    assert parts[0] == prefix.host and parts[1] == prefix.unit_class
    assert int(parts[6]) == serials.start and int(parts[7]) == serials.end


@pytest.mark.parametrize(
    "text",
    [
        "",
        None,
        "   ",
        "CI-VER-3-0042-2024-17",  # no range
        "CI-VER-0-0042-2024-17-1-2",  # scope 0
        "CI-VER-16-0042-2024-17-1-2",  # scope 16
        "CI-VER-03-0042-2024-17-1-2",  # padded scope
        "CI-VER-3-042-2024-17-1-2",  # project too short
        "CI-VER-3-00042-2024-17-1-2",  # extra leading zeros
        "CI-VER-3-0042-24-17-1-2",  # two-digit vintage
        "CI-VER-3-0042-20245-17-1-2",  # five-digit vintage
        "CI-VER-3-0042-2024-0-1-2",  # issuance 0
        "CI-VER-3-0042-2024-017-1-2",  # padded issuance
        "CI-VER-3-0042-2024-17-0-2",  # serial 0
        "CI-VER-3-0042-2024-17-01-2",  # padded serial
        "CI-VER-3-0042-2024-17-1-2-3",  # too many parts
        "CIV-VER-3-0042-2024-17-1-2",  # three-letter host
        "C1-VER-3-0042-2024-17-1-2",
        "CI-3VER-3-0042-2024-17-1-2",  # class starts with a digit
        "CI-VERIFIEDUNIT-3-0042-2024-17-1-2",  # class too long
        "CI-V_R-3-0042-2024-17-1-2",
        "CI-VER-3-0042-2024-17-1--2",
        "CI VER 3 0042 2024 17 1 2",
        "CI-VER-3-0042-2024-17-1-2 extra",
        "CI–VER–3–0042–2024–17–1–2",  # en dashes
        "CI-VER-3-0042-2024-17--1-2",
        "CI-VER-3-0042-2024-17-1-2-",
    ],
)
def test_malformed_serials(text: str | None) -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse_serial(text)  # type: ignore[arg-type]
    assert exc.value.code == "SERIAL_MALFORMED"
    assert exc.value.field == "serial"
    if text:
        assert repr(text) in exc.value.message


@given(st.text(max_size=40))
def test_arbitrary_text_never_crashes(text: str) -> None:
    try:
        serial = parse_serial(text)
    except ValidationFailed as exc:
        assert exc.code in ("SERIAL_MALFORMED", "SERIAL_RANGE_INVALID")
    else:
        assert parse_serial(serial.render()) == serial


def test_end_before_start_is_an_invalid_range() -> None:
    assert code_of(parse_serial, "CI-VER-3-0042-2024-17-10-5") == "SERIAL_RANGE_INVALID"


def test_serial_beyond_maximum_refused() -> None:
    assert code_of(parse_serial, f"CI-VER-3-0042-2024-17-1-{MAX_SERIAL + 1}") == "SERIAL_RANGE_INVALID"
    assert parse_serial(f"CI-VER-3-0042-2024-17-1-{MAX_SERIAL}").range.end == MAX_SERIAL


@pytest.mark.parametrize(("start", "end"), [(0, 5), (-1, 5), (5, 4), (1, MAX_SERIAL + 1)])
def test_serial_range_invalid(start: int, end: int) -> None:
    assert code_of(SerialRange, start, end) == "SERIAL_RANGE_INVALID"


def test_serial_range_arithmetic() -> None:
    r = SerialRange(10, 19)
    assert r.count == 10
    assert r.overlaps(SerialRange(19, 30)) and r.overlaps(SerialRange(1, 10)) and r.overlaps(SerialRange(12, 13))
    assert not r.overlaps(SerialRange(20, 30)) and not r.overlaps(SerialRange(1, 9))


# --- public lookup --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1000001", SerialRange(1000001, 1000001)),
        ("  42 ", SerialRange(42, 42)),
        ("1,000,001", SerialRange(1000001, 1000001)),
        ("5-10", SerialRange(5, 10)),
        ("5 - 10", SerialRange(5, 10)),
        ("5–10", SerialRange(5, 10)),
        ("5..10", SerialRange(5, 10)),
        ("5 to 10", SerialRange(5, 10)),
        ("1,000,001-1,005,000", SerialRange(1000001, 1005000)),
        ("7-7", SerialRange(7, 7)),
    ],
)
def test_lookup_bare_numbers_and_ranges(text: str, expected: SerialRange) -> None:
    assert parse_lookup(text) == (None, expected)


def test_lookup_full_serial() -> None:
    assert parse_lookup(EXAMPLE) == (EXAMPLE_PREFIX, SerialRange(1000001, 1005000))
    assert parse_lookup("CI-VER-3-0042-2024-17-1000001") == (EXAMPLE_PREFIX, SerialRange(1000001, 1000001))


@pytest.mark.parametrize(("text", "code"), [("", "SERIAL_MALFORMED"), ("0", "SERIAL_MALFORMED"), ("abc", "SERIAL_MALFORMED"),
                                             ("5-", "SERIAL_MALFORMED"), ("-5", "SERIAL_MALFORMED"), ("10-5", "SERIAL_RANGE_INVALID"),
                                             ("1-2-3", "SERIAL_MALFORMED"), ("05", "SERIAL_MALFORMED")])
def test_lookup_errors(text: str, code: str) -> None:
    assert code_of(parse_lookup, text) == code


@given(st.integers(min_value=1, max_value=MAX_SERIAL), st.integers(min_value=0, max_value=10**9))
def test_lookup_range_property(start: int, length: int) -> None:
    end = min(MAX_SERIAL, start + length)
    assert parse_lookup(f"{start}-{end}") == (None, SerialRange(start, end))
    assert parse_lookup(f"{start:,}") == (None, SerialRange(start, start))


# --- quantities and selections --------------------------------------------------


@pytest.mark.parametrize(
    ("value", "code"),
    [(0, "QUANTITY_NOT_POSITIVE"), (-1, "QUANTITY_NOT_POSITIVE"), (True, "QUANTITY_INVALID"), (1.0, "QUANTITY_INVALID"),
     ("5", "QUANTITY_INVALID"), (None, "QUANTITY_INVALID"), (MAX_SERIAL + 1, "QUANTITY_INVALID")],
)
def test_check_quantity_errors(value: object, code: str) -> None:
    assert code_of(check_quantity, value) == code


def test_check_quantity_ok() -> None:
    assert check_quantity(1) == 1
    assert check_quantity(MAX_SERIAL) == MAX_SERIAL


def test_check_disjoint_sorts_and_refuses_overlap() -> None:
    assert check_disjoint([SerialRange(20, 30), SerialRange(1, 19)]) == [SerialRange(1, 19), SerialRange(20, 30)]
    with pytest.raises(ValidationFailed) as exc:
        check_disjoint([SerialRange(20, 30), SerialRange(1, 20)])
    assert exc.value.code == "SERIAL_RANGES_OVERLAP"
    assert "1-20" in exc.value.message and "20-30" in exc.value.message


def test_selection_by_ranges() -> None:
    sel = Selection.build(ranges=[(20, 29), (1, 10)])
    assert sel.ranges == (SerialRange(1, 10), SerialRange(20, 29))
    assert sel.total == 20
    assert sel.quantity is None
    assert sel.describe() == {"ranges": [[1, 10], [20, 29]]}
    assert Selection.build(ranges=[SerialRange(1, 10)], quantity=10).total == 10
    assert Selection.build(ranges=[(1, 5), (6, 10)]).total == 10  # adjacent is fine


def test_selection_by_criteria() -> None:
    sel = Selection.build(quantity=50, project="CI-0001", vintage=2022, unit_class="VER")
    assert sel.total == 50
    assert sel.ranges == ()
    assert sel.describe() == {"quantity": 50, "project": "CI-0001", "vintage": 2022, "unit_class": "VER"}


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"ranges": [(1, 10)], "project": "CI-0001"}, "SELECTION_AMBIGUOUS"),
        ({"ranges": [(1, 10)], "vintage": 2022}, "SELECTION_AMBIGUOUS"),
        ({"ranges": [(1, 10)], "unit_class": "VER"}, "SELECTION_AMBIGUOUS"),
        ({"ranges": [(1, 10)], "quantity": 10, "project": "CI-0001"}, "SELECTION_AMBIGUOUS"),
        ({"ranges": [(1, 10), (10, 20)]}, "SERIAL_RANGES_OVERLAP"),
        ({"ranges": [(5, 15), (1, 30)]}, "SERIAL_RANGES_OVERLAP"),
        ({"ranges": [(1, 10), (1, 10)]}, "SERIAL_RANGES_OVERLAP"),
        ({"ranges": [(0, 10)]}, "SERIAL_RANGE_INVALID"),
        ({"ranges": [(10, 9)]}, "SERIAL_RANGE_INVALID"),
        ({"quantity": 0}, "QUANTITY_NOT_POSITIVE"),
        ({"quantity": -5}, "QUANTITY_NOT_POSITIVE"),
        ({"quantity": 2.5}, "QUANTITY_INVALID"),
        ({"quantity": True}, "QUANTITY_INVALID"),
        ({"ranges": [(1, 10)], "quantity": 9}, "QUANTITY_MISMATCH"),
        ({"ranges": [(1, 10)], "quantity": 11}, "QUANTITY_MISMATCH"),
        ({"ranges": [(1, 10), (21, 30)], "quantity": 10}, "QUANTITY_MISMATCH"),
        ({"ranges": [(1, 10)], "quantity": 0}, "QUANTITY_MISMATCH"),
        ({}, "SELECTION_EMPTY"),
        ({"ranges": []}, "SELECTION_EMPTY"),
        ({"project": "CI-0001"}, "SELECTION_EMPTY"),
    ],
)
def test_selection_errors(kwargs: dict, code: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        Selection.build(**kwargs)
    assert exc.value.code == code


def test_selection_accepts_json_style_ranges() -> None:
    # Ranges decoded from JSON arrive as lists.
    assert Selection.build(ranges=[[1, 10]]).total == 10


def test_selection_json_style_ranges_with_quantity() -> None:
    sel = Selection.build(ranges=[[1, 10], [21, 30]], quantity=20)
    assert sel.total == 20
    with pytest.raises(ValidationFailed) as exc:
        Selection.build(ranges=[[1, 10]], quantity=9)
    assert exc.value.code == "QUANTITY_MISMATCH"


@given(st.lists(st.tuples(st.integers(1, 1000), st.integers(0, 50)), min_size=1, max_size=8))
def test_selection_total_is_sum_of_disjoint_ranges(raw: list[tuple[int, int]]) -> None:
    rs = [(s, s + n) for s, n in raw]
    as_ranges = [SerialRange(*r) for r in rs]
    overlapping = any(a.overlaps(b) for i, a in enumerate(as_ranges) for b in as_ranges[i + 1 :])
    if overlapping:
        with pytest.raises(ValidationFailed) as exc:
            Selection.build(ranges=rs)
        assert exc.value.code == "SERIAL_RANGES_OVERLAP"
    else:
        sel = Selection.build(ranges=rs)
        assert sel.total == sum(r.count for r in as_ranges)
        assert list(sel.ranges) == sorted(as_ranges)


def test_unit_states_and_purposes() -> None:
    assert unit_state("holding") == "held"
    assert unit_state("retirement") == "retired"
    assert unit_state("cancellation") == unit_state("omge") == "cancelled"
    assert unit_state("export") == "exported"
    assert unit_state("buffer") == "buffer"
    assert "voluntary" in RETIREMENT_PURPOSES and "ndc" in RETIREMENT_PURPOSES


@pytest.mark.parametrize("text", ["CI-VER-3-٠٠٤٢-2024-17-1-2", "CI-VER-3-0042-٢٠٢٤-17-1-2", "CI-VER-3-0042-2024-17-1-1٠"])
def test_non_ascii_digits_are_malformed(text: str) -> None:
    assert code_of(parse_serial, text) == "SERIAL_MALFORMED"
