"""Webhooks: subscriptions, HMAC-SHA256-signed events in ledger order, retries, the delivery log."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from tonne import testing
from tonne.cadt import webhooks
from tonne.cadt.models import WebhookDelivery, WebhookSubscription
from tonne.cadt.standin import StandInNode
from tonne.core import clock
from tonne.core.errors import PermissionDenied, ValidationFailed
from tonne.core.tests.test_api_core import API, assert_problem, bearer
from tonne.organisations.models import ApiToken
from tonne.units import services as units
from tonne.units.domain import Selection

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_outbound")]
SECRET = "a-long-enough-webhook-secret"


class Receiver:
    def __init__(self) -> None:
        self.events: list[tuple[dict, bytes]] = []
        self.fail_next: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.fail_next.pop(0) if receiver.fail_next else 204
                if status < 300:
                    receiver.events.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _move(reg: testing.Registry, n: int) -> None:
    issuance = reg.extra["issuances"][1]
    units.transfer(
        actor=reg.developer, from_account=reg.developer_account.identifier, to_account=reg.buyer_account.identifier,
        selection=Selection.build(ranges=[(issuance.serial_start + n, issuance.serial_start + n)]),
        idempotency_key=f"wh-{n}",
    )


def test_events_are_signed_and_in_ledger_order(cadt_reg: testing.Registry, receiver: Receiver) -> None:
    sub = webhooks.subscribe(actor=cadt_reg.admin, url=receiver.url, secret=SECRET, events=["units."])
    _move(cadt_reg, 0)
    _move(cadt_reg, 1)
    assert webhooks.deliver_due() == 2
    seqs = []
    for headers, body in receiver.events:
        assert webhooks.verify_signature(SECRET, headers["x-tonne-signature"], body)
        assert not webhooks.verify_signature("another-secret-of-length", headers["x-tonne-signature"], body)
        assert not webhooks.verify_signature(SECRET, headers["x-tonne-signature"], body + b" ")
        event = json.loads(body)
        assert event["kind"] == headers["x-tonne-event"] == "units.transfer"
        assert event["id"] == headers["x-tonne-delivery"]
        seqs.append(event["seq"])
    assert seqs == sorted(seqs)
    assert webhooks.deliver_due() == 0  # delivered once
    log = webhooks.delivery_log(sub)
    assert [entry["status"] for entry in log] == ["delivered", "delivered"]


def test_failed_events_are_retried_with_backoff_and_order_is_kept(cadt_reg: testing.Registry, receiver: Receiver) -> None:
    webhooks.subscribe(actor=cadt_reg.admin, url=receiver.url, secret=SECRET, events=["units.transfer"])
    _move(cadt_reg, 0)
    _move(cadt_reg, 1)
    receiver.fail_next = [500]
    start = clock.now()
    clock.freeze(start)
    assert webhooks.deliver_due() == 0  # the first failed; the second waits behind it
    first, second = WebhookDelivery.objects.order_by("seq")
    assert first.attempts == 1 and first.response_status == 500 and first.next_attempt_at == start + dt.timedelta(seconds=1)
    assert second.attempts == 0
    clock.freeze(start + dt.timedelta(seconds=1))
    assert webhooks.deliver_due() == 2
    assert [json.loads(b)["seq"] for _, b in receiver.events] == [first.seq, second.seq]


def test_delivery_gives_up_after_the_last_retry(cadt_reg: testing.Registry, receiver: Receiver) -> None:
    webhooks.subscribe(actor=cadt_reg.admin, url=receiver.url, secret=SECRET, events=["units.transfer"])
    _move(cadt_reg, 0)
    receiver.fail_next = [502] * webhooks.MAX_ATTEMPTS
    moment = clock.now()
    for _ in range(webhooks.MAX_ATTEMPTS):
        clock.freeze(moment)
        webhooks.deliver_due()
        moment += dt.timedelta(hours=2)
    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.status == "failed" and delivery.attempts == webhooks.MAX_ATTEMPTS


def test_subscription_rules(cadt_reg: testing.Registry, receiver: Receiver) -> None:
    with pytest.raises(PermissionDenied):
        webhooks.subscribe(actor=cadt_reg.developer, url=receiver.url)
    with pytest.raises(ValidationFailed) as exc:
        webhooks.subscribe(actor=cadt_reg.admin, url="gopher://x")
    assert exc.value.code == "WEBHOOK_URL_INVALID"
    with pytest.raises(ValidationFailed) as exc:
        webhooks.subscribe(actor=cadt_reg.admin, url=receiver.url, secret="short")
    assert exc.value.code == "WEBHOOK_SECRET_TOO_SHORT"
    sub = webhooks.subscribe(actor=cadt_reg.admin, url=receiver.url)
    assert len(sub.secret) >= 32  # made for the subscriber
    webhooks.unsubscribe(actor=cadt_reg.admin, subscription=str(sub.uid))
    _move(cadt_reg, 0)
    assert webhooks.deliver_due() == 0 and receiver.events == []


def test_webhooks_and_sync_over_http(cadt_reg: testing.Registry, receiver: Receiver, client: Client) -> None:
    admin = bearer(cadt_reg.admin, scope=ApiToken.Scope.ADMIN)
    created = client.post(f"{API}/cadt/webhooks", {"url": receiver.url, "events": ["units."]},
                          content_type="application/json", headers=admin)
    assert created.status_code == 201 and len(created.json()["secret"]) >= 16
    uid = created.json()["uid"]
    listed = client.get(f"{API}/cadt/webhooks", headers=admin).json()
    assert listed[0]["uid"] == uid and "secret" not in listed[0]
    _move(cadt_reg, 0)
    webhooks.deliver_due()
    log = client.get(f"{API}/cadt/webhooks/{uid}/deliveries", headers=admin).json()
    assert log[0]["status"] == "delivered" and log[0]["kind"] == "units.transfer"
    assert_problem(client.get(f"{API}/cadt/webhooks/not-a-uid/deliveries", headers=admin), 404, "WEBHOOK_NOT_FOUND")
    assert client.delete(f"{API}/cadt/webhooks/{uid}", headers=admin).status_code == 204
    assert WebhookSubscription.objects.get().active is False
    with StandInNode() as node:
        added = client.post(f"{API}/cadt/sync/nodes", {"name": "main", "url": node.url, "from_start": True},
                            content_type="application/json", headers=admin)
        assert added.status_code == 201 and added.json()["pending_entries"] > 0
        status = client.get(f"{API}/cadt/sync", headers=admin).json()
        assert status[0]["name"] == "main" and status[0]["lag_seconds"] >= 0
    # Denials.
    assert_problem(client.get(f"{API}/cadt/sync"), 401, "NOT_AUTHENTICATED")
    session = Client()
    session.force_login(cadt_reg.developer)
    assert_problem(session.get(f"{API}/cadt/sync"), 403, "NOT_REGISTRY_ADMINISTRATOR")
    assert_problem(session.post(f"{API}/cadt/webhooks", {"url": receiver.url}, content_type="application/json"),
                   403, "NOT_REGISTRY_ADMINISTRATOR")
    reader = bearer(cadt_reg.admin, scope=ApiToken.Scope.READ)
    assert_problem(client.post(f"{API}/cadt/webhooks", {"url": receiver.url}, content_type="application/json",
                               headers=reader), 403, "TOKEN_SCOPE_INSUFFICIENT")
    assert WebhookSubscription.objects.count() == 1


def test_events_are_sent_as_published_never_with_private_fields(db, receiver: Receiver) -> None:
    """Entries written before version 2 name users and private fields in the
    clear in the table; their events, like every other, carry them committed."""
    from tonne.ledger import domain, openings
    from tonne.ledger.models import LedgerEntry

    with pytest.MonkeyPatch.context() as patch:  # as an older Tonne wrote its entries
        patch.setattr(domain, "ENTRY_VERSION", 1)
        patch.setattr(openings, "conceal", lambda kind, data: (data, []))
        patch.setattr(openings, "actor_name", domain.actor_ref)
        reg = testing.build_registry("hook")
    openings.reset()
    try:
        sub = webhooks.subscribe(actor=reg.admin, url=receiver.url, secret=SECRET, events=["user.", "account."],
                                 from_start=True)
        webhooks.enqueue_due()
        # A delivery queued by an older Tonne kept the entry as stored: it goes out published too.
        stored = LedgerEntry.objects.filter(kind="user.created").order_by("seq").first()
        assert stored is not None and reg.root.username in stored.body
        WebhookDelivery.objects.filter(subscription=sub, seq=stored.seq).update(payload=stored.body)
        testing.make_user(reg.buyer_org, "hook-newcomer", actor=reg.admin)  # a version 2 entry
        assert webhooks.deliver_due() > 0
        bodies = [body.decode() for _headers, body in receiver.events]
        assert len(bodies) == LedgerEntry.objects.filter(kind__startswith="user.").count() + \
            LedgerEntry.objects.filter(kind__startswith="account.").count()
        for user in (reg.root, reg.admin, reg.developer, reg.buyer):
            assert not any(f'"{user.username}"' in body for body in bodies), user.username
        assert not any("hook-newcomer" in body for body in bodies)
        opened = [json.loads(body)["data"] for body in bodies if json.loads(body)["kind"] == "account.opened"]
        held = [data for data in opened if data["organisation"] is not None]  # not the registry's own accounts
        assert held and all(data["organisation"].startswith("c:") and data["name"].startswith("c:") for data in held)
        assert all(d.payload == body for d, body in zip(
            WebhookDelivery.objects.filter(subscription=sub).order_by("seq"), bodies, strict=True))
    finally:
        openings.reset()
