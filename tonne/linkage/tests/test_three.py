"""Three Tonne installations on loopback, each with its own database and
key: CI (this process) sends to CH and to SE; CH sends on to SE the units it
received from CI (onward transfer keeps the units' identity: origin
project, class, ITMO, authorisation). SE rejects one of CI's proposals and
accepts another; CH and SE accept the rest. After each step every CI serial
is live in exactly one of the three registries (or in transit between a
sender's two messages), and the three ledgers verify."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tonne import testing
from tonne.article6.tests.conftest import T0, World, key, world  # noqa: F401 - the host registry's fixture
from tonne.core import clock
from tonne.ledger import keys
from tonne.ledger.verify import verify_ledger
from tonne.linkage import sending
from tonne.linkage.models import Outbound
from tonne.linkage.tests.test_protocol import Receiver, _merge, deliver, where

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_outbound")]


def conserved(serials: tuple[int, int], nodes: list[dict[str, Any]], in_transit: list[tuple[int, int]]) -> None:
    """Each CI serial once: live here, live at CH or SE (by its ITMO serials), or in transit."""
    every = where(serials)["live"] + [tuple(r) for n in nodes for r in n["live_itmo"]] + in_transit
    assert sum(e - s + 1 for s, e in every) == serials[1] - serials[0] + 1, every
    assert _merge(every) == [serials], every
    assert verify_ledger().ok and all(n["ledger_ok"] for n in nodes)


def test_three_registries_with_an_onward_transfer(world: World, tmp_path: Path, settings: Any) -> None:  # noqa: F811
    settings.TONNE_LINKAGE_POLL_SECONDS = 0
    ch_node, se_node = Receiver(tmp_path / "ch", "CH"), Receiver(tmp_path / "se", "SE")
    ch, se = ch_node.run("setup", keys.verifier_key_text()), se_node.run("setup", keys.verifier_key_text())
    ch_node.run("link", "SE-TONNE", "SE", se["key"], se_node.url)
    se_node.run("link", "CH-TONNE", "CH", ch["key"], ch_node.url)
    world.authorise(quantity=200, acquiring_parties=["CH", "SE"])
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(world.reg, world.project, {2024: 200})
    s = issuance.serial_start
    serials = (s, s + 199)
    for node, registry, party, answer in ((ch_node, "CH-TONNE", "CH", ch), (se_node, "SE-TONNE", "SE", se)):
        testing.link_partner(world.reg.admin, world.approver, registry_id=registry, party=party,
                             verifier_key=answer["key"], endpoint=node.url)
        node.serve()

    def state() -> list[dict[str, Any]]:
        return [ch_node.run("state"), se_node.run("state")]

    def propose(lo: int, hi: int, registry: str, party: str, account: str) -> Outbound:
        return sending.propose(actor=world.reg.developer, from_account=world.reg.developer_account.identifier,
                               ranges=[(lo, hi)], destination_party=party, destination_registry=registry,
                               destination_account=account, idempotency_key=key())

    try:
        to_ch = propose(s, s + 99, "CH-TONNE", "CH", ch["account"])
        refused = propose(s + 100, s + 149, "SE-TONNE", "SE", se["account"])
        to_se = propose(s + 150, s + 179, "SE-TONNE", "SE", se["account"])
        for out in (to_ch, refused, to_se):
            assert "checked" in deliver(out)
        conserved(serials, state(), [])
        assert ch_node.run("accept", str(to_ch.uid))["state"] == "accepted"
        assert se_node.run("reject", str(refused.uid))["state"] == "rejected"
        assert se_node.run("accept", str(to_se.uid))["state"] == "accepted"
        conserved(serials, state(), [])
        for out in (to_ch, refused, to_se):
            deliver(out)
        assert [o.state for o in (to_ch, refused, to_se)] == ["completing", "cancelled", "completing"]
        conserved(serials, state(), [(s, s + 99), (s + 150, s + 179)])  # left CI, not yet created
        for out in (to_ch, to_se):
            deliver(out)
            assert out.state == "completed"
        nodes = state()
        conserved(serials, nodes, [])
        assert nodes[0]["live_itmo"] == [[s, s + 99]] and nodes[1]["live_itmo"] == [[s + 150, s + 179]]

        # CH's holder sends on to SE what it received from CI; SE accepts.
        onward = ch_node.run("propose", "SE-TONNE", "SE", se["account"])
        assert "code" not in onward, onward
        uid = onward["transfer"]
        ch_node.tonne("linkage", "deliver")  # CH's worker: the proposal
        assert se_node.run("state")["inbound"][uid] == ["checked", ""]
        conserved(serials, state(), [])
        assert se_node.run("accept", uid, "CH-TONNE")["state"] == "accepted"
        ch_node.tonne("linkage", "deliver")  # the acceptance taken, the units leave CH; the completion
        ch_node.tonne("linkage", "deliver")
        nodes = state()
        assert nodes[0]["outbound"][uid] == ["completed", ""] and nodes[1]["inbound"][uid] == ["completed", ""]
        conserved(serials, nodes, [])
        assert nodes[0]["live_itmo"] == [] and nodes[1]["live_itmo"] == [[s, s + 99], [s + 150, s + 179]]
        assert _merge(where(serials)["live"]) == [(s + 100, s + 149), (s + 180, s + 199)]
    finally:
        ch_node.kill()
        se_node.kill()
