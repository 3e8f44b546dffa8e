"""After the re-confirmation of a second factor, every form that asked for it
is carried out as posted (once, for the same person, within the window),
not posted again by hand."""

from __future__ import annotations

import datetime as dt

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client

from tonne.access.testing import confirm_second_factor, give_totp
from tonne.controls import holidays
from tonne.controls.models import Approval, Holiday
from tonne.controls.tests.conftest import World
from tonne.core import clock
from tonne.organisations.models import User
from tonne.projects.models import ApprovedProgramme
from tonne.workspace.tests.test_controls_views import carried

pytestmark = [pytest.mark.django_db, pytest.mark.controls]
W = "/workspace"


def limits_asked(per_transfer: int) -> bool:
    """The limit change was requested (it then awaits a second person)."""
    return Approval.objects.filter(action=Approval.Action.LIMIT_CHANGE, payload__per_transfer=per_transfer).exists()


def stale(user: User) -> Client:
    """A session whose second factor was confirmed an hour ago: too old to act."""
    if not Authenticator.objects.filter(user=user).exists():
        give_totp(user)
    client = Client()
    client.force_login(user)
    confirm_second_factor(client, user, at=clock.now().timestamp() - 3600)
    return client


def asked_then_carried(client: Client, user: User, url: str, data: dict) -> tuple[str, object]:
    """Post, be sent to confirm the second factor, confirm it, come back: the answer."""
    asked = client.post(url, data)
    assert asked.status_code == 302 and asked["Location"].startswith("/accounts/2fa/reauthenticate/?next="), asked
    ticket = carried(asked)
    confirm_second_factor(client, user)
    return ticket, client.get(ticket)


def test_account_limits_are_carried_through(world: World) -> None:
    dev = stale(world.reg.developer)
    account = world.reg.developer_account
    url = f"{W}/accounts/{account.identifier}/limits/"
    ticket, done = asked_then_carried(dev, world.reg.developer, url, {"per_transfer": "500", "per_day": ""})
    assert done["Location"] == f"{W}/accounts/{account.identifier}/#limits"
    assert limits_asked(500)
    # The same ticket again does nothing more and says so.
    again = dev.get(ticket, follow=True).content.decode()
    assert "already carried out or has expired" in again


def test_trusted_addition_is_carried_through(world: World) -> None:
    dev = stale(world.reg.developer)
    account = world.reg.developer_account
    url = f"{W}/accounts/{account.identifier}/trusted/"
    _ticket, done = asked_then_carried(dev, world.reg.developer, url, {"trusted": world.reg.buyer_account.identifier})
    assert done.status_code == 302
    page = dev.get(done["Location"]).content.decode()
    assert world.reg.buyer_account.identifier in page and "trusted" in page
    assert "Enter an account number" not in page


def test_reference_data_and_holidays_are_carried_through(world: World) -> None:
    admin_user = world.reg.admin
    admin = stale(admin_user)
    confirm_second_factor(admin, admin_user)
    admin.post(f"{W}/reference/verification-approvals/", {"programme": "Gold Standard"})
    assert ApprovedProgramme.objects.filter(name="Gold Standard").exists()
    confirm_second_factor(admin, admin_user, at=clock.now().timestamp() - 3600)
    _ticket, done = asked_then_carried(admin, admin_user, f"{W}/reference/verification-approvals/remove/",
                                       {"programme": "Gold Standard"})
    assert done["Location"] == f"{W}/reference/" and not ApprovedProgramme.objects.exists()
    day = clock.now().date() + dt.timedelta(days=40)
    holidays.add_holiday(actor=admin_user, day=day, name="Founders' day")
    admin = stale(admin_user)
    _ticket, done = asked_then_carried(admin, admin_user, f"{W}/reference/holidays/{day.isoformat()}/remove/", {})
    assert done.status_code == 302 and not Holiday.objects.filter(day=day).exists()


def test_organisation_member_change_is_carried_through_and_a_password_never_kept(world: World) -> None:
    dev_user = world.reg.developer
    org = world.reg.developer_org
    dev = stale(dev_user)
    member = world.dev_approver
    url = f"{W}/organisations/{org.uid}/members/"
    _ticket, done = asked_then_carried(dev, dev_user, url, {"username": member.username, "role": "viewer"})
    assert done["Location"].startswith(f"{W}/organisations/{org.uid}/")
    # An approver is an authorised representative: the change now awaits a second person.
    asked = Approval.objects.get(action=Approval.Action.REPRESENTATIVE_CHANGE, status="pending")
    assert asked.payload["after"] == {"role": "viewer", "active": False}, asked.payload
    # A new user's form comes back filled, but asking for the password again.
    dev = stale(dev_user)
    asked = dev.post(f"{W}/organisations/{org.uid}/users/",
                     {"username": "newcomer", "email": "new@example.org", "password": "Long-enough-secret-42", "role": "viewer"})
    assert "Long-enough-secret-42" not in str(dev.session.get("tonne.workspace.resume"))
    confirm_second_factor(dev, dev_user)
    back = dev.get(carried(asked))
    assert back.status_code == 200 and 'value="newcomer"' in back.content.decode()
    assert not User.objects.filter(username="newcomer").exists()


def test_a_ticket_serves_only_its_own_person_and_session(world: World) -> None:
    dev = stale(world.reg.developer)
    account = world.reg.developer_account
    asked = dev.post(f"{W}/accounts/{account.identifier}/limits/", {"per_transfer": "7"})
    ticket = carried(asked)
    other = stale(world.dev_approver)  # same organisation, its own session
    confirm_second_factor(other, world.dev_approver)
    assert other.get(ticket).status_code == 302
    assert not limits_asked(7)
    # A ticket altered by hand is refused too.
    confirm_second_factor(dev, world.reg.developer)
    forged = ticket.replace("resume=", "resume=x")
    dev.get(forged)
    assert not limits_asked(7)
    dev.get(ticket)
    assert limits_asked(7)


def test_an_expired_ticket_does_nothing_and_leads_back_to_the_form(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from tonne.workspace.views import common

    dev = stale(world.reg.developer)
    account = world.reg.developer_account
    asked = dev.post(f"{W}/accounts/{account.identifier}/limits/", {"per_transfer": "9"})
    confirm_second_factor(dev, world.reg.developer)
    monkeypatch.setattr(common, "RESUME_SECONDS", -1)  # any age is too old
    answer = dev.get(carried(asked))
    assert answer["Location"] == f"{W}/accounts/{account.identifier}/#limits"
    assert not limits_asked(9)
