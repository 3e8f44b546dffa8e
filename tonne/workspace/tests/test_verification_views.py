"""The VVB's assignment, opinion and the administrator's approval of a
verification, in the workspace; and the notifications page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.test import Client

from tonne import testing
from tonne.mrv import services as mrv
from tonne.mrv.models import MonitoringReport
from tonne.notifications import services as notifications

W = "/workspace"


def client_of(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def submitted(reg: testing.Registry) -> MonitoringReport:
    project = testing.registered_project(reg)
    return mrv.submit_report(actor=reg.developer, project=project, period_start=dt.date(2022, 1, 1),
                             period_end=dt.date(2022, 12, 31), vintages=[{"vintage": 2022, "quantity": 500}],
                             vvb=str(reg.vvb_org.uid))


def test_the_vvb_declares_before_it_accepts_and_declines_with_a_reason(registry: testing.Registry) -> None:
    report = submitted(registry)
    vvb = client_of(registry.vvb)
    url = f"{W}/reports/{report.uid}/"
    assert "Your assignment" not in client_of(registry.developer).get(url).content.decode()
    refused = vvb.post(f"{url}assignment/", {"decision": "accepted"})
    assert refused.status_code == 422 and "CONFLICT_OF_INTEREST_NOT_DECLARED" in refused.content.decode()
    refused = vvb.post(f"{url}assignment/", {"decision": "declined", "reason": ""})
    assert refused.status_code == 422 and "REASON_REQUIRED" in refused.content.decode()
    assert client_of(registry.developer).post(f"{url}assignment/", {"decision": "accepted"}).status_code == 403
    assert MonitoringReport.objects.get(pk=report.pk).assignment == "pending"
    vvb.post(f"{url}assignment/", {"decision": "declined", "reason": "We audited the developer last year"})
    report.refresh_from_db()
    assert (report.assignment, report.assignment_reason) == ("declined", "We audited the developer last year")
    body = client_of(registry.developer).get(url).content.decode()
    assert "declined" in body and "We audited the developer last year" in body
    notifications.deliver()
    dev_page = client_of(registry.developer).get(f"{W}/notifications/").content.decode()
    assert "declined to verify a monitoring report of project" in dev_page


def test_a_positive_opinion_with_comments_then_the_registrys_approval(registry: testing.Registry, settings: Any) -> None:
    settings.TONNE_VERIFICATION_APPROVAL = True
    report = submitted(registry)
    vvb = client_of(registry.vvb)
    url = f"{W}/reports/{report.uid}/"
    vvb.post(f"{url}assignment/", {"decision": "accepted", "no_conflict_of_interest": "on"})
    assert "No conflict of interest declared" in vvb.get(url).content.decode()
    assert vvb.post(f"{url}verify/", {"verified_2022": "450", "comments": "Two meters replaced"}).status_code == 302
    report.refresh_from_db()
    assert (report.status, report.opinion, report.opinion_comments) == ("verified", "positive", "Two meters replaced")
    admin = client_of(registry.admin)
    refused = admin.post(f"{url}issue/")
    assert refused.status_code == 422 and "VERIFICATION_NOT_APPROVED" in refused.content.decode()
    assert "Approve the verification" in admin.get(url).content.decode()
    assert vvb.post(f"{url}verification-approval/").status_code == 403
    assert admin.post(f"{url}verification-approval/").status_code == 302
    assert "Approve the verification" not in admin.get(url).content.decode()
    assert admin.post(f"{url}issue/").status_code == 302
    report.refresh_from_db()
    assert report.status == "issued"


def test_pages_in_french_and_spanish(registry: testing.Registry) -> None:
    report = submitted(registry)
    vvb = client_of(registry.vvb)
    for language, words in (("fr", "Accepter la mission"), ("es", "Aceptar el encargo")):
        vvb.cookies["django_language"] = language
        assert words in vvb.get(f"{W}/reports/{report.uid}/").content.decode()
