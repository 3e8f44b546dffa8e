"""Second-factor friction: after the step-up, an inbox decision carries
through (reason kept, action done, once); enrolling counts as confirming;
a person with a second factor is not offered the password (which would loop
back to the same request); people sent to enrol are told why, in their language."""

from __future__ import annotations

import pytest
from allauth.mfa import signals
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client, RequestFactory

from tonne.access import policy
from tonne.access.adapter import AccountAdapter
from tonne.access.testing import confirm_second_factor, give_totp, stepped_up
from tonne.controls.models import Approval
from tonne.controls.tests.conftest import World
from tonne.core import clock
from tonne.workspace.tests.test_controls_views import carried, confirm_transfer

pytestmark = [pytest.mark.django_db, pytest.mark.controls]
W = "/workspace"


def test_inbox_rejection_carries_through_the_step_up(world: World) -> None:
    w = world
    confirm_transfer(stepped_up(w.reg.developer), w)
    approval = Approval.objects.get(action="transfer")
    approver = Client()
    approver.force_login(w.dev_approver)
    give_totp(w.dev_approver)
    confirm_second_factor(approver, w.dev_approver, at=clock.now().timestamp() - 3600)  # too old
    url = f"{W}/inbox/approvals/{approval.uid}/reject/"
    response = approver.post(url, {"reason": "Wrong buyer account"})
    assert response.status_code == 302
    assert response["Location"].startswith(f"/accounts/2fa/reauthenticate/?next={url.replace('/', '%2F')}%3Fresume%3D")
    assert Approval.objects.get(pk=approval.pk).status == "pending"
    # Without the fresh second factor, coming back does nothing but ask again (with a new ticket).
    again = approver.get(carried(response))
    assert again["Location"].startswith("/accounts/2fa/reauthenticate/")
    assert Approval.objects.get(pk=approval.pk).status == "pending"
    confirm_second_factor(approver, w.dev_approver)
    response = approver.get(carried(again), follow=True)
    assert Approval.objects.get(pk=approval.pk).status == "rejected"
    assert Approval.objects.get(pk=approval.pk).reason == "Wrong buyer account"  # not retyped
    assert "Rejected" in response.content.decode()
    # Once: the same ticket again decides nothing more, and a bare GET only shows the inbox.
    assert approver.get(carried(again))["Location"] == f"{W}/inbox/"
    assert approver.get(url)["Location"] == f"{W}/inbox/"


def test_inbox_approval_carries_through_the_step_up(world: World) -> None:
    w = world
    confirm_transfer(stepped_up(w.reg.developer), w)
    approval = Approval.objects.get(action="transfer")
    approver = Client()
    approver.force_login(w.dev_approver)
    give_totp(w.dev_approver)
    url = f"{W}/inbox/approvals/{approval.uid}/approve/"
    response = approver.post(url, {"request_hash": approval.request_hash, "reason": "Checked"})
    confirm_second_factor(approver, w.dev_approver)
    approver.get(carried(response))
    assert Approval.objects.get(pk=approval.pk).status != "pending"


def test_enrolling_counts_as_confirming(world: World) -> None:
    user = world.dev_approver
    request = RequestFactory().get("/")
    request.user = user
    from django.contrib.sessions.backends.db import SessionStore

    request.session = SessionStore()
    assert not policy.has_recent_second_factor(request, user)
    authenticator = TOTP.activate(user, generate_totp_secret()).instance
    signals.authenticator_added.send(sender=Authenticator, request=request, user=user, authenticator=authenticator)
    assert policy.has_recent_second_factor(request, user)


def test_the_password_is_not_offered_to_someone_with_a_second_factor(world: World) -> None:
    user = world.dev_approver
    adapter = AccountAdapter()
    assert "reauthenticate" in [m["id"] for m in adapter.get_reauthentication_methods(user)]  # none yet
    give_totp(user)
    ids = [m["id"] for m in adapter.get_reauthentication_methods(user)]
    assert "reauthenticate" not in ids and "mfa_reauthenticate" in ids
    client = Client()
    client.force_login(user)
    page = client.get("/accounts/2fa/reauthenticate/").content.decode()
    assert "Use your password" not in page


@pytest.mark.parametrize(("language", "why"), [
    ("en", "Set up a second factor to continue."),
    ("fr", "Configurez un second facteur pour continuer."),
    ("es", "Configure un segundo factor para continuar."),
    # (the rest of the sentence says why: the role moves units or approves)
])
def test_people_sent_to_enrol_are_told_why(world: World, language: str, why: str) -> None:
    client = Client(headers={"accept-language": language})
    client.force_login(world.dev_approver)
    response = client.get(W + "/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/accounts/2fa/")
    assert why in response.content.decode()
    assert why not in client.get("/accounts/2fa/").content.decode()  # said once, not on every page
