"""The decisions that change who may move units, edited with plain UPDATE
and DELETE rights (these tables have no triggers: any operator can): a hold
released, an approval forged or its approver swapped, a KYC review or a
sanctions hit cleared, a representative's delay lifted, a trusted
destination added. `verify` names each (table, row, field, ledger value,
table value)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from django.db import connection, transaction

from tonne import testing
from tonne.controls import destinations
from tonne.controls import services as controls
from tonne.controls.models import AccountHold, Approval
from tonne.kyc import services as kyc
from tonne.kyc.models import ScreeningHit
from tonne.kyc.testing import verified_kyc
from tonne.ledger import state_decisions
from tonne.ledger import verify as verify_module
from tonne.ledger.tests.test_tamper import sql
from tonne.organisations.models import User

pytestmark = pytest.mark.django_db

SANCTIONS = Path(__file__).parents[2] / "kyc" / "tests" / "data" / "un-consolidated-sample.xml"


def _named() -> str:
    result = verify_module.verify_ledger(compiled=False)
    assert not result.ok, "the edit went unnoticed"
    d = result.first
    assert d.code == "STATE_DIVERGES", d
    if verify_module.compiled_available():
        assert verify_module.verify_ledger(compiled=True).first == d
    return d.message


def _uid(value) -> str:
    return value.hex if connection.vendor == "sqlite" else str(value)


@pytest.fixture
def decided(registry, settings):
    """Each kind of decision, made through the services."""
    reg = registry
    settings.TONNE_FOUR_EYES = {"limits", "representatives"}
    second = testing.make_user(reg.developer_org, "dev-approver", User.Role.APPROVER, actor=reg.admin)
    approved = controls.request_limits(actor=reg.developer, account=reg.developer_account.identifier,
                                       per_transfer=50, per_day=100)
    controls.approve(actor=second, uid=approved.uid, request_hash=approved.request_hash)
    pending = controls.request_limits(actor=reg.developer, account=reg.developer_account.identifier,
                                      per_transfer=10, per_day=20)
    with transaction.atomic():
        controls.place_hold(account_id=reg.developer_account.pk, alert_id=901, rule="velocity")
        controls.place_hold(account_id=reg.buyer_account.pk, alert_id=902, rule="structuring")
        controls.release_hold(alert_id=902, actor=reg.admin)
    verified_kyc(reg.developer_org, reg.admin, owners=[{"name": "Ivan P. Sidorov", "ownership_basis_points": 5100}])
    kyc.load_sanctions_list(actor=reg.admin, source="un", content=SANCTIONS.read_bytes())
    settings.TONNE_FOUR_EYES = set()
    controls.change_member(actor=reg.admin, member=second, role=User.Role.ADMIN, active=True)
    destinations.request_addition(actor=reg.developer, account=reg.developer_account.identifier, party="CH",
                                  registry="Swiss Emissions Trading Registry", destination_account="CH-100-1")
    result = verify_module.verify_ledger(compiled=False)
    assert result.ok, result.first
    reg.extra.update(approved=Approval.objects.get(pk=approved.pk), pending=pending, second=second,
                     hit=ScreeningHit.objects.get(organisation=reg.developer_org))
    return reg


def test_a_hold_released_behind_the_ledger_is_named(decided):
    sql("UPDATE controls_accounthold SET released_at = created_at WHERE alert_id = 901")
    assert "controls_accounthold row 901 field released: the ledger states False (entry " in _named()


def test_a_hold_deleted_behind_the_ledger_is_named(decided):
    sql("DELETE FROM controls_accounthold WHERE alert_id = 901")
    assert "controls_accounthold row 901: stated by the ledger but missing" in _named()


def test_a_hold_the_ledger_never_saw_is_named(decided):
    AccountHold.objects.create(account=decided.buyer_account, alert_id=903, rule="velocity",
                               created_at=decided.extra["approved"].created_at)
    assert "controls_accounthold row 903: not in the ledger" in _named()


def test_a_pending_request_made_approved_is_named(decided):
    pending = decided.extra["pending"]
    sql("UPDATE controls_approval SET status = 'approved', decided_by_id = %s WHERE uid = %s",
        [decided.extra["second"].pk, _uid(pending.uid)])
    message = _named()
    assert f"controls_approval row {pending.uid} field decided_by" in message
    assert "the ledger states None" in message and "'dev-approver'" in message


def test_an_approver_swapped_behind_the_ledger_is_named(decided):
    approved = decided.extra["approved"]
    sql("UPDATE controls_approval SET decided_by_id = %s WHERE uid = %s", [decided.admin.pk, _uid(approved.uid)])
    message = _named()
    assert f"controls_approval row {approved.uid} field decided_by: the ledger states 'dev-approver'" in message
    assert repr(decided.admin.username) in message


def test_an_initiator_swapped_so_they_may_approve_their_own_request_is_named(decided):
    pending = decided.extra["pending"]
    sql("UPDATE controls_approval SET initiated_by_id = %s WHERE uid = %s",
        [decided.extra["second"].pk, _uid(pending.uid)])
    assert f"controls_approval row {pending.uid} field initiated_by" in _named()


def test_a_request_swapped_under_its_approval_is_named(decided):
    pending = decided.extra["pending"]
    sql("UPDATE controls_approval SET request_hash = %s WHERE uid = %s", ["0" * 64, _uid(pending.uid)])
    assert f"controls_approval row {pending.uid} field request_hash" in _named()


def test_a_kyc_review_forged_behind_the_ledger_is_named(decided):
    kyc.submit_profile(actor=decided.admin, organisation=decided.buyer_org, data={
        "legal_name": "Buyers", "registration_country": "CI", "registration_number": "RCCM-1",
        "registered_address": "Abidjan"})
    assert verify_module.verify_ledger(compiled=False).ok
    sql("UPDATE kyc_kycprofile SET status = 'verified', review_due = '2099-01-01' WHERE organisation_id = %s",
        [decided.buyer_org.pk])
    message = _named()
    assert f"kyc_kycprofile row {decided.buyer_org.uid} field review_due: the ledger states None" in message


def test_a_kyc_review_pushed_back_is_named(decided):
    sql("UPDATE kyc_kycprofile SET review_due = '2099-01-01' WHERE organisation_id = %s", [decided.developer_org.pk])
    assert f"kyc_kycprofile row {decided.developer_org.uid} field review_due" in _named()


def test_a_sanctions_hit_cleared_behind_the_ledger_is_named(decided):
    hit = decided.extra["hit"]
    sql("UPDATE kyc_screeninghit SET status = 'cleared' WHERE id = %s", [hit.pk])
    assert f"kyc_screeninghit row {hit.pk} field status: the ledger states 'pending'" in _named()


def test_a_sanctions_hit_deleted_behind_the_ledger_is_named(decided):
    hit = decided.extra["hit"]
    sql("DELETE FROM kyc_screeninghit WHERE id = %s", [hit.pk])
    assert f"kyc_screeninghit row {hit.pk}: stated by the ledger but missing" in _named()


def test_a_sanctions_hit_decided_through_the_service_verifies(decided):
    hit = decided.extra["hit"]
    kyc.decide_hit(actor=decided.admin, hit_id=hit.pk, status="cleared", note="Another person: born 1990")
    assert verify_module.verify_ledger(compiled=False).ok
    sql("UPDATE kyc_screeninghit SET decided_by_id = %s WHERE id = %s", [decided.root.pk, hit.pk])
    assert f"kyc_screeninghit row {hit.pk} field decided_by" in _named()


def test_a_representative_delay_lifted_behind_the_ledger_is_named(decided):
    second = User.objects.get(pk=decided.extra["second"].pk)
    assert second.in_force_from is not None
    sql("UPDATE organisations_user SET in_force_from = NULL WHERE id = %s", [second.pk])
    message = _named()
    assert f"organisations_user row {second.username} field in_force_from" in message
    assert "the table holds None" in message


def test_a_trusted_destination_added_behind_the_ledger_is_named(decided):
    sql("UPDATE controls_trusteddestination SET registry = 'Elsewhere'")
    message = _named()
    assert "controls_trusteddestination row" in message and "field active" in message


def test_a_trusted_delay_shortened_behind_the_ledger_is_named(decided):
    controls.request_trusted_addition(actor=decided.developer, account=decided.developer_account.identifier,
                                      trusted=decided.buyer_account.identifier)
    assert verify_module.verify_ledger(compiled=False).ok
    long_ago = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    sql("UPDATE controls_trustedaccount SET effective_at = %s", [long_ago])
    message = _named()
    assert f"controls_trustedaccount row {decided.developer_account.identifier} trusts " in message
    assert "field effective_at" in message and "2000-01-01T00:00:00+00:00" in message


def test_a_trusted_destination_delay_shortened_behind_the_ledger_is_named(decided):
    sql("UPDATE controls_trusteddestination SET effective_at = %s", [dt.datetime(2000, 1, 1, tzinfo=dt.UTC)])
    message = _named()
    assert "controls_trusteddestination row" in message and "field effective_at" in message


def test_the_anonymous_ledger_keeps_these_decisions_private(decided, client):
    entries = client.get("/api/v1/ledger/entries?limit=1000").json()["items"]
    bodies = {e["seq"]: json.loads(e["body"]) for e in entries}
    stated = [b for b in bodies.values() if b["kind"] in state_decisions.KINDS or b["kind"] == "user.changed"]
    assert {b["kind"] for b in stated} >= {"control.hold", "control.approval_requested", "control.approval_decided",
                                           "kyc.status", "kyc.hit_raised", "user.changed"}
    text = json.dumps(stated)
    for value in (decided.developer_account.identifier, decided.buyer_account.identifier, decided.developer.username,
                  decided.admin.username, "dev-approver", "velocity", "verified", "CH-100-1",
                  decided.extra["approved"].request_hash):
        assert value not in text, value
    hits = [b["data"] for b in stated if b["kind"] == "kyc.hit_raised"]
    assert hits and all(data["organisation"].startswith("c:") for data in hits)
