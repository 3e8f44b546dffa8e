"""Reconciliation between two Tonne installations on loopback (CI here, CH
in its own process and database, served by `tonne serve`; the helpers of
test_protocol): statements that agree, both ways (HTTP and the file route),
with each checkpoint witnessed by a consistency proof; a replay; a
received row edited behind CH's back, found on both sides, its units
frozen and their moves refused until resolved; a forked checkpoint; and
statements from strangers refused."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from tonne import testing
from tonne.article6.tests.conftest import T0, World, world  # noqa: F401 - the host registry's fixture
from tonne.controls.models import Freeze
from tonne.core import clock
from tonne.ledger import keys
from tonne.ledger.checkpoint import Checkpoint, generate_private_key, sign_checkpoint, sign_note
from tonne.ledger.services import make_checkpoint
from tonne.ledger.verify import verify_ledger
from tonne.linkage import delivery, reconciliation, sending, statements
from tonne.linkage.models import Mismatch, Partner, Statement
from tonne.linkage.tests.test_protocol import Receiver, deliver, key

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_outbound")]


def node(ch: Receiver, *args: str) -> dict[str, Any]:
    return json.loads(ch.tonne_module("tonne.linkage.tests.reconcile_node", *args).strip().splitlines()[-1])


class Node(Receiver):
    def tonne_module(self, module: str, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", module, *args], env=self.env, cwd=Path(__file__).resolve().parents[3],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def statement(self, note: str) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(f"{self.url}{reconciliation.PATH}", method="POST",  # noqa: S310 - loopback
                                         data=json.dumps({"note": note}).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback
                return answer.status, json.load(answer)
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)


def reconcile(host: World) -> list[str]:
    make_checkpoint(force=True)
    return reconciliation.reconcile_now(actor=host.reg.admin, post=delivery.post)


def test_reconciliation_between_two_registries(world: World, tmp_path: Path, settings: Any) -> None:  # noqa: F811
    settings.TONNE_LINKAGE_POLL_SECONDS = 0
    ch_node = Node(tmp_path / "ch")
    ch = ch_node.run("setup", keys.verifier_key_text())
    world.authorise(quantity=500, first_transfer_definition="first_international_transfer")
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(world.reg, world.project, {2024: 1000})
    s = issuance.serial_start
    testing.link_partner(world.reg.admin, world.approver, registry_id="CH-TONNE", party="CH", verifier_key=ch["key"],
                         endpoint=ch_node.url)
    ch_node.serve()
    dev, acc = world.reg.developer, world.reg.developer_account.identifier
    try:
        first = sending.propose(actor=dev, from_account=acc, ranges=[(s, s + 99)], destination_party="CH",
                                destination_registry="CH-TONNE", destination_account=ch["account"],
                                idempotency_key=key())
        deliver(first)
        ch_node.run("accept", str(first.uid))
        deliver(first)
        deliver(first)
        assert first.state == "completed"
        second = sending.propose(actor=dev, from_account=acc, ranges=[(s + 100, s + 109)], destination_party="CH",
                                 destination_registry="CH-TONNE", destination_account=ch["account"],
                                 idempotency_key=key())
        deliver(second)  # in transit: proposed here, checked there

        # 1. The statements agree, both ways; each side's checkpoint is cosigned by the other.
        assert reconcile(world) == ["CH-TONNE: 0 mismatch(es)"]
        sent = Statement.objects.get(direction="sent")
        assert json.loads(sent.answer.split("\n\n")[0])["cosigned"] and not sent.witness_code
        ours, theirs = tmp_path / "ch.statement", tmp_path / "ci.answer"
        node(ch_node, "statement", str(ours))
        call_command("linkage", "statement-in", str(ours), str(theirs))
        assert "CI-TONNE: 0 mismatch(es)" in ch_node.tonne("linkage", "statement-answer", str(theirs))
        assert Statement.objects.get(direction="received").witness_code == ""
        # More entries, a later checkpoint: the statement carries the consistency proof from the one cosigned.
        testing.issue(world.reg, world.project, {2023: 5})
        assert reconcile(world) == ["CH-TONNE: 0 mismatch(es)"]
        assert Statement.objects.filter(direction="sent").latest("at").witness_code == ""
        # 2. A replay gets the same answer, and records nothing more.
        status, body = ch_node.statement(sent.note)
        assert (status, body["note"]) == (200, sent.answer)

        # 3. CH's received row edited: found on both sides, the units frozen on both, moves refused.
        node(ch_node, "corrupt", str(first.uid))
        assert reconcile(world) == ["CH-TONNE: 1 mismatch(es)"]
        here = Mismatch.objects.get()
        assert (here.code, here.found_by, here.state, here.frozen) == ("RECON_RANGES_DIFFER", "partner", "open",
                                                                        [[s, s + 109]])
        assert Freeze.objects.get(uid=here.freezes[0]).lifted_at is None
        there = node(ch_node, "move", str(first.uid))
        assert there["code"] == "UNITS_FROZEN"
        (found,) = there["open"]
        assert (found["code"], found["found_by"], str(first.uid)) == ("RECON_RANGES_DIFFER", "us", found["transfer"])
        make_checkpoint(force=True)
        said = io.StringIO()
        call_command("linkage", "reconcile", "CH-TONNE", "--user", world.reg.admin.username, stdout=said)
        assert "CH-TONNE: 1 mismatch(es)" in said.getvalue()  # found again: the same open mismatch
        assert Mismatch.objects.count() == 1 and len(node(ch_node, "state")["open"]) == 1

        # 4. Resolved by each side's administrator: the freezes lifted, the units move again.
        reconciliation.resolve(actor=world.reg.admin, uid=str(here.uid), reason="CH restored its row")
        assert Freeze.objects.get(uid=here.freezes[0]).lifted_at is not None
        node(ch_node, "restore", str(first.uid))
        assert node(ch_node, "resolve", found["uid"])["state"] == "resolved"
        moved = node(ch_node, "move", str(first.uid))
        assert moved.get("moved") and moved["ledger_ok"]

        # The worker's job: a statement once TONNE_LINKAGE_RECONCILE_HOURS have passed since the last one.
        settings.TONNE_LINKAGE_RECONCILE_HOURS = 24
        assert reconciliation.due(clock.now()) == []
        clock.freeze(clock.now() + dt.timedelta(hours=25))
        worked: list[str] = []
        delivery.reconcile_once(worked.append)
        assert worked == ["reconciliation CH-TONNE: 0 mismatch(es)"] and reconciliation.due(clock.now()) == []

        # 5. A checkpoint of ours CH has seen, shown with another history (a fork): a mismatch there.
        latest = Partner.objects.get(registry_id="CH-TONNE")
        seen = reconciliation.ledger.latest_checkpoint()
        assert seen is not None
        forged = sign_checkpoint(Checkpoint(django_settings.TONNE_LEDGER_ORIGIN, seen.size, b"\x07" * 32),
                                 django_settings.TONNE_LEDGER_KEY_NAME, keys.private_key())
        note = statements.statement(to="CH-TONNE", at=clock.now(), lines=reconciliation.our_lines(latest),
                                    checkpoint=forged, consistency=None)
        status, body = ch_node.statement(note)
        told = json.loads(body["note"].split("\n\n")[0])
        assert status == 200 and told["witness"] == "WITNESS_FORK" and told["mismatches"][-1]["code"] == "WITNESS_FORK"

        # 6. Strangers: an unknown key, a tampered statement, fields that are wrong. No answer, stable codes.
        stranger = sign_note('{"format":"tonne-linkage-statement/1"}\n', django_settings.TONNE_LEDGER_KEY_NAME,
                             generate_private_key())
        assert ch_node.statement(stranger)[1]["code"] == "PARTNER_KEY_UNKNOWN"
        assert ch_node.statement(sent.note.replace('"type":"statement"', '"type":"statemenx"'))[1]["code"] == (
            "TRANSFER_SIGNATURE_INVALID")
        body_of = json.loads(sent.note.split("\n\n")[0])
        for change, code in [({"format": "x"}, "LINKAGE_MESSAGE_INVALID"),
                             ({"transfers": [{"transfer": "nope"}]}, "LINKAGE_MESSAGE_INVALID"),
                             ({"transfers": [{**body_of["transfers"][0], "ranges": [[5, 1]]}]}, "LINKAGE_MESSAGE_INVALID"),
                             ({"to": "SE-TONNE"}, "TRANSFER_NOT_FOR_THIS_REGISTRY")]:
            bad = statements._signed({**body_of, **change})
            status, problem = ch_node.statement(bad)
            assert (status, problem["code"]) == (422, code), change
        assert verify_ledger().ok and node(ch_node, "state")["ledger_ok"]
    finally:
        ch_node.kill()

