"""Attacks on the way units leave for another Party or arrive from one, each
named for the attack (issue: exports, uses and imports skipped the
controls). Run on SQLite and PostgreSQL like the rest of the suite."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings as django_settings

from tonne.access.testing import stepped_up
from tonne.article6 import international
from tonne.article6 import services as a6
from tonne.article6.models import InternationalTransfer
from tonne.controls import destinations
from tonne.controls import services as controls
from tonne.controls.models import AccountLimit, Approval
from tonne.controls.tests.test_every_move_gated import (  # noqa: F401 (the fixture)
    EVERY_KIND,
    World,
    _export,
    _import,
    incoming_file,
    switch_on,
    where_units_are,
    world,
)
from tonne.core import clock
from tonne.core.errors import RegistryError
from tonne.core.tests.test_api_core import assert_problem, get, post
from tonne.kyc.models import KycProfile
from tonne.units.models import Transaction

pytestmark = [pytest.mark.django_db, pytest.mark.controls]


def refused(call, code: str) -> None:  # noqa: ANN001
    before = where_units_are()
    with pytest.raises(RegistryError) as exc:
        call()
    assert exc.value.code == code
    assert where_units_are() == before


def test_export_under_the_kill_switch_is_refused(world: World) -> None:  # noqa: F811
    switch_on(world)
    refused(lambda: _export(world), "TRANSFERS_SUSPENDED")
    assert not InternationalTransfer.objects.exists()


def test_export_under_the_kill_switch_with_a_trade_token_is_refused(world: World) -> None:  # noqa: F811
    switch_on(world)
    dev = stepped_up(world.reg.developer)
    body = {"from_account": world.dev_acc, "ranges": [{"start": world.authorised[0], "end": world.authorised[1]}],
            "destination_party": "CH", "destination_registry": "CH-TONNE", "destination_account": "CH-100-1"}
    assert_problem(post(dev, "/article6/exports", body, headers={"Idempotency-Key": "attack-1"}), 422, "TRANSFERS_SUSPENDED")


def test_export_with_four_eyes_on_by_one_person_moves_nothing(world: World) -> None:  # noqa: F811
    django_settings.TONNE_FOUR_EYES = EVERY_KIND
    before = where_units_are()
    record = _export(world)
    assert record.signed_file == "" and where_units_are() == before  # no file, no units gone
    approval = Approval.objects.get(transaction__identifier=record.transaction_identifier)
    with pytest.raises(RegistryError) as alone:
        controls.approve(actor=world.reg.developer, uid=approval.uid, request_hash=approval.request_hash)
    assert alone.value.code == "SELF_APPROVAL_NOT_ALLOWED"
    assert where_units_are() == before
    # Over HTTP the same: 202, no file until the second person.
    dev = stepped_up(world.reg.developer)
    assert get(dev, f"/article6/exports/{record.uid}").json()["status"] == "awaiting_approval"
    controls.approve(actor=world.dev_approver, uid=approval.uid, request_hash=approval.request_hash)
    record.refresh_from_db()
    assert record.signed_file and where_units_are() != before
    assert get(dev, f"/article6/exports/{record.uid}").json()["status"] == "completed"


def test_export_to_an_untrusted_destination_is_refused(world: World) -> None:  # noqa: F811
    def export_to(registry: str, account: str) -> InternationalTransfer:
        return international.export_units(actor=world.reg.developer, from_account=world.dev_acc, ranges=[world.authorised],
                                          destination_party="CH", destination_registry=registry,
                                          destination_account=account, idempotency_key=f"untrusted-{registry}")

    refused(lambda: export_to("CH-ELSEWHERE", "CH-9"), "DESTINATION_NOT_TRUSTED")
    # Adding a destination needs a second person, then waits for the delay.
    django_settings.TONNE_FOUR_EYES = EVERY_KIND | {"trusted_list"}
    approval = destinations.request_addition(actor=world.reg.developer, account=world.dev_acc, party="CH",
                                             registry="CH-ELSEWHERE", destination_account="CH-9")
    assert isinstance(approval, Approval)
    with pytest.raises(RegistryError) as alone:
        controls.approve(actor=world.reg.developer, uid=approval.uid, request_hash=approval.request_hash)
    assert alone.value.code == "SELF_APPROVAL_NOT_ALLOWED"
    controls.approve(actor=world.dev_approver, uid=approval.uid, request_hash=approval.request_hash)
    django_settings.TONNE_FOUR_EYES = frozenset()
    refused(lambda: export_to("CH-ELSEWHERE", "CH-9"), "DESTINATION_NOT_TRUSTED")  # not yet in force
    clock.freeze(clock.now() + dt.timedelta(days=7))
    assert export_to("CH-ELSEWHERE", "CH-9").signed_file
    # A removal is at once.
    destinations.remove(actor=world.reg.developer, account=world.dev_acc, registry="CH-TONNE")
    refused(lambda: _export(world), "DESTINATION_NOT_TRUSTED")


def test_a_trusted_destination_in_a_party_that_does_not_exist_is_refused(world: World) -> None:  # noqa: F811
    refused(lambda: destinations.request_addition(actor=world.reg.developer, account=world.dev_acc, party="XX",
                                                  registry="XX-TONNE"), "PARTY_INVALID")


def test_export_by_a_holder_without_verified_kyc_is_refused_like_a_transfer(world: World) -> None:  # noqa: F811
    KycProfile.objects.filter(organisation=world.reg.developer_org).update(status=KycProfile.Status.SUBMITTED)
    refused(lambda: _export(world), "KYC_NOT_VERIFIED")
    refused(lambda: a6.use_units(actor=world.reg.developer, from_account=world.dev_acc,
                                 selection=international.Selection.build(quantity=5), use="ndc", using_party="CH",
                                 idempotency_key="use-kyc"), "KYC_NOT_VERIFIED")


def test_export_over_the_accounts_limit_is_refused(world: World) -> None:  # noqa: F811
    AccountLimit.objects.create(account=world.reg.developer_account, per_transfer=5, set_by=world.reg.admin,
                                updated_at=clock.now())
    refused(lambda: _export(world), "TRANSFER_LIMIT_EXCEEDED")


def test_export_from_a_frozen_account_is_refused(world: World) -> None:  # noqa: F811
    controls.freeze(actor=world.reg.admin, scope="account", account=world.dev_acc, reason="Investigation")
    refused(lambda: _export(world), "ACCOUNT_FROZEN")


def test_export_retried_after_a_revocation_answers_the_first_result(world: World) -> None:  # noqa: F811
    first = international.export_units(actor=world.reg.developer, from_account=world.dev_acc, ranges=[world.authorised],
                                       destination_party="CH", destination_registry="CH-TONNE",
                                       destination_account="CH-100-1", idempotency_key="retry-me")
    approval = a6.request_revocation(actor=world.reg.admin, identifier="CI-A6-GATE", reason="Withdrawn")
    controls.approve(actor=world.admin_approver, uid=approval.uid, request_hash=approval.request_hash)
    again = international.export_units(actor=world.reg.developer, from_account=world.dev_acc, ranges=[world.authorised],
                                       destination_party="CH", destination_registry="CH-TONNE",
                                       destination_account="CH-100-1", idempotency_key="retry-me")
    assert again.pk == first.pk and again.signed_file == first.signed_file


def test_import_by_one_administrator_with_four_eyes_on_creates_nothing(world: World) -> None:  # noqa: F811
    django_settings.TONNE_FOUR_EYES = EVERY_KIND
    before = where_units_are()
    approval = _import(world)
    assert isinstance(approval, Approval) and where_units_are() == before
    with pytest.raises(RegistryError) as alone:
        controls.approve(actor=world.reg.admin, uid=approval.uid, request_hash=approval.request_hash)
    assert alone.value.code == "SELF_APPROVAL_NOT_ALLOWED"
    with pytest.raises(RegistryError) as handler_alone:  # nor can the handler be called without the approval
        international.carry_out_import(approval, world.reg.admin)
    assert handler_alone.value.code == "FOUR_EYES_REQUIRED"
    assert where_units_are() == before and not InternationalTransfer.objects.exists()
    # The same file asked twice while it waits: refused.
    with pytest.raises(RegistryError) as twice:
        international.import_transfer(actor=world.reg.admin, signed=approval.payload["signed_file"],
                                      verifier_key=approval.payload["verifier_key"])
    assert twice.value.code == "IMPORT_ALREADY_REQUESTED"
    controls.approve(actor=world.admin_approver, uid=approval.uid, request_hash=approval.request_hash)
    received = InternationalTransfer.objects.get(direction="received")
    assert Transaction.objects.get(identifier=received.transaction_identifier).initiated_by == world.reg.admin
    assert where_units_are() != before


def test_import_under_the_kill_switch_is_refused(world: World) -> None:  # noqa: F811
    switch_on(world)
    refused(lambda: _import(world), "TRANSFERS_SUSPENDED")


def test_import_the_country_does_not_accept_is_refused_naming_the_rule(world: World) -> None:  # noqa: F811
    from tonne.projects import eligibility

    eligibility.add_rule(actor=world.reg.admin, name="SG-VINTAGE", fact="vintage", scope="import", accepted=[2025, None])
    refused(lambda: _import(world), "NOT_ELIGIBLE_VINTAGE")
    with pytest.raises(RegistryError) as exc:  # the partner protocol's check asks the same rules
        international.check_transfer(incoming_file(world))
    assert exc.value.details["rule"] == "SG-VINTAGE"
    eligibility.remove_rule(actor=world.reg.admin, name="SG-VINTAGE")
    eligibility.add_rule(actor=world.reg.admin, name="SG-HOSTS", fact="host_party", scope="both", accepted=["SE", "CH"])
    _import(world)
    assert InternationalTransfer.objects.filter(direction="received").exists()


def test_import_into_a_frozen_account_is_refused(world: World) -> None:  # noqa: F811
    controls.freeze(actor=world.reg.admin, scope="account", account=world.reg.buyer_account.identifier, reason="Probe")
    refused(lambda: _import(world), "ACCOUNT_FROZEN")
