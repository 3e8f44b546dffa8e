"""A retirement at issuance (the developer's issuance instruction) is a use
like any retirement: authorised units retired there are first-transferred
where that is the authorisation's definition, and the AEF says so."""

from __future__ import annotations

import datetime as dt

from tonne.article6 import aef
from tonne.article6.models import CorrespondingAdjustment, FirstTransfer
from tonne.article6.tests.conftest import T0
from tonne.core import clock
from tonne.mrv import services as mrv
from tonne.mrv import verification as mrv_verification
from tonne.units.models import Transaction

D = dt.date
CORSIA = {"beneficiary": "Air Lagune", "purpose": "corsia", "compliance_period": "2024-2026",
          "using_entity": "Air Lagune SA", "jurisdiction": "CI"}


def test_retirement_at_issuance_is_the_first_transfer_of_authorised_units(world):
    world.authorise(first_transfer_definition="use_or_cancellation", purposes=["oimp"], acquiring_parties=[],
                    oimp_purposes="CORSIA")
    clock.freeze(T0 + dt.timedelta(hours=1))
    reg = world.reg
    report = mrv.submit_report(actor=reg.developer, project=world.project, period_start=D(2024, 1, 1),
                               period_end=D(2024, 12, 31), vintages=[{"vintage": 2024, "quantity": 1000}],
                               vvb=str(reg.vvb_org.uid))
    mrv_verification.accept_assignment(actor=reg.vvb, report=report, no_conflict_of_interest=True)
    report = mrv.verify_report(actor=reg.vvb, report=report, verified=[{"vintage": 2024, "quantity": 1000}])
    mrv.set_issuance_instruction(actor=reg.developer, report=report,
                                 lines=[{"vintage": 2024, "retire": CORSIA, "quantity": 200}])
    [issuance] = mrv.approve_issuance(actor=reg.admin, report=report)
    retirement = Transaction.objects.get(kind="retirement", issuance=issuance)
    (block,) = retirement.blocks.all()
    # The units retired at issuance carry the authorisation and are first-transferred by that retirement.
    (ft,) = FirstTransfer.objects.all()
    assert (ft.serial_start, ft.serial_end, ft.cause, ft.transaction_identifier) == (
        block.serial_start, block.serial_end, "use_or_cancellation", retirement.identifier)
    assert CorrespondingAdjustment.objects.get().quantity == 200
    built = aef.build(2026)
    actions = [(a["type"], a["quantity_t_co2"]) for a in built["tables"]["actions"]]
    assert ("First Transfer", 200) in actions and ("Authorization", issuance.quantity - issuance.buffer_quantity) in actions
    assert all(c["ok"] for c in built["checks"]), built["checks"]
