"""Webhooks: the registry's change feed for other consumers (exchanges, MRV
systems, dashboards). Each ledger entry is an event; a subscription (URL +
secret, optional event filter) gets every matching event, in ledger order,
POSTed as JSON and signed with HMAC-SHA256:

    X-Tonne-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>

Failed deliveries are retried with backoff (1 s doubling to 1 h) up to
MAX_ATTEMPTS; every attempt's outcome is kept in the delivery log."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction

from tonne.cadt.models import WebhookDelivery, WebhookSubscription
from tonne.core import clock, outbound
from tonne.core.errors import NotFound, ValidationFailed
from tonne.ledger import selectors as ledger_selectors
from tonne.ledger.models import LedgerEntry
from tonne.organisations.models import User
from tonne.organisations.services import require_registry_administrator

MAX_ATTEMPTS = 12
MAX_BACKOFF_SECONDS = 3600
LEASE = dt.timedelta(seconds=60)
TIMEOUT_SECONDS = 15
QUEUE_BATCH = 500


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str, header: str, body: bytes, *, tolerance_seconds: int = 300,
                     now: float | None = None) -> bool:
    """What a consumer does: refuse a timestamp more than `tolerance_seconds`
    (5 min) away from now (a replayed old event), recompute, compare in constant time."""
    parts = dict(p.split("=", 1) for p in (header or "").split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    current = clock.now().timestamp() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, timestamp, body).split(",v1=", 1)[1]
    return hmac.compare_digest(expected.encode(), parts.get("v1", "").encode())


@transaction.atomic
def subscribe(
    *, actor: User, url: str, secret: str = "", events: list[str] | None = None, from_start: bool = False
) -> WebhookSubscription:
    require_registry_administrator(actor)
    url = (url or "").strip()
    url = outbound.check_url(url, invalid="WEBHOOK_URL_INVALID")
    events = [e.strip() for e in (events or []) if e and e.strip()]
    if any(len(e) > 40 for e in events):
        raise ValidationFailed("WEBHOOK_EVENTS_INVALID", "Event names are ledger entry kinds or their prefixes.", field="events")
    secret = secret or secrets.token_urlsafe(32)
    if len(secret) < 16:
        raise ValidationFailed("WEBHOOK_SECRET_TOO_SHORT", "A webhook secret has at least 16 characters.", field="secret")
    start = 0 if from_start else LedgerEntry.objects.count()
    return WebhookSubscription.objects.create(
        uid=uuid.uuid4(), url=url, secret=secret, events=events, cursor=start, created_by=actor, created_at=clock.now()
    )


@transaction.atomic
def unsubscribe(*, actor: User, subscription: str) -> None:
    require_registry_administrator(actor)
    updated = WebhookSubscription.objects.filter(uid=subscription).update(active=False) if _is_uuid(subscription) else 0
    if not updated:
        raise NotFound("WEBHOOK_NOT_FOUND", "No such webhook subscription.")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(str(text))
    except ValueError:
        return False
    return True


def _wanted(subscription: WebhookSubscription, kind: str) -> bool:
    return not subscription.events or any(kind == e or (e.endswith(".") and kind.startswith(e)) for e in subscription.events)


def event_body(entry: LedgerEntry) -> bytes:
    """The event of an entry, as the ledger publishes it: private fields
    committed to (an entry from before version 2 too), never as stored."""
    body = json.loads(ledger_selectors.public_body(entry))
    event = {
        "id": f"{settings.TONNE_LEDGER_ORIGIN}/{entry.seq}",
        "seq": entry.seq,
        "kind": entry.kind,
        "at": body.get("at"),
        "transaction": entry.transaction_ref or None,
        "leaf_hash": entry.leaf_hash,
        "data": body.get("data"),
    }
    return json.dumps(event, sort_keys=True, separators=(",", ":")).encode()


def enqueue_due() -> int:
    """Queue each active subscription's new events (ledger entries past its cursor)."""
    queued = 0
    now = clock.now()
    for sub_id in WebhookSubscription.objects.filter(active=True).values_list("pk", flat=True):
        with transaction.atomic():
            sub = WebhookSubscription.objects.select_for_update(skip_locked=True).filter(pk=sub_id).first()
            if sub is None:
                continue
            entries = list(LedgerEntry.objects.filter(seq__gte=sub.cursor).order_by("seq")[:QUEUE_BATCH])
            if not entries:
                continue
            rows = [
                WebhookDelivery(
                    subscription=sub, event_id=f"{settings.TONNE_LEDGER_ORIGIN}/{e.seq}", seq=e.seq, kind=e.kind,
                    payload=event_body(e).decode(), next_attempt_at=now, created_at=now,
                )
                for e in entries
                if _wanted(sub, e.kind)
            ]
            WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
            sub.cursor = entries[-1].seq + 1
            sub.save(update_fields=["cursor"])
            queued += len(rows)
    return queued


def _published(delivery: WebhookDelivery) -> bytes:
    """The event to send, rendered again from its entry: one queued before
    events were published with their private fields committed to goes out
    (and is kept) published all the same."""
    entry = LedgerEntry.objects.filter(seq=delivery.seq).first()
    if entry is None:  # the ledger is append-only: only a damaged database lacks it
        return delivery.payload.encode()
    body = event_body(entry)
    if body.decode() != delivery.payload:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(payload=body.decode())
    return body


def _post(sub: WebhookSubscription, delivery: WebhookDelivery) -> tuple[int | None, str]:
    body = _published(delivery)
    timestamp = int(clock.now().timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Tonne-Webhooks/1",
        "X-Tonne-Event": delivery.kind,
        "X-Tonne-Delivery": delivery.event_id,
        "X-Tonne-Signature": sign(sub.secret, timestamp, body),
    }
    try:
        answer = outbound.send("POST", sub.url, body=body, headers=headers, timeout=TIMEOUT_SECONDS, max_bytes=0)
    except ValidationFailed:
        return None, "address refused"  # the host now resolves to an internal address
    return answer.status, "" if answer.ok else answer.reason


def deliver_due(say: Callable[[str], None] | None = None, *, limit: int = 200) -> int:
    """Send due events, oldest first; a subscription whose event fails waits
    (its later events stay queued) so that each consumer sees ledger order."""
    enqueue_due()
    sent = 0
    now = clock.now()
    blocked: set[int] = set()
    due = list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, subscription__active=True)
        .select_related("subscription")
        .order_by("subscription_id", "seq")[:limit]
    )
    for delivery in due:
        if delivery.subscription_id in blocked:
            continue
        if delivery.next_attempt_at > now:
            blocked.add(delivery.subscription_id)
            continue
        # Claim it: another worker skips it while the lease runs.
        claimed = WebhookDelivery.objects.filter(
            pk=delivery.pk, status=WebhookDelivery.Status.PENDING, next_attempt_at=delivery.next_attempt_at
        ).update(next_attempt_at=now + LEASE)
        if not claimed:
            blocked.add(delivery.subscription_id)
            continue
        status, error = _post(delivery.subscription, delivery)
        attempts = delivery.attempts + 1
        if status is not None and 200 <= status < 300:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=WebhookDelivery.Status.DELIVERED, attempts=attempts, response_status=status, last_error="",
                delivered_at=clock.now(),
            )
            sent += 1
            continue
        gave_up = attempts >= MAX_ATTEMPTS
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDelivery.Status.FAILED if gave_up else WebhookDelivery.Status.PENDING,
            attempts=attempts, response_status=status, last_error=error or f"HTTP {status}",
            next_attempt_at=clock.now() + backoff(attempts),
        )
        if not gave_up:
            blocked.add(delivery.subscription_id)
        if say is not None:
            say(f"webhook {delivery.subscription.url} event {delivery.seq}: {error or status}")
    return sent


def delivery_log(subscription: WebhookSubscription, limit: int = 50) -> list[dict[str, Any]]:
    return [
        {"event_id": d.event_id, "seq": d.seq, "kind": d.kind, "status": d.status, "attempts": d.attempts,
         "response_status": d.response_status, "last_error": d.last_error, "next_attempt_at": d.next_attempt_at,
         "delivered_at": d.delivered_at, "created_at": d.created_at}
        for d in subscription.deliveries.order_by("-seq")[:limit]
    ]
