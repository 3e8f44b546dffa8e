"""Each registry export format: how it is recognised and how a row maps.

A format is recognised by its header (column names compared loosely, so
"Status Effective  (GMT)" and "Status Effective (GMT)" are one). Column
choices follow the registries' own public exports, cross-checked against
CarbonPlan's OffsetsDB mappings (offsets-db-data, MIT)."""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tonne.observer.domain import serials as sn
from tonne.observer.domain.reading import date, norm, number, text, whole
from tonne.observer.domain.records import ProjectRecord, UnitRecord, raw_of, unit_key

Mapped = ProjectRecord | UnitRecord


class Skip(ValueError):
    """A row the format cannot map; the message is the reason reported."""


@dataclass(frozen=True)
class Format:
    registry: str
    name: str  # e.g. "verra-projects"
    signature: frozenset[str]  # normalised column names that must all be present
    mapper: Callable[[dict[str, Any]], list[Mapped]]


def _get(values: dict[str, Any], *names: str) -> Any:
    """The first of the named columns present (names compared loosely)."""
    for n in names:
        if n in values:  # the usual case: the column as the registry names it
            return values[n]
    if not names:
        return None
    column = _column_of(tuple(values), names)
    return None if column is None else values[column]


@functools.lru_cache(maxsize=4096)
def _column_of(keys: tuple[str, ...], names: tuple[str, ...]) -> str | None:
    """The header's column for the first of the names present, compared loosely (once per file and field)."""
    index = {norm(k): k for k in keys}
    for n in names:
        if norm(n) in index:
            return index[norm(n)]
    return None


def _cols(values: dict[str, Any], *names: str) -> frozenset[str]:
    return _cols_of(tuple(values), names)


@functools.lru_cache(maxsize=1024)
def _cols_of(keys: tuple[str, ...], names: tuple[str, ...]) -> frozenset[str]:
    """The columns of a header that the named fields map (the same for every row of a file)."""
    wanted = {norm(n) for n in names}
    return frozenset(k for k in keys if norm(k) in wanted)


def _qty(values: dict[str, Any], *names: str, fractional: bool = False) -> Any:
    try:
        q = number(_get(values, *names)) if fractional else whole(_get(values, *names))
    except ValueError as exc:
        raise Skip(f"quantity: {exc}") from None
    if q is None:
        raise Skip("no quantity")
    return q


def _date(values: dict[str, Any], *names: str) -> Any:
    try:
        return date(_get(values, *names))
    except ValueError as exc:
        raise Skip(f"date: {exc}") from None


def _vintage(values: dict[str, Any], *names: str) -> int | None:
    v = _get(values, *names)
    if v in (None, ""):
        return None
    d = date(v) if not isinstance(v, int) else None
    if isinstance(v, int):
        return v
    return d.year if d else None


def _serials(value: Any, parser: Callable[[str], sn.Serials]) -> sn.Serials:
    s = text(value)
    if not s:
        raise Skip("no serial number")
    try:
        return parser(s)
    except sn.SerialError:
        try:
            return sn.parse_any(s)  # another registry's serials on this registry's row
        except sn.SerialError as exc:
            raise Skip(f"serial number: {exc}") from None


_REF = re.compile(r"\b(?:(GS)\s?(\d{2,6})|(VCS)\s?(\d{2,5})|(CDM)[\s#-]*(?:project\s*)?(\d{1,5})|(ACR|CAR)(\d{2,5}))\b", re.I)


def cross_refs(*texts: str) -> list[str]:
    """Other registries' project ids named in free text (names, notes, ids)."""
    found = set()
    prefix = {"gs": "gold-standard", "vcs": "verra", "cdm": "cdm", "acr": "acr", "car": "car"}
    for t in texts:
        for m in _REF.finditer(t or ""):
            groups = [g for g in m.groups() if g]
            # Project ids as each registry's records keep them: GS, ACR and CAR with their prefix.
            kept = groups[0].upper() if groups[0].upper() in ("ACR", "CAR", "GS") else ""
            found.add(f"{prefix[groups[0].lower()]}:{kept}{groups[1]}")
    return sorted(found)


def _project(registry: str, values: dict[str, Any], *, id_cols: tuple[str, ...], name: tuple[str, ...],
             country: tuple[str, ...] = (), methodology: tuple[str, ...] = (), developer: tuple[str, ...] = (),
             status: tuple[str, ...] = (), ptype: tuple[str, ...] = (), refs: tuple[str, ...] = (),
             id_prefix: str = "") -> list[Mapped]:
    pid = text(_get(values, *id_cols))
    if not pid:
        raise Skip("no project id")
    if id_prefix and not pid.upper().startswith(id_prefix):
        pid = f"{id_prefix}{pid}"
    rec = ProjectRecord(
        registry=registry, project_id=pid, name=text(_get(values, *name)), country=text(_get(values, *country)),
        methodology=text(_get(values, *methodology)), developer=text(_get(values, *developer)),
        status=text(_get(values, *status)), project_type=text(_get(values, *ptype)),
    )
    ref_texts = [rec.name] + [text(_get(values, r)) for r in refs]
    rec.cross_refs = [r for r in cross_refs(*ref_texts) if r != f"{registry}:{pid}"]
    used = _cols(values, *id_cols, *name, *country, *methodology, *developer, *status, *ptype)
    rec.raw = raw_of(values, used)
    return [rec]


def _unit(registry: str, kind: str, values: dict[str, Any], *, project: tuple[str, ...], quantity: tuple[str, ...],
          serial: tuple[str, ...] = (), parser: Callable[[str], sn.Serials] | None = None,
          when: tuple[str, ...] = (), vintage: tuple[str, ...] = (), beneficiary: tuple[str, ...] = (),
          reason: tuple[str, ...] = (), id_prefix: str = "", key: tuple[str, ...] = (),
          fractional: bool = False, ident: str = "") -> list[Mapped]:
    pid = text(_get(values, *project))
    if id_prefix and pid and not pid.upper().startswith(id_prefix):
        pid = f"{id_prefix}{pid}"
    q = _qty(values, *quantity, fractional=fractional)
    if q < 0:
        raise Skip("negative quantity")
    serials = _serials(_get(values, *serial), parser) if parser else None
    rec = UnitRecord(
        registry=registry, kind=kind, project_id=pid, quantity=q, source_key="", serials=serials,
        serial_text=text(_get(values, *serial)) if serial else "", date=_date(values, *when) if when else None,
        vintage=_vintage(values, *vintage) if vintage else None,
        beneficiary=text(_get(values, *beneficiary)), reason=text(_get(values, *reason)),
    )
    if ident:  # the registry's own id of the event: a corrected row updates its record
        rec.source_key = unit_key(kind, ident)
    elif serials is not None:
        rec.source_key = unit_key(kind, serials.series, serials.start, serials.end)
    else:
        rec.source_key = unit_key(kind, pid, rec.date, rec.vintage, q, *(text(_get(values, k)) for k in key))
    used = _cols(values, *project, *quantity, *serial, *when, *vintage, *beneficiary, *reason)
    rec.raw = raw_of(values, used)
    return [rec]


# -- CDM ----------------------------------------------------------------------------


def _cdm_range(values: dict[str, Any], party: str) -> sn.Serials:
    s = text(_get(values, "SERIAL RANGE", "Serial Range"))
    if not party:
        raise Skip("no Party code: the series of a CDM serial is its originating Party")
    try:
        return sn.cadt_block(s, origin="cdm", party=party)
    except sn.SerialError as exc:
        raise Skip(f"serial range: {exc}") from None


def _cdm_event(values: dict[str, Any], kind: str) -> list[Mapped]:
    ident = text(_get(values, "Project Identifier"))
    party = text(_get(values, "PARTY CODE")) or ident.split("-", 1)[0]
    number = text(_get(values, "Project number")) or (ident.split("-", 1)[1] if "-" in ident else "")
    status = text(_get(values, "Status"))
    if status and not status.startswith("4"):
        raise Skip(f"transaction not completed ({status})")
    serials = _cdm_range(values, party.upper())
    q = _qty(values, "Total")
    if q != serials.quantity:
        raise Skip(f"Total {q} is not the size of the range ({serials.quantity})")
    rec = UnitRecord(
        registry="cdm", kind=kind, project_id=number, quantity=q, serials=serials,
        serial_text=text(_get(values, "SERIAL RANGE", "Serial Range")), date=_date(values, "Completion date"),
        source_key=unit_key(kind, serials.series, serials.start, serials.end),
        reason=text(_get(values, "Transaction type")),
    )
    rec.raw = raw_of(values, _cols(values, "Project Identifier", "Project number", "SERIAL RANGE", "Total", "Completion date"))
    return [rec]


def _cdm_list(values: dict[str, Any]) -> list[Mapped]:
    """The UNFCCC's issuance list: what the secretariat reports as issued per
    project (checked against the registry's transactions, not added to them),
    and the project's host Party and type."""
    units = _unit("cdm", "reported_issuance", values, project=("CDM project reference number",),
                  quantity=("Units - Total",), when=("Issuance date",), key=("Issuance process ID",))
    project = ProjectRecord(registry="cdm", project_id=units[0].project_id, country=text(_get(values, "HostParty")),
                            project_type=" / ".join(t for t in (text(_get(values, "Project type (UNEP DTU)")),
                                                                text(_get(values, "Project subtype (UNEP DTU)"))) if t),
                            developer="", raw={"PA/PoA": text(_get(values, "PA/PoA")), "DOE": text(_get(values, "DOE"))})
    return [project, *units]


# -- APX registries (ACR, CAR, ART) ------------------------------------------------


def _apx_project(registry: str, prefix: str) -> Callable[[dict[str, Any]], list[Mapped]]:
    def mapper(v: dict[str, Any]) -> list[Mapped]:
        return _project(registry, v, id_cols=("Project ID", "Program ID"), name=("Project Name", "Program Name"),
                        country=("Project Site Country", "Program Country"),
                        methodology=("Project Methodology/Protocol", "Project Type", "Crediting Program and Standard"),
                        developer=("Project Developer", "Sovereign Program Developer"),
                        status=("Voluntary Status", "Status"), ptype=("Project Type", "Program Type"),
                        refs=("Compliance Program ID (ARB or Ecology)", "Compliance Program ID", "ARB ID",
                              "Additional Certification(s)", "Project Notes", "Program Notes"), id_prefix=prefix)
    return mapper


def _apx_units(registry: str, kind: str, prefix: str) -> Callable[[dict[str, Any]], list[Mapped]]:
    def mapper(v: dict[str, Any]) -> list[Mapped]:
        return _unit(registry, kind, v, project=("Project ID", "Program ID"),
                     quantity=("Quantity of Credits", "Quantity of Offset Credits"),
                     serial=("Credit Serial Numbers", "Offset Credit Serial Numbers"), parser=sn.apx,
                     when=("Status Effective (GMT)", "Status Effective"), vintage=("Vintage",),
                     beneficiary=("Retired on Behalf of",),
                     reason=("Retirement Reason", "Cancellation Type", "Cancellation Reason"), id_prefix=prefix)
    return mapper


def _apx_issuances(registry: str, prefix: str) -> Callable[[dict[str, Any]], list[Mapped]]:
    def mapper(v: dict[str, Any]) -> list[Mapped]:
        return _unit(registry, "issuance", v, project=("Project ID", "Program ID"),
                     quantity=("Total Credits Issued", "Total Offset Credits Issued", "Credits Verified"),
                     when=("Date Issued (GMT)", "Date Issued", "Date Approved"), vintage=("Vintage",),
                     id_prefix=prefix)
    return mapper


# -- Verra, Gold Standard, CARB, Cercarbono, Isometric, VROD -----------------------


def _verra_project(v: dict[str, Any]) -> list[Mapped]:
    return _project("verra", v, id_cols=("ID",), name=("Name",), country=("Country/Area",), methodology=("Methodology",),
                    developer=("Proponent",), status=("Status",), ptype=("Project Type",))


def _verra_block(v: dict[str, Any]) -> list[Mapped]:
    retired = text(_get(v, "Retirement/Cancellation Date"))
    kind = "retirement" if retired else "holding"
    return _unit("verra", kind, v, project=("ID",), quantity=("Quantity Issued",), serial=("Serial Number",),
                 parser=sn.verra, when=("Retirement/Cancellation Date",) if retired else ("Issuance Date",),
                 vintage=("Vintage Start",), beneficiary=("Retirement Beneficiary",), reason=("Retirement Reason",))


def _gs_project(v: dict[str, Any]) -> list[Mapped]:
    return _project("gold-standard", v, id_cols=("GSID",), name=("Project Name",), country=("Country",),
                    methodology=("Methodology",), developer=("Project Developer Name",), status=("Status",),
                    ptype=("Project Type",), refs=("Description", "POA GSID"), id_prefix="GS")


def _gs_units(kind: str) -> Callable[[dict[str, Any]], list[Mapped]]:
    def mapper(v: dict[str, Any]) -> list[Mapped]:
        return _unit("gold-standard", kind, v, project=("GSID",), quantity=("Quantity",), serial=("Serial Number",),
                     parser=sn.gold_standard, when=("Retirement Date",) if kind == "retirement" else ("Issuance Date",),
                     vintage=("Vintage",), beneficiary=("Using Entity",), reason=("Use Case",), id_prefix="GS")
    return mapper


def _carb(v: dict[str, Any]) -> list[Mapped]:
    # CARB publishes no serials: an issuance is its CARB Issuance ID (CAOD1007-A), else the
    # project's reporting period.
    ident = text(_get(v, "CARB Issuance ID")) or (
        f"{text(_get(v, 'CARB Project ID'))}/RP{text(_get(v, 'Reporting Period'))}")
    out = _unit("carb", "issuance", v, project=("CARB Project ID",), quantity=("ARB Offset Credits Issued",),
                when=("Issuance Date",), vintage=("Vintage",), ident=ident)
    opr = text(_get(v, "OPR Project ID"))
    project = ProjectRecord(registry="carb", project_id=text(_get(v, "CARB Project ID")),
                            name=text(_get(v, "Offset Project Name")), developer=text(_get(v, "Offset Project Operator")),
                            country="US", project_type=text(_get(v, "Project Type")),
                            cross_refs=[f"{opr[:3].lower()}:{opr}"] if re.fullmatch(r"(ACR|CAR)\d+", opr) else [])
    retired = 0
    for column in ("Retired Voluntarily", "Retired 1st Compliance Period (CA)", "Retired 2nd Compliance Period (CA)",
                   "Retired 3rd Compliance Period (CA)", "Retired 4th Compliance Period (CA)",
                   "Retired 5th Compliance Period (CA)", "Retired for Compliance in Quebec"):
        try:
            retired += whole(_get(v, column)) or 0
        except ValueError:
            raise Skip(f"{column}: not a whole number") from None
    unit = out[0]
    assert isinstance(unit, UnitRecord)
    result: list[Mapped] = [project, unit]
    if retired:
        result.append(UnitRecord(registry="carb", kind="retirement", project_id=unit.project_id, quantity=retired,
                                 source_key=unit.source_key.replace("issuance", "retirement", 1), vintage=unit.vintage,
                                 date=unit.date, reason="compliance and voluntary retirements (CARB issuance table)"))
    return result


def _cercarbono_project(v: dict[str, Any]) -> list[Mapped]:
    locations = text(_get(v, "locations"))
    country = ""
    m = re.search(r"'country':\s*'([^']+)'", locations)
    if m:
        country = m.group(1)
    out = _project("cercarbono", v, id_cols=("id",), name=("name",), methodology=("quantification_method",),
                   developer=("developer",), status=("stage",), ptype=("sector",), refs=("code",))
    out[0].country = country  # type: ignore[union-attr]
    return out


def _cercarbono_issuance(v: dict[str, Any]) -> list[Mapped]:
    serial = text(_get(v, "serial"))
    q = _qty(v, "issued_quantity")
    try:
        serials = sn.cercarbono(serial, 1, q)
    except sn.SerialError as exc:
        raise Skip(f"serial: {exc}") from None
    rec = UnitRecord(registry="cercarbono", kind="issuance", project_id=_cercarbono_project_of(serial), quantity=q,
                     serials=serials, serial_text=serial, date=_date(v, "issuance_date"), vintage=_vintage(v, "year"),
                     source_key=unit_key("issuance", serials.series, serials.start, serials.end))
    rec.raw = raw_of(v, _cols(v, "serial", "issued_quantity", "issuance_date", "year"))
    return [rec]


def _cercarbono_project_of(serial: str) -> str:
    parts = serial.split("_")
    return parts[1] if len(parts) > 1 else ""


def _cercarbono_retirement(v: dict[str, Any]) -> list[Mapped]:
    serial = text(_get(v, "serial"))
    try:
        serials = sn.cercarbono(serial, _get(v, "from"), _get(v, "to"))
    except sn.SerialError as exc:
        raise Skip(f"serial: {exc}") from None
    rec = UnitRecord(registry="cercarbono", kind="retirement", project_id=text(_get(v, "project_id")),
                     quantity=_qty(v, "quantity"), serials=serials, serial_text=serial, date=_date(v, "date"),
                     vintage=_vintage(v, "vintage"), beneficiary=text(_get(v, "end_user")),
                     reason=text(_get(v, "certificate_destination")),
                     source_key=unit_key("retirement", serials.series, serials.start, serials.end))
    rec.raw = raw_of(v, _cols(v, "serial", "from", "to", "project_id", "quantity", "date", "vintage", "end_user",
                              "certificate_destination"))
    return [rec]


def _isometric_project(v: dict[str, Any]) -> list[Mapped]:
    return _project("isometric", v, id_cols=("id",), name=("name",), country=("country_code", "location.country_code"),
                    methodology=("protocol_slug",), developer=("supplier.organisation.name",), status=("status",),
                    ptype=("pathway",))


def _isometric_units(kind: str) -> Callable[[dict[str, Any]], list[Mapped]]:
    def mapper(v: dict[str, Any]) -> list[Mapped]:
        ident = text(_get(v, "retirement_id" if kind == "retirement" else "id"))
        if not ident:
            raise Skip("no issuance or retirement id")
        return _unit("isometric", kind, v, project=("project_id",), quantity=("credit_batch_size_total.credits",),
                     when=("retired_at",) if kind == "retirement" else ("issued_at",),
                     beneficiary=("beneficiary.name",), reason=("purposes",), fractional=True,
                     ident=ident)  # iss_… / ret_…
    return mapper



def _puro_facility(v: dict[str, Any]) -> list[Mapped]:
    return _project("puro", v, id_cols=("code", "productionFacilityCode"), name=("name",), country=("country",),
                    methodology=("methodologyCode",), developer=("supplierName",), status=("certificationStatus",))


def _puro_bundle(v: dict[str, Any]) -> list[Mapped]:
    """An active certificate bundle (the registry's certificates list: units issued and not retired)."""
    return _unit("puro", "holding", v, project=("productionFacilityCode",), quantity=("volume",),
                 serial=("certificates",), parser=sn.puro, when=("issuanceDate",), vintage=("vintage",),
                 fractional=False)


_PURO_KINDS = {"issuance": "issuance", "retirement": "retirement", "withdrawal": "cancellation",
               "cancellation": "cancellation"}


def _puro_transaction(v: dict[str, Any]) -> list[Mapped]:
    kind = _PURO_KINDS.get(text(_get(v, "type")).lower())
    if kind is None:
        raise Skip("a transfer between accounts, not an issuance, retirement or cancellation")
    has_serials = bool(text(_get(v, "certificates")))
    return _unit("puro", kind, v, project=("productionFacilityCode",), quantity=("volume",),
                 serial=("certificates",) if has_serials else (), parser=sn.puro if has_serials else None,
                 when=("completedOn",), vintage=("vintage",), beneficiary=("beneficiaryName",),
                 reason=("retirementPurpose", "type"), key=("transactionId",))


def _vrod_project(v: dict[str, Any]) -> list[Mapped]:
    """Berkeley's Voluntary Registry Offsets Database: a project of another
    registry with its totals, kept as VROD's record of the project and as
    VROD's reported issuance for the home registry's project (checked by
    reconciliation against that registry's own export, never added to it)."""
    out: list[Mapped] = list(_project(
        "vrod", v, id_cols=("Project ID",), name=("Project Name",), country=("Country",),
        methodology=("Methodology / Protocol", "Methodology/Protocol"), developer=("Project Developer", "Project Owner"),
        status=("Voluntary Status",), ptype=("Type", "Scope"), refs=("Project ID",)))
    project = out[0]
    assert isinstance(project, ProjectRecord)
    home = _vrod_home(text(_get(v, "Voluntary Registry")), project.project_id)
    if home is not None:
        project.cross_refs = sorted({*project.cross_refs, f"{home[0]}:{home[1]}"})
        issued = _get(v, "Total Credits Issued")
        if text(issued):
            try:
                quantity = whole(issued)
            except ValueError as exc:
                raise Skip(f"Total Credits Issued: {exc}") from None
            out.append(UnitRecord(registry=home[0], kind="reported_issuance", project_id=home[1], quantity=quantity,
                                  source_key=unit_key("vrod", project.project_id),
                                  raw={"reported_by": "vrod", "Total Credits Retired": text(_get(v, "Total Credits Retired")),
                                       "Total Credits Remaining": text(_get(v, "Total Credits Remaining"))}))
    return out


_VROD_REGISTRIES = {"VCS": "verra", "VERRA": "verra", "GOLD": "gold-standard", "GS": "gold-standard", "ACR": "acr",
                    "CAR": "car", "ART": "art"}


def _vrod_home(registry: str, pid: str) -> tuple[str, str] | None:
    """The registry and project id a VROD row describes (VCS1340 is Verra's 1340; GS, ACR, CAR and ART keep their prefix)."""
    m = re.match(r"([A-Za-z]+)\s*-?\s*(\d+)$", pid.strip())
    key = (registry.split()[0].upper() if registry else "") or (m.group(1).upper() if m else "")
    home = _VROD_REGISTRIES.get(key) or (_VROD_REGISTRIES.get(m.group(1).upper()) if m else None)
    if home is None or m is None:
        return None
    digits = m.group(2)
    return home, {"verra": digits, "gold-standard": f"GS{digits}"}.get(home, f"{m.group(1).upper()}{digits}")


def _cadt_units(v: dict[str, Any]) -> list[Mapped]:
    block = text(_get(v, "serialNumberBlock", "unitSerialId"))
    origin = text(_get(v, "unitRegistryLink", "registryOfOrigin", "unitOwner"))
    country = text(_get(v, "countryJurisdictionOfOwner", "unitCountryJurisdictionOfOwner"))
    status = text(_get(v, "unitStatus")).lower()
    kind = {"retired": "retirement", "cancelled": "cancellation"}.get(status, "holding")
    try:
        serials = sn.cadt_block(block, origin=origin, party=country[:2] if len(country) == 2 else "")
    except sn.SerialError as exc:
        raise Skip(f"serialNumberBlock: {exc}") from None
    q = whole(_get(v, "unitCount")) or sn.tonnes(serials)
    rec = UnitRecord(registry="cadt", kind=kind, project_id=text(_get(v, "issuanceId", "warehouseProjectId")),
                     quantity=q, serials=serials, serial_text=block, vintage=_vintage(v, "vintageYear"),
                     beneficiary=text(_get(v, "unitStatusReason")),
                     source_key=text(_get(v, "warehouseUnitId", "cadTrustUnitId"))
                     or unit_key(kind, serials.series, serials.start, serials.end))
    rec.raw = raw_of(v, _cols(v, "serialNumberBlock", "unitSerialId", "unitCount", "vintageYear", "unitStatusReason"))
    return [rec]


def _sig(*names: str) -> frozenset[str]:
    return frozenset(norm(n) for n in names)


FORMATS: tuple[Format, ...] = (
    Format("cdm", "cdm-issuance-report", _sig("SERIAL RANGE", "PARTY CODE", "Project number", "Total"),
           lambda v: _cdm_event(v, "issuance")),
    Format("cdm", "cdm-cancellation-report", _sig("Serial Range", "Project Identifier", "Total"),
           lambda v: _cdm_event(v, "cancellation")),
    Format("cdm", "cdm-issuance-list", _sig("CDM project reference number", "HostParty", "Units - Total"), _cdm_list),
    Format("verra", "verra-projects", _sig("ID", "Name", "Proponent", "Country/Area"), _verra_project),
    Format("verra", "verra-vcus", _sig("Serial Number", "Quantity Issued", "Retirement/Cancellation Date"), _verra_block),
    Format("gold-standard", "gs-projects", _sig("GSID", "Project Name", "Project Developer Name"), _gs_project),
    Format("gold-standard", "gs-retirements", _sig("GSID", "Serial Number", "Quantity", "Retirement Date"),
           _gs_units("retirement")),
    Format("gold-standard", "gs-issuances", _sig("GSID", "Serial Number", "Quantity", "Issuance Date"),
           _gs_units("issuance")),
    Format("acr", "acr-projects", _sig("Project ID", "Voluntary Status", "Project Developer"), _apx_project("acr", "")),
    Format("acr", "acr-issuances", _sig("Project ID", "Total Credits Issued", "Date Issued (GMT)"),
           _apx_issuances("acr", "")),
    Format("acr", "acr-retirements", _sig("Credit Serial Numbers", "Quantity of Credits", "Retirement Reason",
                                          "Project ID"), _apx_units("acr", "retirement", "")),
    Format("acr", "acr-cancellations", _sig("Credit Serial Numbers", "Quantity of Credits", "Cancellation Type",
                                            "Project ID"), _apx_units("acr", "cancellation", "")),
    Format("car", "car-projects", _sig("Project ID", "Project Owner", "Offset Project Operator", "Status"),
           _apx_project("car", "")),
    Format("car", "car-issuances", _sig("Project ID", "Total Offset Credits Issued", "Date Issued"),
           _apx_issuances("car", "")),
    Format("car", "car-retirements", _sig("Offset Credit Serial Numbers", "Retirement Reason"),
           _apx_units("car", "retirement", "")),
    Format("car", "car-cancellations", _sig("Offset Credit Serial Numbers", "Cancellation Reason"),
           _apx_units("car", "cancellation", "")),
    Format("art", "art-projects", _sig("Program ID", "Sovereign Program Developer", "Status"), _apx_project("art", "")),
    Format("art", "art-issuances", _sig("Program ID", "Credits Verified", "Date Approved", "Vintage"),
           _apx_issuances("art", "")),
    Format("art", "art-retirements", _sig("Program ID", "Credit Serial Numbers", "Retirement Reason"),
           _apx_units("art", "retirement", "")),
    Format("art", "art-cancellations", _sig("Program ID", "Credit Serial Numbers", "Cancellation Reason"),
           _apx_units("art", "cancellation", "")),
    Format("carb", "carb-issuances", _sig("CARB Project ID", "OPR Project ID", "ARB Offset Credits Issued"), _carb),
    Format("cercarbono", "cercarbono-projects", _sig("id", "code", "serials", "stage"), _cercarbono_project),
    Format("cercarbono", "cercarbono-issuances", _sig("serial", "issued_quantity", "issuance_date"),
           _cercarbono_issuance),
    Format("cercarbono", "cercarbono-retirements", _sig("serial", "from", "to", "end_user", "quantity"),
           _cercarbono_retirement),
    Format("isometric", "isometric-projects", _sig("id", "name", "protocol_slug", "status"), _isometric_project),
    Format("isometric", "isometric-issuances", _sig("id", "issued_at", "project_id", "credit_batch_size_total.credits"),
           _isometric_units("issuance")),
    Format("isometric", "isometric-retirements", _sig("retirement_id", "retired_at", "project_id"),
           _isometric_units("retirement")),
    Format("puro", "puro-facilities", _sig("code", "methodologyCode", "supplierName"), _puro_facility),
    Format("puro", "puro-certificates", _sig("certificates", "volume", "productionFacilityCode", "issuanceId"),
           _puro_bundle),
    Format("puro", "puro-transactions", _sig("transactionId", "type", "volume", "completedOn"), _puro_transaction),
    Format("vrod", "vrod-projects", _sig("Project ID", "Project Name", "Voluntary Registry"), _vrod_project),
    Format("cadt", "cadt-units", _sig("serialNumberBlock", "unitStatus"), _cadt_units),
)


def detect(names: set[str], registry: str | None = None) -> Format | None:
    """The format whose signature the header carries (the most specific one)."""
    fits = [f for f in FORMATS if f.signature <= names and (registry in (None, "", f.registry))]
    return max(fits, key=lambda f: len(f.signature)) if fits else None


def header_test(registry: str | None) -> Callable[[set[str]], bool]:
    return lambda names: detect(names, registry) is not None


def literal(value: str) -> Any:
    """Python-literal cells (lists of dicts) in EcoRegistry exports, read safely."""
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return None
