"""AML alerts, beneficial owners and a user's representative delay, edited
behind the ledger: with plain UPDATE and DELETE rights (these tables have no
triggers), `verify` names the table, row, field, ledger value and table
value; with the ledger's own triggers dropped and its chain rewritten to
match, the signed checkpoint gives the edit away, and a re-signed history
is refused by a checkpoint kept elsewhere."""

from __future__ import annotations

import json
import secrets

import pytest
from django.db import connection, transaction

from tonne import testing
from tonne.aml import services as aml
from tonne.aml.models import AmlAlert
from tonne.core.canonical import canonical_json
from tonne.kyc.testing import verified_kyc
from tonne.ledger import commitments, watermark
from tonne.ledger import verify as verify_module
from tonne.ledger.external import External
from tonne.ledger.models import LedgerEntry, Opening
from tonne.ledger.services import make_checkpoint
from tonne.ledger.tests.test_decision_tamper import _named
from tonne.ledger.tests.test_tamper import drop_guards, rewrite_chain, sql
from tonne.organisations.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def watched(registry, settings):
    """An alert holding the developer's account, one confirmed, an
    organisation's owners and a new approver: each through its service."""
    reg = registry
    settings.TONNE_AML_HOLD_RULES = frozenset({"new_account_velocity"})
    with transaction.atomic():
        held = aml._raise("new_account_velocity", {"moves": 5}, account_id=reg.developer_account.pk,
                          organisation_id=reg.developer_org.pk)
        confirmed = aml._raise("pass_through", {"received": 2000}, account_id=reg.buyer_account.pk,
                               organisation_id=reg.buyer_org.pk)
    assert held is not None and held.hold and confirmed is not None and not confirmed.hold
    aml.decide(actor=reg.admin, alert_id=confirmed.pk, status="confirmed", note="Layering through a shell")
    verified_kyc(reg.developer_org, reg.admin, owners=[
        {"name": "Ivan P. Sidorov", "ownership_basis_points": 5100, "birth_date": "1961-04-02", "nationality": "cy"},
        {"name": "Maria Sidorova", "ownership_basis_points": 4900},
    ])
    approver = testing.make_user(reg.buyer_org, "new-approver", User.Role.APPROVER, actor=reg.admin)
    make_checkpoint(force=True)
    result = verify_module.verify_ledger(compiled=False)
    assert result.ok, result.first
    reg.extra.update(held=held, confirmed=confirmed, approver=approver)
    return reg


def test_a_held_alert_dismissed_behind_the_ledger_is_named(watched):
    held = watched.extra["held"]
    sql("UPDATE aml_amlalert SET status = 'dismissed', hold = %s WHERE id = %s", [False, held.pk])
    assert f"aml_amlalert row {held.pk} field hold: the ledger states True (entry " in _named()


def test_a_confirmed_alert_cleared_behind_the_ledger_is_named(watched):
    confirmed = watched.extra["confirmed"]
    sql("UPDATE aml_amlalert SET status = 'dismissed' WHERE id = %s", [confirmed.pk])
    message = _named()
    assert f"aml_amlalert row {confirmed.pk} field status" in message
    assert "'confirmed'" in message and "'dismissed'" in message


def test_an_alert_deleted_or_forged_is_named(watched):
    held = watched.extra["held"]
    sql("DELETE FROM aml_amlalert WHERE id = %s", [held.pk])
    assert f"aml_amlalert row {held.pk}: stated by the ledger but missing" in _named()
    forged = AmlAlert.objects.create(rule="structuring", account=watched.buyer_account, created_at=held.created_at)
    assert f"aml_amlalert row {forged.pk}: not in the ledger" in _named()


def test_a_beneficial_owner_swapped_behind_the_ledger_is_named(watched):
    sql("UPDATE kyc_beneficialowner SET name = 'Nominee Holdings Ltd' WHERE name = 'Ivan P. Sidorov'")
    message = _named()
    assert f"kyc_beneficialowner row {watched.developer_org.uid} field owners" in message
    assert "Ivan P. Sidorov" in message and "Nominee Holdings Ltd" in message


def test_a_beneficial_owner_deleted_or_added_is_named(watched):
    sql("DELETE FROM kyc_beneficialowner WHERE name = 'Maria Sidorova'")
    assert f"kyc_beneficialowner row {watched.developer_org.uid} field owners" in _named()
    sql("INSERT INTO kyc_beneficialowner (organisation_id, name, nationality, ownership_basis_points) "
        "VALUES (%s, 'Hidden Owner', '', 100)", [watched.buyer_org.pk])
    # The buyer never submitted KYC data: a row for it is not in the ledger at all.
    sql("DELETE FROM kyc_beneficialowner WHERE organisation_id = %s", [watched.developer_org.pk])
    message = _named()
    assert "kyc_beneficialowner row" in message


def test_a_new_users_delay_edited_from_day_one_is_named(watched):
    approver = watched.extra["approver"]
    sql("UPDATE organisations_user SET in_force_from = %s WHERE id = %s",
        ["2020-01-01 00:00:00+00:00" if connection.vendor == "postgresql" else "2020-01-01 00:00:00", approver.pk])
    assert "organisations_user row new-approver field in_force_from: the ledger states None" in _named()


def test_a_rewritten_alert_entry_is_caught_by_the_checkpoint(watched):
    """Triggers dropped, the entry made to say "no hold", the chain rewritten
    to match, the table edited to agree: the signed checkpoint disagrees."""
    held = watched.extra["held"]
    seq = LedgerEntry.objects.filter(kind="aml.alert_raised").order_by("seq").values_list("seq", flat=True).first()
    drop_guards("ledger_ledgerentry")
    rewrite_chain(seq, lambda doc: doc["data"].update(hold=False))
    sql("UPDATE aml_amlalert SET hold = %s WHERE id = %s", [False, held.pk])
    result = verify_module.verify_ledger(compiled=False)
    assert not result.ok
    assert result.first.code == "CHECKPOINT_ROOT_MISMATCH", result.first


def _swap_owner_everywhere() -> None:
    """Triggers dropped, the owners' entry made to commit to the nominee (a
    fresh opening), the chain rewritten to match, the table edited to agree."""
    seq, body = LedgerEntry.objects.filter(kind="kyc.owners").order_by("-seq").values_list("seq", "body").first()
    committed = json.loads(body)["data"]["owners"]
    owners = json.loads(Opening.objects.get(commitment=committed).value)
    for owner in owners:
        owner["name"] = owner["name"].replace("Ivan P. Sidorov", "Nominee Holdings Ltd")
    salt = secrets.token_bytes(32)
    forged = commitments.commit(owners, salt)
    drop_guards("ledger_ledgerentry", "ledger_checkpoint")
    Opening.objects.create(commitment=forged, path="owners", value=canonical_json(owners).decode(), salt=salt.hex())
    rewrite_chain(seq, lambda doc: doc["data"].update(owners=forged))
    assert sql("UPDATE kyc_beneficialowner SET name = 'Nominee Holdings Ltd' WHERE name = 'Ivan P. Sidorov'") == 1


def test_a_rewritten_owners_entry_is_caught_by_the_checkpoint(watched):
    _swap_owner_everywhere()
    result = verify_module.verify_ledger(compiled=False)
    assert not result.ok
    assert result.first.code == "CHECKPOINT_ROOT_MISMATCH", result.first


def test_a_rewritten_and_re_signed_owners_entry_is_caught_by_a_checkpoint_kept_elsewhere(watched):
    """The operator also deletes the checkpoints and re-signs with the
    registry's key: consistent on its own, not with a partner's copy."""
    saved = make_checkpoint(force=True).note
    _swap_owner_everywhere()
    sql("DELETE FROM ledger_checkpoint")
    watermark.mark_path().unlink()
    make_checkpoint(force=True)
    assert verify_module.verify_ledger(compiled=False).ok
    result = verify_module.verify_ledger(compiled=False, external=[External("partner", saved)])
    assert [d.code for d in result.divergences] == ["CHECKPOINT_INCONSISTENT"]


def test_the_anonymous_ledger_keeps_alerts_and_owners_private(watched, client):
    entries = client.get("/api/v1/ledger/entries?limit=1000").json()["items"]
    stated = [json.loads(e["body"]) for e in entries]
    stated = [b for b in stated if b["kind"] in ("aml.alert_raised", "aml.alert_status", "kyc.owners")]
    assert {b["kind"] for b in stated} == {"aml.alert_raised", "aml.alert_status", "kyc.owners"}
    text = json.dumps(stated)
    for value in ("Sidorov", "new_account_velocity", "pass_through", "confirmed", watched.admin.username,
                  watched.developer_account.identifier):
        assert value not in text, value
    # Which organisation an alert is about is private (that one submitted KYC data is not, as for kyc.status).
    alerts = json.dumps([b for b in stated if b["kind"].startswith("aml.")])
    assert str(watched.developer_org.uid) not in alerts and str(watched.buyer_org.uid) not in alerts
