"""The linkage pages in a real browser: the registry administrator sees the
partner registries and the transfers in flight both ways, with their state
and age, and accepts a partner's proposal; the holder sees the state of its
own transfer to a partner registry. axe-core checks each page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings as django_settings

from tonne import testing
from tonne.article6.tests.conftest import T0, World, key, world  # noqa: F401 - the host registry's fixture
from tonne.article6.tests.test_attacks_file import SENDERS, payload, reg, signed  # noqa: F401 - `reg`: SE, NO linked
from tonne.browser import assert_accessible, follow, screenshot
from tonne.controls import services as controls
from tonne.core import clock
from tonne.core.canonical import canonical_json
from tonne.ledger.checkpoint import generate_private_key, sign_note, verifier_key
from tonne.linkage import receiving, sending
from tonne.linkage import selectors as linkage_selectors
from tonne.linkage.models import Inbound
from tonne.workspace.tests.test_browser_journey import sign_in

pytestmark = [pytest.mark.browser]


def from_se(kind: str, data: dict[str, Any]) -> str:
    """SE's request about the transfer of `data` (proposal or complete), handled here."""
    body = {"format": "tonne-linkage/1", "type": kind, "transfer": data["transfer"], "from": "SE-TONNE",
            "to": django_settings.TONNE_ARTICLE6_REGISTRY_ID, "at": clock.now().isoformat(), "file": signed(data),
            "reason": None}
    return receiving.handle(sign_note(canonical_json(body).decode() + "\n", "se-tonne", SENDERS["SE-TONNE"][1]))


def proposed_by_se(registry: testing.Registry) -> str:
    """SE proposes units to this registry's buyer: checked here, waiting for an administrator."""
    data = payload(registry)
    from_se("proposal", data)
    return str(data["transfer"])


def test_administrator_accepts_a_proposal_and_the_holder_follows_its_transfer(
    page: Any, world: World, reg: testing.Registry,  # noqa: F811
) -> None:
    world.authorise(quantity=500)
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(reg, world.project, {2024: 500})
    testing.link_partner(reg.admin, world.approver, registry_id="CH-TONNE", party="CH",
                         verifier_key=verifier_key("ch-tonne", generate_private_key().public_key()),
                         endpoint="https://registry.ch.example")
    out = sending.propose(actor=reg.developer, from_account=reg.developer_account.identifier,
                          ranges=[(issuance.serial_start, issuance.serial_start + 99)], destination_party="CH",
                          destination_registry="CH-TONNE", destination_account="CH-100-0000001-23",
                          idempotency_key=key())
    incoming = proposed_by_se(reg)
    clock.freeze(T0 + dt.timedelta(hours=4))  # three hours in flight

    sign_in(page, reg.admin)
    page.goto(page.base_url + "/workspace/linkage/")
    tables = page.locator("table")
    partners, outgoing, arriving = (tables.nth(i).inner_text() for i in range(3))
    assert all(p in partners for p in ("SE-TONNE", "NO-TONNE", "CH-TONNE"))
    assert str(out.uid) in outgoing and "CH-TONNE" in outgoing and "3\xa0hours" in outgoing.replace(" ", "\xa0")
    row = tables.nth(2).locator("tr", has_text=incoming)
    assert "SE-TONNE" in row.inner_text() and "25" in row.inner_text()
    screenshot(page, "linkage-01-administrator")
    assert_accessible(page)
    follow(page, row.get_by_role("button", name="Accept"))
    assert "accepted" in page.locator("main").inner_text()
    assert Inbound.objects.get(transfer=incoming).state == Inbound.State.ACCEPTED
    assert page.locator("table").nth(2).locator("tr", has_text=incoming).get_by_role("button").count() == 0
    screenshot(page, "linkage-02-accepted")

    sign_in(page, reg.developer)
    page.goto(page.base_url + "/workspace/international-transfers/")
    mine = page.locator("table").inner_text()
    assert str(out.uid) in mine and "CH-TONNE" in mine and out.transaction_identifier in mine and "100" in mine
    screenshot(page, "linkage-03-holder")
    assert_accessible(page)


def test_units_received_held_are_shown_held(page: Any, reg: testing.Registry) -> None:  # noqa: F811
    """Accepted, then the kill switch, then SE completes: the units are
    created held. The administrator sees the transfer held with the refusing
    control's code; the buyer sees them held on its account."""
    clock.freeze(T0 + dt.timedelta(hours=1))
    data = payload(reg)
    from_se("proposal", data)
    receiving.accept(actor=reg.admin, registry_id="SE-TONNE", transfer=str(data["transfer"]))
    controls.set_transfers_suspended(actor=reg.admin, suspended=True, reason="Incident drill")
    from_se("complete", data)
    assert Inbound.objects.get(transfer=data["transfer"]).code == "TRANSFERS_SUSPENDED"

    sign_in(page, reg.admin)
    page.goto(page.base_url + "/workspace/linkage/")
    row = page.locator("table").nth(2).locator("tr", has_text=str(data["transfer"])).inner_text()
    assert "created, held (TRANSFERS_SUSPENDED)" in row and "SE-TONNE" in row
    screenshot(page, "linkage-04-held-administrator")

    sign_in(page, reg.buyer)
    page.goto(page.base_url + f"/workspace/accounts/{reg.buyer_account.identifier}/")
    held = page.locator(f"#held-{data['transfer']}").inner_text()
    (start, end), = linkage_selectors.local_ranges(Inbound.objects.get(transfer=data["transfer"]).received_transfer)
    assert "25 units received from SE-TONNE are held: TRANSFERS_SUSPENDED" in held and f"{start}–{end}" in held
    assert "until lifted" in page.locator("main").inner_text()  # the hold itself: no end date
    screenshot(page, "linkage-05-held-holder")
    assert_accessible(page)
