"""Deciding an item of a review queue (an AML alert, a sanctions screening
hit): the registry administrator's decision with a reason, taken once,
under a row lock, and written to the audit log."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.db import models, transaction

from tonne.audit import domain
from tonne.audit.models import AuditEvent
from tonne.audit.services import record
from tonne.core import clock
from tonne.core.errors import Conflict, NotFound
from tonne.organisations.models import User
from tonne.organisations.services import require_registry_administrator

Item = TypeVar("Item", bound=models.Model)


def decide(
    *,
    actor: User,
    model: type[Item],
    pk: Any,
    status: str,
    note: str,
    choices: Iterable[str],
    open_status: str,
    codes: tuple[str, str, str],
    event: str,
    noun: str,
    on_decided: Callable[[Item], None] | None = None,
) -> Item:
    """Set `status` (one of `choices`) on the open item `pk` of `model`, with
    who, when and why. `codes` name the refusals: a decision not in `choices`,
    no such item, an item already decided. `on_decided` adds what the decision
    itself changes (a hold released) before the item is saved."""
    require_registry_administrator(actor)
    invalid, missing, decided = codes
    note = domain.check_review_decision(status=status, note=note, choices=choices, invalid_code=invalid)
    with transaction.atomic():
        item: Any = model._default_manager.select_for_update().filter(pk=pk).first()
        if item is None:
            raise NotFound(missing, f"No such {noun}.")
        if item.status != open_status:
            raise Conflict(decided, f"This {noun} was already {item.status}.")
        item.status = status
        item.decided_by = actor
        item.decided_at = clock.now()
        item.note = note
        if on_decided is not None:
            on_decided(item)
        item.save()
        detail = {"note": note}
        if hasattr(item, "rule"):
            detail["rule"] = item.rule
        record(AuditEvent.Category.SECURITY, f"{event}_{status}", actor=actor, target=str(item.pk), detail=detail)
    return item
