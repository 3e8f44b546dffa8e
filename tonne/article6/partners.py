"""Whom a received transfer file may come from: the partner registries'
list, which stands above Article 6 (tonne.linkage) and is installed here by
the registry's wiring at start-up. Nothing is accepted from a registry or a
key not on it; with none installed, nothing is accepted at all."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from tonne.core.errors import ValidationFailed


@dataclass(frozen=True)
class Sender:
    """The partner whose key in force signed a note."""

    registry: str
    party: str
    verifier_key: str


class PartnerList(Protocol):
    def sender_of(self, signed: str, at: dt.datetime) -> Sender:
        """The partner that signed `signed` with a key in force at `at`, or a refusal with its code."""
        ...


class NoPartners:
    def sender_of(self, signed: str, at: dt.datetime) -> Sender:
        raise ValidationFailed("PARTNER_KEY_UNKNOWN", "This registry has no partner registries: nothing is accepted.")


_installed: PartnerList = NoPartners()


def install(partners: PartnerList) -> None:
    global _installed
    _installed = partners


def partners() -> PartnerList:
    return _installed
