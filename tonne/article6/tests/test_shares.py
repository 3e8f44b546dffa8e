"""Share of proceeds and OMGE at issuance: rounding rule, where the units
go, and that nothing else changes for unit classes that do not carry them."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tonne import testing
from tonne.article6.models import AuthorisedRange
from tonne.article6.tests.conftest import T0
from tonne.core import clock
from tonne.core.errors import ValidationFailed
from tonne.ledger.models import LedgerEntry
from tonne.ledger.verify import verify_ledger
from tonne.organisations.models import Account
from tonne.projects.models import Project
from tonne.units.domain import issuance_shares
from tonne.units.models import Transaction, UnitBlock


@given(
    quantity=st.integers(min_value=1, max_value=10**12),
    sop_bp=st.integers(min_value=0, max_value=10000),
    omge_bp=st.integers(min_value=0, max_value=10000),
)
def test_each_share_is_its_rate_rounded_up_to_a_whole_unit(quantity, sop_bp, omge_bp):
    sop, omge = issuance_shares(quantity, sop_bp, omge_bp)
    for share, bp in ((sop, sop_bp), (omge, omge_bp)):
        assert share * 10000 >= quantity * bp  # never less than the rate
        assert (share - 1) * 10000 < quantity * bp or share == 0  # less than one unit more
        assert 0 <= share <= quantity


def test_rounding_examples():
    assert issuance_shares(1000, 500, 200) == (50, 20)
    assert issuance_shares(1001, 500, 200) == (51, 21)  # 50.05 -> 51, 20.02 -> 21
    assert issuance_shares(19, 500, 200) == (1, 1)
    assert issuance_shares(20, 500, 200) == (1, 1)
    assert issuance_shares(21, 500, 200) == (2, 1)
    with pytest.raises(ValueError):
        issuance_shares(0, 500, 200)


def account(type_: str) -> Account:
    return Account.objects.get(type=type_)


def held(acc: Account) -> int:
    return sum(b.quantity for b in UnitBlock.objects.filter(account=acc))


@pytest.fixture
def levied(settings, world):
    settings.TONNE_SOP_OMGE_UNIT_CLASSES = frozenset({"VER"})
    return world


@pytest.mark.django_db
def test_issuance_moves_sop_and_omge_in_the_same_issuance(levied):
    world = levied
    Project.objects.filter(pk=world.project.pk).update(buffer_basis_points=1000)
    world.project.refresh_from_db()
    world.authorise(quantity=10_000)
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(world.reg, world.project, {2024: 1001})
    s = issuance.serial_start
    # buffer ceil(100.1) = 101, SOP ceil(50.05) = 51, OMGE ceil(20.02) = 21, holder 1001 - 173 = 828
    blocks = list(UnitBlock.objects.filter(issuance=issuance).order_by("serial_start")
                  .values_list("serial_start", "serial_end", "account__type"))
    assert blocks == [
        (s, s + 827, "holding"),
        (s + 828, s + 878, "sop"),
        (s + 879, s + 899, "omge"),
        (s + 900, s + 1000, "buffer"),
    ]
    assert held(account("sop")) == 51 and held(account("omge")) == 21
    entry = LedgerEntry.objects.filter(kind="units.issued").latest("seq")
    assert '"omge":21' in entry.body and '"sop":51' in entry.body
    txns = Transaction.objects.filter(issuance=issuance).values_list("to_account__type", "quantity")
    assert sorted(txns) == sorted([("holding", 828), ("sop", 51), ("omge", 21), ("buffer", 101)])
    # Only the holder's units carry the authorisation.
    (r,) = AuthorisedRange.objects.all()
    assert (r.serial_start, r.serial_end) == (s, s + 827)
    assert verify_ledger().ok


@pytest.mark.django_db
def test_unit_classes_not_configured_carry_no_shares(world, settings):
    settings.TONNE_SOP_OMGE_UNIT_CLASSES = frozenset({"A6.4ER"})
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(world.reg, world.project, {2024: 1000})
    assert held(account("sop")) == 0 and held(account("omge")) == 0
    entry = LedgerEntry.objects.filter(kind="units.issued").latest("seq")
    assert '"sop"' not in entry.body


@pytest.mark.django_db
def test_shares_that_exceed_the_quantity_are_refused(levied):
    world = levied
    clock.freeze(T0 + dt.timedelta(hours=1))
    with pytest.raises(ValidationFailed) as exc:
        testing.issue(world.reg, world.project, {2024: 1})
    assert exc.value.code == "ISSUANCE_SHARES_EXCEED_QUANTITY"
    assert not UnitBlock.objects.exists()


@pytest.mark.django_db
@hsettings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(quantity=st.integers(min_value=2, max_value=100_000), buffer_bp=st.integers(min_value=0, max_value=3000))
def test_issuance_conserves_units_whatever_the_quantity(levied, quantity, buffer_bp):
    world = levied
    clock.freeze(T0)
    project = testing.registered_project(world.reg)  # a fresh project per example
    Project.objects.filter(pk=project.pk).update(buffer_basis_points=buffer_bp)
    project.refresh_from_db()
    before = {t: held(account(t)) for t in ("sop", "omge", "buffer")}
    holder_before = held(world.reg.developer_account)
    clock.freeze(T0 + dt.timedelta(hours=1))
    sop, omge = issuance_shares(quantity, 500, 200)
    buffer = -(-quantity * buffer_bp // 10000)
    try:
        _, (issuance,) = testing.issue(world.reg, project, {2024: quantity})
    except ValidationFailed as exc:
        assert exc.code == "ISSUANCE_SHARES_EXCEED_QUANTITY" and sop + omge + buffer > quantity
        return
    assert held(account("sop")) - before["sop"] == sop
    assert held(account("omge")) - before["omge"] == omge
    assert held(account("buffer")) - before["buffer"] == buffer
    assert held(world.reg.developer_account) - holder_before == quantity - sop - omge - buffer
    assert UnitBlock.objects.filter(issuance=issuance).count() == sum(1 for q in (sop, omge, buffer, quantity - sop - omge - buffer) if q)
