"""Running the monitoring rules over what completed since the last run
(by `tonne worker`) and the review queue. A hold an alert asks for is a
controls hold (controls.services.place_hold): the move path reads only that."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from tonne.aml import domain, rules
from tonne.aml.models import AmlAlert, AmlCursor
from tonne.audit import review
from tonne.audit.models import AuditEvent
from tonne.audit.services import record
from tonne.controls import services as controls
from tonne.core import clock
from tonne.core.errors import NotFound
from tonne.ledger.services import append_entry
from tonne.organisations.models import Account, User
from tonne.organisations.services import require_registry_administrator
from tonne.units.models import Issuance, Transaction

BATCH = 500  # at most per worker round
STEP = 50  # per transaction


def _raise(rule: str, finding: dict[str, Any], *, txn: Transaction | None = None, issuance: Issuance | None = None,
           account_id: int | None = None, organisation_id: int | None = None) -> AmlAlert | None:
    hold = domain.holds(rule, account_id, settings.TONNE_AML_HOLD_RULES)
    try:
        with transaction.atomic():
            alert = AmlAlert.objects.create(
                rule=rule, transaction=txn, issuance=issuance, account_id=account_id, organisation_id=organisation_id,
                detail=finding, hold=hold, created_at=clock.now(),
            )
            if hold:
                assert account_id is not None
                controls.place_hold(account_id=account_id, alert_id=alert.pk, rule=rule)
            _state_raised(alert)
    except IntegrityError:  # already raised for this transaction
        return None
    record(AuditEvent.Category.SECURITY, f"aml.{rule}", target=txn.identifier if txn else str(issuance.uid if issuance else ""),
           detail={**finding, "hold": hold})
    return alert


def _state_raised(alert: AmlAlert) -> None:
    """The ledger states each alert (its hold decides whether units may leave
    the account); verify holds the row to it."""
    account = alert.account.identifier if alert.account is not None else None
    organisation = str(alert.organisation.uid) if alert.organisation is not None else None
    append_entry(kind="aml.alert_raised", actor=None, data={
        "alert": alert.pk, "rule": alert.rule, "account": account, "hold": alert.hold, "organisation": organisation,
    })


def _state_status(alert: AmlAlert, actor: User) -> None:
    append_entry(kind="aml.alert_status", actor=actor, data={
        "alert": alert.pk, "status": alert.status, "hold": alert.hold,
        "decided_by": alert.decided_by.username if alert.decided_by is not None else None,
    })


def scan() -> list[AmlAlert]:
    """Apply every rule to the transactions and issuances completed since the
    last scan: up to BATCH of each, STEP at a time, each step its own short
    transaction, so that moves never wait long for the write lock (SQLite)
    or the cursor's row."""
    raised: list[AmlAlert] = []
    for _ in range(BATCH // STEP):
        alerts, more = _scan_step(STEP)
        raised.extend(alerts)
        if not more:
            break
    return raised


def _scan_step(size: int) -> tuple[list[AmlAlert], bool]:
    """One step; returns its alerts and whether more may be waiting."""
    raised: list[AmlAlert] = []
    found: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    with transaction.atomic():
        AmlCursor.objects.get_or_create(pk=1)
        cursor = AmlCursor.objects.select_for_update().get(pk=1)
        txns = list(
            Transaction.objects.filter(pk__gt=cursor.last_transaction_id, status=Transaction.Status.COMPLETED)
            .exclude(kind__in=domain.UNSCANNED_KINDS)
            .order_by("pk")[:size]
        )
        # Waiting transactions complete later, in place: the cursor only passes
        # what is no longer waiting.
        waiting = Transaction.objects.filter(
            pk__gt=cursor.last_transaction_id,
            status__in=domain.WAITING_STATUSES,
        ).order_by("pk").values_list("pk", flat=True).first()
        for txn in txns:
            if waiting is not None and txn.pk > waiting:
                txns = []  # the rest waits for that transaction: nothing more this round
                break
            for rule, check in rules.TRANSACTION_RULES.items():
                finding = check(txn)
                if finding is not None:
                    account_id = domain.alerted_account(rule, txn.from_account_id, txn.to_account_id)
                    account = Account.objects.filter(pk=account_id).first() if account_id else None
                    found.append((rule, finding, {"txn": txn, "account_id": account_id,
                                                  "organisation_id": account.organisation_id if account else None}))
            cursor.last_transaction_id = txn.pk
        issuances = list(
            Issuance.objects.filter(pk__gt=cursor.last_issuance_id).select_related("project").order_by("pk")[:size]
        )
        for issuance in issuances:
            finding = rules.issuance_anomaly(issuance)
            if finding is not None:
                found.append(("issuance_anomaly", finding, {"issuance": issuance,
                                                            "organisation_id": issuance.project.developer_id}))
            cursor.last_issuance_id = issuance.pk
        cursor.save()
        # Alerts are written last: each is a ledger entry, and the ledger head's
        # lock, once taken, is held to COMMIT; every move waits on it meanwhile.
        for rule, finding, about in found:
            alert = _raise(rule, finding, **about)
            if alert:
                raised.append(alert)
    return raised, len(txns) == size or len(issuances) == size


def decide(*, actor: User, alert_id: int, status: str, note: str) -> AmlAlert:
    """Dismiss (the hold goes) or confirm (the hold stays until the account is frozen or released)."""

    def release(alert: AmlAlert) -> None:
        if alert.status == AmlAlert.Status.DISMISSED:
            alert.hold = False
            controls.release_hold(alert_id=alert.pk, actor=actor)
        _state_status(alert, actor)

    return review.decide(
        actor=actor, model=AmlAlert, pk=alert_id, status=status, note=note,
        choices=(AmlAlert.Status.DISMISSED, AmlAlert.Status.CONFIRMED), open_status=AmlAlert.Status.OPEN,
        codes=("ALERT_DECISION_INVALID", "ALERT_NOT_FOUND", "ALERT_DECIDED"), event="aml.alert", noun="alert",
        on_decided=release,
    )


def release_hold(*, actor: User, alert_id: int, note: str) -> AmlAlert:
    require_registry_administrator(actor)
    with transaction.atomic():
        alert = AmlAlert.objects.select_for_update().filter(pk=alert_id).first()
        if alert is None:
            raise NotFound("ALERT_NOT_FOUND", "No such alert.")
        alert.hold = False
        alert.save(update_fields=["hold"])
        controls.release_hold(alert_id=alert.pk, actor=actor)
        _state_status(alert, actor)
        record(AuditEvent.Category.SECURITY, "aml.hold_released", actor=actor, target=str(alert.pk), detail={"note": note})
    return alert
