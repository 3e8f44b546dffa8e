"""The monitoring rules. Each looks at one completed transaction (or
issuance) with the history the database holds, and says what it saw, if
anything. Thresholds come from settings (TONNE_AML_*), per country."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models import Q, Sum

from tonne.controls.models import AccountLimit, TrustedAccount
from tonne.controls.rules import limits_in_force
from tonne.organisations.models import Account, Organisation, User
from tonne.projects.models import Project
from tonne.units.models import Issuance, Transaction, TransactionBlock, UnitBlock

Kind = Transaction.Kind
Finding = dict[str, Any]
DONE = Transaction.Status.COMPLETED


def _window(txn: Transaction, hours: float) -> tuple[dt.datetime, dt.datetime]:
    at = txn.completed_at or txn.created_at
    return at - dt.timedelta(hours=hours), at


def _moved(qs: Any) -> int:
    return int(qs.aggregate(q=Sum("quantity"))["q"] or 0)


def pass_through(txn: Transaction) -> Finding | None:
    """Units arrive and leave again within hours: the account is a conduit."""
    if txn.kind != Kind.TRANSFER or txn.from_account_id is None:
        return None
    since, until = _window(txn, settings.TONNE_AML_PASS_THROUGH_HOURS)
    done = Transaction.objects.filter(status=DONE, kind=Kind.TRANSFER, completed_at__gte=since, completed_at__lte=until)
    received = _moved(done.filter(to_account_id=txn.from_account_id))
    sent = _moved(done.filter(from_account_id=txn.from_account_id))
    if received >= settings.TONNE_AML_PASS_THROUGH_MIN and sent * 100 >= received * settings.TONNE_AML_PASS_THROUGH_PERCENT:
        return {"received": received, "sent": sent, "hours": settings.TONNE_AML_PASS_THROUGH_HOURS}
    return None


def circular_trading(txn: Transaction) -> Finding | None:
    """Units come back to an account they left not long ago."""
    if txn.kind != Kind.TRANSFER:
        return None
    since, at = _window(txn, settings.TONNE_AML_CIRCULAR_DAYS * 24)
    overlap = Q()
    for start, end in txn.blocks.values_list("serial_start", "serial_end"):
        overlap |= Q(serial_start__lte=end, serial_end__gte=start)
    if not overlap:
        return None
    earlier = (
        TransactionBlock.objects.filter(overlap)
        .filter(
            transaction__status=DONE,
            transaction__from_account_id=txn.to_account_id,
            transaction__completed_at__gte=since,
            transaction__completed_at__lte=at,
            transaction_id__lt=txn.pk,
        )
        .exclude(transaction_id=txn.pk)
        .values_list("transaction__identifier", flat=True)
        .first()
    )
    return {"left_in": earlier} if earlier else None


def new_account_velocity(txn: Transaction) -> Finding | None:
    """A young account already sends many transfers, or many units."""
    if txn.kind != Kind.TRANSFER or txn.from_account_id is None:
        return None
    account = Account.objects.get(pk=txn.from_account_id)
    at = txn.completed_at or txn.created_at
    if at - account.created_at > dt.timedelta(days=settings.TONNE_AML_NEW_ACCOUNT_DAYS):
        return None
    out = Transaction.objects.filter(status=DONE, kind=Kind.TRANSFER, from_account_id=account.pk,
                                     completed_at__gte=at - dt.timedelta(hours=24), completed_at__lte=at)
    count, quantity = out.count(), _moved(out)
    if count >= settings.TONNE_AML_NEW_ACCOUNT_TRANSFERS or quantity >= settings.TONNE_AML_NEW_ACCOUNT_QUANTITY:
        return {"age_days": (at - account.created_at).days, "transfers_24h": count, "quantity_24h": quantity}
    return None


def change_then_drain(txn: Transaction) -> Finding | None:
    """Soon after a change to who may act or where units may go (a new person,
    a new trusted account, new limits), most of the account leaves."""
    if txn.kind != Kind.TRANSFER or txn.from_account_id is None:
        return None
    since, at = _window(txn, settings.TONNE_AML_DRAIN_HOURS)
    account = Account.objects.get(pk=txn.from_account_id)
    changes = []
    if TrustedAccount.objects.filter(account=account, requested_at__gte=since, requested_at__lte=at).exists():
        changes.append("trusted_list")
    if AccountLimit.objects.filter(account=account, updated_at__gte=since, updated_at__lte=at).exists():
        changes.append("limits")
    if account.organisation_id and User.objects.filter(
        organisation_id=account.organisation_id, date_joined__gte=since, date_joined__lte=at
    ).exists():
        changes.append("new_user")
    if not changes:
        return None
    left = sum(b.quantity for b in UnitBlock.objects.filter(account=account))
    sent = _moved(Transaction.objects.filter(status=DONE, from_account=account, completed_at__gte=since,
                                             completed_at__lte=at))
    if sent and sent * 100 >= (sent + left) * settings.TONNE_AML_DRAIN_PERCENT:
        return {"changes": changes, "sent": sent, "left": left}
    return None


def structuring(txn: Transaction) -> Finding | None:
    """Several transfers just under the per-transfer limit."""
    if txn.kind != Kind.TRANSFER or txn.from_account_id is None:
        return None
    limit = limits_in_force(txn.from_account_id).per_transfer
    if not limit:
        return None
    floor = limit * settings.TONNE_AML_STRUCTURING_PERCENT // 100
    since, at = _window(txn, 24)
    near = Transaction.objects.filter(status=DONE, kind=Kind.TRANSFER, from_account_id=txn.from_account_id,
                                      completed_at__gte=since, completed_at__lte=at, quantity__gte=floor,
                                      quantity__lte=limit).count()
    if near >= settings.TONNE_AML_STRUCTURING_COUNT:
        return {"limit": limit, "near_limit_transfers_24h": near}
    return None


def status_conflict(txn: Transaction) -> Finding | None:
    """Units of a project that is not in good standing, or between holders
    that are not, moved."""
    conflicts = []
    projects = Project.objects.filter(issuances__in=txn.blocks.values("issuance_id")).distinct()
    for project in projects:
        if project.status in (Project.Status.ON_HOLD, Project.Status.REJECTED, Project.Status.WITHDRAWN):
            conflicts.append(f"project {project.project_id} is {project.status}")
    for account_id in (txn.from_account_id, txn.to_account_id):
        if account_id is None:
            continue
        account = Account.objects.select_related("organisation").filter(pk=account_id).first()
        org = account.organisation if account else None
        if org is not None and org.status != Organisation.Status.APPROVED:
            conflicts.append(f"holder {org.name} is {org.status}")
    return {"conflicts": conflicts} if conflicts else None


def issuance_anomaly(issuance: Issuance) -> Finding | None:
    """An issuance far above the project's own estimate for that year, or far
    above its earlier issuances."""
    factor = settings.TONNE_AML_ISSUANCE_FACTOR
    year_start, year_end = dt.date(issuance.vintage, 1, 1), dt.date(issuance.vintage, 12, 31)
    estimated = 0
    for est in issuance.project.estimations.filter(start_date__lte=year_end, end_date__gte=year_start):
        days = (est.end_date - est.start_date).days + 1
        inside = (min(est.end_date, year_end) - max(est.start_date, year_start)).days + 1
        estimated += est.unit_count * inside // max(days, 1)
    if estimated and issuance.quantity > estimated * factor:
        return {"quantity": issuance.quantity, "estimated": estimated, "factor": factor}
    earlier = list(
        Issuance.objects.filter(project_id=issuance.project_id, pk__lt=issuance.pk).values_list("quantity", flat=True)
    )
    if earlier:
        average = sum(earlier) / len(earlier)
        if issuance.quantity > average * factor:
            return {"quantity": issuance.quantity, "earlier_average": round(average), "factor": factor}
    return None


TRANSACTION_RULES: dict[str, Callable[[Transaction], Finding | None]] = {
    "pass_through": pass_through,
    "circular_trading": circular_trading,
    "new_account_velocity": new_account_velocity,
    "change_then_drain": change_then_drain,
    "structuring": structuring,
    "status_conflict": status_conflict,
}
