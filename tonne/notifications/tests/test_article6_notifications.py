"""Article 6 events make notifications: an authorisation granted, changed or
revoked (the Party's administrators, the covered projects' developers, the
authorised entities), a first transfer and its corresponding adjustment, and
units sent to another Party (the administrators and the holder)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from tonne import testing
from tonne.article6 import services as a6
from tonne.controls import services as controls
from tonne.core import clock
from tonne.notifications import domain, links, messages
from tonne.notifications import services as notifications
from tonne.notifications.selectors import notifications_for
from tonne.organisations.models import User
from tonne.units import services as units
from tonne.units.domain import Selection

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)


def told(user: User, event: str) -> list:
    return list(notifications_for(user).filter(event=event))


def test_sent_and_received_name_the_party_and_the_holder() -> None:
    [sent] = domain.events_of("article6.transfer_sent", {"destination_party": "CH", "destination_registry": "CH-T"}, "TX-1")
    assert (sent.code, sent.subject, sent.ref) == ("itmo_sent", domain.TRANSACTION, "TX-1")
    assert sent.audiences == ((domain.ADMINISTRATORS, ""), (domain.PARTIES_OF, "TX-1"))
    [received] = domain.events_of("article6.transfer_received", {"origin_party": "SE", "quantity": 25}, "TX-2")
    assert received.params["party"] == "SE" and "25" in messages.text(received.code, received.params)
    english = messages.text(received.code, received.params)
    with translation.override("fr"):
        french = messages.text(received.code, received.params)
    with translation.override("es"):
        spanish = messages.text(received.code, received.params)
    assert all("SE" in said for said in (english, french, spanish)) and len({english, french, spanish}) == 3


def test_authorisation_life_and_first_transfer_are_told(registry: testing.Registry) -> None:
    reg = registry
    clock.freeze(T0)
    project = testing.registered_project(reg)
    approver = testing.make_user(reg.government, f"{reg.admin.username}-approver", User.Role.APPROVER, actor=reg.root)
    notifications.deliver()
    approval = a6.request_authorisation(actor=reg.admin, data={
        "identifier": "CI-A6-N1", "cooperative_approach": "CI-CH-2024", "first_transfer_definition": "use_or_cancellation",
        "acquiring_parties": ["CH"], "purposes": ["ndc"], "quantity": 5000, "vintage_from": 2024, "vintage_to": 2025,
        "projects": [project.project_id], "entities": [str(reg.buyer_org.uid)], "authorisation_date": "2026-02-01",
    })
    controls.approve(actor=approver, uid=approval.uid, request_hash=approval.request_hash)
    notifications.deliver()
    [admin_note] = told(reg.admin, "authorisation_granted")
    assert admin_note.subject == domain.AUTHORISATION and links.link(admin_note.subject, admin_note.ref).endswith("/CI-A6-N1/")
    [dev_note] = told(reg.developer, "authorisation_granted")
    assert dev_note.subject == domain.PROJECT and dev_note.ref == project.project_id
    assert told(reg.buyer, "authorisation_granted")  # the authorised entity
    assert not told(approver, "authorisation_granted")  # the actor is not told of their own act
    assert not told(reg.other_developer, "authorisation_granted")

    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(reg, project, {2024: 1000})
    s = issuance.serial_start
    retired = units.retire(actor=reg.developer, from_account=reg.developer_account.identifier,
                           selection=Selection.build(ranges=[(s, s + 9)]), beneficiary="Town", purpose="voluntary",
                           idempotency_key="a6-use")
    notifications.deliver()
    [first] = told(reg.admin, "first_transfer_recorded")
    assert (first.ref, first.params["quantity"], first.params["authorisation"]) == (retired.identifier, 10, "CI-A6-N1")
    assert "CI-A6-N1" in messages.text(first.event, first.params)
    assert not told(reg.developer, "first_transfer_recorded")  # the developer retired them itself

    controls.approve(actor=approver, **_request(a6.request_revocation(actor=reg.admin, identifier="CI-A6-N1",
                                                                      reason="Host withdraws")))
    notifications.deliver()
    [revoked] = told(reg.developer, "authorisation_revoked")  # the entry names no project: found from the authorisation
    assert revoked.ref == project.project_id and "CI-A6-N1" in messages.text(revoked.event, revoked.params)
    assert told(reg.buyer, "authorisation_revoked") and told(reg.admin, "authorisation_revoked")


def _request(approval) -> dict:  # noqa: ANN001
    return {"uid": approval.uid, "request_hash": approval.request_hash}
