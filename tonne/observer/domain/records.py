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
    "puro": "Puro.earth",
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
    # CSV cells are already text: only other values (Excel dates, numbers) need converting.
    return {k: v if type(v) is str else _jsonable(v) for k, v in values.items()
            if k not in mapped and v is not None and v != ""}


def raw_json(raw: dict[str, Any]) -> str:
    """The raw record as stored (keys sorted, so a reordered export hashes the same)."""
    return json.dumps(raw, default=_jsonable, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


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

    def digest(self, raw: str | None = None) -> str:
        """The row's content hash; `raw` is its raw_json() when the caller has it already."""
        s = self.serials
        parts = (self.kind, self.project_id, str(self.quantity), s.series if s else "", s.start if s else "",
                 s.end if s else "", self.serial_text, self.vintage or "", self.date or "", self.beneficiary,
                 self.reason, raw_json(self.raw) if raw is None else raw)
        return _hash("\x1f".join(map(str, parts)))


def _digest(parts: Any) -> str:
    return _hash(json.dumps(parts, default=_jsonable, sort_keys=True, ensure_ascii=False, separators=(",", ":")))


def _hash(data: str) -> str:
    return hashlib.blake2b(data.encode("utf-8"), digest_size=16).hexdigest()


def unit_key(*parts: Any) -> str:
    """A row identity built from the values that make it one event."""
    text = "|".join("" if p is None else str(p) for p in parts)
    if len(text) <= 200:
        return text
    return text[:160] + "#" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
