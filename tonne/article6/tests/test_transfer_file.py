"""The transfer file's content, field by field (pure): every field × missing,
empty, too long, wrong type, out of range, each refused with its stable code
and the field's path."""

from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any

import pytest

from tonne.article6 import messages
from tonne.core.errors import ValidationFailed

NOW = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)


def valid() -> dict[str, Any]:
    block = {
        "serial_start": 7001, "serial_end": 7025, "quantity": 25, "serial": "SE-VER-1-0001-2024-7001-7025",
        "vintage": 2024, "unit_class": "VER", "itmo_id": "SE-CI:SE-TONNE:SE:7001-7025:2024",
        "mitigation_type": "Emission reductions", "monitoring_period": {"start": "2024-01-01", "end": "2024-06-30"},
        "project": {"project_id": "SE-0001", "name": "Swedish wind", "host_party": "SE", "sectoral_scope": 1,
                    "unit_type": "Avoidance - technical", "sectors": ["Energy"], "types": []},
        "authorisation": {"identifier": "SE-A6-1", "cooperative_approach": "SE-CI", "authorising_party": "SE",
                          "first_transfer_definition": "first_international_transfer", "version": 1,
                          "authorisation_date": "2026-01-01", "purposes": "NDC", "oimp_purposes": "",
                          "acquiring_parties": ["CI"], "letter_sha256": "ab" * 32, "originating_registry": "SE-TONNE"},
        "first_transfer": {"at": "2026-03-01T10:00:00+00:00", "definition": "first_international_transfer",
                           "acquiring_party": "CI"},
    }
    return {"format": "tonne-itmo-transfer/1", "transfer": "5b0e4b4c-3a53-4d0e-9a0f-6f1c2f0e8a11",
            "created_at": "2026-03-02T09:00:00+00:00", "origin_registry": "SE-TONNE", "origin_party": "SE",
            "destination_registry": "CI-TONNE", "destination_party": "CI", "destination_account": "CI-100-0000001-23",
            "transaction": "TX-SE-1", "ledger_seq": 1, "quantity": 25, "blocks": [block]}


TEXT = ["transfer", "created_at", "origin_registry", "origin_party", "destination_registry", "destination_party",
        "destination_account", "transaction"]
BLOCK_TEXT = ["serial", "unit_class", "mitigation_type", "itmo_id", "monitoring_period.start", "monitoring_period.end",
              "project.project_id", "project.name", "project.host_party", "project.unit_type",
              "authorisation.identifier", "authorisation.cooperative_approach", "authorisation.authorising_party",
              "authorisation.first_transfer_definition", "authorisation.authorisation_date", "authorisation.purposes",
              "authorisation.originating_registry", "first_transfer.at", "first_transfer.definition"]
TEXT += [f"blocks[0].{f}" for f in BLOCK_TEXT]
INTEGERS = {  # field: a value out of range
    "quantity": -5, "ledger_seq": -1, "blocks[0].serial_start": 0, "blocks[0].serial_end": 2**64,
    "blocks[0].quantity": 0, "blocks[0].vintage": 1800, "blocks[0].project.sectoral_scope": 99,
    "blocks[0].authorisation.version": 0,
}
LISTS = ["blocks", "blocks[0].project.sectors", "blocks[0].project.types", "blocks[0].authorisation.acquiring_parties"]
OBJECTS = ["blocks[0].monitoring_period", "blocks[0].project", "blocks[0].authorisation"]
OUT_OF_RANGE_TEXT = {"created_at": "1999-01-01T00:00:00+00:00", "blocks[0].monitoring_period.start": "1800-01-01",
                     "blocks[0].authorisation.authorisation_date": "2999-01-01", "blocks[0].first_transfer.at":
                     "2030-01-01T00:00:00+00:00"}
NULLABLE = {"ledger_seq", "blocks[0].authorisation.letter_sha256", "blocks[0].first_transfer",
            "blocks[0].first_transfer.acquiring_party"}
MAY_BE_EMPTY = {"blocks[0].project.sectors", "blocks[0].project.types", "blocks[0].authorisation.acquiring_parties",
                "blocks[0].authorisation.oimp_purposes"}


def _steps(path: str) -> list[str | int]:
    return [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", path)]


def changed(path: str, value: Any = None, *, drop: bool = False) -> dict[str, Any]:
    payload = valid()
    *parents, last = _steps(path)
    target: Any = payload
    for step in parents:
        target = target[step]
    if drop:
        del target[last]
    else:
        target[last] = value
    return payload


def cases() -> list[tuple[str, str, Any, str]]:
    out: list[tuple[str, str, Any, str]] = []
    every = TEXT + list(INTEGERS) + LISTS + OBJECTS + ["blocks[0].authorisation.oimp_purposes",
                                                        "blocks[0].authorisation.letter_sha256"]
    for f in every:
        out.append((f, "missing", None, "TRANSFER_FIELD_MISSING"))
    for f in TEXT + ["blocks[0].authorisation.letter_sha256"]:
        out.append((f, "empty", "", "TRANSFER_FIELD_EMPTY"))
        out.append((f, "too long", "A" * 5000, "TRANSFER_FIELD_TOO_LONG"))
        out.append((f, "wrong type", 12, "TRANSFER_FIELD_INVALID"))
    out.append(("blocks[0].authorisation.oimp_purposes", "too long", "A" * 5000, "TRANSFER_FIELD_TOO_LONG"))
    out.append(("blocks[0].authorisation.oimp_purposes", "wrong type", ["CORSIA"], "TRANSFER_FIELD_INVALID"))
    for f, bad in INTEGERS.items():
        if f not in NULLABLE:
            out.append((f, "empty", None, "TRANSFER_FIELD_EMPTY"))
        out.append((f, "wrong type", "12", "TRANSFER_FIELD_INVALID"))
        out.append((f, "wrong type", True, "TRANSFER_FIELD_INVALID"))
        out.append((f, "out of range", bad, "TRANSFER_FIELD_OUT_OF_RANGE"))
    for f in LISTS:
        out.append((f, "empty", None, "TRANSFER_FIELD_EMPTY"))
        out.append((f, "wrong type", "x", "TRANSFER_FIELD_INVALID"))
    out.append(("blocks", "empty", [], "TRANSFER_FIELD_EMPTY"))
    out.append(("blocks", "too long", [{}] * 1001, "TRANSFER_FIELD_TOO_LONG"))
    out.append(("blocks[0].project.sectors", "too long", ["Energy"] * 51, "TRANSFER_FIELD_TOO_LONG"))
    out.append(("blocks[0].authorisation.acquiring_parties", "wrong type", ["foo"], "TRANSFER_FIELD_INVALID"))
    for f in OBJECTS:
        out.append((f, "empty", None, "TRANSFER_FIELD_EMPTY"))
        out.append((f, "wrong type", "x", "TRANSFER_FIELD_INVALID"))
    for f, bad in OUT_OF_RANGE_TEXT.items():
        out.append((f, "out of range", bad, "TRANSFER_FIELD_OUT_OF_RANGE"))
    return out


@pytest.mark.parametrize(("field", "how", "value", "code"), cases(), ids=lambda v: v if isinstance(v, str) and len(v) < 60 else "-")
def test_every_field_refused_with_its_code(field: str, how: str, value: Any, code: str) -> None:
    payload = changed(field, drop=True) if how == "missing" else changed(field, copy.deepcopy(value))
    with pytest.raises(ValidationFailed) as exc:
        messages.transfer_file(payload, now=NOW)
    assert exc.value.code == code, exc.value.message
    assert (exc.value.field or "").startswith(field), exc.value.message


def test_a_valid_file_passes_and_nullable_fields_may_be_null() -> None:
    got = messages.transfer_file(valid(), now=NOW)
    assert got["blocks"][0]["itmo_serials"] == (7001, 7025) and got["quantity"] == 25
    for f in NULLABLE:
        messages.transfer_file(changed(f, None), now=NOW)
    for f in MAY_BE_EMPTY:
        messages.transfer_file(changed(f, "" if f.endswith("oimp_purposes") else []), now=NOW)


@pytest.mark.parametrize(("field", "value", "code"), [
    ("blocks[0].unit_class", "foo bar baz qux", "TRANSFER_FIELD_TOO_LONG"),
    ("blocks[0].unit_class", "foo", "TRANSFER_FIELD_INVALID"),
    ("blocks[0].project.project_id", " ", "TRANSFER_FIELD_EMPTY"),
    ("blocks[0].project.project_id", "GH/1", "TRANSFER_FIELD_INVALID"),
    ("blocks[0].project.project_id", "P" * 92, "TRANSFER_FIELD_TOO_LONG"),  # with "SE-TONNE/": over 100, never cut
    ("blocks[0].project.host_party", "foo", "TRANSFER_FIELD_TOO_LONG"),
    ("blocks[0].project.host_party", "ZZ", "TRANSFER_FIELD_INVALID"),
    ("blocks[0].project.host_party", "se", "TRANSFER_FIELD_INVALID"),
    ("origin_registry", "R" * 120, "TRANSFER_FIELD_TOO_LONG"),
    ("transfer", "not-a-uuid", "TRANSFER_FIELD_INVALID"),
    ("blocks[0].serial_end", 7000, "TRANSFER_FIELD_OUT_OF_RANGE"),
    ("blocks[0].quantity", 24, "TRANSFER_QUANTITY_MISMATCH"),
    ("quantity", 26, "TRANSFER_QUANTITY_MISMATCH"),
    ("blocks[0].itmo_id", "SE-ITMO-7001-7025", "TRANSFER_FIELD_INVALID"),
    ("blocks[0].itmo_id", "SE-CI:SE-TONNE:SE:7001-7024:2024", "TRANSFER_ITMO_MISMATCH"),
    ("blocks[0].itmo_id", "SE-CI:OTHER:SE:7001-7025:2024", "TRANSFER_ITMO_MISMATCH"),
    ("blocks[0].itmo_id", "SE-CI:SE-TONNE:SE:7001-7025:2023", "TRANSFER_ITMO_MISMATCH"),
    ("blocks[0].monitoring_period.end", "2023-12-31", "TRANSFER_FIELD_OUT_OF_RANGE"),
    ("blocks[0].monitoring_period.end", "30/06/2024", "TRANSFER_FIELD_INVALID"),
    ("blocks[0].authorisation.letter_sha256", "xyz", "TRANSFER_FIELD_INVALID"),
    ("blocks[0].mitigation_type", "emission_reduction", "TRANSFER_FIELD_INVALID"),
    ("created_at", "2026-03-02T09:00:00", "TRANSFER_FIELD_INVALID"),
])
def test_formats_and_consistency(field: str, value: Any, code: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        messages.transfer_file(changed(field, value), now=NOW)
    assert (exc.value.code, exc.value.field) == (code, field), exc.value.message


def test_overlapping_serials_inside_one_file_are_refused() -> None:
    payload = valid()
    second = copy.deepcopy(payload["blocks"][0])
    second.update(serial_start=7020, serial_end=7030, quantity=11, itmo_id="SE-CI:SE-TONNE:SE:8020-8030:2024")
    payload["blocks"].append(second)
    payload["quantity"] = 36
    with pytest.raises(ValidationFailed) as exc:
        messages.transfer_file(payload, now=NOW)
    assert exc.value.code == "TRANSFER_SERIALS_OVERLAP"
    # Different serials here, but the same ITMOs twice.
    second.update(serial_start=8000, serial_end=8010, itmo_id="SE-CI:SE-TONNE:SE:7001-7011:2024")
    with pytest.raises(ValidationFailed) as exc:
        messages.transfer_file(payload, now=NOW)
    assert exc.value.code == "TRANSFER_SERIALS_OVERLAP"


def test_not_an_object_is_refused() -> None:
    for bad in ([], "x", None):
        with pytest.raises(ValidationFailed) as exc:
            messages.transfer_file(bad, now=NOW)
        assert exc.value.code == "TRANSFER_FIELD_INVALID"
    payload = valid()
    payload["blocks"] = ["x"]
    with pytest.raises(ValidationFailed) as exc:
        messages.transfer_file(payload, now=NOW)
    assert (exc.value.code, exc.value.field) == ("TRANSFER_FIELD_INVALID", "blocks[0]")


def test_each_purpose_keeps_its_first_transfer_definition() -> None:
    payload = changed("blocks[0].authorisation.first_transfer_definitions", {"ndc": "issuance"})
    got = messages.transfer_file(payload, now=NOW)["blocks"][0]["authorisation"]
    assert got["first_transfer_definitions"]["ndc"] == "issuance"
    # A file naming one definition applies it to every authorised purpose.
    plain = messages.transfer_file(valid(), now=NOW)
    one = plain["blocks"][0]["authorisation"]
    assert set(one["first_transfer_definitions"].values()) == {one["first_transfer_definition"]}
    for bad, where in (({"corsia": "issuance"}, "first_transfer_definitions"), ({"ndc": "someday"}, "ndc"), ("x", "")):
        with pytest.raises(ValidationFailed) as exc:
            messages.transfer_file(changed("blocks[0].authorisation.first_transfer_definitions", bad), now=NOW)
        assert exc.value.code == "TRANSFER_FIELD_INVALID" and where in (exc.value.field or "")
