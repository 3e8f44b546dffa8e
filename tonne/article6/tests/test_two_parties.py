"""Two Tonne installations, two Parties. The host (CI, this process)
authorises, issues with SOP and OMGE, first-transfers by international
transfer and sends a signed file; the acquiring Party (CH, another process
with its own database) imports it and uses units towards its NDC. Both AEF
reports hold exactly the expected rows."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tonne import testing
from tonne.article6 import aef, international, selectors
from tonne.article6.models import CorrespondingAdjustment, FirstTransfer, InternationalTransfer
from tonne.article6.tests.conftest import T0, key
from tonne.core import clock
from tonne.core.errors import ValidationFailed
from tonne.ledger import keys
from tonne.ledger.verify import verify_ledger
from tonne.organisations.models import Account
from tonne.units.models import UnitBlock

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[3]


def acquirer(data_dir: Path, *args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "TONNE_", "DJANGO_"))}
    env.update(TONNE_DATA_DIR=str(data_dir), TONNE_COUNTRY="CH", TONNE_FOUR_EYES="", TONNE_DELAY_NON_TRUSTED="0",
               TONNE_MFA_REQUIRED="0", TONNE_KYC_REQUIRED="0",
               TONNE_MIN_REPRESENTATIVES="0", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "tonne.article6.tests.acquirer", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def strip(rows: list[dict], *drop: str) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in drop} for row in rows]


def test_two_party_scenario(world, settings, tmp_path):
    settings.TONNE_SOP_OMGE_UNIT_CLASSES = frozenset({"VER"})
    ch = acquirer(tmp_path / "ch", "setup")
    # Host authorises (four eyes), then issues: SOP 50 and OMGE 20 leave the holder 930, 500 authorised.
    world.authorise(quantity=500, first_transfer_definition="first_international_transfer")
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(world.reg, world.project, {2024: 1000})
    s = issuance.serial_start
    assert Account.objects.get(type="sop").blocks.get().quantity == 50
    assert Account.objects.get(type="omge").blocks.get().quantity == 20
    # Mitigation contribution units cannot go abroad as ITMOs; nor to a Party not authorised.
    with pytest.raises(ValidationFailed) as exc:
        international.export_units(actor=world.reg.developer, from_account=world.reg.developer_account.identifier,
                                   ranges=[(s + 495, s + 505)], destination_party="CH", destination_registry="CH-TONNE",
                                   destination_account=ch["account"], idempotency_key=key())
    assert exc.value.code == "UNITS_NOT_AUTHORISED"
    with pytest.raises(ValidationFailed) as exc:
        international.export_units(actor=world.reg.developer, from_account=world.reg.developer_account.identifier,
                                   ranges=[(s, s + 9)], destination_party="SE", destination_registry="SE-TONNE",
                                   destination_account="SE-1", idempotency_key=key())
    assert exc.value.code == "ACQUIRING_PARTY_NOT_AUTHORISED"
    assert not FirstTransfer.objects.exists()
    # International transfer of 300: into the export account, first transfer, one adjustment.
    clock.freeze(T0 + dt.timedelta(days=1))
    sent = international.export_units(
        actor=world.reg.developer, from_account=world.reg.developer_account.identifier, ranges=[(s, s + 299)],
        destination_party="CH", destination_registry="CH-TONNE", destination_account=ch["account"],
        idempotency_key=key(),
    )
    assert UnitBlock.objects.get(serial_start=s).account.type == "export"
    (ft,) = FirstTransfer.objects.all()
    assert (ft.serial_start, ft.serial_end, ft.cause, ft.acquiring_party) == (s, s + 299, "first_international_transfer", "CH")
    adj = CorrespondingAdjustment.objects.get()
    assert (adj.vintage, adj.acquiring_party, adj.quantity) == (2024, "CH", 300)
    itmo = lambda n: f"CI-CH-2024:CI-TONNE:CI:{n}:2024"  # noqa: E731

    # Host AEF 2026.
    report = aef.build(2026)
    assert all(c["ok"] for c in report["checks"]), report["checks"]
    actions = [(a["type"], a["subtype"], a["quantity_t_co2"], a["itmo_first_id"], a["itmo_last_id"],
                a["transferring_party_id"], a["acquiring_party_id"]) for a in report["tables"]["actions"]]
    assert actions == [
        ("Authorization", "", 500, itmo(s), itmo(s + 499), "CI", "CH"),
        ("First Transfer", "", 300, itmo(s), itmo(s + 299), "CI", "CH"),
        ("Transfer", "", 300, itmo(s), itmo(s + 299), "CI", "CH"),
    ]
    (holding,) = report["tables"]["holdings"]
    assert (holding["quantity_t_co2"], holding["itmo_first_id"], holding["itmo_last_id"]) == (200, itmo(s + 300), itmo(s + 499))
    (auth_row,) = report["tables"]["authorizations"]
    assert (auth_row["authorization_id"], auth_row["purposes_for_authorization"], auth_row["quantity"],
            auth_row["first_transfer_definition_oimp"]) == ("CI-A6-2026-001", "NDC", 500, "")  # no OIMP: no OIMP definition
    assert len(report["tables"]["authorized_entities"]) == 1
    assert [len(report["cadt"][t]) for t in ("aef_t1_submission", "aef_t2_authorizations", "aef_t3_actions",
                                             "aef_t4_holdings", "aef_t5_authorized_entities")] == [1, 1, 3, 1, 1]
    assert verify_ledger().ok

    # The acquiring Party imports the signed file (with the host's published key) and uses 100 towards its NDC.
    (tmp_path / "transfer.note").write_text(sent.signed_file)
    (tmp_path / "host.key").write_text(keys.verifier_key_text())
    got = acquirer(tmp_path / "ch", "receive", str(tmp_path / "transfer.note"), str(tmp_path / "host.key"),
                   str(dt.datetime.now(dt.UTC).year))
    assert got["reimport"] == "TRANSFER_ALREADY_IMPORTED"
    # Received through the projects, MRV and units services, each writing its ledger entry.
    assert got["import_entries"] == ["project.registered", "mrv.report_recorded", "units.issued",
                                     "article6.transfer_received"]
    assert got["project"] == [f"CI-TONNE/{world.project.project_id}", "CI-TONNE", "issued"]
    assert got["ledger_ok"]
    (seg,) = got["segments"]
    assert seg["label"] == "authorised" and seg["itmo_id"] == f"CI-CH-2024:CI-TONNE:CI:{s}-{s + 299}:2024"
    assert seg["received_from"]["serial_start"] == s
    r = got["report"]
    assert all(c["ok"] for c in r["checks"]), r["checks"]
    ch_actions = [(a["type"], a["subtype"], a["quantity_t_co2"], a["itmo_first_id"], a["itmo_last_id"],
                   a["transferring_party_id"], a["acquiring_party_id"], a["using_participating_party_id"])
                  for a in r["tables"]["actions"]]
    assert ch_actions == [
        ("Acquisition", "", 300, itmo(s), itmo(s + 299), "CI", "CH", ""),
        ("Use", "Use towards NDC", 100, itmo(s), itmo(s + 99), "CH", "", "CH"),
    ]
    (ch_holding,) = r["tables"]["holdings"]
    assert (ch_holding["quantity_t_co2"], ch_holding["itmo_first_id"], ch_holding["itmo_last_id"]) == (
        200, itmo(s + 100), itmo(s + 299))
    assert r["tables"]["authorizations"] == []  # the acquiring Party authorised nothing

    # The host refuses its own file, and one with a broken signature: no partner of its signed them.
    assert InternationalTransfer.objects.filter(direction="sent").count() == 1
    with pytest.raises(ValidationFailed) as exc:
        international.import_transfer(actor=world.reg.admin, signed=sent.signed_file, verifier_key=keys.verifier_key_text())
    assert exc.value.code == "PARTNER_KEY_UNKNOWN"
    tampered = sent.signed_file.replace('"destination_party":"CH"', '"destination_party":"CI"')
    with pytest.raises(ValidationFailed) as exc:
        international.import_transfer(actor=world.reg.admin, signed=tampered)
    assert exc.value.code == "PARTNER_KEY_UNKNOWN"
    assert selectors.lookup(str(s))["segments"][0]["first_transferred"]
