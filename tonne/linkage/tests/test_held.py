"""The receiver's acceptance is its promise (docs/linkage.md §3.4): a kill
switch turned on at the receiver after it accepted does not leave the units
in neither registry. They are created there, held (a serials freeze: not
spendable), and released by the receiver's worker once the switch is off.
Each origin serial is live in exactly one registry, or in transit between
the sender's two messages, after every step; both ledgers verify."""

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


def conserved(serials: tuple[int, int], ch: dict[str, Any], in_transit: list[tuple[int, int]]) -> None:
    """Every serial live here, or received there, or (exported here) in transit: once."""
    here = where(serials)
    received = [tuple(r) for r in ch["received"]]
    assert _merge(here["exported"]) == _merge(received + in_transit), (here, received, in_transit)
    total = sum(e - s + 1 for s, e in _merge(here["live"] + received + in_transit))
    count = sum(e - s + 1 for s, e in here["live"] + received + in_transit)
    assert total == count == serials[1] - serials[0] + 1
    assert verify_ledger().ok and ch["ledger_ok"]


def test_accepted_units_are_created_held_under_the_receivers_kill_switch(
    world: World, tmp_path: Path, settings: Any,  # noqa: F811
) -> None:
    settings.TONNE_LINKAGE_POLL_SECONDS = 0
    ch_node = Receiver(tmp_path / "ch")
    ch = ch_node.run("setup", keys.verifier_key_text())
    world.authorise(quantity=200, first_transfer_definition="first_international_transfer")
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(world.reg, world.project, {2024: 200})
    s = issuance.serial_start
    serials = (s, s + 199)
    testing.link_partner(world.reg.admin, world.approver, registry_id="CH-TONNE", party="CH", verifier_key=ch["key"],
                         endpoint=ch_node.url)
    ch_node.serve()
    try:
        out = sending.propose(actor=world.reg.developer, from_account=world.reg.developer_account.identifier,
                              ranges=[(s, s + 99)], destination_party="CH", destination_registry="CH-TONNE",
                              destination_account=ch["account"], idempotency_key=key())
        assert "checked" in deliver(out)
        conserved(serials, ch_node.run("state"), [])
        assert ch_node.run("accept", str(out.uid))["state"] == "accepted"
        conserved(serials, ch_node.run("state"), [])
        ch_node.run("switch", "on")  # after the acceptance: every movement of units stops at CH
        conserved(serials, ch_node.run("state"), [])
        deliver(out)  # the acceptance taken: the units leave CI, the completion is next
        assert out.state == Outbound.State.COMPLETING
        conserved(serials, ch_node.run("state"), [(s, s + 99)])
        deliver(out)  # the completion: CH keeps its promise, the units are created there, held
        assert out.state == Outbound.State.COMPLETED
        state = ch_node.run("state")
        assert state["inbound"][str(out.uid)] == ["completed", "TRANSFERS_SUSPENDED"]
        assert state["received"] == [[s, s + 99]] and len(state["held"]) == 1
        conserved(serials, state, [])
        ch_node.run("switch", "off")
        assert ch_node.run("spend")["code"] == "UNITS_FROZEN"  # the hold, not only the switch, keeps them
        ch_node.tonne("linkage", "deliver")  # CH's worker: the switch is off, the hold goes
        state = ch_node.run("state")
        assert state["inbound"][str(out.uid)] == ["completed", ""] and state["held"] == []
        conserved(serials, state, [])
        after = ch_node.run("spend")  # spendable now
        assert "code" not in after and after["ledger_ok"]
        conserved(serials, after, [])
    finally:
        ch_node.kill()
