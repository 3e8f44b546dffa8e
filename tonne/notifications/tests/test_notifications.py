"""Notifications: who is told of what, once, in their language, by e-mail if
they want it; the list, read marks, the count in the menu."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.db import transaction
from django.test import Client
from django.utils import translation

from tonne import testing
from tonne.controls import services as controls
from tonne.core.errors import NotFound, ValidationFailed
from tonne.ledger.models import LedgerHead
from tonne.mrv import services as mrv
from tonne.mrv import verification
from tonne.notifications import domain, messages
from tonne.notifications import services as notifications
from tonne.notifications.models import Cursor, Notification
from tonne.notifications.selectors import notifications_for, unread_count
from tonne.organisations import services as orgs
from tonne.units import services as units
from tonne.units.domain import Selection

pytestmark = pytest.mark.django_db


def told(user: Any, event: str | None = None) -> list[Notification]:
    qs = notifications_for(user)
    return list(qs.filter(event=event) if event else qs)


def submit(reg: testing.Registry, project: Any, year: int = 2024) -> Any:
    return mrv.submit_report(actor=reg.developer, project=project, period_start=dt.date(year, 1, 1),
                             period_end=dt.date(year, 12, 31), vintages=[{"vintage": year, "quantity": 100}],
                             vvb=str(reg.vvb_org.uid))


# -- pure rules ------------------------------------------------------------------------


def test_each_kind_of_entry_names_its_thing_and_who_is_concerned() -> None:
    [event] = domain.events_of("account.status", {"account": "CI-100-1", "to": "closed", "reason": "x"}, "")
    assert (event.code, event.subject, event.ref, event.audiences) == (
        "account_status", domain.ACCOUNT, "CI-100-1", ((domain.HOLDER_OF, "CI-100-1"),))
    [move] = domain.events_of("units.transfer", {"from": "p:1", "to": "p:2"}, "TX-9")
    assert move.audiences == ((domain.PARTIES_OF, "TX-9"),) and move.params["kind"] == "transfer"
    submitted = domain.events_of("mrv.report_submitted", {"report": "u", "project": "CI-0001"}, "")
    assert [(e.code, e.audiences) for e in submitted] == [
        ("report_assigned", ((domain.REPORT_VVB, "u"),)), ("report_submitted", ((domain.REPORT_DEVELOPER, "u"),))]
    waiting = domain.events_of("project.status", {"project": "CI-0001", "status": "validated"}, "")
    assert [e.code for e in waiting] == ["project_status", "project_awaits_registration"]
    assert domain.events_of("ledger.restore_acknowledged", {}, "") == []
    assert domain.events_of("units.transfer", {}, "") == []  # no transaction: nobody to tell


def test_the_sentences_are_translated_and_name_the_thing() -> None:
    params = {"transaction": "TX-42", "kind": "retirement"}
    assert "TX-42" in messages.text("transaction_completed", params)
    with translation.override("fr"):
        french = messages.text("transaction_completed", params)
    with translation.override("es"):
        spanish = messages.text("transaction_completed", params)
    assert "TX-42" in french and "TX-42" in spanish
    assert len({french, spanish, messages.text("transaction_completed", params)}) == 3
    assert messages.text("project_status", {}) != ""  # an older row without its parameters still reads


# -- who is told ---------------------------------------------------------------------


def test_a_submitted_report_awaits_its_vvb_and_the_actor_is_not_told(registry: testing.Registry) -> None:
    project = testing.registered_project(registry)
    notifications.deliver()
    before = {u.pk: len(told(u)) for u in (registry.other_developer, registry.buyer)}
    report = submit(registry, project)
    notifications.deliver()
    [note] = told(registry.vvb, "report_assigned")
    assert note.ref == str(report.uid) and note.subject == "report"
    assert told(registry.developer, "report_submitted") == []  # the developer submitted it
    assert {u.pk: len(told(u)) for u in (registry.other_developer, registry.buyer)} == before


def test_a_transfer_tells_both_holders_and_no_one_else(registry: testing.Registry) -> None:
    project = testing.registered_project(registry)
    testing.issue(registry, project, {2022: 1000})
    notifications.deliver()
    before = {u.pk: len(told(u)) for u in (registry.developer, registry.buyer, registry.other_developer)}
    txn = units.transfer(actor=registry.developer, from_account=registry.developer_account.identifier,
                         to_account=registry.buyer_account.identifier, selection=Selection(quantity=10),
                         idempotency_key="n-1")
    notifications.deliver()
    [received] = told(registry.buyer, "transaction_completed")
    assert received.ref == txn.identifier and received.params["kind"] == "transfer"
    assert len(told(registry.developer)) == before[registry.developer.pk]  # the developer moved them
    assert len(told(registry.other_developer)) == before[registry.other_developer.pk]


def test_issuance_tells_the_developer_and_awaiting_issuance_the_administrators(registry: testing.Registry) -> None:
    project = testing.registered_project(registry)
    report = submit(registry, project)
    verification.accept_assignment(actor=registry.vvb, report=report, no_conflict_of_interest=True)
    mrv.verify_report(actor=registry.vvb, report=report, verified=[{"vintage": 2024, "quantity": 90}])
    notifications.deliver()
    assert [n.ref for n in told(registry.admin, "report_awaits_issuance")] == [str(report.uid)]
    assert [n.ref for n in told(registry.developer, "report_verified")] == [str(report.uid)]
    mrv.approve_issuance(actor=registry.admin, report=report)
    notifications.deliver()
    assert told(registry.developer, "transaction_completed")


def test_account_changes_reach_the_holder_through_the_pseudonym(registry: testing.Registry) -> None:
    orgs.set_account_status(actor=registry.admin, account=registry.buyer_account, status="suspended", reason="check")
    notifications.deliver()
    [note] = told(registry.buyer, "account_status")
    assert note.ref == registry.buyer_account.identifier and note.params["status"] == "suspended"
    assert told(registry.developer, "account_status") == []


@pytest.mark.controls
def test_a_request_awaiting_a_second_person_tells_those_who_may_approve(registry: testing.Registry, settings: Any) -> None:
    settings.TONNE_FOUR_EYES = frozenset({"issuance"})
    second = testing.make_user(registry.government, "second-admin", actor=registry.root)
    project = testing.registered_project(registry)
    report = submit(registry, project)
    verification.accept_assignment(actor=registry.vvb, report=report, no_conflict_of_interest=True)
    mrv.verify_report(actor=registry.vvb, report=report, verified=[{"vintage": 2024, "quantity": 90}])
    approval = controls.request_issuance(actor=registry.admin, report_uid=str(report.uid))
    notifications.deliver()
    [note] = told(second, "approval_requested")
    assert note.ref == str(approval.uid) and note.event in domain.AWAITING
    assert told(registry.admin, "approval_requested") == []  # not the initiator
    assert told(registry.developer, "approval_requested") == []
    notifications.deliver()  # a second pass tells nobody twice
    assert len(told(second, "approval_requested")) == 1


# -- once, whatever happens ---------------------------------------------------------------


def test_a_crash_before_commit_leaves_the_cursor_and_the_next_pass_makes_each_once(registry: testing.Registry) -> None:
    project = testing.registered_project(registry)
    notifications.deliver()
    submit(registry, project)
    position = Cursor.objects.get(name="ledger").position

    class Crash(Exception):
        pass

    with pytest.raises(Crash), transaction.atomic():
        notifications.deliver_ledger()
        raise Crash
    assert Cursor.objects.get(name="ledger").position == position
    assert told(registry.vvb, "report_assigned") == []
    notifications.deliver()
    notifications.deliver()
    assert len(told(registry.vvb, "report_assigned")) == 1
    # Even a cursor moved back (a restore) makes nothing twice.
    Cursor.objects.filter(name="ledger").update(position=position)
    notifications.deliver()
    assert len(told(registry.vvb, "report_assigned")) == 1


# -- reading, preferences, e-mail -----------------------------------------------------------


def test_read_marks_are_the_readers_own(registry: testing.Registry) -> None:
    project = testing.registered_project(registry)
    submit(registry, project)
    notifications.deliver()
    [note] = told(registry.vvb, "report_assigned")
    assert unread_count(registry.vvb) >= 1
    with pytest.raises(NotFound):
        notifications.mark_read(actor=registry.developer, uid=note.uid)  # not theirs
    with pytest.raises(NotFound):
        notifications.mark_read(actor=registry.vvb, uid="not-a-uid")
    notifications.mark_read(actor=registry.vvb, uid=note.uid)
    assert Notification.objects.get(pk=note.pk).read_at is not None
    notifications.mark_all_read(actor=registry.vvb)
    assert unread_count(registry.vvb) == 0


def test_someone_who_left_the_organisation_no_longer_sees_its_news(registry: testing.Registry) -> None:
    project = testing.registered_project(registry)
    submit(registry, project)
    notifications.deliver()
    assert told(registry.vvb, "report_assigned")
    type(registry.vvb).objects.filter(pk=registry.vvb.pk).update(organisation=registry.buyer_org)
    registry.vvb.refresh_from_db()
    assert told(registry.vvb) == []


def test_email_goes_once_in_the_chosen_language_and_not_to_who_turned_it_off(registry: testing.Registry) -> None:
    project = testing.registered_project(registry)
    notifications.deliver()
    notifications.send_mail_due()
    mail.outbox.clear()
    notifications.set_preferences(actor=registry.vvb, email=True, language="fr")
    notifications.set_preferences(actor=registry.admin, email=False)
    report = submit(registry, project)
    notifications.deliver()
    assert notifications.send_mail_due() >= 1
    [message] = [m for m in mail.outbox if m.to == [registry.vvb.email]]
    assert project.project_id in message.subject and f"/workspace/reports/{report.uid}/" in message.body
    with translation.override("fr"):
        assert message.subject.endswith(messages.text("report_assigned", {"project": project.project_id}))
    assert not [m for m in mail.outbox if m.to == [registry.admin.email]]
    mail.outbox.clear()
    notifications.send_mail_due()
    assert mail.outbox == []  # each once


def test_preferences_refuse_what_they_do_not_know(registry: testing.Registry) -> None:
    with pytest.raises(ValidationFailed) as exc:
        notifications.set_preferences(actor=registry.vvb, email=True, language="xx")
    assert exc.value.code == "LANGUAGE_UNKNOWN"
    with pytest.raises(ValidationFailed):
        notifications.set_preferences(actor=registry.vvb, email="yes")


# -- the API and the workspace --------------------------------------------------------------


def test_api_lists_counts_and_marks_read(registry: testing.Registry) -> None:
    project = testing.registered_project(registry)
    submit(registry, project)
    notifications.deliver()
    client = Client()
    client.force_login(registry.vvb)
    page = client.get("/api/v1/notifications?unread=true").json()
    assert page["count"] >= 1 and any(item["event"] == "report_assigned" for item in page["items"])
    item = next(i for i in page["items"] if i["event"] == "report_assigned")
    assert item["awaiting"] is True and item["link"].startswith("/workspace/reports/")
    count = client.get("/api/v1/notifications/count").json()["unread"]
    assert client.post(f"/api/v1/notifications/{item['uid']}/read").status_code == 200
    assert client.get("/api/v1/notifications/count").json()["unread"] == count - 1
    other = Client()
    other.force_login(registry.developer)
    assert other.post(f"/api/v1/notifications/{item['uid']}/read").json()["code"] == "NOTIFICATION_NOT_FOUND"
    assert client.post("/api/v1/notifications/read").json()["marked"] == count - 1
    assert client.put("/api/v1/notifications/preferences", {"email": False}, content_type="application/json").json() == {
        "email": False, "language": ""}
    assert Client().get("/api/v1/notifications").status_code == 401


def test_workspace_shows_the_count_in_the_menu_and_opens_the_thing(registry: testing.Registry) -> None:
    project = testing.registered_project(registry)
    report = submit(registry, project)
    notifications.deliver()
    client = Client()
    client.force_login(registry.vvb)
    unread = unread_count(registry.vvb)
    home = client.get("/workspace/").content.decode()
    assert f"Notifications ({unread} unread)" in home
    page = client.get("/workspace/notifications/").content.decode()
    assert project.project_id in page
    note = told(registry.vvb, "report_assigned")[0]
    opened = client.post(f"/workspace/notifications/{note.uid}/open/")
    assert opened.status_code == 302 and opened["Location"] == f"/workspace/reports/{report.uid}/"
    assert unread_count(registry.vvb) == unread - 1
    client.post("/workspace/notifications/read/")
    assert "Notifications (" not in client.get("/workspace/").content.decode()
    client.post("/workspace/notifications/preferences/", {"language": "es"})
    assert notifications.preferences(registry.vvb).email is False
    french = client.get("/workspace/notifications/", HTTP_ACCEPT_LANGUAGE="fr")
    assert french.status_code == 200


def test_the_worker_job_delivers_in_batches_and_mails(registry: testing.Registry) -> None:
    from tonne.ops.worker import JOBS, run_job  # the top floor's worker runs this app's job

    project = testing.registered_project(registry)
    report = submit(registry, project)
    notifications.deliver(limit=1, rounds=2)  # two entries at most: the rest waits for the next round
    assert Cursor.objects.get(name="ledger").position < LedgerHead.objects.get(pk=1).size
    mail.outbox.clear()
    [job] = [j for j in JOBS if j.name == "notifications"]
    assert run_job(job, lambda _said: None)
    assert Cursor.objects.get(name="ledger").position == LedgerHead.objects.get(pk=1).size
    assert [n.ref for n in told(registry.vvb, "report_assigned")] == [str(report.uid)]
    assert any(m.to == [registry.vvb.email] for m in mail.outbox)
