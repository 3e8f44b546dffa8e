"""The harmonised shape every registry's rows are mapped into."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from tonne.observer.domain.serials import Serials

REGISTRIES = {
    "cdm": "UNFCCC CDM registry",
    "verra": "Verra",
    "gold-standard": "Gold Standard",
    "acr": "American Carbon Registry",
    "car": "Climate Action Reserve",
    "art": "ART TREES",
    "carb": "California Air Resources Board",
    "cercarbono": "Cercarbono (EcoRegistry)",
    "isometric": "Isometric",
    "vrod": "Berkeley Voluntary Registry Offsets Database",
    "cadt": "Climate Action Data Trust",
}

# Unit rows: an issuance event, a retirement, a cancellation, or a block still
# held (registries such as Verra publish their current blocks, not events).
# A "reported_issuance" is a total a secretariat reports (e.g. the CDM issuance
# list), checked against the registry's own transactions, never added to them.
KINDS = ("issuance", "retirement", "cancellation", "holding", "reported_issuance")


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (int, str, bool)) or value is None:
        return value
    if isinstance(value, float):
        return value if value == value else None  # NaN is nothing
    return str(value)


def raw_of(values: dict[str, Any], mapped: set[str] | frozenset[str]) -> dict[str, Any]:
    """Every source column not mapped to a harmonised field, kept as published."""
    return {k: _jsonable(v) for k, v in values.items() if k not in mapped and v not in (None, "")}


@dataclass
class ProjectRecord:
    registry: str
    project_id: str
    name: str = ""
    country: str = ""
    methodology: str = ""
    developer: str = ""
    status: str = ""
    project_type: str = ""
    cross_refs: list[str] = field(default_factory=list)  # "registry:id" this project names
    raw: dict[str, Any] = field(default_factory=dict)

    def key(self) -> str:
        return self.project_id

    def digest(self) -> str:
        return _digest([self.name, self.country, self.methodology, self.developer, self.status,
                        self.project_type, sorted(self.cross_refs), self.raw])


@dataclass
class UnitRecord:
    registry: str
    kind: str
    project_id: str
    quantity: Any  # int, or Decimal where a registry publishes fractions of a tonne
    source_key: str  # the row's own identity within its registry and kind
    serials: Serials | None = None
    serial_text: str = ""
    vintage: int | None = None
    date: dt.date | None = None
    beneficiary: str = ""
    reason: str = ""
    raw: dict[str, Any] = field(default_factory=dict)

    def digest(self) -> str:
        s = self.serials
        return _digest([self.kind, self.project_id, self.quantity, s and [s.series, s.start, s.end],
                        self.serial_text, self.vintage, self.date, self.beneficiary, self.reason, self.raw])


def _digest(parts: Any) -> str:
    data = json.dumps(parts, default=_jsonable, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:32]


def unit_key(*parts: Any) -> str:
    """A row identity built from the values that make it one event."""
    text = "|".join("" if p is None else str(p) for p in parts)
    if len(text) <= 200:
        return text
    return text[:160] + "#" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
