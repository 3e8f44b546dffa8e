"""Canonical JSON (DESIGN §4): sorted keys, no spaces, UTF-8, integers only,
timezone-aware datetimes rendered as UTC with a trailing Z."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tonne.core.canonical import canonical_json, utc_timestamp

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.text())
json_values = st.recursive(
    json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


def test_keys_sorted_and_no_spaces() -> None:
    assert canonical_json({"b": 1, "a": [1, 2], "c": {"z": None, "y": True}}) == (
        b'{"a":[1,2],"b":1,"c":{"y":true,"z":null}}'
    )


def test_nested_keys_sorted_whatever_insertion_order() -> None:
    one = canonical_json({"x": {"b": 2, "a": 1}, "a": 0})
    two = canonical_json({"a": 0, "x": {"a": 1, "b": 2}})
    assert one == two == b'{"a":0,"x":{"a":1,"b":2}}'


def test_utf8_not_escaped() -> None:
    raw = canonical_json({"name": "Côte d'Ivoire – 森林"})
    assert raw == '{"name":"Côte d\'Ivoire – 森林"}'.encode()
    assert b"\\u" not in raw
    assert raw.decode("utf-8") == '{"name":"Côte d\'Ivoire – 森林"}'


def test_returns_bytes() -> None:
    assert isinstance(canonical_json({}), bytes)
    assert canonical_json({}) == b"{}"
    assert canonical_json([]) == b"[]"


def test_big_integers_exact() -> None:
    assert canonical_json({"n": 2**62}) == b'{"n":4611686018427387904}'
    assert canonical_json(-5) == b"-5"


@pytest.mark.parametrize("value", [1.0, 0.5, float("nan"), {"a": 1.5}, [1, 2.0], {"a": {"b": [0.1]}}])
def test_floats_refused(value: object) -> None:
    with pytest.raises(TypeError, match="float"):
        canonical_json(value)


def test_booleans_are_not_integers() -> None:
    assert canonical_json({"t": True, "f": False}) == b'{"f":false,"t":true}'


def test_naive_datetime_refused() -> None:
    with pytest.raises(TypeError, match="timezone"):
        canonical_json({"at": dt.datetime(2024, 1, 2, 3, 4, 5)})  # noqa: DTZ001


def test_aware_datetime_rendered_in_utc_with_z() -> None:
    at = dt.datetime(2024, 1, 2, 3, 4, 5, 678, tzinfo=dt.UTC)
    assert canonical_json({"at": at}) == b'{"at":"2024-01-02T03:04:05.000678Z"}'


def test_other_timezones_converted_to_utc() -> None:
    plus_two = dt.timezone(dt.timedelta(hours=2))
    at = dt.datetime(2024, 1, 2, 1, 0, 0, tzinfo=plus_two)
    assert utc_timestamp(at) == "2024-01-01T23:00:00.000000Z"
    assert canonical_json(at) == canonical_json(at.astimezone(dt.UTC))


def test_dates_iso() -> None:
    assert canonical_json({"d": dt.date(2024, 2, 29)}) == b'{"d":"2024-02-29"}'


def test_tuples_are_lists() -> None:
    assert canonical_json({"r": (1, 2)}) == canonical_json({"r": [1, 2]}) == b'{"r":[1,2]}'


@pytest.mark.parametrize("value", [Decimal("1"), {1, 2}, b"bytes", object()])
def test_unknown_types_refused(value: object) -> None:
    with pytest.raises(TypeError):
        canonical_json({"v": value})


def test_non_string_keys_become_strings() -> None:
    assert canonical_json({2: "b", 1: "a"}) == b'{"1":"a","2":"b"}'


@given(json_values)
def test_round_trips_and_is_stable(value: object) -> None:
    raw = canonical_json(value)
    decoded = json.loads(raw.decode("utf-8"))
    assert decoded == value
    assert canonical_json(decoded) == raw
    # No insignificant whitespace: re-encoding compactly gives the same bytes.
    assert raw == json.dumps(decoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
