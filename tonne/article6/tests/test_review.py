"""The review's checks, which read only AEF rows: the ITMO state machine,
holdings against actions, adjustments naming who acquired or used, and
reconciling two Parties' AEFs (pure, then through the command, JSON and
xlsx). Expected rows and findings are written by hand."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command

from tonne import testing
from tonne.article6 import aef, international, review
from tonne.article6.tests.conftest import T0, key
from tonne.core import clock
from tonne.core.errors import ValidationFailed

ITMO = "A:GH-REG:GH:{}:2025"


def row(type_, lo, hi, subtype="", date="2026-05-01", **kw):
    return {"type": type_, "subtype": subtype, "date": date, "itmo_first_id": ITMO.format(lo),
            "itmo_last_id": ITMO.format(hi), "quantity_t_co2": hi - lo + 1, "authorization_id": "AUTH-1",
            "vintage_year": 2025, "cooperative_approach_id": "A", "first_transferring_party_id": "GH",
            "acquiring_party_id": "", "transferring_party_id": "GH", "using_participating_party_id": "", **kw}


def codes(findings):
    return [f["code"] for f in findings]


def test_valid_sequences_pass():
    assert review.sequences([
        row("Authorization", 1, 100),
        row("First Transfer", 1, 30, acquiring_party_id="CH"),
        row("Transfer", 1, 30, acquiring_party_id="CH"),
        row("First Transfer", 31, 40),
        row("Use", 31, 40, subtype="Use for OIMP"),
        row("First Transfer", 41, 45, acquiring_party_id="CH"),
        row("Use", 41, 45, using_participating_party_id="CH"),
        row("Authorization", 46, 100, subtype="Revocation"),
    ]) == []
    # The acquiring Party's registry: acquired, transferred on, part of it back again and used.
    assert review.sequences([row("Acquisition", 1, 30), row("Transfer", 1, 10), row("Use", 11, 30),
                             row("Acquisition", 1, 5), row("Cancellation", 1, 5)]) == []


@pytest.mark.parametrize(("rows", "expected"), [
    # A transfer or use before the first transfer.
    ([row("Authorization", 1, 10), row("Transfer", 1, 10, acquiring_party_id="CH")], ["A6_SEQUENCE_INVALID"]),
    ([row("Authorization", 1, 10), row("Use", 5, 6)], ["A6_SEQUENCE_INVALID"]),
    # Two first transfers of one unit.
    ([row("Authorization", 1, 10), row("First Transfer", 1, 10), row("First Transfer", 10, 10)],
     ["A6_SEQUENCE_INVALID"]),
    # Used twice; acquired while held; first-transferred without an authorisation.
    ([row("Acquisition", 1, 10), row("Use", 1, 10), row("Use", 3, 3)], ["A6_SEQUENCE_INVALID"]),
    ([row("Acquisition", 1, 10), row("Acquisition", 2, 2)], ["A6_SEQUENCE_INVALID"]),
    ([row("First Transfer", 1, 10)], ["A6_SEQUENCE_INVALID"]),
    # A revocation takes back only what was not first-transferred.
    ([row("Authorization", 1, 10), row("First Transfer", 1, 10), row("Authorization", 1, 10, subtype="Revocation")],
     ["A6_SEQUENCE_INVALID"]),
    # The adjustment names CH; the units go to SE, or are used for OIMP.
    ([row("Authorization", 1, 10), row("First Transfer", 1, 10, acquiring_party_id="CH"),
      row("Transfer", 1, 10, acquiring_party_id="SE")], ["A6_ADJUSTMENT_PARTY"]),
    ([row("Authorization", 1, 10), row("First Transfer", 1, 10, acquiring_party_id="CH"),
      row("Use", 1, 10, subtype="Use for OIMP")], ["A6_ADJUSTMENT_PARTY"]),
    ([{"type": "Use", "itmo_first_id": "nonsense", "itmo_last_id": "x"}], ["A6_ITMO_INVALID"]),
])
def test_invalid_sequences_are_found(rows, expected):
    assert codes(review.sequences(rows)) == expected


def test_holdings_balance():
    history = [row("Authorization", 1, 100), row("First Transfer", 1, 30), row("Transfer", 1, 30),
               row("Authorization", 91, 100, subtype="Revocation")]
    held = [{"authorization_id": "AUTH-1", "vintage_year": 2025, "quantity_t_co2": 60}]
    assert review.balances(history, held) == []
    (found,) = review.balances(history, [{**held[0], "quantity_t_co2": 70}])
    assert found["code"] == "A6_HOLDINGS_UNBALANCED" and (found["authorization"], found["vintage"]) == ("AUTH-1", 2025)


def aef_of(party, actions):
    return {"party": party, "year": 2026, "tables": {"actions": actions, "holdings": []}}


def test_reconcile_two_parties():
    sent = row("Transfer", 1, 30, acquiring_party_id="CH", date="2026-05-01")
    got = row("Acquisition", 1, 30, transferring_party_id="GH", acquiring_party_id="CH", date="2026-05-02")
    gh, ch = aef_of("GH", [sent]), aef_of("CH", [got])
    assert review.reconcile(ch, gh) == [] and review.reconcile(gh, ch) == []
    assert codes(review.reconcile(ch, aef_of("GH", []))) == ["RECONCILE_TRANSFER_MISSING"]
    assert codes(review.reconcile(aef_of("CH", []), gh)) == ["RECONCILE_ACQUISITION_MISSING"]
    assert codes(review.reconcile(aef_of("CH", [{**got, "quantity_t_co2": 29, "itmo_last_id": ITMO.format(29)}]), gh)) \
        == ["RECONCILE_IDENTIFIER", "RECONCILE_QUANTITY"]
    assert codes(review.reconcile(aef_of("CH", [{**got, "authorization_id": "AUTH-2"}]), gh)) == ["RECONCILE_IDENTIFIER"]
    assert codes(review.reconcile(aef_of("CH", [{**got, "date": "2026-04-30"}]), gh)) == ["RECONCILE_DATE"]
    shifted = {**got, "itmo_first_id": ITMO.format(2), "itmo_last_id": ITMO.format(31)}
    assert codes(review.reconcile(aef_of("CH", [shifted]), gh)) == ["RECONCILE_IDENTIFIER", "RECONCILE_IDENTIFIER"]
    # Our own transfer to CH that CH never recorded.
    assert codes(review.reconcile(gh, aef_of("CH", []))) == ["RECONCILE_ACQUISITION_MISSING"]


def test_a_file_that_is_no_aef_is_refused():
    for name, content in [("x.json", b"{"), ("x.json", b'{"party": "CH"}'), ("x.xlsx", b"not a workbook"),
                          ("x.json", json.dumps({"party": "CH", "year": 2026,
                                                 "tables": {"actions": [{"type": "Use"}], "holdings": []}}).encode())]:
        with pytest.raises(ValidationFailed) as exc:
            review.read_aef(name, content, aef.TITLES)
        assert exc.value.code == "AEF_FILE_INVALID"


@pytest.mark.django_db
def test_reconcile_command_json_and_xlsx(world, tmp_path):
    world.authorise(quantity=600, acquiring_parties=["CH"], first_transfer_definition="first_international_transfer")
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(world.reg, world.project, {2024: 1000})
    s = issuance.serial_start
    clock.freeze(T0 + dt.timedelta(days=1))
    international.export_units(actor=world.reg.developer, from_account=world.reg.developer_account.identifier,
                               ranges=[(s, s + 299)], destination_party="CH", destination_registry="CH-TONNE",
                               destination_account="CH-1", idempotency_key=key())
    itmo = lambda n: f"CI-CH-2024:CI-TONNE:CI:{n}:2024"  # noqa: E731
    acquisition = {"date": "2026-03-05", "type": "Acquisition", "subtype": "", "cooperative_approach_id": "CI-CH-2024",
                   "authorization_id": "CI-A6-2026-001", "first_transferring_party_id": "CI",
                   "itmo_first_id": itmo(s), "itmo_last_id": itmo(s + 299), "quantity_t_co2": 300,
                   "vintage_year": 2024, "transferring_party_id": "CI", "acquiring_party_id": "CH"}
    ch = tmp_path / "ch.json"
    ch.write_text(json.dumps(aef_of("CH", [acquisition])))
    call_command("article6", "reconcile", str(ch))  # agrees: no error
    ch.write_text(json.dumps(aef_of("CH", [{**acquisition, "quantity_t_co2": 250, "itmo_last_id": itmo(s + 249)}])))
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("article6", "reconcile", str(ch), stdout=out)
    assert out.getvalue().splitlines()[:2] == [
        f"RECONCILE_IDENTIFIER CI->CH {itmo(s)} 2026-03-04: itmo_last_id: CI says {itmo(s + 299)}, CH says {itmo(s + 249)}",
        f"RECONCILE_QUANTITY CI->CH {itmo(s)} 2026-03-04: quantity_t_co2: CI says 300, CH says 250",
    ]
    # The xlsx the AEF export writes reads back as the same rows.
    report = aef.build(2026)
    content, _, _ = aef.render(report, "xlsx")
    back = review.read_aef("ci.xlsx", content, aef.TITLES)
    assert (back["party"], back["year"]) == ("CI", 2026)
    assert back["tables"]["actions"] == [{k: ("" if v is None else v) for k, v in r.items()}
                                         for r in report["tables"]["actions"]]
    # CH's acquisition reconciled against CI's workbook: they agree.
    assert codes(review.reconcile(aef_of("CH", [acquisition]), back)) == []
