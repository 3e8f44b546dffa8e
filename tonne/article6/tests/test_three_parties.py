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
from tonne.article6 import international
from tonne.article6.tests.conftest import T0, key
from tonne.core import clock
from tonne.ledger import keys

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[3]


def party(country: str, data_dir: Path, *args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "TONNE_", "DJANGO_"))}
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
                "120", str(tmp_path / "to-se.note"), se["account"])
    assert got["reimport"] == "TRANSFER_ALREADY_IMPORTED" and got["ledger_ok"]
    assert got["received"] == [[itmo(s, s + 299), "CI-TONNE", world.project.project_id, issuance.unit_class, period, project]]
    (left,) = got["left"]
    assert left["itmo_id"] == itmo(s + 120, s + 299)

    # SE imports the 120 with the identity they had at CH: the host's ITMO identifiers, project and first transfer.
    got = party("SE", se_dir, "receive", str(tmp_path / "to-se.note"), str(tmp_path / "to-se.note.key"))
    assert got["reimport"] == "TRANSFER_ALREADY_IMPORTED" and got["ledger_ok"]
    (received,) = got["received"]
    assert received[0] == itmo(s, s + 119)
    assert received[1:] == ["CH-TONNE", world.project.project_id, issuance.unit_class, period, project]
    (seg,) = got["segments"]
    assert seg["itmo_id"] == itmo(s, s + 119) and seg["authorisation"] == "CI-A6-2026-001"
    assert seg["first_transfer"]["definition"] == "first_international_transfer"
    assert seg["first_transfer"]["acquiring_party"] == "CH"
