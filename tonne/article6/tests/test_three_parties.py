"""Three Tonne installations, three Parties: the host (CI, this process)
sends ITMOs to CH; CH (its own process, database and key) imports them and
transfers part of them on to SE (a third process), which imports them with
the original ITMO identifiers, project, class, monitoring period and first
transfer record."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tonne import testing
from tonne.article6 import aef, international, review
from tonne.article6.tests.conftest import T0, key
from tonne.core import clock
from tonne.ledger import keys

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[3]


def party(country: str, data_dir: Path, *args: str, now: dt.datetime | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "TONNE_", "DJANGO_"))}
    if now is not None:
        env["PARTY_NOW"] = now.isoformat()
    env.update(TONNE_DATA_DIR=str(data_dir), TONNE_COUNTRY=country, TONNE_FOUR_EYES="", TONNE_DELAY_NON_TRUSTED="0",
               TONNE_MFA_REQUIRED="0", TONNE_KYC_REQUIRED="0", TONNE_EXPORT_TRUSTED_ONLY="0",
               TONNE_MIN_REPRESENTATIVES="0", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "tonne.article6.tests.party", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_acquired_itmos_go_on_to_a_third_party(world, tmp_path):
    ch_dir, se_dir = tmp_path / "ch", tmp_path / "se"
    ch, se = party("CH", ch_dir, "setup"), party("SE", se_dir, "setup")
    world.authorise(quantity=500, acquiring_parties=["CH"], first_transfer_definition="first_international_transfer")
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(world.reg, world.project, {2024: 1000})
    s = issuance.serial_start
    clock.freeze(T0 + dt.timedelta(days=1))
    sent = international.export_units(
        actor=world.reg.developer, from_account=world.reg.developer_account.identifier, ranges=[(s, s + 299)],
        destination_party="CH", destination_registry="CH-TONNE", destination_account=ch["account"], idempotency_key=key(),
    )
    (tmp_path / "to-ch.note").write_text(sent.signed_file)
    (tmp_path / "ci.key").write_text(keys.verifier_key_text())
    itmo = lambda lo, hi: f"CI-CH-2024:CI-TONNE:CI:{lo}-{hi}:2024"  # noqa: E731
    project = f"CI-TONNE/{world.project.project_id}"
    period = str(issuance.report.period_start)

    # CH acquires 300 and transfers 120 of them on to SE.
    got = party("CH", ch_dir, "onward", str(tmp_path / "to-ch.note"), str(tmp_path / "ci.key"), "SE", "SE-TONNE",
                "120", str(tmp_path / "to-se.note"), se["account"], now=T0 + dt.timedelta(days=2))
    ch_aef = got["aef"]
    assert got["reimport"] == "TRANSFER_ALREADY_IMPORTED" and got["ledger_ok"]
    assert got["received"] == [[itmo(s, s + 299), "CI-TONNE", world.project.project_id, issuance.unit_class, period, project]]
    (left,) = got["left"]
    assert left["itmo_id"] == itmo(s + 120, s + 299)

    # SE imports the 120 with the identity they had at CH: the host's ITMO identifiers, project and first transfer.
    got = party("SE", se_dir, "receive", str(tmp_path / "to-se.note"), str(tmp_path / "to-se.note.key"),
                now=T0 + dt.timedelta(days=3))
    se_aef = got["aef"]
    assert got["reimport"] == "TRANSFER_ALREADY_IMPORTED" and got["ledger_ok"]
    (received,) = got["received"]
    assert received[0] == itmo(s, s + 119)
    assert received[1:] == ["CH-TONNE", world.project.project_id, issuance.unit_class, period, project]
    (seg,) = got["segments"]
    assert seg["itmo_id"] == itmo(s, s + 119) and seg["authorisation"] == "CI-A6-2026-001"
    assert seg["first_transfer"]["definition"] == "first_international_transfer"
    assert seg["first_transfer"]["acquiring_party"] == "CH"

    # The three AEFs, row by row as written by hand from the decisions, and reconciled pairwise.
    def rows(report: dict) -> list[tuple]:
        return [(r["date"], r["type"], r["quantity_t_co2"], r["itmo_first_id"], r["itmo_last_id"],
                 r["transferring_party_id"], r["acquiring_party_id"]) for r in report["tables"]["actions"]]

    one = lambda n: f"CI-CH-2024:CI-TONNE:CI:{n}:2024"  # noqa: E731
    clock.freeze(T0 + dt.timedelta(days=3))
    host = aef.build(2026)
    assert rows(host) == [
        ("2026-03-03", "Authorization", 500, one(s), one(s + 499), "CI", "CH"),
        ("2026-03-04", "First Transfer", 300, one(s), one(s + 299), "CI", "CH"),
        ("2026-03-04", "Transfer", 300, one(s), one(s + 299), "CI", "CH"),
    ]
    assert rows(ch_aef) == [
        ("2026-03-05", "Acquisition", 300, one(s), one(s + 299), "CI", "CH"),
        ("2026-03-05", "Transfer", 120, one(s), one(s + 119), "CH", "SE"),
    ]
    assert [(h["quantity_t_co2"], h["itmo_first_id"]) for h in ch_aef["tables"]["holdings"]] == [(180, one(s + 120))]
    assert rows(se_aef) == [("2026-03-06", "Acquisition", 120, one(s), one(s + 119), "CH", "SE")]
    assert host["review"] == ch_aef["review"] == se_aef["review"] == []
    assert review.reconcile(host, ch_aef) == review.reconcile(ch_aef, se_aef) == []
    # A Party that says it acquired fewer: the review lists it.
    short = {**ch_aef, "tables": {**ch_aef["tables"], "actions": [
        {**ch_aef["tables"]["actions"][0], "quantity_t_co2": 299, "itmo_last_id": one(s + 298)}]}}
    assert [f["code"] for f in review.reconcile(host, short)] == ["RECONCILE_IDENTIFIER", "RECONCILE_QUANTITY"]
