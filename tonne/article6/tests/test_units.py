"""Authorised units: the authorisation and ITMO identifier they carry, the
label of units without one, first transfer under each definition, one
corresponding adjustment per first-transferred unit, and revocation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from tonne import testing
from tonne.article6 import selectors
from tonne.article6 import services as a6
from tonne.article6.models import AuthorisedRange, CorrespondingAdjustment, FirstTransfer
from tonne.article6.tests.conftest import T0, key
from tonne.core import clock
from tonne.core.errors import ValidationFailed
from tonne.units import services as units
from tonne.units.domain import Selection

pytestmark = pytest.mark.django_db


def issue(world, quantity=1000, vintage=2024):
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(world.reg, world.project, {vintage: quantity})
    return issuance


def use(world, start, end, use="ndc", **kw):
    kw.setdefault("using_party", "CI")
    return a6.use_units(
        actor=world.reg.developer, from_account=world.reg.developer_account.identifier,
        selection=Selection.build(ranges=[(start, end)]), use=use, idempotency_key=key(), **kw,
    )


def test_authorised_units_carry_an_itmo_identifier_and_the_rest_are_mitigation_contribution_units(world):
    world.authorise(quantity=600)
    issuance = issue(world)
    s = issuance.serial_start
    seg = selectors.segments(s, issuance.serial_end)
    assert [(x["serial_start"], x["serial_end"], x["label"]) for x in seg] == [
        (s, s + 599, "authorised"),
        (s + 600, s + 999, "mitigation_contribution"),
    ]
    assert seg[0]["authorisation"] == "CI-A6-2026-001"
    assert seg[0]["itmo_id"] == f"CI-CH-2024:CI-TONNE:CI:{s}-{s + 599}:2024"
    assert seg[0]["corresponding_adjustment"] == {"status": "pending"}
    assert seg[1]["itmo_id"] is None and seg[1]["authorisation"] is None
    # Serial lookup of one unit inside the authorised range.
    one = selectors.lookup(str(s + 5))["segments"]
    assert one[0]["itmo_id"] == f"CI-CH-2024:CI-TONNE:CI:{s + 5}:2024"


def test_units_outside_the_authorised_vintages_or_projects_are_not_authorised(world):
    world.authorise(vintage_from=2025, vintage_to=2025)
    issuance = issue(world, vintage=2024)
    assert not AuthorisedRange.objects.exists()
    assert selectors.segments(issuance.serial_start, issuance.serial_end)[0]["label"] == "mitigation_contribution"


def test_authorisation_quantity_is_shared_across_issuances(world):
    world.authorise(quantity=1500)
    first = issue(world, 1000, 2024)
    clock.freeze(T0 + dt.timedelta(hours=2))
    _, (second,) = testing.issue(world.reg, world.project, {2025: 1000})
    ranges = list(AuthorisedRange.objects.values_list("serial_start", "serial_end"))
    assert ranges == [(first.serial_start, first.serial_end), (second.serial_start, second.serial_start + 499)]


@pytest.mark.parametrize("definition", ["issuance", "authorisation"])
def test_first_transfer_at_issuance_or_authorisation(world, definition):
    authorisation = world.authorise(first_transfer_definition=definition, quantity=600)
    issuance = issue(world)
    (ft,) = FirstTransfer.objects.all()
    # No Party has acquired them yet: the adjustment names none.
    assert (ft.serial_start, ft.serial_end, ft.cause, ft.purpose, ft.acquiring_party) == (
        issuance.serial_start, issuance.serial_start + 599, definition, "ndc", "")
    adj = CorrespondingAdjustment.objects.get()
    assert (adj.first_transfer, adj.vintage, adj.acquiring_party, adj.quantity) == (ft, 2024, "", 600)
    st = selectors.status(authorisation)
    assert st["first_transferred"] == 600 and st["awaiting_first_transfer"] == 0
    assert st["adjustments"] == [{"vintage": 2024, "acquiring_party": None, "quantity": 600}]


def test_first_transfer_on_use_or_cancellation(world):
    authorisation = world.authorise(first_transfer_definition="use_or_cancellation", quantity=600,
                                    purposes=["oimp"], acquiring_parties=[], oimp_purposes="CORSIA")
    issuance = issue(world)
    s = issuance.serial_start
    assert not FirstTransfer.objects.exists()
    # A transfer between holding accounts is not a first transfer under this definition.
    units.transfer(actor=world.reg.developer, from_account=world.reg.developer_account.identifier,
                   to_account=world.reg.buyer_account.identifier, selection=Selection.build(ranges=[(s, s + 9)]),
                   idempotency_key=key())
    assert not FirstTransfer.objects.exists()
    # A use straddling authorised and unauthorised serials: only the authorised part is first-transferred.
    txn = use(world, s + 590, s + 609, use="oimp", oimp_purpose="CORSIA", using_entity="Airline SA", using_party="")
    (ft,) = FirstTransfer.objects.all()
    assert (ft.serial_start, ft.serial_end, ft.cause, ft.transaction_identifier) == (s + 590, s + 599, "use_or_cancellation", txn.identifier)
    assert CorrespondingAdjustment.objects.get().quantity == 10
    assert txn.purpose == "article6-oimp" and txn.beneficiary == "Airline SA"
    use(world, s + 10, s + 19, use="voluntary_cancellation")
    use(world, s + 20, s + 29, use="omge")
    assert sorted(FirstTransfer.objects.values_list("serial_start", "serial_end")) == [
        (s + 10, s + 19), (s + 20, s + 29), (s + 590, s + 599)]
    assert selectors.status(authorisation)["first_transferred"] == 30


def test_uses_are_terminal_and_name_the_user(world):
    issuance = issue(world)
    s = issuance.serial_start
    with pytest.raises(ValidationFailed) as exc:
        use(world, s, s, use="ndc", using_party="")
    assert exc.value.code == "PARTY_INVALID"
    with pytest.raises(ValidationFailed) as exc:
        use(world, s, s, use="gift")
    assert exc.value.code == "USE_INVALID"
    with pytest.raises(ValidationFailed) as exc:
        use(world, s, s, use="voluntary_cancellation", using_party="", using_entity="")
    assert exc.value.code == "USER_REQUIRED"
    txn = use(world, s, s + 4, use="ndc")
    assert txn.jurisdiction == "CI" and txn.to_account.type == "retirement"
    with pytest.raises(ValidationFailed) as exc:
        units.transfer(actor=world.reg.admin, from_account=txn.to_account.identifier,
                       to_account=world.reg.buyer_account.identifier, selection=Selection.build(ranges=[(s, s)]),
                       idempotency_key=key())
    assert exc.value.code == "TRANSFERRING_ACCOUNT_TERMINAL"


def test_revocation_keeps_first_transferred_units_and_takes_back_the_rest(world):
    authorisation = world.authorise(first_transfer_definition="use_or_cancellation", quantity=1000)
    issuance = issue(world)
    s = issuance.serial_start
    use = lambda *a, **kw: globals()["use"](*a, using_party="CH", **kw)  # noqa: E731 (the acquiring Party uses them)
    use(world, s, s + 99)
    clock.freeze(T0 + dt.timedelta(days=2))
    effective = T0 + dt.timedelta(days=3)
    world.approve(a6.request_revocation(actor=world.reg.admin, identifier=authorisation.identifier,
                                        reason="Host withdraws", effective_from=effective))
    # Before the effective moment the units are still authorised: a use is still a first transfer.
    use(world, s + 100, s + 149)
    clock.freeze(effective)
    use(world, s + 150, s + 199)  # after it: a mitigation contribution unit, no first transfer
    assert sorted(FirstTransfer.objects.values_list("serial_start", "serial_end")) == [(s, s + 99), (s + 100, s + 149)]
    seg = selectors.segments(s, issuance.serial_end)
    assert [(x["serial_start"], x["serial_end"], x["label"], x["authorisation_revoked"]) for x in seg] == [
        (s, s + 99, "authorised", False),
        (s + 100, s + 149, "authorised", False),
        (s + 150, issuance.serial_end, "mitigation_contribution", True),
    ]
    authorisation.refresh_from_db()
    st = selectors.status(authorisation)
    assert st == {**st, "attached": 1000, "first_transferred": 150, "awaiting_first_transfer": 0,
                  "withdrawn_by_revocation": 850}


def test_no_units_are_authorised_after_revocation(world):
    authorisation = world.authorise()
    world.approve(a6.request_revocation(actor=world.reg.admin, identifier=authorisation.identifier, reason="x"))
    issue(world)
    assert not AuthorisedRange.objects.exists()


def test_quantity_cannot_drop_below_units_already_first_transferred(world):
    authorisation = world.authorise(quantity=600, first_transfer_definition="use_or_cancellation")
    s = issue(world).serial_start
    use(world, s, s + 99, using_party="CH")
    terms = {k: v for k, v in world.terms(quantity=99).items()
             if k not in ("identifier", "cooperative_approach", "first_transfer_definition")}
    with pytest.raises(ValidationFailed) as exc:
        a6.request_change(actor=world.reg.admin, identifier=authorisation.identifier, data=terms)
    assert exc.value.code == "AUTHORISED_QUANTITY_BELOW_FIRST_TRANSFERRED"


def test_database_refuses_a_second_first_transfer_or_adjustment(world):
    world.authorise(first_transfer_definition="issuance", quantity=600)
    issuance = issue(world)
    ft = FirstTransfer.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        FirstTransfer.objects.create(authorisation=ft.authorisation, issuance=issuance, vintage=2024,
                                     serial_start=ft.serial_start + 5, serial_end=ft.serial_start + 7,
                                     cause="issuance", at=T0)
    with pytest.raises(IntegrityError), transaction.atomic():
        CorrespondingAdjustment.objects.create(first_transfer=ft, authorisation=ft.authorisation, vintage=2024,
                                               acquiring_party="CH", quantity=1, recorded_at=T0)
    with pytest.raises(IntegrityError), transaction.atomic():
        AuthorisedRange.objects.create(authorisation=ft.authorisation, version=ft.authorisation.versions.get(),
                                       issuance=issuance, vintage=2024, serial_start=ft.serial_start + 1,
                                       serial_end=ft.serial_start + 2, attached_at=T0)
