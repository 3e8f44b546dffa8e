"""The linkage pages: the administrator's partner list and transfers in
flight (a partner's proposal accepted here, through the same service as the
API), and a holder's own transfers to partner registries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from tonne import testing
from tonne.access.testing import stepped_up
from tonne.article6.tests.conftest import T0, World, key, world  # noqa: F401 - the host registry's fixture
from tonne.core import clock
from tonne.ledger.checkpoint import generate_private_key, verifier_key
from tonne.linkage import receiving, sending
from tonne.linkage.models import Inbound
from tonne.linkage.tests.test_partners import SE_KEY, message, payload, signed, vkey

pytestmark = pytest.mark.django_db


def test_partners_and_transfers_in_flight(world: World) -> None:  # noqa: F811
    reg = world.reg
    testing.link_partner(reg.admin, world.approver, registry_id="SE-TONNE", party="SE", verifier_key=vkey(SE_KEY))
    testing.link_partner(reg.admin, world.approver, registry_id="CH-TONNE", party="CH",
                         verifier_key=verifier_key("ch", generate_private_key().public_key()))
    data = payload(reg)
    receiving.handle(message("proposal", data, file=signed(data)))
    world.authorise(quantity=500)
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(reg, world.project, {2024: 1000})
    out = sending.propose(actor=reg.developer, from_account=reg.developer_account.identifier,
                          ranges=[(issuance.serial_start, issuance.serial_start + 9)], destination_party="CH",
                          destination_registry="CH-TONNE", destination_account="CH-100-1", idempotency_key=key())

    admin = stepped_up(reg.admin)
    page = admin.get("/workspace/linkage/").content.decode()
    assert "SE-TONNE" in page and "CH-TONNE" in page and data["transfer"] in page and str(out.uid) in page
    assert "checked, awaiting a decision" in page
    done = admin.post(f"/workspace/linkage/incoming/SE-TONNE/{data['transfer']}/accept/")
    assert done.status_code == 302
    assert Inbound.objects.get().state == "accepted"
    again = admin.post(f"/workspace/linkage/incoming/SE-TONNE/{data['transfer']}/reject/", {"reason": "Late"})
    assert again.status_code == 302 and Inbound.objects.get().state == "accepted"  # refused: already accepted

    holder = Client()
    holder.force_login(reg.developer)
    mine = holder.get("/workspace/international-transfers/")
    assert mine.status_code == 200 and str(out.uid) in mine.content.decode()
    assert holder.get("/workspace/linkage/").status_code in (302, 403)
    other = Client()
    other.force_login(reg.buyer)
    assert str(out.uid) not in other.get("/workspace/international-transfers/").content.decode()
