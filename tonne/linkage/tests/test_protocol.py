"""Two Tonne installations on loopback, each with its own database and
key: CI (this process) proposes international transfers to CH (its own
process, served by `tonne serve`); the worker's delivery carries the
messages. One scenario walks acceptance and completion, a replay, an
answer lost in a crash, a rejection, a timeout, the receiver's server
down, forged, unknown and malformed messages, and the partner removed
mid-transfer. After each step: every serial is live in exactly one
registry, and both ledgers verify."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from tonne import testing
from tonne.article6.tests.conftest import T0, World, key, world  # noqa: F401 - the host registry's fixture
from tonne.core import clock
from tonne.core.canonical import canonical_json
from tonne.core.errors import RegistryError
from tonne.ledger import keys
from tonne.ledger.checkpoint import generate_private_key, sign_note
from tonne.ledger.verify import verify_ledger
from tonne.linkage import delivery, sending
from tonne.linkage.models import Outbound
from tonne.organisations.models import Account
from tonne.units import services as units
from tonne.units.domain import Selection
from tonne.units.models import UnitBlock

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_outbound")]
ROOT = Path(__file__).resolve().parents[3]


class Receiver:
    """CH's installation: its own data directory, SQLite database and key."""

    def __init__(self, root: Path, country: str = "CH") -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "TONNE_", "DJANGO_"))}
        self.env.update(TONNE_DATA_DIR=str(root), TONNE_COUNTRY=country, TONNE_FOUR_EYES="", TONNE_MFA_REQUIRED="0",
                        TONNE_KYC_REQUIRED="0", TONNE_MIN_REPRESENTATIVES="0", TONNE_DELAY_NON_TRUSTED="0",
                        TONNE_LINKAGE_POLL_SECONDS="0", TONNE_OUTBOUND_ALLOW="127.0.0.0/8", TONNE_EXPORT_TRUSTED_ONLY="0",
                        PYTHONPATH=str(ROOT), DJANGO_SETTINGS_MODULE="tonne.settings")
        self.server: subprocess.Popen | None = None
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def run(self, *args: str) -> dict[str, Any]:
        done = subprocess.run([sys.executable, "-m", "tonne.linkage.tests.receiver", *args], env=self.env, cwd=ROOT,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    def tonne(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "tonne.cli", *args], env=self.env, cwd=ROOT,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr[-3000:]
        return done.stdout

    def serve(self) -> None:
        self.server = subprocess.Popen([sys.executable, "-m", "tonne.cli", "serve", "--port", str(self.port),
                                        "--no-worker"], env=self.env, cwd=ROOT,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/ledger", timeout=5) as answer:  # noqa: S310 - loopback
                    json.load(answer)
                return
            except OSError:
                assert self.server.poll() is None, "tonne serve stopped"
                assert time.monotonic() < deadline, "tonne serve did not answer"
                time.sleep(0.5)

    def kill(self) -> None:
        if self.server is not None:
            self.server.kill()
            self.server.wait(timeout=30)
            self.server = None

    def post(self, note: str) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(f"{self.url}/api/v1/linkage/messages", method="POST",  # noqa: S310 - loopback
                                         data=json.dumps({"note": note}).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback
                return answer.status, json.load(answer)
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)


def deliver(out: Outbound, post: Any = delivery.post) -> str:
    Outbound.objects.filter(pk=out.pk).update(next_attempt_at=clock.now())  # due now, whatever its backoff
    said = sending.deliver(out.uid, post)
    out.refresh_from_db()
    return said


def where(serials: tuple[int, int]) -> dict[str, list[tuple[int, int]]]:
    """The host's units of these serials by kind of account: live (held) or exported."""
    out: dict[str, list[tuple[int, int]]] = {"live": [], "exported": []}
    for b in UnitBlock.objects.filter(serial_end__gte=serials[0], serial_start__lte=serials[1]).select_related("account"):
        kind = "exported" if b.account.type == Account.Type.EXPORT else "live"
        out[kind].append((max(b.serial_start, serials[0]), min(b.serial_end, serials[1])))
    return {k: sorted(v) for k, v in out.items()}


def conserved(serials: tuple[int, int], ch: dict[str, Any]) -> None:
    """Every serial live in exactly one registry: here, or received there (and exported here)."""
    here = where(serials)
    received = [tuple(r) for r in ch["received"]]
    assert _merge(here["exported"]) == _merge(received), (here, received)
    live = _merge(here["live"])
    assert not any(a <= d and c <= b for a, b in live for c, d in received)
    total = sum(e - s + 1 for s, e in live) + sum(e - s + 1 for s, e in received)
    assert total == serials[1] - serials[0] + 1
    assert verify_ledger().ok and ch["ledger_ok"]


def _merge(ranges: list[Any]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for s, e in sorted(ranges):
        if merged and s <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def test_transfers_between_two_registries(world: World, tmp_path: Path, settings: Any) -> None:  # noqa: F811
    settings.TONNE_LINKAGE_POLL_SECONDS = 0
    ch_node = Receiver(tmp_path / "ch")
    ch = ch_node.run("setup", keys.verifier_key_text())
    world.authorise(quantity=500, first_transfer_definition="first_international_transfer")
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(world.reg, world.project, {2024: 1000})
    s = issuance.serial_start
    serials = (s, s + 499)
    testing.link_partner(world.reg.admin, world.approver, registry_id="CH-TONNE", party="CH", verifier_key=ch["key"],
                         endpoint=ch_node.url)
    ch_node.serve()
    dev, acc = world.reg.developer, world.reg.developer_account.identifier

    def propose(lo: int, hi: int) -> Outbound:
        return sending.propose(actor=dev, from_account=acc, ranges=[(lo, hi)], destination_party="CH",
                               destination_registry="CH-TONNE", destination_account=ch["account"],
                               idempotency_key=key())

    try:
        # 1. Proposed: the units stay here, reserved: not spendable, not gone.
        first = propose(s, s + 99)
        with pytest.raises(RegistryError):
            units.transfer(actor=dev, from_account=acc, to_account=world.reg.buyer_account.identifier,
                           selection=Selection.build(ranges=[(s, s + 9)]), idempotency_key=key())
        assert "checked" in deliver(first) and first.state == "proposed"
        assert "checked" in deliver(first)  # a replay: the same answer, nothing more
        conserved(serials, ch_node.run("state"))
        # CH's administrator accepts; the units leave here, then are created there.
        assert ch_node.run("accept", str(first.uid))["state"] == "accepted"
        deliver(first)
        assert first.state == "completing" and where(serials)["exported"] == [(s, s + 99)]
        # A crash after CH created them but before the answer was taken: the completion is sent again.
        lost = lambda endpoint, note: (delivery.post(endpoint, note)[0] and "", "crashed")  # noqa: E731
        deliver(first, lost)
        assert first.state == "completing"
        state = ch_node.run("state")
        assert state["received"] == [[s, s + 99]] and state["inbound"][str(first.uid)][0] == "completed"
        deliver(first)
        assert first.state == "completed"
        conserved(serials, ch_node.run("state"))  # created once, whatever was replayed

        # 2. Rejected, by the file route: the units stay with the holder, spendable again.
        second = propose(s + 100, s + 149)
        message, answer = tmp_path / "proposal.note", tmp_path / "answer.note"
        call_command("linkage", "outgoing", str(second.uid), str(message))
        ch_node.tonne("linkage", "incoming", str(message), str(answer))
        call_command("linkage", "answer", str(answer))
        ch_node.tonne("linkage", "reject", "CI-TONNE", str(second.uid), "--reason", "Not now", "--user", "ch-admin")
        ch_node.tonne("linkage", "incoming", str(message), str(answer))  # the same proposal: now the decision
        call_command("linkage", "answer", str(answer))
        second.refresh_from_db()
        assert (second.state, second.code) == ("cancelled", "REJECTED_BY_REGISTRY")
        conserved(serials, ch_node.run("state"))
        units.transfer(actor=dev, from_account=acc, to_account=world.reg.buyer_account.identifier,
                       selection=Selection.build(ranges=[(s + 100, s + 109)]), idempotency_key=key())

        # 3. Timed out: the units stay here; CH closes and never creates them.
        third = propose(s + 150, s + 169)
        deliver(third)
        clock.freeze(third.deadline)
        deliver(third)  # the units stay; the cancel goes at once and CH closes
        assert (third.state, third.code) == ("cancelled", "TIMEOUT")
        after = ch_node.run("accept", str(third.uid))
        assert after["code"] == "INBOUND_NOT_CHECKED" and after["inbound"][str(third.uid)][0] == "closed"
        conserved(serials, after)

        # 4. CH's server killed: the message waits and is retried with backoff.
        fourth = propose(s + 170, s + 179)
        ch_node.kill()
        deliver(fourth)
        assert fourth.state == "proposed" and fourth.attempts == 1 and fourth.next_attempt_at > clock.now()
        ch_node.serve()
        deliver(fourth)
        assert fourth.attempts == 0 and ch_node.run("state")["inbound"][str(fourth.uid)][0] == "checked"

        # 5. Hostile messages: a stranger's key, a tampered note, malformed fields. Nothing changes at CH.
        before = ch_node.run("state")
        stranger = sign_note('{"format":"tonne-linkage/1"}\n', django_settings.TONNE_LEDGER_KEY_NAME,
                             generate_private_key())
        status, problem = ch_node.post(stranger)
        assert (status, problem["code"]) == (422, "PARTNER_KEY_UNKNOWN")
        ours = sending.next_message(fourth.uid)
        assert ours is not None
        assert ch_node.post(ours.replace('"type":"proposal"', '"type":"complete"'))[1]["code"] == (
            "TRANSFER_SIGNATURE_INVALID")
        for body, code in [
            ({"format": "tonne-linkage/9"}, "LINKAGE_MESSAGE_INVALID"),
            ({"type": "bogus"}, "LINKAGE_MESSAGE_INVALID"),
            ({"transfer": "not-a-uuid"}, "LINKAGE_MESSAGE_INVALID"),
            ({"transfer": None}, "LINKAGE_MESSAGE_INVALID"),
            ({"from": "SE-TONNE"}, "TRANSFER_SENDER_MISMATCH"),
            ({"to": "SE-TONNE"}, "TRANSFER_NOT_FOR_THIS_REGISTRY"),
            ({"file": None}, "LINKAGE_MESSAGE_INVALID"),
            ({"file": 42}, "LINKAGE_MESSAGE_INVALID"),
            ({"at": "x" * 41}, "LINKAGE_MESSAGE_INVALID"),
        ]:
            message = {"format": "tonne-linkage/1", "type": "proposal", "transfer": str(uuid.uuid4()),
                       "from": "CI-TONNE", "to": "CH-TONNE", "at": clock.now().isoformat(),
                       "file": first.proposal, "reason": None, **body}
            note = sign_note(canonical_json(message).decode() + "\n", django_settings.TONNE_LEDGER_KEY_NAME,
                             keys.private_key())
            status, problem = ch_node.post(note)
            assert (status, problem["code"]) == (422, code), body
        # A proposal whose file is another transfer's: rejected, and remembered so.
        twin = {"format": "tonne-linkage/1", "type": "proposal", "transfer": str(uuid.uuid4()), "from": "CI-TONNE",
                "to": "CH-TONNE", "at": clock.now().isoformat(), "file": first.proposal, "reason": None}
        status, answer = ch_node.post(sign_note(canonical_json(twin).decode() + "\n",
                                                django_settings.TONNE_LEDGER_KEY_NAME, keys.private_key()))
        assert status == 200 and json.loads(answer["note"].split("\n\n")[0])["state"] == "rejected"
        # A forged answer to us: refused, nothing moves.
        forged = sign_note('{"format":"tonne-linkage/1","type":"answer"}\n', "ch-tonne", generate_private_key())
        with pytest.raises(RegistryError) as exc:
            sending.take_answer(forged)
        assert exc.value.code == "PARTNER_KEY_UNKNOWN"
        after = ch_node.run("state")
        assert after["received"] == before["received"]
        conserved(serials, after)

        # 6. CH removes CI from its partners mid-transfer: nothing more is accepted; the units come back here.
        assert ch_node.run("remove")["state"] == "removed"
        deliver(fourth)
        assert fourth.state == "proposed" and "PARTNER_REMOVED" in fourth.last_error
        clock.freeze(fourth.deadline)
        deliver(fourth)
        assert (fourth.state, fourth.code) == ("cancelling", "TIMEOUT")
        conserved(serials, ch_node.run("state"))
        assert _merge(where(serials)["live"]) == [(s + 100, s + 499)]  # all but the 100 CH received
    finally:
        ch_node.kill()
