"""The VVB's side: answering an assignment (accepting declares no conflict of
interest), its opinion, another VVB after a decline, and the registry's own
approval of verifications before issuance where it requires one."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tonne import testing
from tonne.core.errors import PermissionDenied, ValidationFailed
from tonne.ledger.models import LedgerEntry
from tonne.mrv import domain, verification
from tonne.mrv import services as mrv
from tonne.mrv.models import MonitoringReport
from tonne.organisations import services as orgs
from tonne.organisations.models import Organisation

pytestmark = pytest.mark.django_db


def submit(reg: testing.Registry, project: Any, year: int = 2022) -> MonitoringReport:
    return mrv.submit_report(actor=reg.developer, project=project, period_start=dt.date(year, 1, 1),
                             period_end=dt.date(year, 12, 31), vintages=[{"vintage": year, "quantity": 1000}],
                             vvb=str(reg.vvb_org.uid))


def last_entry(kind: str) -> dict:
    return json.loads(LedgerEntry.objects.filter(kind=kind).order_by("-seq").first().body)["data"]


def refused(code: str, fn: Any, **kwargs: Any) -> Any:
    with pytest.raises((ValidationFailed, PermissionDenied)) as exc:
        fn(**kwargs)
    assert exc.value.code == code, exc.value
    return exc.value


@pytest.fixture
def project(registry: testing.Registry) -> Any:
    return testing.registered_project(registry)


# -- the pure rules ------------------------------------------------------------------


@pytest.mark.parametrize(("current", "decision", "declared", "reason", "code"), [
    ("pending", "accepted", False, "", "CONFLICT_OF_INTEREST_NOT_DECLARED"),
    ("pending", "declined", False, "  ", "REASON_REQUIRED"),
    ("pending", "maybe", True, "", "FIELD_INVALID"),
    ("accepted", "declined", False, "late", "ASSIGNMENT_ALREADY_ANSWERED"),
    ("declined", "accepted", True, "", "ASSIGNMENT_ALREADY_ANSWERED"),
])
def test_assignment_answers_refused(current: str, decision: str, declared: bool, reason: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        domain.check_assignment_answer(current, decision, no_conflict_of_interest=declared, reason=reason)
    assert exc.value.code == code


def test_assignment_answers_allowed() -> None:
    domain.check_assignment_answer("pending", "accepted", no_conflict_of_interest=True, reason="")
    domain.check_assignment_answer("pending", "declined", no_conflict_of_interest=False, reason="Conflict: we advised them")


@given(st.text(max_size=5))
def test_only_an_accepted_assignment_lets_the_vvb_act(assignment: str) -> None:
    if assignment == "accepted":
        domain.check_may_act(assignment)
    else:
        with pytest.raises(ValidationFailed):
            domain.check_may_act(assignment)


def test_opinions() -> None:
    domain.check_opinion("positive", "")
    domain.check_opinion("negative", "Baseline not demonstrated")
    for opinion, comments, code in (("negative", " ", "COMMENTS_REQUIRED"), ("neutral", "x", "FIELD_INVALID")):
        with pytest.raises(ValidationFailed) as exc:
            domain.check_opinion(opinion, comments)
        assert exc.value.code == code


def test_issuance_waits_for_the_registrys_approval_only_where_required() -> None:
    domain.check_issuable_verification(approval_required=False, approved=False)
    domain.check_issuable_verification(approval_required=True, approved=True)
    with pytest.raises(ValidationFailed) as exc:
        domain.check_issuable_verification(approval_required=True, approved=False)
    assert exc.value.code == "VERIFICATION_NOT_APPROVED"


# -- the services -----------------------------------------------------------------------


def test_the_vvb_acts_only_after_accepting_with_its_declaration(registry: testing.Registry, project: Any) -> None:
    report = submit(registry, project)
    refused("ASSIGNMENT_NOT_ACCEPTED", mrv.verify_report, actor=registry.vvb, report=report, verified={2022: 900})
    refused("ASSIGNMENT_NOT_ACCEPTED", mrv.reject_report, actor=registry.vvb, report=report, reason="no")
    refused("CONFLICT_OF_INTEREST_NOT_DECLARED", verification.accept_assignment, actor=registry.vvb, report=report,
            no_conflict_of_interest=False)
    refused("NOT_ASSIGNED_VVB", verification.accept_assignment, actor=registry.developer, report=report,
            no_conflict_of_interest=True)
    assert MonitoringReport.objects.get(pk=report.pk).assignment == "pending"  # nothing half-done
    report = verification.accept_assignment(actor=registry.vvb, report=report, no_conflict_of_interest=True)
    assert report.assignment == "accepted" and report.no_conflict_declared_at is not None
    assert last_entry("mrv.assignment_accepted") == {
        "report": str(report.uid), "project": project.project_id, "vvb": str(registry.vvb_org.uid),
        "no_conflict_of_interest": True}
    refused("ASSIGNMENT_ALREADY_ANSWERED", verification.decline_assignment, actor=registry.vvb, report=report,
            reason="changed our mind")
    report = verification.record_opinion(actor=registry.vvb, report=report, opinion="positive",
                                         comments="Sampling adequate", verified=[{"vintage": 2022, "quantity": 900}])
    assert (report.status, report.opinion, report.opinion_comments) == ("verified", "positive", "Sampling adequate")
    assert last_entry("mrv.report_verified")["opinion"] == "positive"


def test_a_negative_opinion_rejects_with_its_comments(registry: testing.Registry, project: Any) -> None:
    report = verification.accept_assignment(actor=registry.vvb, report=submit(registry, project),
                                            no_conflict_of_interest=True)
    refused("COMMENTS_REQUIRED", verification.record_opinion, actor=registry.vvb, report=report, opinion="negative")
    report = verification.record_opinion(actor=registry.vvb, report=report, opinion="negative",
                                         comments="Meter not calibrated")
    assert (report.status, report.opinion, report.opinion_comments) == ("rejected", "negative", "Meter not calibrated")
    assert last_entry("mrv.report_rejected")["opinion"] == "negative"


def test_overlong_comments_are_refused_never_cut(registry: testing.Registry, project: Any) -> None:
    report = verification.accept_assignment(actor=registry.vvb, report=submit(registry, project),
                                            no_conflict_of_interest=True)
    refused("TEXT_TOO_LONG", verification.record_opinion, actor=registry.vvb, report=report, opinion="negative",
            comments="x" * (domain.OPINION_COMMENTS_LIMIT + 1))
    assert MonitoringReport.objects.get(pk=report.pk).status == "submitted"


def test_a_declined_assignment_goes_to_another_vvb(registry: testing.Registry, project: Any) -> None:
    report = submit(registry, project)
    refused("ASSIGNMENT_NOT_DECLINED", verification.reassign_vvb, actor=registry.developer, report=report,
            vvb=str(registry.vvb_org.uid))
    report = verification.decline_assignment(actor=registry.vvb, report=report, reason="We advised the developer")
    assert (report.assignment, report.assignment_reason) == ("declined", "We advised the developer")
    assert last_entry("mrv.assignment_declined")["reason"] == "We advised the developer"
    refused("ASSIGNMENT_NOT_ACCEPTED", mrv.verify_report, actor=registry.vvb, report=report, verified={2022: 1})
    refused("VVB_DECLINED", verification.reassign_vvb, actor=registry.developer, report=report,
            vvb=str(registry.vvb_org.uid))
    refused("PROJECT_NOT_YOURS", verification.reassign_vvb, actor=registry.other_developer, report=report,
            vvb=str(registry.vvb_org.uid))
    other_org = testing.make_org(registry.admin, "Second Verifiers", Organisation.Kind.VVB)
    refused("VVB_NOT_ACCREDITED", verification.reassign_vvb, actor=registry.developer, report=report, vvb=str(other_org.uid))
    other_org = orgs.set_accreditation(actor=registry.admin, organisation=other_org, accredited=True)
    other = testing.make_user(other_org, "second-vvb", actor=registry.admin)
    report = verification.reassign_vvb(actor=registry.developer, report=report, vvb=str(other_org.uid))
    assert (report.vvb_id, report.assignment, report.no_conflict_declared_at) == (other_org.id, "pending", None)
    refused("NOT_ASSIGNED_VVB", verification.accept_assignment, actor=registry.vvb, report=report,
            no_conflict_of_interest=True)
    verification.accept_assignment(actor=other, report=report, no_conflict_of_interest=True)
    assert mrv.verify_report(actor=other, report=report, verified={2022: 1000}).status == "verified"


def test_the_registry_may_require_its_approval_of_verifications(registry: testing.Registry, project: Any,
                                                                 settings: Any) -> None:
    report = verification.accept_assignment(actor=registry.vvb, report=submit(registry, project),
                                            no_conflict_of_interest=True)
    refused("VERIFICATION_APPROVAL_OFF", verification.approve_verification, actor=registry.admin, report=report)
    settings.TONNE_VERIFICATION_APPROVAL = True
    refused("REPORT_NOT_VERIFIED", verification.approve_verification, actor=registry.admin, report=report)
    report = mrv.verify_report(actor=registry.vvb, report=report, verified={2022: 1000})
    assert last_entry("mrv.report_verified")["needs_registry_approval"] is True
    refused("VERIFICATION_NOT_APPROVED", mrv.approve_issuance, actor=registry.admin, report=report)
    refused("NOT_REGISTRY_ADMINISTRATOR", verification.approve_verification, actor=registry.vvb, report=report)
    report = verification.approve_verification(actor=registry.admin, report=report)
    assert report.verification_approved_at is not None
    assert last_entry("mrv.verification_approved")["report"] == str(report.uid)
    refused("VERIFICATION_ALREADY_APPROVED", verification.approve_verification, actor=registry.admin, report=report)
    assert [i.quantity for i in mrv.approve_issuance(actor=registry.admin, report=report)] == [1000]


@pytest.mark.controls
def test_with_four_eyes_the_request_waits_for_the_approval_too(registry: testing.Registry, project: Any,
                                                              settings: Any) -> None:
    from tonne.controls import services as controls  # the controls above mrv: the test drives both

    settings.TONNE_VERIFICATION_APPROVAL = True
    report = verification.accept_assignment(actor=registry.vvb, report=submit(registry, project),
                                            no_conflict_of_interest=True)
    report = mrv.verify_report(actor=registry.vvb, report=report, verified={2022: 1000})
    refused("VERIFICATION_NOT_APPROVED", controls.request_issuance, actor=registry.admin, report_uid=str(report.uid))


def test_the_registry_approves_verifications_of_the_programmes_it_chose(registry: testing.Registry) -> None:
    from tonne.projects import eligibility

    chosen = testing.registered_project(registry, crediting_program="National  Crediting Programme")
    other = testing.registered_project(registry, name="Other programme's project", crediting_program="Gold Standard")
    eligibility.add_approved_programme(actor=registry.admin, programme="national crediting programme")
    assert last_entry("reference.verification_approval_added") == {"programme": "national crediting programme"}
    reports = []
    for project in (chosen, other):
        report = verification.accept_assignment(actor=registry.vvb, report=submit(registry, project),
                                                no_conflict_of_interest=True)
        reports.append(mrv.verify_report(actor=registry.vvb, report=report, verified={2022: 1000}))
    # The chosen programme's report waits for the registry; the other's does not.
    refused("VERIFICATION_NOT_APPROVED", mrv.approve_issuance, actor=registry.admin, report=reports[0])
    refused("VERIFICATION_APPROVAL_OFF", verification.approve_verification, actor=registry.admin, report=reports[1])
    verification.approve_verification(actor=registry.admin, report=reports[0])
    assert [i.quantity for i in mrv.approve_issuance(actor=registry.admin, report=reports[0])] == [1000]
    assert [i.quantity for i in mrv.approve_issuance(actor=registry.admin, report=reports[1])] == [1000]
    from tonne.core.errors import RegistryError

    with pytest.raises(RegistryError, match="APPROVED_PROGRAMME_EXISTS"):
        eligibility.add_approved_programme(actor=registry.admin, programme="NATIONAL CREDITING PROGRAMME")
    eligibility.remove_approved_programme(actor=registry.admin, programme="National Crediting Programme")
    with pytest.raises(RegistryError, match="APPROVED_PROGRAMME_NOT_FOUND"):
        eligibility.remove_approved_programme(actor=registry.admin, programme="National Crediting Programme")
