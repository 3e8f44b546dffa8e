"""Push sync to CAD Trust nodes. The ledger is the transactional outbox:
every change is a ledger entry written in the change's own transaction, and
each destination keeps a cursor over the ledger. A delivery stages the
current CAD Trust rows of whatever entries [cursor, upto) touched (PUT
/v2/project/xlsx and /v2/unit/xlsx, the CAD Trust import workbooks) and
commits them (POST /v2/staging/commit); only then does the cursor move.

A worker killed mid-delivery leaves the cursor where it was: the next run
sends the same records again, and since every row carries its CAD Trust id
the node updates rather than duplicates. One worker at a time delivers to a
destination (a lease on its row), so batches reach a node in ledger order."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Q

from tonne.cadt import formats, mapping, selectors
from tonne.cadt.models import SyncDelivery, SyncDestination
from tonne.core import clock, faults, outbound
from tonne.core.errors import RegistryError, ValidationFailed
from tonne.organisations.models import User
from tonne.organisations.services import require_registry_administrator

PROJECT_SHEETS = ("programs", "methodologies", "stakeholders", "labels", "projects", "projectMethodologies",
                  "validations", "verifications", "locations", "estimations", "ratings", "coBenefits")
UNIT_SHEETS = ("issuances", "units", "unitLabels")
MAX_BATCH_ENTRIES = 5000
# How long a worker may take over a delivery before another one takes it over.
# Short, and renewed while the delivery runs (a heartbeat): a crashed
# worker's batch is taken over within seconds, a slow node keeps its worker.
log = logging.getLogger("tonne.cadt")
LEASE = dt.timedelta(seconds=float(os.environ.get("TONNE_CADT_SYNC_LEASE_SECONDS", "15")))
TIMEOUT_SECONDS = 30
MAX_BACKOFF_SECONDS = 300


def backoff(attempts: int) -> dt.timedelta:
    """1 s, 2 s, 4 s … after each failure in a row, at most 5 minutes."""
    return dt.timedelta(seconds=min(2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


# -- destinations ------------------------------------------------------------------------


@transaction.atomic
def add_destination(*, actor: User | None, name: str, url: str, api_key: str = "", from_start: bool = False) -> SyncDestination:
    """Register a CAD Trust node. It receives changes from now on, or (from_start) the whole registry."""
    if actor is not None:
        require_registry_administrator(actor)
    name, url = (name or "").strip(), (url or "").strip().rstrip("/")
    if not name:
        raise ValidationFailed("FIELD_REQUIRED", "A CAD Trust node needs a name.", field="name")
    url = outbound.check_url(url, invalid="CADT_NODE_URL_INVALID")
    if SyncDestination.objects.filter(name=name).exists():
        raise ValidationFailed("CADT_NODE_EXISTS", f"A CAD Trust node named {name} is already configured.", field="name", details={"name": name})
    return SyncDestination.objects.create(
        name=name, url=url, api_key=api_key, cursor=0 if from_start else selectors.ledger_cursor(),
        created_at=clock.now(),
    )


# -- delivery ----------------------------------------------------------------------------


class DeliveryFailed(Exception):
    def __init__(self, message: str, calls: list[list[Any]]) -> None:
        super().__init__(message)
        self.calls = calls


@dataclass
class Outcome:
    destination: str
    from_seq: int
    to_seq: int
    delivered: bool
    records: int = 0
    error: str = ""


def _claim(destination_id: int, now: dt.datetime) -> tuple[SyncDestination, int] | None:
    """Take the lease on a due destination and fix the batch [cursor, upto)."""
    with transaction.atomic():
        dest = (
            SyncDestination.objects.select_for_update(skip_locked=True)
            .filter(pk=destination_id, enabled=True)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .first()
        )
        if dest is None:
            return None
        size = selectors.ledger_cursor()
        if dest.pending_upto is not None:
            upto = max(dest.pending_upto, min(size, dest.cursor + MAX_BATCH_ENTRIES))
        else:
            upto = min(size, dest.cursor + MAX_BATCH_ENTRIES)
        if upto <= dest.cursor:
            return None
        dest.pending_upto = upto
        dest.lease_until = now + LEASE
        dest.last_attempt_at = now
        dest.save(update_fields=["pending_upto", "lease_until", "last_attempt_at"])
        return dest, upto


def batch_workbooks(since: int, upto: int) -> tuple[bytes | None, bytes | None, int]:
    """The projects and units workbooks of this registry's rows touched by entries [since, upto)."""
    changes = selectors.changes_since(since, upto)
    if changes.scope.empty:
        return None, None, 0
    doc = mapping.v2_rows(changes.scope)
    sheets = formats.v2_sheets(doc)
    projects = [s for s in sheets if s[0] in PROJECT_SHEETS and s[2]]
    units = [s for s in sheets if s[0] in UNIT_SHEETS and s[2]]
    records = sum(len(s[2]) for s in projects + units)
    return (formats.to_xlsx(projects) if projects else None, formats.to_xlsx(units) if units else None, records)


def _multipart(field: str, filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = f"tonne-{uuid.uuid4().hex}"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
        f"Content-Type: {selectors.CONTENT_TYPES['xlsx']}\r\n\r\n"
    ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _call(dest: SyncDestination, method: str, path: str, body: bytes, content_type: str, delivery: str,
          calls: list[list[Any]]) -> None:
    headers = {"Content-Type": content_type, "X-Tonne-Delivery": delivery, "Accept": "application/json"}
    if dest.api_key:
        headers["x-api-key"] = dest.api_key
    try:
        answer = outbound.send(method, dest.url + path, body=body, headers=headers, timeout=TIMEOUT_SECONDS)
    except ValidationFailed:
        calls.append([method, path, None])
        raise DeliveryFailed(f"{method} {path}: address refused", calls) from None
    calls.append([method, path, answer.status])
    if not answer.ok:
        # The status only: a node's answer is never copied into last_error or the API.
        raise DeliveryFailed(f"{method} {path}: {answer.reason}", calls)


def deliver(dest: SyncDestination, upto: int) -> Outcome:
    """Stage then commit the batch [cursor, upto) on the node; record the outcome."""
    started = clock.now()
    since = dest.cursor
    delivery = f"{settings.TONNE_COUNTRY}:{dest.name}:{since}-{upto}"
    calls: list[list[Any]] = []
    records = 0
    try:
        projects, units, records = batch_workbooks(since, upto)
        if projects is not None:
            body, ctype = _multipart("xlsx", "projects.xlsx", projects)
            _call(dest, "PUT", "/v2/project/xlsx", body, ctype, delivery, calls)
        if units is not None:
            body, ctype = _multipart("xlsx", "units.xlsx", units)
            _call(dest, "PUT", "/v2/unit/xlsx", body, ctype, delivery, calls)
        faults.point("cadt.sync.staged")
        if projects is not None or units is not None:
            _call(dest, "POST", "/v2/staging/commit", b"{}", "application/json", delivery, calls)
        faults.point("cadt.sync.committed")
    except DeliveryFailed as exc:
        return _failed(dest, since, upto, str(exc), exc.calls, records, started)
    except RegistryError as exc:  # a row that differs from its ledger entry is not sent (cadt.mapping)
        return _failed(dest, since, upto, f"{exc.code}: {exc.message}", calls, records, started)
    with transaction.atomic():
        SyncDestination.objects.filter(pk=dest.pk, cursor=since).update(
            cursor=upto, pending_upto=None, lease_until=None, attempts=0, next_attempt_at=None, last_error="",
            last_success_at=clock.now(),
        )
        SyncDelivery.objects.create(
            destination=dest, from_seq=since, to_seq=upto, status=SyncDelivery.Status.DELIVERED, records=records,
            calls=calls, started_at=started, finished_at=clock.now(),
        )
    return Outcome(dest.name, since, upto, True, records)


def _failed(dest: SyncDestination, since: int, upto: int, error: str, calls: list[list[Any]], records: int,
            started: dt.datetime) -> Outcome:
    now = clock.now()
    with transaction.atomic():
        attempts = dest.attempts + 1
        SyncDestination.objects.filter(pk=dest.pk).update(
            attempts=attempts, next_attempt_at=now + backoff(attempts), last_error=error[:4000], lease_until=None,
        )
        SyncDelivery.objects.create(
            destination=dest, from_seq=since, to_seq=upto, status=SyncDelivery.Status.FAILED, records=records,
            calls=calls, error=error[:4000], started_at=started, finished_at=now,
        )
    return Outcome(dest.name, since, upto, False, records, error)


@contextmanager
def _heartbeat(destination_id: int, upto: int) -> Iterator[None]:
    """Renew the lease every third of it until the delivery ends."""
    done = threading.Event()

    def beat() -> None:
        try:
            while not done.wait(LEASE.total_seconds() / 3):
                try:
                    SyncDestination.objects.filter(pk=destination_id, pending_upto=upto).update(
                        lease_until=clock.now() + LEASE
                    )
                except DatabaseError:  # the next beat tries again; the lease is long enough for one miss
                    log.warning("could not renew the CAD Trust sync lease", exc_info=True)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name="tonne-cadt-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=LEASE.total_seconds())


def deliver_due(say: Callable[[str], None] | None = None, *, max_batches: int = 20) -> list[Outcome]:
    """What `tonne worker` runs: deliver every due batch of every enabled node."""
    outcomes: list[Outcome] = []
    for dest_id in SyncDestination.objects.filter(enabled=True).values_list("pk", flat=True):
        for _ in range(max_batches):
            claimed = _claim(dest_id, clock.now())
            if claimed is None:
                break
            dest, upto = claimed
            with _heartbeat(dest.pk, upto):
                outcome = deliver(dest, upto)
            outcomes.append(outcome)
            if say is not None:
                state = f"delivered {outcome.records} records" if outcome.delivered else f"failed: {outcome.error}"
                say(f"CAD Trust node {dest.name}: ledger {outcome.from_seq}-{outcome.to_seq} {state}")
            if not outcome.delivered:
                break
    return outcomes


# -- status ------------------------------------------------------------------------------


def status() -> list[dict[str, Any]]:
    """Lag and failures per node: entries not yet delivered, the age of the oldest one."""
    from tonne.ledger.models import LedgerEntry

    size = selectors.ledger_cursor()
    now = clock.now()
    out = []
    for dest in SyncDestination.objects.all():
        oldest = LedgerEntry.objects.filter(seq=dest.cursor).values_list("created_at", flat=True).first()
        out.append(
            {
                "name": dest.name,
                "url": dest.url,
                "enabled": dest.enabled,
                "cursor": dest.cursor,
                "ledger_size": size,
                "pending_entries": max(size - dest.cursor, 0),
                "lag_seconds": round((now - oldest).total_seconds(), 3) if oldest and size > dest.cursor else 0.0,
                "attempts": dest.attempts,
                "next_attempt_at": dest.next_attempt_at,
                "last_error": dest.last_error,
                "last_attempt_at": dest.last_attempt_at,
                "last_success_at": dest.last_success_at,
                "recent": [
                    {"from_seq": d.from_seq, "to_seq": d.to_seq, "status": d.status, "records": d.records,
                     "error": d.error, "started_at": d.started_at, "finished_at": d.finished_at}
                    for d in dest.deliveries.all()[:10]
                ],
            }
        )
    return json.loads(json.dumps(out, default=str))
