"""The controls, as the unit-moving path sees them.

The controls (freezes, limits, the holders' standing, four-eyes approval,
delayed settlement) sit above units: they read transactions and blocks.
The move path still asks them, under the account lock, whether a move may
proceed; it does so through this typed port, which names exactly the
operations it needs. The registry's wiring (tonne/wiring.py) installs the
controls' implementation once at start-up; asking before that is an error,
never a move that skips its controls."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured

from tonne.organisations.models import Account, User
from tonne.units.domain import Decision, Flags, MoveFacts
from tonne.units.models import Transaction


@dataclass(frozen=True)
class Waiting:
    """What the controls kept of a waiting move: the serials chosen when it
    was requested, and its details (reason, beneficiary…)."""

    ranges: list[tuple[int, int]]
    details: dict[str, str]


class ControlsPort(Protocol):
    def active_freeze_sql(self) -> str:
        """An SQL condition: the freeze aliased `f` is in force at the time
        given as its one parameter. The store composes it into its own
        statements (cached), so held-back units cost no extra round trip."""
        ...

    def flags_statement(self, source: str, target: str, at: dt.datetime) -> tuple[str, list[Any]]:
        """The one statement (and its parameters) saying which rules may refuse
        a move between these account identifiers; queued behind the lock."""
        ...

    def read_flags(self, kind: str, source: Account, row: Any) -> Flags:
        """The rules that row of the flags statement says may refuse."""
        ...

    def decide_move(self, facts: MoveFacts, flags: Flags | None) -> Decision:
        """Refuse, wait or proceed (only the flagged rules run in detail; all
        of them when `flags` is None)."""
        ...

    def decide_settlement(self, facts: MoveFacts) -> Decision:
        """At settlement, the rules that may have changed since the request."""
        ...

    def wait(self, decision: Decision, txn: Transaction, facts: MoveFacts, *, actor: User, details: dict[str, str]) -> None:
        """Keep what the controls need of a move that waits (`txn`, written by units)."""
        ...

    def take_waiting(self, txn: Transaction) -> Waiting:
        """What a waiting move chose, its serials no longer held for it."""
        ...

    def record_settlement(self, txn: Transaction, *, failure: str = "") -> None:
        """The controls' record of a waiting move that settled, or failed with `failure`."""
        ...


_installed: ControlsPort | None = None


def install(port: ControlsPort) -> None:
    global _installed
    _installed = port


def controls() -> ControlsPort:
    if _installed is None:
        raise ImproperlyConfigured(
            "The controls are not installed in the move path: tonne.ops must be in INSTALLED_APPS "
            "(it runs the wiring's install() at start-up)."
        )
    return _installed
