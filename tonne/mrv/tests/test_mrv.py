"""Monitoring report → verification → issuance: the developer claims, the
assigned accredited VVB verifies, the registry administrator approves; the
buffer share is withheld (rounded up); issued never exceeds verified,
monitoring periods never overlap and nothing is issued twice."""

from __future__ import annotations

import datetime as dt
import uuid
from fractions import Fraction

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F
from hypothesis import given
from hypothesis import strategies as st

from tonne import testing
from tonne.core import clock
from tonne.core.errors import PermissionDenied, ValidationFailed
from tonne.ledger.models import LedgerEntry, LedgerHead
from tonne.ledger.openings import opened_body
from tonne.mrv import services as mrv
from tonne.mrv import verification as mrv_verification
from tonne.mrv.models import MonitoringReport, ReportVintage
from tonne.organisations import services as orgs
from tonne.organisations.models import Account, Organisation, User
from tonne.projects import services as projects
from tonne.projects.domain import buffer_quantity
from tonne.projects.models import Project
from tonne.units.models import Issuance, SerialCounter, Transaction, UnitBlock

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 6, 15, 10, 0, tzinfo=dt.UTC)
D = dt.date


def ledger_size() -> int:
    return LedgerHead.objects.get(pk=1).size


def last_body(kind: str) -> dict:
    entry = LedgerEntry.objects.filter(kind=kind).order_by("-seq").first()
    assert entry is not None
    return opened_body(entry)


def snapshot() -> tuple:
    return (
        ledger_size(),
        list(MonitoringReport.objects.order_by("pk").values_list("pk", "status")),
        list(ReportVintage.objects.order_by("pk").values_list("pk", "claimed", "verified", "issued")),
        list(Issuance.objects.order_by("pk").values_list("pk", "quantity")),
        list(UnitBlock.objects.order_by("serial_start").values_list("serial_start", "serial_end", "account_id")),
        Transaction.objects.count(),
        SerialCounter.objects.get(pk=1).next_serial,
    )


START, END = D(2022, 1, 1), D(2022, 12, 31)


def submit(reg, project, start=START, end=END, vintages=None, actor=None, vvb=None, accept=True):  # noqa: ANN001, ANN201
    """A report submitted and, for the registry's own VVB, its assignment accepted."""
    report = mrv.submit_report(
        actor=actor or reg.developer,
        project=project,
        period_start=start,
        period_end=end,
        vintages=vintages if vintages is not None else [{"vintage": start.year, "quantity": 1000}],
        vvb=str((vvb or reg.vvb_org).uid),
    )
    if accept and vvb is None:
        report = mrv_verification.accept_assignment(actor=reg.vvb, report=report, no_conflict_of_interest=True)
    return report


@pytest.fixture
def project(registry) -> Project:
    return testing.registered_project(registry)


def refused(exc_type, code: str, fn, *args, **kwargs):  # noqa: ANN001, ANN201
    before = snapshot()
    with pytest.raises(exc_type) as exc:
        fn(*args, **kwargs)
    assert exc.value.code == code, exc.value
    assert snapshot() == before
    return exc.value


# --- happy path ------------------------------------------------------------------


def test_submit_verify_approve(registry, project) -> None:
    reg = registry
    clock.freeze(T0)
    report = submit(reg, project, D(2022, 1, 1), D(2023, 6, 30), [{"vintage": 2022, "quantity": 800}, {"vintage": 2023, "quantity": 400}])
    assert report.status == MonitoringReport.Status.SUBMITTED
    assert report.number == 1
    assert report.submitted_at == T0
    assert report.vvb_id == reg.vvb_org.id
    assert list(report.vintages.values_list("vintage", "claimed", "verified", "issued")) == [
        (2022, 800, None, 0),
        (2023, 400, None, 0),
    ]
    body = last_body("mrv.report_submitted")
    assert body["data"]["claimed"] == [[2022, 800], [2023, 400]]
    assert body["data"]["period"] == ["2022-01-01", "2023-06-30"]

    report = mrv.verify_report(actor=reg.vvb, report=report, verified=[{"vintage": 2022, "quantity": 750}, {"vintage": 2023, "quantity": 400}])
    assert report.status == MonitoringReport.Status.VERIFIED
    assert report.verified_by_id == reg.vvb.pk
    assert report.verification_id == f"{project.project_id}-VER-1"
    assert last_body("mrv.report_verified")["data"]["verified"] == [[2022, 750], [2023, 400]]

    counter = SerialCounter.objects.get(pk=1).next_serial
    issuances = mrv.approve_issuance(actor=reg.admin, report=report)
    assert [(i.vintage, i.quantity, i.buffer_quantity, i.number) for i in issuances] == [(2022, 750, 0, 1), (2023, 400, 0, 2)]
    first, second = issuances
    assert first.serial_start == counter and first.serial_end == counter + 749
    assert second.serial_start == first.serial_end + 1 and second.serial_end == second.serial_start + 399
    assert SerialCounter.objects.get(pk=1).next_serial == second.serial_end + 1
    report.refresh_from_db()
    assert report.status == MonitoringReport.Status.ISSUED
    assert report.decided_by_id == reg.admin.pk
    assert list(report.vintages.values_list("vintage", "verified", "issued")) == [(2022, 750, 750), (2023, 400, 400)]
    blocks = list(UnitBlock.objects.filter(account=reg.developer_account).order_by("serial_start"))
    assert [(b.serial_start, b.serial_end, b.vintage, b.unit_class) for b in blocks] == [
        (first.serial_start, first.serial_end, 2022, "VER"),
        (second.serial_start, second.serial_end, 2023, "VER"),
    ]
    assert all(b.acquired_at == T0 and b.project_id == project.pk for b in blocks)
    txns = Transaction.objects.filter(kind="issuance").order_by("pk")
    assert [(t.quantity, t.status, t.to_account_id) for t in txns] == [
        (750, "completed", reg.developer_account.pk),
        (400, "completed", reg.developer_account.pk),
    ]
    assert all(t.ledger_seq is not None for t in txns)
    issued = [opened_body(e) for e in LedgerEntry.objects.filter(kind="units.issued").order_by("seq")]
    assert [b["data"]["issuance"]["quantity"] for b in issued] == [750, 400]


def test_unverified_vintage_not_issued(registry, project) -> None:
    report = submit(registry, project, D(2022, 1, 1), D(2023, 12, 31), [{"vintage": 2022, "quantity": 10}, {"vintage": 2023, "quantity": 20}])
    report = mrv.verify_report(actor=registry.vvb, report=report, verified={2023: 20})
    assert list(report.vintages.values_list("vintage", "verified")) == [(2022, 0), (2023, 20)]
    issuances = mrv.approve_issuance(actor=registry.admin, report=report)
    assert [(i.vintage, i.quantity) for i in issuances] == [(2023, 20)]
    assert ReportVintage.objects.get(report=report, vintage=2022).issued == 0


# --- buffer -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "bp", "expected"),
    [
        (1000, 1000, 100),
        (999, 250, 25),
        (1000, 250, 25),
        (1001, 250, 26),
        (1, 1, 1),
        (10000, 1, 1),
        (10001, 1, 2),
        (100, 0, 0),
        (100, 10000, 100),
        (3, 3333, 1),
        (7, 5000, 4),
    ],
)
def test_buffer_rounds_up(quantity: int, bp: int, expected: int) -> None:
    assert buffer_quantity(quantity, bp) == expected


@given(st.integers(min_value=1, max_value=10**15), st.integers(min_value=0, max_value=10000))
def test_buffer_is_ceiling_of_share(quantity: int, bp: int) -> None:
    got = buffer_quantity(quantity, bp)
    exact = Fraction(quantity * bp, 10000)
    assert got - 1 < exact <= got
    assert 0 <= got <= quantity


@pytest.mark.parametrize(("quantity", "bp", "buffer"), [(1000, 1000, 100), (999, 250, 25), (10, 10000, 10), (10, 1, 1)])
def test_issuance_withholds_buffer_in_contiguous_blocks(registry, quantity: int, bp: int, buffer: int) -> None:
    project = testing.registered_project(registry, buffer_basis_points=bp)
    _, (issuance,) = testing.issue(registry, project, {2022: quantity})
    assert issuance.quantity == quantity
    assert issuance.buffer_quantity == buffer
    pool = orgs.system_account(Account.Type.BUFFER)
    blocks = list(UnitBlock.objects.filter(issuance=issuance).order_by("serial_start"))
    net = quantity - buffer
    expected = []
    if net:
        expected.append((issuance.serial_start, issuance.serial_start + net - 1, registry.developer_account.pk))
    expected.append((issuance.serial_start + net, issuance.serial_end, pool.pk))
    assert [(b.serial_start, b.serial_end, b.account_id) for b in blocks] == expected
    # Together the blocks cover the issuance exactly, with no gap.
    assert blocks[0].serial_start == issuance.serial_start
    assert blocks[-1].serial_end == issuance.serial_end
    assert all(a.serial_end + 1 == b.serial_start for a, b in zip(blocks, blocks[1:], strict=False))
    contributions = Transaction.objects.filter(issuance=issuance, kind="buffer_contribution")
    assert [(t.quantity, t.to_account_id) for t in contributions] == [(buffer, pool.pk)]
    assert Transaction.objects.filter(issuance=issuance, kind="issuance").count() == (1 if net else 0)
    body = last_body("units.issued")
    assert body["data"]["issuance"]["buffer"] == buffer
    assert sum(b["end"] - b["start"] + 1 for b in body["data"]["blocks"]) == quantity


def test_no_buffer_when_basis_points_zero(registry, project) -> None:
    _, (issuance,) = testing.issue(registry, project, {2022: 500})
    assert issuance.buffer_quantity == 0
    assert not UnitBlock.objects.filter(account__type="buffer").exists()
    assert not Transaction.objects.filter(kind="buffer_contribution").exists()


# --- monitoring periods ----------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (D(2022, 1, 1), D(2022, 12, 31)),  # same
        (D(2022, 6, 1), D(2023, 3, 31)),  # overlaps the end
        (D(2021, 6, 1), D(2022, 1, 1)),  # touches the first day
        (D(2022, 12, 31), D(2023, 1, 31)),  # touches the last day
        (D(2022, 3, 1), D(2022, 3, 31)),  # inside
        (D(2021, 1, 1), D(2023, 12, 31)),  # around
    ],
)
def test_overlapping_period_refused(registry, project, start: dt.date, end: dt.date) -> None:
    submit(registry, project, D(2022, 1, 1), D(2022, 12, 31))
    vintages = [{"vintage": start.year, "quantity": 5}]
    exc = refused(ValidationFailed, "MONITORING_PERIOD_OVERLAP", submit, registry, project, start, end, vintages)
    assert exc.field == "period_start"


@pytest.mark.parametrize("stage", ["submitted", "verified", "issued"])
def test_overlap_refused_at_every_stage(registry, project, stage: str) -> None:
    report = submit(registry, project, D(2022, 1, 1), D(2022, 12, 31))
    if stage in ("verified", "issued"):
        report = mrv.verify_report(actor=registry.vvb, report=report, verified={2022: 1000})
    if stage == "issued":
        mrv.approve_issuance(actor=registry.admin, report=report)
    refused(ValidationFailed, "MONITORING_PERIOD_OVERLAP", submit, registry, project, D(2022, 7, 1), D(2022, 9, 30))


def test_period_outside_crediting_and_absurd_claims_refused(registry, project) -> None:
    Project.objects.filter(pk=project.pk).update(crediting_period_start=D(2022, 1, 1), crediting_period_end=D(2031, 12, 31))
    project.refresh_from_db()
    refused(ValidationFailed, "PERIOD_OUTSIDE_CREDITING", submit, registry, project, D(2020, 1, 1), D(2020, 12, 31))
    # The project estimates 50,000 units a year (testing.project_fields).
    absurd = [{"vintage": 2022, "quantity": 99_999_999_999_999}]
    refused(ValidationFailed, "CLAIM_ABOVE_ESTIMATE", submit, registry, project, START, END, absurd)


def test_one_verification_backs_one_report(registry, project) -> None:
    first = submit(registry, project)
    second = submit(registry, project, D(2023, 1, 1), D(2023, 12, 31))
    mrv.verify_report(actor=registry.vvb, report=first, verified={2022: 1000}, verification_id="VS-2023-17")
    exc = refused(
        ValidationFailed, "VERIFICATION_ID_USED", mrv.verify_report,
        actor=registry.vvb, report=second, verified={2023: 1000}, verification_id="VS-2023-17",
    )
    assert exc.field == "verification_id"
    refused(
        ValidationFailed, "TEXT_TOO_LONG", mrv.verify_report,
        actor=registry.vvb, report=second, verified={2023: 1000}, verification_id="V" * 101,
    )
    with pytest.raises(IntegrityError), transaction.atomic():  # the database holds the rule too
        MonitoringReport.objects.filter(pk=second.pk).update(
            verification_id="VS-2023-17", verified_by=registry.vvb, status=MonitoringReport.Status.VERIFIED
        )


def test_adjacent_periods_allowed(registry, project) -> None:
    first = submit(registry, project, D(2022, 1, 1), D(2022, 12, 31))
    second = submit(registry, project, D(2023, 1, 1), D(2023, 6, 30), [{"vintage": 2023, "quantity": 5}])
    third = submit(registry, project, D(2021, 7, 1), D(2021, 12, 31), [{"vintage": 2021, "quantity": 5}])
    assert (first.number, second.number, third.number) == (1, 2, 3)


def test_other_projects_periods_do_not_clash(registry, project) -> None:
    other = testing.registered_project(registry, name="Another")
    submit(registry, project)
    assert submit(registry, other).number == 1


@pytest.mark.parametrize("rejected_by", ["vvb", "admin"])
def test_rejected_reports_period_can_be_reused(registry, project, rejected_by: str) -> None:
    report = submit(registry, project)
    if rejected_by == "admin":
        report = mrv.verify_report(actor=registry.vvb, report=report, verified={2022: 900})
    report = mrv.reject_report(actor=getattr(registry, rejected_by), report=report, reason="sampling error")
    assert report.status == MonitoringReport.Status.REJECTED
    assert report.status_reason == "sampling error"
    assert last_body("mrv.report_rejected")["data"]["reason"] == "sampling error"
    again = submit(registry, project)
    assert again.number == 2
    assert again.status == MonitoringReport.Status.SUBMITTED


def test_reject_rules(registry, project) -> None:
    report = submit(registry, project)
    refused(ValidationFailed, "REASON_REQUIRED", mrv.reject_report, actor=registry.vvb, report=report, reason=" ")
    refused(PermissionDenied, "NOT_ASSIGNED_VVB", mrv.reject_report, actor=registry.admin, report=report, reason="no")
    report = mrv.verify_report(actor=registry.vvb, report=report, verified={2022: 900})
    refused(PermissionDenied, "NOT_REGISTRY_ADMINISTRATOR", mrv.reject_report, actor=registry.vvb, report=report, reason="no")
    mrv.approve_issuance(actor=registry.admin, report=report)
    refused(ValidationFailed, "REPORT_NOT_PENDING", mrv.reject_report, actor=registry.admin, report=report, reason="late")


@pytest.mark.parametrize(
    ("start", "end", "vintages", "code"),
    [
        (D(2022, 1, 1), D(2022, 12, 31), [{"vintage": 2023, "quantity": 5}], "VINTAGE_OUTSIDE_PERIOD"),
        (D(2022, 1, 1), D(2022, 12, 31), [{"vintage": 2021, "quantity": 5}], "VINTAGE_OUTSIDE_PERIOD"),
        (D(2022, 6, 1), D(2023, 5, 31), [{"vintage": 2022, "quantity": 5}, {"vintage": 2024, "quantity": 5}], "VINTAGE_OUTSIDE_PERIOD"),
        (D(2022, 1, 1), D(2022, 12, 31), [], "VINTAGES_REQUIRED"),
        (D(2022, 1, 1), D(2022, 12, 31), [{"quantity": 5}], "VINTAGE_INVALID"),
        (D(2022, 1, 1), D(2022, 12, 31), [{"vintage": 2022, "quantity": 5}, {"vintage": 2022, "quantity": 6}], "VINTAGE_DUPLICATE"),
        (D(2022, 1, 1), D(2022, 12, 31), [{"vintage": 2022, "quantity": 0}], "QUANTITY_NOT_POSITIVE"),
        (D(2022, 1, 1), D(2022, 12, 31), [{"vintage": 2022, "quantity": -3}], "QUANTITY_NOT_POSITIVE"),
        (D(2022, 1, 1), D(2022, 12, 31), [{"vintage": 2022, "quantity": 2.5}], "QUANTITY_INVALID"),
        (D(2022, 1, 1), D(2022, 12, 31), [{"vintage": 2022, "quantity": "5"}], "QUANTITY_INVALID"),
        (D(2022, 12, 31), D(2022, 1, 1), [{"vintage": 2022, "quantity": 5}], "PERIOD_INVALID"),
        ("2022-13-01", D(2022, 12, 31), [{"vintage": 2022, "quantity": 5}], "FIELD_INVALID"),
    ],
)
def test_submission_validation(registry, project, start, end, vintages, code: str) -> None:  # noqa: ANN001
    refused(ValidationFailed, code, submit, registry, project, start, end, vintages)


def test_period_cannot_end_in_future(registry, project) -> None:
    clock.freeze(dt.datetime(2022, 6, 30, 12, tzinfo=dt.UTC))
    refused(ValidationFailed, "PERIOD_IN_FUTURE", submit, registry, project, D(2022, 1, 1), D(2022, 7, 1))
    assert submit(registry, project, D(2022, 1, 1), D(2022, 6, 30)).period_end == D(2022, 6, 30)


def test_submission_vvb_must_be_accredited(registry, project) -> None:
    fresh_vvb = testing.make_org(registry.admin, "New Verifiers", Organisation.Kind.VVB)
    refused(ValidationFailed, "VVB_NOT_ACCREDITED", submit, registry, project, vvb=fresh_vvb)
    refused(ValidationFailed, "VVB_UNKNOWN", submit, registry, project, vvb=registry.buyer_org)


def test_only_the_developer_submits(registry, project) -> None:
    refused(PermissionDenied, "PROJECT_NOT_YOURS", submit, registry, project, actor=registry.other_developer)
    viewer = testing.make_user(registry.developer_org, "dev-viewer", User.Role.VIEWER, actor=registry.admin)
    refused(PermissionDenied, "ROLE_NOT_ALLOWED", submit, registry, project, actor=viewer)


@pytest.mark.parametrize("status", ["draft", "submitted", "approved", "validated", "on_hold", "completed", "withdrawn"])
def test_non_registered_project_cannot_submit(registry, status: str) -> None:
    reg = registry
    project = projects.register_project(actor=reg.developer, data=testing.project_fields(), vvb=str(reg.vvb_org.uid))
    steps = {
        "draft": [],
        "submitted": [(reg.developer, "submitted")],
        "approved": [(reg.developer, "submitted"), (reg.admin, "approved")],
        "validated": [(reg.developer, "submitted"), (reg.admin, "approved"), (reg.vvb, "validated")],
        "on_hold": [(reg.developer, "submitted"), (reg.admin, "approved"), (reg.vvb, "validated"), (reg.admin, "registered"), (reg.admin, "on_hold")],
        "completed": [(reg.developer, "submitted"), (reg.admin, "approved"), (reg.vvb, "validated"), (reg.admin, "registered"), (reg.admin, "completed")],
        "withdrawn": [(reg.developer, "withdrawn")],
    }[status]
    for actor, target in steps:
        project = projects.change_project_status(actor=actor, project=project, status=target, reason="r")
    refused(ValidationFailed, "PROJECT_NOT_REGISTERED", submit, reg, project)


def test_project_held_after_verification_is_not_issued(registry, project) -> None:
    report = submit(registry, project)
    report = mrv.verify_report(actor=registry.vvb, report=report, verified={2022: 1000})
    projects.change_project_status(actor=registry.admin, project=project, status="on_hold", reason="grievance")
    refused(ValidationFailed, "PROJECT_NOT_REGISTERED", mrv.approve_issuance, actor=registry.admin, report=report)
    projects.change_project_status(actor=registry.admin, project=project, status="registered")
    assert len(mrv.approve_issuance(actor=registry.admin, report=report)) == 1


# --- verification ----------------------------------------------------------------


def test_verified_more_than_claimed_refused(registry, project) -> None:
    report = submit(registry, project)
    exc = refused(ValidationFailed, "VERIFIED_EXCEEDS_CLAIMED", mrv.verify_report, actor=registry.vvb, report=report, verified={2022: 1001})
    assert exc.field == "verified"
    assert ReportVintage.objects.get(report=report).verified is None


def test_verified_equal_to_claimed_allowed(registry, project) -> None:
    report = submit(registry, project)
    report = mrv.verify_report(actor=registry.vvb, report=report, verified={2022: 1000})
    assert ReportVintage.objects.get(report=report).verified == 1000


def test_vintage_not_claimed_refused(registry, project) -> None:
    report = submit(registry, project)
    refused(ValidationFailed, "VINTAGE_NOT_CLAIMED", mrv.verify_report, actor=registry.vvb, report=report, verified={2021: 1})


def test_only_assigned_accredited_vvb_verifies(registry, project) -> None:
    reg = registry
    other_org = testing.make_org(reg.admin, "Other Verifiers", Organisation.Kind.VVB)
    other_org = orgs.set_accreditation(actor=reg.admin, organisation=other_org, accredited=True)
    other_vvb = testing.make_user(other_org, "other-vvb", actor=reg.admin)
    report = submit(reg, project)
    for actor in (other_vvb, reg.developer, reg.admin, reg.buyer):
        refused(PermissionDenied, "NOT_ASSIGNED_VVB", mrv.verify_report, actor=actor, report=report, verified={2022: 10})
    viewer = testing.make_user(reg.vvb_org, "vvb-viewer", User.Role.VIEWER, actor=reg.admin)
    refused(PermissionDenied, "ROLE_NOT_ALLOWED", mrv.verify_report, actor=viewer, report=report, verified={2022: 10})
    orgs.set_accreditation(actor=reg.admin, organisation=reg.vvb_org, accredited=False)
    refused(
        PermissionDenied, "VVB_NOT_ACCREDITED", mrv.verify_report, actor=User.objects.get(pk=reg.vvb.pk), report=report, verified={2022: 10}
    )
    orgs.set_accreditation(actor=reg.admin, organisation=reg.vvb_org, accredited=True)
    assert mrv.verify_report(actor=User.objects.get(pk=reg.vvb.pk), report=report, verified={2022: 10}).status == "verified"


def test_report_verified_once(registry, project) -> None:
    report = submit(registry, project)
    report = mrv.verify_report(actor=registry.vvb, report=report, verified={2022: 10})
    refused(ValidationFailed, "REPORT_NOT_AWAITING_VERIFICATION", mrv.verify_report, actor=registry.vvb, report=report, verified={2022: 20})


# --- issuance ----------------------------------------------------------------------


def test_only_administrator_approves_issuance(registry, project) -> None:
    report = submit(registry, project)
    report = mrv.verify_report(actor=registry.vvb, report=report, verified={2022: 10})
    for actor in (registry.developer, registry.vvb, registry.buyer):
        refused(PermissionDenied, "NOT_REGISTRY_ADMINISTRATOR", mrv.approve_issuance, actor=actor, report=report)


def test_unverified_report_not_issued(registry, project) -> None:
    report = submit(registry, project)
    refused(ValidationFailed, "REPORT_NOT_VERIFIED", mrv.approve_issuance, actor=registry.admin, report=report)
    report = mrv.reject_report(actor=registry.vvb, report=report, reason="no")
    refused(ValidationFailed, "REPORT_NOT_VERIFIED", mrv.approve_issuance, actor=registry.admin, report=report)


def test_approve_twice_issues_once(registry, project) -> None:
    report = submit(registry, project)
    report = mrv.verify_report(actor=registry.vvb, report=report, verified={2022: 600})
    first = mrv.approve_issuance(actor=registry.admin, report=report)
    assert len(first) == 1
    exc = refused(ValidationFailed, "ISSUANCE_ALREADY_DONE", mrv.approve_issuance, actor=registry.admin, report=report)
    assert "already" in exc.message
    # A stale copy of the report (still 'verified' in memory) changes nothing either.
    stale = MonitoringReport.objects.get(pk=report.pk)
    stale.status = MonitoringReport.Status.VERIFIED
    refused(ValidationFailed, "ISSUANCE_ALREADY_DONE", mrv.approve_issuance, actor=registry.root, report=stale)
    assert Issuance.objects.filter(report=report).count() == 1
    assert sum(b.quantity for b in UnitBlock.objects.filter(issuance__report=report)) == 600
    assert LedgerEntry.objects.filter(kind="units.issued").count() == 1


def test_issuance_needs_open_holding_account(registry, project) -> None:
    report = submit(registry, project)
    report = mrv.verify_report(actor=registry.vvb, report=report, verified={2022: 10})
    orgs.set_account_status(actor=registry.admin, account=registry.developer_account, status="suspended", reason="audit")
    refused(ValidationFailed, "ISSUANCE_ACCOUNT_MISSING", mrv.approve_issuance, actor=registry.admin, report=report)
    assert MonitoringReport.objects.get(pk=report.pk).status == "verified"


def test_issued_le_verified_enforced_by_database(registry, project) -> None:
    report, _ = testing.issue(registry, project, {2022: 100})
    row = ReportVintage.objects.get(report=report)
    assert (row.verified, row.issued) == (100, 100)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportVintage.objects.filter(pk=row.pk).update(issued=F("issued") + 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportVintage.objects.filter(pk=row.pk).update(verified=99)
    row.refresh_from_db()
    assert (row.verified, row.issued) == (100, 100)


def test_issued_without_verification_refused_by_database(registry, project) -> None:
    report = submit(registry, project)
    row = ReportVintage.objects.get(report=report)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportVintage.objects.filter(pk=row.pk).update(issued=1)
    assert ReportVintage.objects.get(pk=row.pk).issued == 0


def test_second_issuance_for_same_vintage_refused_by_database(registry, project) -> None:
    report, (issuance,) = testing.issue(registry, project, {2022: 100})
    with pytest.raises(IntegrityError), transaction.atomic():
        Issuance.objects.create(
            uid=uuid.uuid4(),
            project=project,
            report=report,
            number=issuance.number + 1,
            vintage=2022,
            unit_class="VER",
            quantity=1,
            serial_start=10**12,
            serial_end=10**12,
            approved_by=registry.admin,
            issued_at=clock.now(),
        )


def test_claimed_must_be_positive_in_database(registry, project) -> None:
    report = submit(registry, project)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportVintage.objects.filter(report=report).update(claimed=0)
