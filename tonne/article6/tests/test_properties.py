"""Property: every first-transferred unit has exactly one corresponding
adjustment, and a unit is first-transferred exactly when it is authorised
and its authorisation's event happens to it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tonne import testing
from tonne.article6 import aef, domain, international
from tonne.article6 import services as a6
from tonne.article6.models import AuthorisedRange, CorrespondingAdjustment, FirstTransfer
from tonne.article6.tests.conftest import T0, key
from tonne.core import clock
from tonne.core.errors import RegistryError
from tonne.units import services as units
from tonne.units.domain import Selection

pytestmark = pytest.mark.django_db


def units_of(ranges) -> set[int]:
    return {n for start, end in ranges for n in range(start, end + 1)}


def check_invariants() -> None:
    firsts = list(FirstTransfer.objects.order_by("serial_start").values_list("id", "serial_start", "serial_end"))
    for (_, _, end), (_, start, _) in zip(firsts, firsts[1:], strict=False):
        assert end < start  # no unit first-transferred twice
    adjustments = {a.first_transfer_id: a for a in CorrespondingAdjustment.objects.all()}
    assert set(adjustments) == {fid for fid, _, _ in firsts}  # never missing, never extra
    for fid, start, end in firsts:
        assert adjustments[fid].quantity == end - start + 1
    authorised = units_of(AuthorisedRange.objects.values_list("serial_start", "serial_end"))
    assert units_of((s, e) for _, s, e in firsts) <= authorised


OPERATIONS = st.lists(
    st.tuples(st.integers(0, 499), st.integers(1, 80), st.sampled_from(["ndc", "oimp", "voluntary_cancellation", "omge"])),
    min_size=1,
    max_size=6,
)


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_one_adjustment_per_first_transferred_unit(world_with_units, operations):
    world, issuance = world_with_units
    authorised = units_of(AuthorisedRange.objects.values_list("serial_start", "serial_end"))
    used: set[int] = set()
    with transaction.atomic():  # every example starts from the same issuance
        for offset, length, use in operations:
            lo = issuance.serial_start + offset
            hi = min(lo + length - 1, issuance.serial_end)
            wanted = units_of([(lo, hi)])
            if wanted & used:
                continue
            a6.use_units(
                actor=world.reg.developer, from_account=world.reg.developer_account.identifier,
                selection=Selection.build(ranges=[(lo, hi)]), use=use, using_party="CH", oimp_purpose="CORSIA",
                idempotency_key=key(),
            )
            used |= wanted
            firsts = units_of(FirstTransfer.objects.values_list("serial_start", "serial_end"))
            assert firsts == used & authorised
            check_invariants()
        transaction.set_rollback(True)


@pytest.fixture
def world_with_units(world):
    world.authorise(first_transfer_definition="use_or_cancellation", quantity=300, purposes=["ndc", "oimp"],
                    oimp_purposes="CORSIA")
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(world.reg, world.project, {2024: 500})
    return world, issuance


MOVES = st.lists(
    st.tuples(st.sampled_from(["transfer", "export", "ndc", "oimp", "voluntary_cancellation", "omge"]),
              st.integers(0, 299), st.integers(1, 60), st.sampled_from(["CH", "SE"])),
    min_size=1, max_size=6,
)
PURPOSES = st.sampled_from([["ndc"], ["oimp"], ["ndc", "oimp"]])


@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(purposes=PURPOSES, ndc=st.sampled_from(domain.DEFINITIONS), oimp=st.sampled_from(domain.DEFINITIONS),
       moves=MOVES)
def test_the_review_accepts_whatever_the_registry_does(world, purposes, ndc, oimp, moves):
    """Any moves, under any definitions: the review (which shares none of the
    registry's rules) finds every unit's actions a valid ITMO sequence, and
    no unit is first-transferred twice."""
    definitions = {p: {"ndc": ndc, "oimp": oimp}[p] for p in purposes}
    dev, buyer = world.reg.developer_account.identifier, world.reg.buyer_account.identifier
    with transaction.atomic():
        clock.freeze(T0)
        world.authorise(quantity=200, purposes=purposes, oimp_purposes="CORSIA", acquiring_parties=["CH"],
                        first_transfer_definitions=definitions)
        clock.freeze(T0 + dt.timedelta(hours=1))
        _, (issuance,) = testing.issue(world.reg, world.project, {2024: 300})
        for n, (kind, offset, length, party) in enumerate(moves):
            clock.freeze(T0 + dt.timedelta(hours=2 + n))
            lo = issuance.serial_start + offset
            hi = min(lo + length - 1, issuance.serial_end)
            selection = Selection.build(ranges=[(lo, hi)])
            try:
                with transaction.atomic():
                    if kind == "transfer":
                        units.transfer(actor=world.reg.developer, from_account=dev, to_account=buyer,
                                       selection=selection, idempotency_key=key())
                    elif kind == "export":
                        international.export_units(actor=world.reg.developer, from_account=dev, ranges=[(lo, hi)],
                                                   destination_party=party, destination_registry=f"{party}-TONNE",
                                                   destination_account=f"{party}-1", idempotency_key=key())
                    else:
                        a6.use_units(actor=world.reg.developer, from_account=dev, selection=selection, use=kind,
                                     using_party=party, using_entity="Airline SA", oimp_purpose="CORSIA",
                                     idempotency_key=key())
            except RegistryError:
                pass  # refused (held elsewhere, not authorised for that use or Party): nothing happened
            check_invariants()
        report = aef.build(2026)
        assert report["review"] == []
        assert all(c["ok"] for c in report["checks"]), report["checks"]
        firsts = [r for r in report["tables"]["actions"] if r["type"] == "First Transfer"]
        assert sum(r["quantity_t_co2"] for r in firsts) == sum(
            f.quantity for f in FirstTransfer.objects.all())
        transaction.set_rollback(True)
