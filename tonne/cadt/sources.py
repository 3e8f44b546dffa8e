"""Records of other registries that the CAD Trust exports carry beside this registry's own.

An observer installation holds records harmonised from other registries'
exports (the observer app, a layer above this one). Such an app supplies them
through this port, installed by the registry's wiring (`tonne/wiring.py`), so
that a full CAD Trust export (v1 and v2) and the totals count them, each row
naming the registry it came from. Nothing is installed by default: a registry
that observes no other registry exports only its own records."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from tonne.cadt.schema import V1, V2


@dataclass(frozen=True)
class SourceTotals:
    """One source registry's units, as it publishes them."""

    registry: str  # the source's name, e.g. "Verra"
    projects: int
    issued: int
    retired: int
    cancelled: int


class SourceRegistry(Protocol):
    """What a supplier of other registries' records provides (rows in CAD Trust's own field names)."""

    def cadt_rows(self, version: str) -> dict[str, Iterable[dict[str, Any]]]:
        """Rows by CAD Trust table: v1 "projects" and "units"; v2 "project", "location", "issuance", "unit"."""
        ...

    def totals(self) -> list[SourceTotals]:
        """Per source registry: projects and units issued, retired and cancelled."""
        ...


_SOURCES: list[SourceRegistry] = []


def install(*sources: SourceRegistry) -> None:
    """At start-up (the wiring): the suppliers whose records the exports carry. Replaces any installed before."""
    _SOURCES[:] = sources


def installed() -> tuple[SourceRegistry, ...]:
    return tuple(_SOURCES)


def rows(version: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every installed source's rows as (table, row), for the given CAD Trust version."""
    if version not in (V1, V2):
        raise ValueError(f"CAD Trust version {version!r}")
    for source in _SOURCES:
        for table, found in source.cadt_rows(version).items():
            for row in found:
                yield table, row


def extend(version: str, doc: dict[str, list[dict[str, Any]]]) -> None:
    """Add the sources' rows to a full export document (the exporter's one call; unknown tables are refused)."""
    for table, row in rows(version):
        if table not in doc:
            raise ValueError(f"a source supplied rows of {table!r}, which the {version} export has no place for")
        doc[table].append(row)


def totals() -> list[SourceTotals]:
    """The totals of every source registry, in the order the sources were installed."""
    return [t for source in _SOURCES for t in source.totals()]
