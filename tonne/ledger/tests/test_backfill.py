"""`tonne ledger backfill`: controls rows from before the ledger stated them
get one entry each, once, and verify is clean afterwards."""

from __future__ import annotations

import io
import uuid

import pytest
from django.core.management import call_command

from tonne.controls.models import AccountLimit, Freeze, TrustedAccount
from tonne.core import clock
from tonne.ledger.backfill import backfill
from tonne.ledger.models import LedgerEntry
from tonne.ledger.verify import verify_ledger

pytestmark = pytest.mark.django_db


def test_controls_rows_the_ledger_never_stated_are_backfilled_once(registry) -> None:
    reg = registry
    now = clock.now()
    # Rows as an older Tonne wrote them: no ledger entry.
    Freeze.objects.create(uid=uuid.uuid4(), scope="account", account=reg.developer_account, reason="Court order",
                          created_by=reg.admin, created_at=now, lifted_by=reg.admin, lifted_at=now)
    AccountLimit.objects.create(account=reg.buyer_account, per_transfer=50, per_day=None, set_by=reg.admin,
                                updated_at=now)
    TrustedAccount.objects.create(account=reg.developer_account, trusted=reg.buyer_account, requested_by=reg.admin,
                                  requested_at=now, effective_at=now)
    before = verify_ledger()
    assert before.first is not None and before.first.code == "STATE_DIVERGES"
    assert "not in the ledger" in before.first.message or "ledger states False" in before.first.message

    assert backfill() == {"control.freeze": 1, "control.freeze_lifted": 1, "control.limits": 1,
                          "control.trusted_added": 1}
    result = verify_ledger()
    assert result.ok, result.first
    size = LedgerEntry.objects.count()
    out = io.StringIO()
    call_command("ledger", "backfill", stdout=out)
    assert "Nothing to backfill" in out.getvalue() and LedgerEntry.objects.count() == size


def test_a_row_that_differs_from_the_ledger_is_left_for_verify_to_name(registry, settings) -> None:
    from tonne.controls import services as controls

    settings.TONNE_FOUR_EYES = set()
    controls.request_limits(actor=registry.developer, account=registry.developer_account.identifier,
                            per_transfer=50, per_day=100)
    AccountLimit.objects.filter(account=registry.developer_account).update(per_transfer=5000)
    assert backfill() == {}
    result = verify_ledger()
    assert result.first is not None and "per_transfer" in result.first.message


def test_decisions_the_ledger_never_stated_are_backfilled_once(registry) -> None:
    from tonne.aml.models import AmlAlert
    from tonne.controls.models import AccountHold, Approval, TrustedDestination
    from tonne.kyc.models import BeneficialOwner, KycProfile, ScreeningHit

    reg = registry
    now = clock.now()
    # Rows as an older Tonne wrote them: no ledger entry.
    AccountHold.objects.create(account=reg.developer_account, alert_id=7, rule="velocity", created_at=now,
                               released_at=now)
    Approval.objects.create(uid=uuid.uuid4(), action="limit_change", status="approved",
                            organisation=reg.developer_org, account=reg.developer_account, payload={},
                            request_hash="ab" * 32, initiated_by=reg.developer, created_at=now, expires_at=now,
                            decided_by=reg.admin, decided_at=now)
    KycProfile.objects.create(organisation=reg.buyer_org, legal_name="Buyers", registration_country="CI",
                              registration_number="RCCM-1", registered_address="Abidjan", status="verified",
                              submitted_at=now, reviewed_at=now, reviewed_by=reg.admin, review_due=now.date())
    ScreeningHit.objects.create(organisation=reg.buyer_org, subject="x", entry_name="x", entry_reference="x",
                                source="un", score=90, trigger="onboarding", created_at=now)
    TrustedDestination.objects.create(account=reg.buyer_account, party="CH", registry="Swiss registry",
                                      requested_by=reg.buyer, requested_at=now, effective_at=now)
    BeneficialOwner.objects.create(organisation=reg.buyer_org, name="Ana Buyer", ownership_basis_points=6000)
    AmlAlert.objects.create(rule="structuring", status="dismissed", account=reg.buyer_account,
                            organisation=reg.buyer_org, hold=False, created_at=now, decided_by=reg.admin,
                            decided_at=now)
    before = verify_ledger()
    assert before.first is not None and before.first.code == "STATE_DIVERGES"

    assert backfill() == {"control.hold": 1, "control.hold_released": 1, "control.approval_requested": 1,
                          "control.approval_decided": 1, "kyc.status": 1, "kyc.hit_raised": 1,
                          "control.trusted_destination_added": 1, "kyc.owners": 1, "aml.alert_raised": 1,
                          "aml.alert_status": 1}
    result = verify_ledger()
    assert result.ok, result.first
    assert backfill() == {}


def test_a_representative_delay_the_ledger_never_stated_is_backfilled(registry) -> None:
    from django.db import transaction

    from tonne.ledger.services import append_entry
    from tonne.organisations.models import User

    # A user created by an older Tonne: its entry says nothing of the delay.
    later = clock.now().replace(year=clock.now().year + 1)
    with transaction.atomic():
        User.objects.create(username="old-approver", role="approver", organisation=registry.buyer_org,
                            in_force_from=later)
        append_entry(kind="user.created", actor=None, data={
            "username": "old-approver", "organisation": str(registry.buyer_org.uid), "role": "approver",
            "root": False, "active": True})
    assert verify_ledger().ok  # the delay is not held to anything yet
    assert backfill() == {"user.changed": 1}
    assert verify_ledger().ok
    User.objects.filter(username="old-approver").update(in_force_from=clock.now())
    result = verify_ledger()
    assert result.first is not None and "organisations_user row old-approver field in_force_from" in result.first.message
