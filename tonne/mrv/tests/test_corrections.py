"""Correcting a monitoring report: its developer corrects it before the VVB
verifies it, or withdraws it before the administrator decides; each change is
checked as at submission, written to the ledger, and refused in any other state."""

from __future__ import annotations

import datetime as dt

import pytest

from tonne import testing
from tonne.core.errors import PermissionDenied, ValidationFailed
from tonne.ledger.models import LedgerEntry, LedgerHead
from tonne.ledger.openings import opened_body
from tonne.mrv import services as mrv
from tonne.mrv import verification as mrv_verification
from tonne.mrv.models import MonitoringReport
from tonne.projects import services as projects

pytestmark = pytest.mark.django_db
D = dt.date
START, END = D(2022, 1, 1), D(2022, 12, 31)


def _submit(reg: testing.Registry, project, start=START, end=END, quantity=1000):  # noqa: ANN001, ANN201
    return mrv.submit_report(actor=reg.developer, project=project, period_start=start, period_end=end,
                             vintages=[{"vintage": start.year, "quantity": quantity}], vvb=str(reg.vvb_org.uid))


def _correct(reg: testing.Registry, report, **overrides):  # noqa: ANN001, ANN003, ANN201
    claim = {"period_start": D(2022, 1, 1), "period_end": D(2022, 6, 30),
             "vintages": [{"vintage": 2022, "quantity": 400}], "vvb": str(reg.vvb_org.uid), "reason": "half a year only"}
    claim.update(overrides)
    return mrv.correct_report(actor=overrides.pop("actor", reg.developer), report=report,
                              **{k: v for k, v in claim.items() if k != "actor"})


def last_body(kind: str) -> dict:
    entry = LedgerEntry.objects.filter(kind=kind).order_by("-seq").first()
    assert entry is not None
    return opened_body(entry)


def _size() -> int:
    return LedgerHead.objects.get(pk=1).size


def test_correct_before_verification(registry: testing.Registry) -> None:
    reg = registry
    project = testing.registered_project(reg)
    report = _submit(reg, project)
    size = _size()
    corrected = _correct(reg, report)
    assert (corrected.period_start, corrected.period_end) == (D(2022, 1, 1), D(2022, 6, 30))
    assert list(corrected.vintages.values_list("vintage", "claimed")) == [(2022, 400)]
    assert corrected.status == MonitoringReport.Status.SUBMITTED and corrected.number == report.number
    assert _size() == size + 1
    body = last_body("mrv.report_corrected")["data"]
    assert body["before"]["claimed"] == [[2022, 1000]] and body["claimed"] == [[2022, 400]]
    assert body["reason"] == "half a year only"
    # The VVB verifies the corrected claim.
    mrv_verification.accept_assignment(actor=reg.vvb, report=corrected, no_conflict_of_interest=True)
    verified = mrv.verify_report(actor=reg.vvb, report=corrected, verified=[{"vintage": 2022, "quantity": 400}])
    assert verified.status == MonitoringReport.Status.VERIFIED


def test_correction_is_checked_as_a_submission(registry: testing.Registry) -> None:
    reg = registry
    project = testing.registered_project(reg)
    first = _submit(reg, project, D(2022, 1, 1), D(2022, 6, 30), 500)
    second = _submit(reg, project, D(2022, 7, 1), D(2022, 12, 31), 500)
    size = _size()
    with pytest.raises(ValidationFailed) as exc:  # onto the other report's period
        _correct(reg, second, period_start=D(2022, 6, 1), period_end=D(2022, 12, 31))
    assert exc.value.code == "MONITORING_PERIOD_OVERLAP"
    with pytest.raises(ValidationFailed) as exc:
        _correct(reg, second, period_start=D(2022, 7, 1), period_end=D(2022, 12, 31),
                 vintages=[{"vintage": 2022, "quantity": 99_999_999_999_999}])
    assert exc.value.code == "CLAIM_ABOVE_ESTIMATE"
    # Its own period is no clash with itself.
    _correct(reg, first, period_start=D(2022, 1, 1), period_end=D(2022, 6, 30), vintages=[{"vintage": 2022, "quantity": 300}])
    assert _size() == size + 1
    second.refresh_from_db()
    assert list(second.vintages.values_list("claimed", flat=True)) == [500]


def test_only_the_developer_corrects_and_only_before_verification(registry: testing.Registry) -> None:
    reg = registry
    project = testing.registered_project(reg)
    report = _submit(reg, project)
    with pytest.raises(PermissionDenied) as denied:
        _correct(reg, report, actor=reg.other_developer)
    assert denied.value.code == "PROJECT_NOT_YOURS"
    mrv_verification.accept_assignment(actor=reg.vvb, report=report, no_conflict_of_interest=True)
    mrv.verify_report(actor=reg.vvb, report=report, verified=[{"vintage": 2022, "quantity": 900}])
    with pytest.raises(ValidationFailed) as exc:
        _correct(reg, report)
    assert exc.value.code == "REPORT_NOT_PENDING"


def test_withdraw_frees_the_period_and_is_final(registry: testing.Registry) -> None:
    reg = registry
    project = testing.registered_project(reg)
    report = _submit(reg, project)
    mrv_verification.accept_assignment(actor=reg.vvb, report=report, no_conflict_of_interest=True)
    mrv.verify_report(actor=reg.vvb, report=report, verified=[{"vintage": 2022, "quantity": 900}],
                      verification_id="VER-XYZ")
    with pytest.raises(PermissionDenied):
        mrv.withdraw_report(actor=reg.other_developer, report=report)
    withdrawn = mrv.withdraw_report(actor=reg.developer, report=report, reason="wrong meter")
    assert withdrawn.status == MonitoringReport.Status.WITHDRAWN and withdrawn.status_reason == "wrong meter"
    assert last_body("mrv.report_withdrawn")["data"]["from"] == "verified"
    for action in (lambda: mrv.withdraw_report(actor=reg.developer, report=report),
                   lambda: mrv.approve_issuance(actor=reg.admin, report=report),
                   lambda: _correct(reg, report)):
        with pytest.raises(ValidationFailed):
            action()
    again = _submit(reg, project)  # the period and the verification reference are free again
    mrv_verification.accept_assignment(actor=reg.vvb, report=again, no_conflict_of_interest=True)
    verified = mrv.verify_report(actor=reg.vvb, report=again, verified=[{"vintage": 2022, "quantity": 900}],
                                 verification_id="VER-XYZ")
    assert verified.verification_id == "VER-XYZ"


def test_issued_report_cannot_be_withdrawn(registry: testing.Registry) -> None:
    reg = registry
    project = testing.registered_project(reg)
    report, _ = testing.issue(reg, project, {2022: 100})
    with pytest.raises(ValidationFailed) as exc:
        mrv.withdraw_report(actor=reg.developer, report=report)
    assert exc.value.code == "REPORT_NOT_PENDING"


def test_a_removed_document_cannot_be_cited(registry: testing.Registry, settings, tmp_path) -> None:  # noqa: ANN001
    settings.TONNE_DOCUMENTS_DIR = tmp_path
    reg = registry
    project = testing.registered_project(reg)
    doc = projects.upload_document(actor=reg.developer, project=project, kind="monitoring_report", title="MR",
                                   filename="mr.txt", content=b"monitoring", content_type="text/plain")
    projects.remove_document(actor=reg.developer, document=doc, reason="wrong file")
    with pytest.raises(ValidationFailed) as exc:
        mrv.submit_report(actor=reg.developer, project=project, period_start=D(2022, 1, 1), period_end=D(2022, 12, 31),
                          vintages=[{"vintage": 2022, "quantity": 10}], vvb=str(reg.vvb_org.uid), document=str(doc.uid))
    assert exc.value.code == "DOCUMENT_NOT_FOUND"
