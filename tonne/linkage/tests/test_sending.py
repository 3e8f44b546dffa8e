"""The sending side alone: a proposal waits for its second person before
anything goes; approved, it still waits (reserved) for the partner, and the
settlement worker never settles it; the holder withdrawing it ends it, with
a cancel for the partner; a partner not on the list is refused."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.conf import settings as django_settings

from tonne import testing
from tonne.article6.tests.conftest import T0, World, key, world  # noqa: F401 - the host registry's fixture
from tonne.controls import services as controls
from tonne.controls.models import Approval
from tonne.core import clock
from tonne.core.errors import RegistryError
from tonne.ledger.checkpoint import generate_private_key, verifier_key
from tonne.linkage import sending
from tonne.linkage.models import Outbound
from tonne.units.models import Transaction, UnitBlock

pytestmark = pytest.mark.django_db


def test_a_proposal_waits_for_its_second_person_then_for_the_partner(world: World, settings) -> None:  # noqa: F811
    reg = world.reg
    world.authorise(quantity=500)
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(reg, world.project, {2024: 1000})
    s = issuance.serial_start

    def propose(registry: str = "CH-TONNE") -> Outbound:
        return sending.propose(actor=reg.developer, from_account=reg.developer_account.identifier,
                               ranges=[(s, s + 9)], destination_party="CH", destination_registry=registry,
                               destination_account="CH-100-1", idempotency_key=key())

    with pytest.raises(RegistryError) as exc:
        propose()
    assert exc.value.code == "PARTNER_NOT_FOUND"
    testing.link_partner(reg.admin, world.approver, registry_id="CH-TONNE", party="CH",
                         verifier_key=verifier_key("ch", generate_private_key().public_key()))
    settings.TONNE_FOUR_EYES = frozenset({"export"})
    out = propose()
    txn = Transaction.objects.get(identifier=out.transaction_identifier)
    assert txn.status == "awaiting_approval" and sending.next_message(out.uid) is None  # nothing goes yet
    approval = Approval.objects.get(transaction=txn)
    developer_approver = testing.make_user(reg.developer_org, "dev-approver", "approver", actor=reg.admin)
    controls.approve(actor=developer_approver, uid=approval.uid, request_hash=approval.request_hash)
    txn.refresh_from_db()
    assert txn.status == "delayed"  # approved, and still waiting: for the partner
    clock.freeze(T0 + dt.timedelta(hours=2))
    controls.run_due()  # the settlement worker: it never settles a move that waits for a partner
    txn.refresh_from_db()
    assert txn.status == "delayed" and UnitBlock.objects.get(serial_start=s).account == reg.developer_account
    note = sending.next_message(out.uid)
    assert note is not None and json.loads(note.split("\n\n")[0])["type"] == "proposal"
    # The holder withdraws it: the units stay, the partner is told.
    controls.cancel_waiting(actor=reg.developer, identifier=txn.identifier)
    note = sending.next_message(out.uid)
    out.refresh_from_db()
    assert (out.state, out.code) == ("cancelling", "CANCELLED")
    body = json.loads(note.split("\n\n")[0])
    assert (body["type"], body["reason"], body["from"]) == ("cancel", "CANCELLED", django_settings.TONNE_ARTICLE6_REGISTRY_ID)
    assert UnitBlock.objects.get(serial_start=s).account == reg.developer_account
