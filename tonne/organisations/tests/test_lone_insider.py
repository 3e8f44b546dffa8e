"""Attacks by one insider on the people who move units (issue: no lone
insider). Each test is named for the attack; each failed before
representatives changes needed a second person, the representative delay
and the trust delay of new accounts existed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.test import Client

from tonne import testing
from tonne.access.testing import confirm_second_factor, give_totp, stepped_up
from tonne.controls import services as controls
from tonne.controls.models import Approval
from tonne.controls.tests.conftest import World, key, make_world
from tonne.core import clock
from tonne.core.errors import PermissionDenied
from tonne.core.tests.test_api_core import assert_problem, patch, post
from tonne.mrv import services as mrv
from tonne.mrv import verification as mrv_verification
from tonne.organisations import services as orgs
from tonne.organisations.models import User
from tonne.units import services as units
from tonne.units.domain import Selection

pytestmark = [pytest.mark.django_db, pytest.mark.controls]


@pytest.fixture
def world(registry: testing.Registry, settings) -> World:  # noqa: ANN001
    return make_world(registry, settings)


def _pending(username: str) -> Approval:
    return Approval.objects.get(
        action=Approval.Action.REPRESENTATIVE_CHANGE, status=Approval.Status.PENDING, payload__username=username
    )


def _approve(actor: User, approval: Approval) -> Approval:
    return controls.approve(actor=actor, uid=approval.uid, request_hash=approval.request_hash)


def _refused(code: str, call, *args, **kw) -> None:  # noqa: ANN001, ANN002, ANN003
    with pytest.raises(PermissionDenied) as refused:
        call(*args, **kw)
    assert refused.value.code == code


def _after_the_representative_delay(user: User) -> None:
    user.refresh_from_db()
    assert user.in_force_from is not None and user.in_force_from > clock.now()
    clock.freeze(user.in_force_from + dt.timedelta(minutes=1))


def test_an_administrator_alone_cannot_plant_an_initiator_and_an_approver_and_drain_a_holder(
    world: World, django_capture_on_commit_callbacks  # noqa: ANN001
) -> None:
    reg = world.reg
    admin = stepped_up(reg.admin)
    org = reg.developer_org.uid
    with django_capture_on_commit_callbacks(execute=True):
        for name, role in (("plant-initiator", "initiator"), ("plant-approver", "approver")):
            made = post(admin, f"/organisations/{org}/users", {"username": name, "password": testing.PASSWORD, "role": role})
            assert made.status_code == 202, made.content
            assert made.json()["status"] == "awaiting_approval" and made.json()["user"]["is_active"] is False
    # The holder's representatives are told, by mail, of each nomination.
    told = [m for m in mail.outbox if "plant-" in m.subject]
    assert len(told) == 2 and all(reg.developer.email in m.to for m in told)
    # The administrator cannot approve their own nominations, over HTTP or otherwise.
    for name in ("plant-initiator", "plant-approver"):
        approval = _pending(name)
        assert_problem(post(admin, f"/approvals/{approval.uid}/approve", {"request_hash": approval.request_hash}),
                       403, "SELF_APPROVAL_NOT_ALLOWED")
    # The planted people cannot sign in, nor act through a service.
    planted = User.objects.get(username="plant-initiator")
    assert not planted.is_active and not Client().login(username="plant-initiator", password=testing.PASSWORD)
    opened = orgs.open_holding_account(actor=reg.admin, organisation=reg.developer_org, name="Planted")
    _refused("USER_INACTIVE", _approve, User.objects.get(username="plant-approver"), _pending("plant-initiator"))
    # Units still move only by the holder's own representatives' four-eyes.
    txn = units.transfer(actor=reg.developer, from_account=reg.developer_account.identifier,
                         to_account=opened.identifier, selection=Selection.build(quantity=10), idempotency_key=key())
    assert txn.status == "awaiting_approval"
    _refused("USER_INACTIVE", controls.approve, actor=User.objects.get(username="plant-approver"),
             uid=txn.approval.uid, request_hash=txn.approval.request_hash)


def test_an_administrator_cannot_make_a_second_administrator_who_approves_the_first_ones_issuance(world: World) -> None:
    reg = world.reg
    submitted = mrv.submit_report(
        actor=reg.developer, project=world.project, period_start=dt.date(2025, 1, 1), period_end=dt.date(2025, 12, 31),
        vintages=[{"vintage": 2025, "quantity": 500}], vvb=str(reg.vvb_org.uid),
    )
    mrv_verification.accept_assignment(actor=reg.vvb, report=submitted, no_conflict_of_interest=True)
    report = mrv.verify_report(actor=reg.vvb, report=submitted, verified=[{"vintage": 2025, "quantity": 500}])
    admin = stepped_up(reg.admin)
    made = post(admin, f"/organisations/{reg.government.uid}/users",
                {"username": "second-admin", "password": testing.PASSWORD, "role": "approver"})
    assert made.status_code == 202, made.content
    second = User.objects.get(username="second-admin")
    assert not second.is_active
    nomination = _pending("second-admin")
    _refused("SELF_APPROVAL_NOT_ALLOWED", _approve, reg.admin, nomination)
    # Not even root makes an administrator alone: root's own nomination needs another person too.
    _refused("SELF_APPROVAL_NOT_ALLOWED", _approve, reg.root,
             controls.change_member(actor=reg.root, member=world.admin_approver, role="admin", active=True))
    # Root (a second, different person) approves: the new administrator still
    # approves nothing until the representative delay has passed.
    _approve(reg.root, nomination)
    second.refresh_from_db()
    assert second.is_active
    issuance = controls.request_issuance(actor=reg.admin, report_uid=report.uid)
    _refused("REPRESENTATIVE_NOT_IN_FORCE", _approve, second, issuance)
    pending = units.transfer(actor=reg.developer, from_account=reg.developer_account.identifier,
                             to_account=reg.buyer_account.identifier, selection=Selection.build(quantity=5),
                             idempotency_key=key())
    _refused("REPRESENTATIVE_NOT_IN_FORCE", controls.approve, actor=second, uid=pending.approval.uid,
             request_hash=pending.approval.request_hash)
    _after_the_representative_delay(second)
    controls.cancel_waiting(actor=reg.developer, identifier=pending.identifier)
    Approval.objects.filter(pk=issuance.pk).update(status=Approval.Status.CANCELLED)
    issuance = controls.request_issuance(actor=reg.admin, report_uid=report.uid)
    _approve(second, issuance)  # two people: the one who asked, and one root approved as administrator


def test_a_new_representative_cannot_approve_at_once(world: World) -> None:
    reg = world.reg
    holder = stepped_up(reg.developer)
    made = post(holder, f"/organisations/{reg.developer_org.uid}/users",
                {"username": "fresh-approver", "password": testing.PASSWORD, "role": "approver"})
    assert made.status_code == 202, made.content
    nomination = _pending("fresh-approver")
    # The holder nominates; its own approver does not approve the nomination: the registry administrator does.
    _refused("REGISTRY_ADMINISTRATOR_APPROVES", _approve, world.dev_approver, nomination)
    _approve(reg.admin, nomination)
    fresh = User.objects.get(username="fresh-approver")
    assert fresh.is_active
    txn = units.transfer(actor=reg.developer, from_account=reg.developer_account.identifier,
                         to_account=reg.buyer_account.identifier, selection=Selection.build(quantity=7), idempotency_key=key())
    _refused("REPRESENTATIVE_NOT_IN_FORCE", controls.approve, actor=fresh, uid=txn.approval.uid,
             request_hash=txn.approval.request_hash)
    assert post(stepped_up(fresh), f"/approvals/{txn.approval.uid}/approve",
                {"request_hash": txn.approval.request_hash}).json()["code"] == "REPRESENTATIVE_NOT_IN_FORCE"
    _after_the_representative_delay(fresh)
    later = units.transfer(actor=reg.developer, from_account=reg.developer_account.identifier,
                           to_account=reg.buyer_account.identifier, selection=Selection.build(quantity=7), idempotency_key=key())
    controls.approve(actor=fresh, uid=later.approval.uid, request_hash=later.approval.request_hash)


def test_a_new_account_is_not_trusted_at_once_as_the_holders_own(world: World) -> None:
    reg = world.reg
    fresh = orgs.open_holding_account(actor=reg.developer, organisation=reg.developer_org, name="Just opened")
    txn = units.transfer(actor=reg.developer, from_account=reg.developer_account.identifier,
                         to_account=fresh.identifier, selection=Selection.build(quantity=9), idempotency_key=key())
    approved = controls.approve(actor=world.dev_approver, uid=txn.approval.uid, request_hash=txn.approval.request_hash)
    txn.refresh_from_db()
    assert approved.status == "approved" and txn.status == "delayed"  # waits for the settlement delay
    # Once the trust delay has passed, the holder's account is its own again: settles on approval.
    from tonne.controls import gate

    clock.freeze(gate.calendar().noon_of_working_day(fresh.created_at, 4) + dt.timedelta(minutes=1))
    later = units.transfer(actor=reg.developer, from_account=reg.developer_account.identifier,
                           to_account=fresh.identifier, selection=Selection.build(quantity=3), idempotency_key=key())
    controls.approve(actor=world.dev_approver, uid=later.approval.uid, request_hash=later.approval.request_hash)
    later.refresh_from_db()
    assert later.status == "completed"


def test_changing_people_needs_a_recent_second_factor(world: World) -> None:
    reg = world.reg
    give_totp(reg.admin)
    stale = Client()
    stale.force_login(reg.admin)
    confirm_second_factor(stale, reg.admin, at=clock.now().timestamp() - 3600)
    org = reg.developer_org.uid
    assert_problem(post(stale, f"/organisations/{org}/users",
                        {"username": "late", "password": testing.PASSWORD, "role": "initiator"}), 403, "STEP_UP_REQUIRED")
    assert_problem(patch(stale, f"/organisations/{org}/users/{world.dev_approver.username}",
                         {"role": "admin", "is_active": True}), 403, "STEP_UP_REQUIRED")
    assert_problem(post(stale, "/cadt/webhooks", {"url": "https://hooks.example.org/in"}), 403, "STEP_UP_REQUIRED")
    assert_problem(post(stale, "/cadt/sync/nodes", {"name": "n", "url": "https://node.example.org/"}), 403, "STEP_UP_REQUIRED")
    assert not User.objects.filter(username="late").exists()
    # The workspace asks for the second factor again, and keeps no password while it does.
    page = f"/workspace/organisations/{org}/"
    sent = stale.post(page + "users/", {"username": "late", "password": testing.PASSWORD, "role": "initiator"})
    assert sent.status_code == 302 and "reauthenticate" in sent["Location"]
    assert not User.objects.filter(username="late").exists()
    assert testing.PASSWORD not in str(dict(stale.session))


def test_a_new_administrator_cannot_decide_on_organisations_or_projects_at_once(world: World) -> None:
    from tonne.projects import services as projects

    reg = world.reg
    made = post(stepped_up(reg.admin), f"/organisations/{reg.government.uid}/users",
                {"username": "new-admin", "password": testing.PASSWORD, "role": "admin"})
    assert made.status_code == 202, made.content
    _approve(reg.root, _pending("new-admin"))
    new_admin = User.objects.get(username="new-admin")
    assert new_admin.is_active
    project = projects.register_project(actor=reg.developer, data=testing.project_fields(name="Fresh stoves"),
                                        vvb=str(reg.vvb_org.uid))
    project = projects.change_project_status(actor=reg.developer, project=project, status="submitted")
    _refused("REPRESENTATIVE_NOT_IN_FORCE", projects.change_project_status,
             actor=new_admin, project=project, status="approved")
    _refused("REPRESENTATIVE_NOT_IN_FORCE", orgs.decide_organisation,
             actor=new_admin, organisation=reg.buyer_org, status="suspended", reason="Planted to drain")
    _after_the_representative_delay(new_admin)
    assert projects.change_project_status(actor=new_admin, project=project, status="approved").status == "approved"
