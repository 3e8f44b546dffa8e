"""Serial identity: every published serial range belongs to a series.

A series names the numbering a range's start and end count in: the issuing
registry's own grammar and, for Kyoto units, the originating Party (CDM
serial numbers are unique only within a Party). Two ranges can only overlap
when their series are equal; a Gold Standard row written with CDM serials
parses to the CDM series of its Party, so it is compared with the CDM unit
it denotes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tonne.cadt import domain
from tonne.cadt.domain import UnitRange


@dataclass(frozen=True)
class Serials:
    series: str  # e.g. "kyoto:BR", "verra:VCU", "gs:GS1-1-UG-GS11236-16-2024-30307"
    start: int
    end: int
    grammar: str  # which parser read it: kyoto, verra, gs, apx, cercarbono, puro, cadt

    @property
    def quantity(self) -> int:
        return self.end - self.start + 1


class SerialError(ValueError):
    """A serial string that fits no grammar, or whose end is before its start."""


# Kyoto (CDM, JI, ETS): Party-type-start-end-originalCP-applicableCP-LULUCF-project,
# e.g. BR-5-65142364-65147657-1-1-0-2569; a single unit omits the end.
_KYOTO = re.compile(
    r"^(?P<party>[A-Z]{2})-(?P<type>\d{1,2})-(?P<start>\d+)(?:-(?P<end>\d+))?-(?P<ocp>\d)-(?P<acp>\d)-(?P<lulucf>\d+)-(?P<project>\d+)$"
)
# Verra: batch-start-end-VCS-VCU-…, e.g. 19385-941467007-941467431-VCS-VCU-1507-VER-ET-14-1340-01012020-31122020-1
_VERRA = re.compile(r"^(?P<batch>\d+)-(?P<start>\d+)-(?P<end>\d+)-(?P<program>[A-Z]+)-(?P<unit>[A-Z]+)-(?P<rest>.+)$")
# Gold Standard: GS1-1-CC-GSnnnn-…-vintage-block-start-end
_GS = re.compile(r"^(?P<prefix>GS\d+-\d+-[A-Z]{2,3}-GS\d+(?:-[A-Za-z0-9]+)*?)-(?P<start>\d+)-(?P<end>\d+)$")
# APX registries (ACR, CAR, ART, FCPF under ART): prefix-start to end
_APX = re.compile(r"^(?P<prefix>[A-Z][A-Za-z0-9-]*?)-(?P<start>\d+)\s+to\s+(?P<end>\d+)$")
_CADT_BARE = re.compile(r"^(?P<start>\d+)\s*-\s*(?P<end>\d+)$")
_CERCARBONO = re.compile(r"^CDC_[0-9A-Za-z_]+$")

APX_REGISTRIES = {"ACR": "acr", "CAR": "car", "ART": "art", "FCPF": "art"}


def _range(series: str, start: str | int, end: str | int, grammar: str) -> Serials:
    a, b = int(start), int(end)
    if b < a:
        raise SerialError(f"the range ends ({b}) before it starts ({a})")
    return Serials(series=series, start=a, end=b, grammar=grammar)


def kyoto(text: str) -> Serials:
    """One Kyoto serial or a range written as two serials joined by ' - '."""
    parts = [p.strip() for p in re.split(r"\s+-\s+|\s+to\s+", text.strip()) if p.strip()]
    if len(parts) not in (1, 2):
        raise SerialError("not a Kyoto serial")
    found = [_KYOTO.match(p) for p in parts]
    if not all(found):
        raise SerialError("not a Kyoto serial")
    first, last = found[0], found[-1]
    assert first is not None and last is not None
    if first["party"] != last["party"]:
        raise SerialError("the range starts and ends in different Parties' series")
    start = first["start"]
    end = last["end"] or last["start"]
    return _range(f"kyoto:{first['party']}", start, end, "kyoto")


def verra(text: str) -> Serials:
    m = _VERRA.match(text.strip())
    if not m:
        raise SerialError("not a Verra serial")
    return _range(f"verra:{m['unit']}", m["start"], m["end"], "verra")


def gold_standard(text: str) -> Serials:
    m = _GS.match(text.strip())
    if not m:
        raise SerialError("not a Gold Standard serial")
    return _range(f"gs:{m['prefix']}", m["start"], m["end"], "gs")


def apx(text: str) -> Serials:
    m = _APX.match(text.strip())
    if not m:
        raise SerialError("not an APX serial range (PREFIX-start to end)")
    head = m["prefix"].split("-", 1)[0]
    registry = APX_REGISTRIES.get(head, head.lower())
    return _range(f"{registry}:{m['prefix']}", m["start"], m["end"], "apx")


def cercarbono(serial: str, start: object, end: object) -> Serials:
    """EcoRegistry names a batch by its serial and a range by from/to columns."""
    text = serial.strip()
    if not _CERCARBONO.match(text):
        raise SerialError("not a Cercarbono serial")
    try:
        return _range(f"cercarbono:{text}", str(start).strip(), str(end).strip(), "cercarbono")
    except ValueError as exc:
        raise SerialError(f"from/to are not whole numbers: {exc}") from None


def cadt_block(text: str, *, origin: str = "", party: str = "") -> Serials:
    """A CAD Trust serialNumberBlock: a full registry serial range, or bare
    numbers whose series comes from the registry of origin (and, for CDM,
    the host Party)."""
    text = text.strip()
    for parser in (kyoto, verra, gold_standard, apx, puro, isometric):
        try:
            return parser(text)
        except SerialError:
            continue
    m = _CADT_BARE.match(text)
    if not m:
        raise SerialError("not a serial range")
    key = re.sub(r"[^a-z0-9]+", "-", origin.lower()).strip("-") or "unknown"
    if key in ("cdm", "unfccc", "cdm-registry", "unfccc-cdm") and party:
        return _range(f"kyoto:{party.upper()}", m["start"], m["end"], "cadt")
    return _range(f"cadt:{key}", m["start"], m["end"], "cadt")


# Puro.earth certificate ids: standard_registry_credit type_country_facility_vintage_issuance_start-end,
# e.g. PURO_PR_CORC100+_FI_577166_2020_055a3fbe-eabc-4535-b9cf-1028e7d18f89_1-100. Numbers are unique
# only within an issuance. Older bundles number certificates by the facility's GSRN (18 digits) followed
# by a 12-digit sequence, unique within the GSRN.
_PURO = re.compile(r"^(?P<head>PURO_[A-Z]+_[^_]+_[A-Z]{2}_[^_]+_\d{4})(?:_(?P<issuance>[^_]+))?_(?P<start>\d+)-(?P<end>\d+)$")
_GSRN = 18


def puro(text: str) -> Serials:
    m = _PURO.match(text.strip().replace(" ", ""))
    if not m:
        raise SerialError("not a Puro.earth certificate id")
    start, end = m["start"], m["end"]
    if len(start) > _GSRN + 6 and start[:_GSRN] == end[:_GSRN]:
        return _range(f"puro:gsrn:{start[:_GSRN]}", start[_GSRN:], end[_GSRN:], "puro")
    if not m["issuance"]:
        raise SerialError("a Puro.earth range without its issuance id is not unique")
    return _range(f"puro:{m['issuance'].lower()}", start, end, "puro")


# Isometric credit batches: ISO-version-supplier-country(ISO 3)-code-year-start-end, e.g.
# ISO-1-VAULT-USA-01P4-2026-40170350-40182796. The numbers count kilograms, and a batch holds
# end - start of them (its size.credit_kgs): the range is half-open, kept here as [start, end - 1].
# Numbers are read within their prefix only: nothing published says they are unique across it.
_ISOMETRIC = re.compile(r"^(?P<prefix>ISO-\d+-[A-Z0-9]+-[A-Z]{3}-[A-Z0-9]+-\d{4})-(?P<start>\d+)-(?P<end>\d+)$")
KILOGRAM_SERIES = ("isometric:",)  # series whose serial numbers count kilograms, not tonnes


def isometric(text: str) -> Serials:
    m = _ISOMETRIC.match(text.strip())
    if not m:
        raise SerialError("not an Isometric credit batch serial")
    if int(m["end"]) <= int(m["start"]):
        raise SerialError(f"the batch ends ({m['end']}) where or before it starts ({m['start']})")
    return _range(f"isometric:{m['prefix']}", m["start"], int(m["end"]) - 1, "isometric")


def tonnes(serials: Serials) -> Decimal | int:
    """The tonnes a range holds (its serials count kilograms in a kilogram series)."""
    if serials.series.startswith(KILOGRAM_SERIES):
        return Decimal(serials.quantity) / 1000
    return serials.quantity


def parse_any(text: str) -> Serials:
    """The grammar is recognised from the text (a registry's rows may carry another's serials)."""
    for parser in (kyoto, verra, gold_standard, apx, puro, isometric):
        try:
            return parser(text)
        except SerialError:
            continue
    raise SerialError(f"{text[:80]!r} fits no known serial grammar")


# -- the CAD Trust importer's unit rows ---------------------------------------------------

_ORIGIN_FIELDS = ("unitRegistryLink", "registryOfOrigin", "unitOwner")
_PARTY_FIELDS = ("countryJurisdictionOfOwner", "unitCountryJurisdictionOfOwner")
_CDM = {"cdm", "unfccc", "cdm-registry", "unfccc-cdm"}


def import_range(data: Mapping[str, Any], fields: tuple[str, str, str, str, str]) -> UnitRange:
    """A CAD Trust unit row's serial range in its series, for the importer's overlap check.

    The blocks are checked as always (numeric, one series, not reversed). The
    series then follows the registries' grammars: a serial id written in a
    registry's own grammar (Kyoto, Verra, Gold Standard, APX, Puro, Isometric) takes that
    registry's series, so a Gold Standard row carrying CDM serials is the CDM
    unit of its Party; bare numbers belong to the registry of origin and, for
    CDM, to the Party (CDM serials are unique only within a Party). Blocks with
    a prefix of their own and Tonne's serials keep the series they had."""
    serial_f, start_f, end_f, _count_f, issuance_f = fields
    serial_id = str(data.get(serial_f) or "").strip()
    rng = domain.unit_range(serial_id, str(data.get(start_f)), str(data.get(end_f)), str(data.get(issuance_f) or ""))
    try:
        return UnitRange(namespace=parse_any(serial_id).series, start=rng.start, end=rng.end)
    except SerialError:
        pass
    if not str(data.get(start_f)).strip().isdigit() or rng.namespace.startswith("tonne:"):
        return rng  # a prefixed block ("AXJJ1000") or this registry's own serials: their series already
    origin = next((str(data[f]) for f in _ORIGIN_FIELDS if data.get(f)), "")
    key = re.sub(r"[^a-z0-9]+", "-", origin.lower()).strip("-")
    if not key:
        return rng
    party = next((str(data[f]).strip().upper() for f in _PARTY_FIELDS if data.get(f)), "")
    if key in _CDM:
        if len(party) != 2:
            return rng  # without the Party, a CDM block's series cannot be told
        return UnitRange(namespace=f"kyoto:{party}", start=rng.start, end=rng.end)
    return UnitRange(namespace=f"cadt:{key}", start=rng.start, end=rng.end)
