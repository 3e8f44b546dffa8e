"""Four-eyes issuance: one administrator asks, another approves; nobody
issues alone, and an approval covers exactly the quantities requested."""

from __future__ import annotations

import datetime as dt

import pytest

from tonne import testing
from tonne.controls import services as controls
from tonne.core.errors import Conflict, PermissionDenied
from tonne.mrv import services as mrv
from tonne.mrv import verification as mrv_verification
from tonne.mrv.models import MonitoringReport
from tonne.organisations.models import User
from tonne.units.models import Issuance

pytestmark = [pytest.mark.django_db, pytest.mark.controls]


@pytest.fixture
def verified(registry):  # noqa: ANN001, ANN201
    project = testing.registered_project(registry)
    report = mrv.submit_report(
        actor=registry.developer, project=project, period_start=dt.date(2024, 1, 1), period_end=dt.date(2024, 12, 31),
        vintages=[{"vintage": 2024, "quantity": 500}], vvb=str(registry.vvb_org.uid),
    )
    mrv_verification.accept_assignment(actor=registry.vvb, report=report, no_conflict_of_interest=True)
    return mrv.verify_report(actor=registry.vvb, report=report, verified=[{"vintage": 2024, "quantity": 500}])


def test_one_administrator_cannot_issue_alone(registry, verified) -> None:  # noqa: ANN001
    with pytest.raises(PermissionDenied) as exc:
        mrv.approve_issuance(actor=registry.admin, report=verified)
    assert exc.value.code == "FOUR_EYES_REQUIRED"
    approval = controls.request_issuance(actor=registry.admin, report_uid=verified.uid)
    assert approval.payload["vintages"] == {"2024": 500}
    with pytest.raises(PermissionDenied) as exc:
        controls.approve(actor=registry.admin, uid=approval.uid, request_hash=approval.request_hash)
    assert exc.value.code == "SELF_APPROVAL_NOT_ALLOWED"
    with pytest.raises(PermissionDenied):  # not the registry administrator
        controls.approve(actor=registry.developer, uid=approval.uid, request_hash=approval.request_hash)
    with pytest.raises(Conflict):
        controls.request_issuance(actor=registry.admin, report_uid=verified.uid)
    second = testing.make_user(registry.government, "second-admin", User.Role.APPROVER, actor=registry.root)
    controls.approve(actor=second, uid=approval.uid, request_hash=approval.request_hash)
    issuance = Issuance.objects.get(report=verified)
    assert issuance.quantity == 500 and issuance.approved_by == second
    verified.refresh_from_db()
    assert verified.status == MonitoringReport.Status.ISSUED


def test_issuance_approval_over_http(registry, verified) -> None:  # noqa: ANN001
    from tonne.access.testing import stepped_up
    from tonne.core.tests.test_api_core import assert_problem, post

    admin = stepped_up(registry.admin)
    assert_problem(post(admin, f"/reports/{verified.uid}/issuance"), 403, "FOUR_EYES_REQUIRED")
    response = post(admin, "/issuance-approvals", {"report": str(verified.uid)})
    assert response.status_code == 202, response.content
    body = response.json()
    assert_problem(post(stepped_up(registry.developer), "/issuance-approvals", {"report": str(verified.uid)}), 403,
                   "NOT_REGISTRY_ADMINISTRATOR")
    second = testing.make_user(registry.government, "second-admin2", User.Role.APPROVER, actor=registry.root)
    done = post(stepped_up(second), f"/approvals/{body['uid']}/approve", {"request_hash": body["request_hash"]})
    assert done.status_code == 200 and done.json()["status"] == "approved"
    assert Issuance.objects.filter(report=verified).count() == 1
