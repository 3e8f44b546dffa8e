"""Benefit sharing and safeguards: plans, minimums, disbursements, overdue
flags, consent and grievances."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tonne import testing
from tonne.core import clock
from tonne.core.errors import ValidationFailed
from tonne.projects import benefits
from tonne.projects import services as projects
from tonne.projects.models import Grievance


def _doc(reg, project, name="evidence.pdf"):
    return projects.upload_document(actor=reg.developer, project=project, kind="other", title=name, filename=name,
                                    content=name.encode())


def test_plan_minimum_disbursements_overdue(registry, settings) -> None:
    settings.TONNE_BENEFIT_MINIMUM_BASIS_POINTS = {"Afforestation": 1000}
    project = testing.registered_project(registry)  # an Afforestation project
    community_account = registry.buyer_account  # stands in for the community's holding account
    plan = [
        {"beneficiary": "Lagoon villages", "beneficiary_kind": "community", "basis": "units", "share_basis_points": 500,
         "frequency": "per_issuance", "account": community_account.identifier},
        {"beneficiary": "Lagoon villages", "beneficiary_kind": "community", "basis": "proceeds",
         "share_basis_points": 1000, "frequency": "quarterly", "currency": "xof", "planned_amount": "1000000.00",
         "first_due": "2024-01-31"},
    ]
    with pytest.raises(ValidationFailed) as err:
        benefits.set_benefit_plan(actor=registry.developer, project=project, shares=plan[:1])
    assert err.value.code == "BENEFIT_SHARE_BELOW_MINIMUM"
    units_share, money_share = benefits.set_benefit_plan(actor=registry.developer, project=project, shares=plan)
    # Issuance gives the community 5 % of the net units, rounded down.
    assert [(a.identifier, q) for _, a, q in benefits.unit_share_parts(project, 1999)] == [(community_account.identifier, 99)]
    clock.freeze(dt.datetime(2024, 5, 15, tzinfo=dt.UTC))  # two quarters due: Jan 31 and Apr 28
    benefits.record_disbursement(actor=registry.developer, share=money_share, amount="1000000.00", currency="XOF",
                                 paid_on="2024-02-10", evidence=str(_doc(registry, project).uid))
    figures = {f.share.pk: f for f in benefits.benefit_figures(project)}
    money = figures[money_share.pk]
    assert (money.periods_due, money.planned, money.recorded, money.overdue) == (2, Decimal("2000000"), Decimal("1000000"), True)
    with pytest.raises(ValidationFailed) as err:
        benefits.record_disbursement(actor=registry.developer, share=money_share, amount="10", currency="EUR",
                                     paid_on="2024-02-10", evidence=str(_doc(registry, project, "b.pdf").uid))
    assert err.value.code == "CURRENCY_MISMATCH"
    with pytest.raises(ValidationFailed) as err:
        benefits.record_disbursement(actor=registry.developer, share=units_share, amount="10", currency="XOF",
                                     paid_on="2024-02-10", evidence=str(_doc(registry, project, "c.pdf").uid))
    assert err.value.code == "SHARE_NOT_MONETARY"


def test_consent_and_grievances(registry) -> None:
    project = testing.registered_project(registry)
    consent = benefits.record_consent(actor=registry.developer, project=project, community="Ahua village",
                                      obtained_on="2021-06-01", document=str(_doc(registry, project, "fpic.pdf").uid))
    assert consent.document.sha256
    grievance = benefits.record_grievance(actor=registry.admin, project=project, received_on="2023-03-02",
                                          channel="hotline", summary="Access to fishing grounds restricted")
    with pytest.raises(ValidationFailed) as err:
        benefits.update_grievance(actor=registry.developer, grievance=grievance, status="resolved")
    assert err.value.code == "FIELD_REQUIRED"
    benefits.update_grievance(actor=registry.developer, grievance=grievance, status="resolved",
                              resolution="Channel through the restored area reopened")
    assert Grievance.objects.get().status == "resolved"


def test_issuance_places_the_unit_shares_in_the_beneficiaries_accounts(registry) -> None:
    from tonne.mrv.trail import units_allocated
    from tonne.units.models import Transaction, UnitBlock

    project = testing.registered_project(registry)
    community_account = registry.buyer_account  # stands in for the community's holding account
    [share] = benefits.set_benefit_plan(actor=registry.developer, project=project, shares=[
        {"beneficiary": "Lagoon villages", "beneficiary_kind": "community", "basis": "units", "share_basis_points": 500,
         "frequency": "per_issuance", "account": community_account.identifier}])
    _report, [issuance] = testing.issue(registry, project, {2022: 1999})
    after_buffer = issuance.quantity - issuance.buffer_quantity
    expected = after_buffer * 500 // 10000
    # One issuance transaction straight into the community's account, in the issuance's serials.
    [to_community] = Transaction.objects.filter(issuance=issuance, kind=Transaction.Kind.ISSUANCE,
                                                to_account=community_account)
    assert to_community.quantity == expected > 0
    held = sum(b.serial_end - b.serial_start + 1 for b in UnitBlock.objects.filter(issuance=issuance, account=community_account))
    assert held == expected
    # Conservation: every serial of the issuance lands once.
    placed = sum(b.serial_end - b.serial_start + 1 for b in UnitBlock.objects.filter(issuance=issuance))
    assert placed == issuance.quantity
    figures = {f.share.pk: f for f in benefits.benefit_figures(project, units_allocated(project))}
    assert (figures[share.pk].planned, figures[share.pk].recorded, figures[share.pk].overdue) == (expected, expected, False)
