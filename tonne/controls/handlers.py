"""Who carries out what the controls decide but do not own: an approved
request of another app (issuance, Article 6 authorisations and imports,
trusted destinations), and what follows a waiting move of another app's
kind once it settles (an Article 6 export's transfer file). The controls
cannot import those apps (they stand above the controls); the registry's
wiring (`settings.TONNE_WIRING`, one module at the top that lists every
handler) names them. Waiting moves the controls settle themselves, through
the units service below them."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from tonne.controls.models import Approval
from tonne.organisations.models import User
from tonne.units.models import Transaction


class CarryOut(Protocol):
    """Do what an approved request asked, in the approval's transaction."""

    def __call__(self, approval: Approval, approver: User) -> None: ...


class IssuancePayload(Protocol):
    """What a second administrator approves when issuance of a report is asked."""

    def __call__(self, report_uid: object) -> dict[str, object]: ...


class Settled(Protocol):
    """What another app does once a move of its kind that waited settled (or failed), in that transaction."""

    def __call__(self, txn: Transaction) -> None: ...


@dataclass(frozen=True)
class Handlers:
    issuance_payload: IssuancePayload
    carry_out: Mapping[str, CarryOut] = field(default_factory=dict)  # by Approval.Action
    on_settled: Mapping[str, Settled] = field(default_factory=dict)  # by Transaction.Kind


@functools.cache
def handlers() -> Handlers:
    found = import_string(f"{settings.TONNE_WIRING}.CONTROLS")
    assert isinstance(found, Handlers)
    return found


def carry_out(approval: Approval, approver: User, now: dt.datetime) -> None:
    handler = handlers().carry_out.get(approval.action)
    if handler is not None:
        handler(approval, approver)


def settled(txn: Transaction) -> None:
    """A waiting move settled or failed: its kind's handler, if it has one."""
    handler = handlers().on_settled.get(txn.kind)
    if handler is not None:
        handler(txn)
