"""Four-eyes approval of changes to an organisation's authorised
representatives: adding one, changing one's role, deactivating one."""

from __future__ import annotations

import datetime as dt

import pytest

from tonne import testing
from tonne.access.testing import stepped_up
from tonne.audit.models import AuditEvent
from tonne.controls import services as controls
from tonne.controls.models import Approval
from tonne.controls.tests.conftest import World
from tonne.core import clock
from tonne.core.errors import Conflict, PermissionDenied
from tonne.core.tests.test_api_core import assert_problem, patch, post
from tonne.organisations.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _holders_approve_their_own(settings) -> None:  # noqa: ANN001
    # These are the holder's own four-eyes; the registry administrator's
    # approval (the default) is in organisations/tests/test_lone_insider.py.
    settings.TONNE_REPRESENTATIVES_APPROVED_BY = "holder"


def test_a_new_representative_waits_for_a_second_person(world: World) -> None:
    reg = world.reg
    member = testing.make_user(reg.developer_org, "new-initiator", User.Role.INITIATOR, actor=reg.developer)
    member.refresh_from_db()
    assert not member.is_active  # cannot sign in or act yet
    approval = controls.pending_representative_change(member)
    assert approval is not None and approval.action == Approval.Action.REPRESENTATIVE_CHANGE
    assert approval.payload["after"] == {"role": "initiator", "active": True}
    with pytest.raises(PermissionDenied) as refused:
        controls.approve(actor=reg.developer, uid=approval.uid, request_hash=approval.request_hash)
    assert refused.value.code == "SELF_APPROVAL_NOT_ALLOWED"
    with pytest.raises(Conflict) as mismatch:
        controls.approve(actor=world.dev_approver, uid=approval.uid, request_hash="0" * 64)
    assert mismatch.value.code == "APPROVAL_HASH_MISMATCH"
    controls.approve(actor=world.dev_approver, uid=approval.uid, request_hash=approval.request_hash)
    member.refresh_from_db()
    assert member.is_active and member.role == User.Role.INITIATOR
    assert AuditEvent.objects.filter(action="member.changed", target="new-initiator").exists()


def test_viewers_are_added_at_once(world: World) -> None:
    member = testing.make_user(world.reg.developer_org, "new-viewer", User.Role.VIEWER, actor=world.reg.developer)
    assert member.is_active and controls.pending_representative_change(member) is None


def test_promotion_and_removal_need_approval_and_expire(world: World) -> None:
    reg = world.reg
    viewer = testing.make_user(reg.developer_org, "dev-viewer", User.Role.VIEWER, actor=reg.developer)
    promotion = controls.change_member(actor=reg.developer, member=viewer, role=User.Role.APPROVER, active=True)
    assert isinstance(promotion, Approval)
    viewer.refresh_from_db()
    assert viewer.role == User.Role.VIEWER  # nothing changed yet
    with pytest.raises(Conflict) as twice:
        controls.change_member(actor=reg.developer, member=viewer, role=User.Role.ADMIN, active=True)
    assert twice.value.code == "REPRESENTATIVE_CHANGE_PENDING"
    clock.freeze(clock.now() + dt.timedelta(hours=73))
    with pytest.raises(Conflict) as late:
        controls.approve(actor=world.dev_approver, uid=promotion.uid, request_hash=promotion.request_hash)
    assert late.value.code == "APPROVAL_EXPIRED"
    viewer.refresh_from_db()
    assert viewer.role == User.Role.VIEWER
    # Removing a representative is a change of representatives too, and the
    # person changed does not approve it.
    removal = controls.change_member(actor=reg.developer, member=world.dev_approver, role=User.Role.APPROVER, active=False)
    assert isinstance(removal, Approval)
    for approver in (reg.developer, world.dev_approver):
        with pytest.raises(PermissionDenied) as refused:
            controls.approve(actor=approver, uid=removal.uid, request_hash=removal.request_hash)
        assert refused.value.code == "SELF_APPROVAL_NOT_ALLOWED"


def test_approval_is_bound_to_the_person_as_they_were(world: World) -> None:
    reg = world.reg
    viewer = testing.make_user(reg.developer_org, "dev-viewer2", User.Role.VIEWER, actor=reg.developer)
    promotion = controls.change_member(actor=reg.developer, member=viewer, role=User.Role.INITIATOR, active=True)
    assert isinstance(promotion, Approval)
    User.objects.filter(pk=viewer.pk).update(is_active=False)  # changed since the request
    with pytest.raises(Conflict) as stale:
        controls.approve(actor=world.dev_approver, uid=promotion.uid, request_hash=promotion.request_hash)
    assert stale.value.code == "APPROVAL_STALE"
    assert Approval.objects.get(pk=promotion.pk).status == Approval.Status.PENDING


def test_representative_changes_over_http(world: World) -> None:
    reg = world.reg
    admin = stepped_up(reg.developer)
    org = reg.developer_org.uid
    created = post(admin, f"/organisations/{org}/users",
                   {"username": "http-approver", "password": testing.PASSWORD, "role": "approver"})
    assert created.status_code == 202, created.content
    body = created.json()
    assert body["status"] == "awaiting_approval" and body["user"]["is_active"] is False
    self_approval = post(admin, f"/approvals/{body['approval']}/approve",
                         {"request_hash": Approval.objects.get(uid=body["approval"]).request_hash})
    assert_problem(self_approval, 403, "SELF_APPROVAL_NOT_ALLOWED")
    changed = patch(admin, f"/organisations/{org}/users/{world.dev_approver.username}", {"role": "viewer", "is_active": True})
    assert changed.status_code == 202 and changed.json()["user"]["role"] == "approver"
    other = stepped_up(reg.other_developer)
    hidden = patch(other, f"/organisations/{org}/users/{world.dev_approver.username}", {"role": "viewer", "is_active": True})
    assert hidden.status_code in (403, 404)
    # The registry administrator onboards organisations: at once.
    direct = patch(stepped_up(reg.admin), f"/organisations/{org}/users/http-approver", {"role": "approver", "is_active": False})
    assert direct.status_code == 202 or direct.json()["status"] == "applied"
