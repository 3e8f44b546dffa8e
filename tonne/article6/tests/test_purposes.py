"""First transfer per authorised purpose, in the registry: the issue's
cases (an authorisation covering NDC and OIMP exported; a domestic OIMP use
under "first international transfer"; adjustments naming a Party that never
acquired the units), a use the authorisation does not cover, and existing
authorisations keeping their one definition for each purpose."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps

from tonne import testing
from tonne.article6 import aef, international
from tonne.article6 import services as a6
from tonne.article6.models import Authorisation, CorrespondingAdjustment, FirstTransfer
from tonne.article6.tests.conftest import T0, key
from tonne.core import clock
from tonne.core.errors import ValidationFailed
from tonne.units.domain import Selection
from tonne.units.models import UnitBlock

pytestmark = pytest.mark.django_db
FIT, UOC = "first_international_transfer", "use_or_cancellation"


def issue(world, quantity=1000):
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(world.reg, world.project, {2024: quantity})
    return issuance


def use(world, start, end, use, **kw):
    return a6.use_units(actor=world.reg.developer, from_account=world.reg.developer_account.identifier,
                        selection=Selection.build(ranges=[(start, end)]), use=use, idempotency_key=key(), **kw)


def export(world, start, end, party="CH"):
    return international.export_units(
        actor=world.reg.developer, from_account=world.reg.developer_account.identifier, ranges=[(start, end)],
        destination_party=party, destination_registry=f"{party}-TONNE", destination_account=f"{party}-1",
        idempotency_key=key(),
    )


def firsts():
    return [(f.serial_start, f.serial_end, f.purpose, f.cause, f.acquiring_party, f.adjustment.acquiring_party,
             f.adjustment.quantity) for f in FirstTransfer.objects.select_related("adjustment").order_by("serial_start")]


@pytest.mark.parametrize("definitions", [{"ndc": FIT, "oimp": UOC}, None])
def test_ndc_and_oimp_exported_is_first_transferred_to_the_acquiring_party(world, definitions):
    # Issue case 1, with one definition per purpose and with the single
    # "use or cancellation" of an older authorisation.
    extra = {"first_transfer_definitions": definitions} if definitions else {"first_transfer_definition": UOC}
    world.authorise(quantity=600, purposes=["ndc", "oimp"], oimp_purposes="CORSIA", **extra)
    s = issue(world).serial_start
    assert not FirstTransfer.objects.exists()
    clock.freeze(T0 + dt.timedelta(days=1))
    export(world, s, s + 299)
    cause = FIT if definitions else UOC
    assert firsts() == [(s, s + 299, "ndc", cause, "CH", "CH", 300)]
    rows = [(r["type"], r["quantity_t_co2"], r["acquiring_party_id"]) for r in aef.build(2026)["tables"]["actions"]]
    assert rows == [("Authorization", 600, "CH"), ("First Transfer", 300, "CH"), ("Transfer", 300, "CH")]


def test_domestic_oimp_use_under_first_international_transfer_is_a_first_transfer(world):
    # Issue case 2: an airline's CORSIA use at home.
    world.authorise(quantity=600, purposes=["oimp"], oimp_purposes="CORSIA", acquiring_parties=[],
                    first_transfer_definition=FIT)
    s = issue(world).serial_start
    txn = use(world, s, s + 99, "oimp", using_entity="Airline SA", oimp_purpose="CORSIA")
    assert firsts() == [(s, s + 99, "oimp", FIT, "", "", 100)]
    assert FirstTransfer.objects.get().transaction_identifier == txn.identifier
    report = aef.build(2026)
    assert all(c["ok"] for c in report["checks"]), report["checks"]
    rows = [(r["type"], r["subtype"], r["quantity_t_co2"], r["acquiring_party_id"], r["using_authorized_entity_id"],
             r["purpose_of_use_oimp"]) for r in report["tables"]["actions"]]
    assert rows == [("Authorization", "", 600, "", "", ""), ("First Transfer", "", 100, "", "", ""),
                    ("Use", "Use for OIMP", 100, "", "Airline SA", "CORSIA")]


def test_oimp_use_and_omge_cancellation_name_no_acquiring_party(world):
    # Issue case 3: the authorisation names CH, which never acquired these units.
    world.authorise(quantity=600, purposes=["ndc", "oimp"], oimp_purposes="CORSIA",
                    first_transfer_definitions={"ndc": FIT, "oimp": UOC})
    s = issue(world).serial_start
    use(world, s, s + 9, "oimp", using_entity="Airline SA", oimp_purpose="CORSIA")
    use(world, s + 10, s + 19, "omge", using_entity="Host registry")
    use(world, s + 20, s + 29, "voluntary_cancellation", using_entity="Town")
    use(world, s + 30, s + 39, "ndc", using_party="CH")
    assert firsts() == [
        (s, s + 9, "oimp", UOC, "", "", 10),
        (s + 10, s + 19, "omge", UOC, "", "", 10),
        (s + 20, s + 29, "oimp", UOC, "", "", 10),
        (s + 30, s + 39, "ndc", FIT, "CH", "CH", 10),
    ]
    assert set(CorrespondingAdjustment.objects.values_list("acquiring_party", flat=True)) == {"", "CH"}


def test_a_use_the_authorisation_does_not_cover_is_refused_and_nothing_moves(world):
    world.authorise(quantity=600, purposes=["ndc"], first_transfer_definition=FIT)
    s = issue(world).serial_start
    for kind, kw, code in [
        ("oimp", {"using_entity": "Airline SA", "oimp_purpose": "CORSIA"}, "PURPOSE_NOT_AUTHORISED"),
        ("ndc", {"using_party": "SE"}, "ACQUIRING_PARTY_NOT_AUTHORISED"),
        ("ndc", {"using_party": "CI"}, "ACQUIRING_PARTY_NOT_AUTHORISED"),
    ]:
        with pytest.raises(ValidationFailed) as exc:
            use(world, s, s + 9, kind, **kw)
        assert exc.value.code == code
    assert UnitBlock.objects.get(serial_start=s).account == world.reg.developer_account
    assert not FirstTransfer.objects.exists()
    # An NDC-only unit cancelled voluntarily: first-transferred, the adjustment naming no Party.
    use(world, s, s + 9, "voluntary_cancellation", using_entity="Town")
    assert firsts() == [(s, s + 9, "ndc", FIT, "", "", 10)]


def test_definitions_are_fixed_and_a_change_cannot_add_an_undefined_purpose(world):
    authorisation = world.authorise(purposes=["ndc"], first_transfer_definitions={"ndc": FIT})
    assert authorisation.definitions == {"ndc": FIT}
    terms = {k: v for k, v in world.terms(purposes=["ndc", "oimp"], oimp_purposes="CORSIA").items()
             if k not in ("identifier", "cooperative_approach", "first_transfer_definition")}
    with pytest.raises(ValidationFailed) as exc:
        a6.request_change(actor=world.reg.admin, identifier=authorisation.identifier, data=terms)
    assert exc.value.code == "FIRST_TRANSFER_DEFINITION_INVALID"
    with pytest.raises(ValidationFailed) as exc:
        a6.request_change(actor=world.reg.admin, identifier=authorisation.identifier,
                          data={**terms, "first_transfer_definitions": {"oimp": UOC}})
    assert exc.value.code == "AUTHORISATION_FIELD_FIXED"


def test_existing_authorisations_keep_their_definition_for_each_purpose(world):
    authorisation = world.authorise(first_transfer_definition=UOC)
    Authorisation.objects.filter(pk=authorisation.pk).update(definitions={})  # as before the migration
    migration = importlib.import_module("tonne.article6.migrations.0005_purposes")
    migration.forwards(apps, None)
    authorisation.refresh_from_db()
    assert authorisation.definitions == {"ndc": UOC, "oimp": UOC}


def test_the_approver_sees_each_purpose_definition(world):
    approval = a6.request_authorisation(actor=world.reg.admin, data=world.terms(
        purposes=["ndc", "oimp"], oimp_purposes="CORSIA", first_transfer_definitions={"ndc": FIT, "oimp": UOC}))
    assert approval.payload["first_transfer_definition"] == (
        "NDC: First international transfer; OIMP: Use or cancellation")
    world.approve(approval)
    assert Authorisation.objects.get().definitions == {"ndc": FIT, "oimp": UOC}
