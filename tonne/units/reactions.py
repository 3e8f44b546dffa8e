"""What higher layers do when units are issued or reach a terminal account
(Article 6 today). Units cannot import those apps; the registry's wiring
(`settings.TONNE_WIRING`, one module at the top that lists every handler)
says who reacts, and units calls them in order."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from tonne.organisations.models import Account
from tonne.units.domain import SerialRange
from tonne.units.models import Issuance


class OnIssuance(Protocol):
    """Inside the issuance's transaction; returns what to add to its ledger entry."""

    def __call__(
        self, issuance: Issuance, holder_range: SerialRange | None, transaction_ref: str, now: dt.datetime
    ) -> dict[str, Any]: ...


class OnTerminalMove(Protocol):
    """Inside the move's transaction, before its writes (the move path's cursor)."""

    def __call__(
        self, cursor: Any, kind: str, target: Account, moved: list[tuple[int, int, int]], transaction_ref: str,
        now: dt.datetime, details: Mapping[str, str],
    ) -> None: ...


@dataclass(frozen=True)
class Reactions:
    on_issuance: Sequence[OnIssuance] = ()
    on_terminal_move: Sequence[OnTerminalMove] = ()


@functools.cache
def reactions() -> Reactions:
    found = import_string(f"{settings.TONNE_WIRING}.UNITS")
    assert isinstance(found, Reactions)
    return found
