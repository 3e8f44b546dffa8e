"""The tables that decide holdings, rights and certificates, edited with
plain UPDATE rights (every trigger in place): `verify` names the table, the
row, the field, the ledger's value and the table's value."""

# ruff: noqa: F811  (the `world` fixture is shared with test_tamper)
from __future__ import annotations

import pytest
from django.db import connection

from tonne.controls import services as controls
from tonne.ledger import verify as verify_module
from tonne.ledger.tests.test_tamper import sql, world  # noqa: F401 - the fixture
from tonne.organisations.models import Organisation, User

pytestmark = pytest.mark.django_db


def _named(world) -> str:
    result = verify_module.verify_ledger(compiled=False)
    assert not result.ok, "the edit went unnoticed"
    d = result.first
    assert d.code == "STATE_DIVERGES"
    if verify_module.compiled_available():
        assert verify_module.verify_ledger(compiled=True).first == d
    return d.message


def test_an_account_given_to_another_organisation_is_named(world):
    account = world.buyer_account.identifier
    sql("UPDATE organisations_account SET organisation_id = %s WHERE identifier = %s",
        [world.developer_account.organisation_id, account])
    message = _named(world)
    assert f"organisations_account row {account} field organisation" in message
    assert str(world.buyer_account.organisation.uid) in message
    assert str(world.developer_account.organisation.uid) in message


def test_a_viewer_made_registry_administrator_is_named(world):
    government = Organisation.objects.get(kind="government")
    sql("UPDATE organisations_user SET role = 'admin', organisation_id = %s WHERE username = %s",
        [government.pk, world.buyer.username])
    assert f"organisations_user row {world.buyer.username} field organisation" in _named(world)


def test_a_role_change_alone_is_named(world):
    sql("UPDATE organisations_user SET role = 'viewer' WHERE username = %s", [world.buyer.username])
    assert "field role: the ledger states 'admin'" in _named(world)


def test_a_forged_retirement_beneficiary_is_named(world):
    identifier = world.extra["txns"]["retirement"].identifier
    sql("UPDATE units_transaction SET beneficiary = 'Forged Airline SA' WHERE identifier = %s", [identifier])
    message = _named(world)
    assert f"units_transaction row {identifier} field beneficiary" in message
    assert "'Acme Airways'" in message and "'Forged Airline SA'" in message


@pytest.mark.parametrize(
    ("statement", "field"),
    [
        ("UPDATE organisations_organisation SET status = 'suspended'", "organisations_organisation"),
        ("UPDATE organisations_account SET status = 'closed' WHERE type = 'holding'", "field status"),
        ("UPDATE organisations_user SET is_active = %s", "field active"),
        ("UPDATE units_transaction SET purpose = 'compliance' WHERE purpose = 'voluntary'", "field purpose"),
    ],
)
def test_other_state_edits_are_named(world, statement, field):
    sql(statement, [False] if "%s" in statement else None)
    assert field in _named(world)


def test_a_user_the_ledger_never_saw_is_named(world):
    User.objects.create(username="ghost", role="admin", organisation=world.government)
    assert "organisations_user row ghost: not in the ledger" in _named(world)


@pytest.fixture
def controlled(world, settings):
    settings.TONNE_FOUR_EYES = set()
    dev, buyer = world.developer_account.identifier, world.buyer_account.identifier
    frozen = controls.freeze(actor=world.admin, scope="account", reason="Court order", account=dev)
    controls.request_limits(actor=world.developer, account=dev, per_transfer=50, per_day=100)
    controls.request_trusted_addition(actor=world.developer, account=dev, trusted=buyer)
    controls.set_transfers_suspended(actor=world.admin, suspended=True, reason="Incident")
    controls.set_transfers_suspended(actor=world.admin, suspended=False, reason="Resolved")
    assert verify_module.verify_ledger(compiled=False).ok
    world.extra["freeze"] = frozen
    return world


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        ("UPDATE controls_freeze SET lifted_at = created_at", "controls_freeze row {freeze} field lifted"),
        ("UPDATE controls_accountlimit SET per_transfer = 1000000", "controls_accountlimit row {dev} field per_transfer"),
        ("UPDATE controls_trustedaccount SET removed_at = requested_at", "controls_trustedaccount row {dev} trusts"),
        ("UPDATE controls_registryswitch SET transfers_suspended = %s", "controls_registryswitch row 1 field suspended"),
    ],
)
def test_controls_edited_behind_the_ledger_are_named(controlled, statement, named):
    sql(statement, [True] if "%s" in statement else None)
    expected = named.format(freeze=controlled.extra["freeze"].uid, dev=controlled.developer_account.identifier)
    assert expected in _named(controlled)


def test_a_document_swapped_behind_the_ledger_is_named(world):
    from tonne.projects import services as projects
    from tonne.projects.models import Project

    project = Project.objects.first()
    document = projects.upload_document(actor=world.developer, project=project, kind="design", title="PDD",
                                        filename="pdd-v1.pdf", content=b"%PDF-1.4 original", content_type="application/pdf")
    sql("UPDATE projects_document SET sha256 = %s, filename = 'pdd-v2.pdf' WHERE uid = %s",
        ["ab" * 32, document.uid.hex if connection.vendor == "sqlite" else str(document.uid)])
    message = _named(world)
    assert f"projects_document row {document.uid} field filename" in message
    assert "'pdd-v1.pdf'" in message and "'pdd-v2.pdf'" in message
