"""Agreed Electronic Format (AEF) report for a reporting year, rebuilt from
the ledger: authorisations, actions, holdings at year end and authorised
entities, plus the CAD Trust v2 AEF tables T1-T5. Nothing here reads a
status flag: every row comes from replaying ledger entries. Consistency
checks compare the replay with the recorded first transfers, adjustments and
live holdings before anything is exported."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import unicodedata
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pycountry
from django.conf import settings

from tonne.article6 import domain, review
from tonne.article6.cadt_tables import cadt_tables
from tonne.article6.models import CorrespondingAdjustment, FirstTransfer
from tonne.core import clock, iso3166
from tonne.core.errors import ValidationFailed
from tonne.core.spreadsheets import safe_row
from tonne.ledger import commitments, openings
from tonne.ledger.models import LedgerEntry
from tonne.projects import picklists
from tonne.projects.models import Project
from tonne.units.models import UnitBlock

METRIC = "GHC"  # the CAD Trust picklist's value for tonnes of CO2 equivalent
HOLDER_TYPES = frozenset({"holding", "buffer", "sop"})
USES = {
    "article6-ndc": ("Use", "Use towards NDC"),
    "article6-oimp": ("Use", "Use for OIMP"),
    "article6-voluntary": ("Cancellation", "Voluntary cancellation"),
    "article6-omge": ("Cancellation", "OMGE cancellation"),
}


@dataclass
class Piece:
    """Authorised units in the replay: [start, end] with their identity."""

    start: int
    end: int
    ident: dict[str, Any]
    holder: str
    first: bool = False

    def cut(self, start: int, end: int) -> list[Piece]:
        parts = []
        if self.start < start:
            parts.append(Piece(self.start, start - 1, self.ident, self.holder, self.first))
        if end < self.end:
            parts.append(Piece(end + 1, self.end, self.ident, self.holder, self.first))
        return parts


@dataclass
class Replay:
    year: int
    party: str
    registry: str
    types: dict[str, str] = field(default_factory=dict)
    auths: dict[str, dict[str, Any]] = field(default_factory=dict)
    pieces: list[Piece] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)  # the actions of every year, to the year end
    firsts: list[tuple[str, int, int]] = field(default_factory=list)  # (authorisation, start, end), every year
    flows: dict[tuple[str, int], dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    opening: dict[tuple[str, int], int] = field(default_factory=dict)
    opened: bool = False

    # -- identity and rows --------------------------------------------------------------

    def authorised(self, p: Piece, at: dt.datetime) -> bool:
        if p.first or p.ident.get("imported"):
            return True
        revoked = self.auths.get(p.ident["authorisation"], {}).get("revoked_from")
        return revoked is None or revoked > at

    def row(self, at: dt.datetime, type_: str, subtype: str, p: Piece, start: int, end: int, **extra: Any) -> None:
        key = (p.ident["authorisation"], p.ident["vintage"])
        self.flows[key][f"{type_}/{subtype}"] += end - start + 1
        itmo = lambda n: _itmo(p.ident, n)  # noqa: E731
        self.history.append({
            "date": at.date().isoformat(),
            "type": type_,
            "subtype": subtype,
            "cooperative_approach_id": p.ident["cooperative_approach"],
            "authorization_id": p.ident["authorisation"],
            "first_transferring_party_id": p.ident["first_party"],
            "party_itmo_registry_id": p.ident["registry"],
            "itmo_first_id": itmo(start),
            "itmo_last_id": itmo(end),
            "unit_registry_id": self.registry,
            "unit_first_id": str(start),
            "unit_last_id": str(end),
            "metric": METRIC,
            "quantity_t_co2": end - start + 1,
            "mitigation_type": p.ident["mitigation_type"],
            "vintage_year": p.ident["vintage"],
            "transferring_party_id": extra.get("transferring", self.party),
            "acquiring_party_id": extra.get("acquiring", ""),
            "purpose_of_use_oimp": extra.get("oimp", ""),
            "using_participating_party_id": extra.get("using_party", ""),
            "using_authorized_entity_id": extra.get("using_entity", ""),
            "itmo_used_year": at.year if type_ in ("Use", "Cancellation") else "",
        })
        if at.year == self.year:
            self.actions.append(self.history[-1])

    # -- entries --------------------------------------------------------------------------

    def withdraw(self, until: dt.datetime) -> None:
        """Units not first-transferred when their authorisation's revocation
        takes effect are withdrawn: an action row each, then they count no more."""
        for name, a in self.auths.items():
            for moment, taken in a.get("pending", []):
                if moment <= until:
                    self.withdraw_pieces(name, moment, taken)
            a["pending"] = [(m, t) for m, t in a.get("pending", []) if m > until]
            moment = a.get("revoked_from")
            if moment is None or moment > until or a.get("withdrawn"):
                continue
            a["withdrawn"] = True
            for p in sorted(self.pieces, key=lambda x: x.start):
                if p.ident["authorisation"] == name and not p.first and not p.ident.get("imported"):
                    self.pieces.remove(p)
                    self.row(moment, "Authorization", "Revocation", p, p.start, p.end,
                             transferring=a["authorising_party"])

    def withdraw_pieces(self, name: str, moment: dt.datetime, taken: list[dict[str, Any]]) -> None:
        """A change's withdrawal: the units it names not first-transferred by then."""
        a = self.auths[name]
        for t in taken:
            start, end = t["range"]
            for p in sorted(self.pieces, key=lambda x: x.start):
                if p.ident["authorisation"] != name or p.first or p.ident.get("imported"):
                    continue
                lo, hi = max(p.start, start), min(p.end, end)
                if lo > hi:
                    continue
                self.pieces.remove(p)
                self.pieces.extend(p.cut(lo, hi))
                self.row(moment, "Authorization", "Change", p, lo, hi, transferring=a["authorising_party"])

    def apply(self, kind: str, at: dt.datetime, data: dict[str, Any]) -> None:
        if not self.opened and at.year >= self.year:
            self.opened = True
            self.withdraw(dt.datetime(self.year, 1, 1, tzinfo=dt.UTC) - dt.timedelta(microseconds=1))
            self.opening = self.totals(dt.datetime(self.year, 1, 1, tzinfo=dt.UTC))
        self.withdraw(at)
        if kind == "account.opened":
            self.types[data["account"]] = data["type"]
        elif kind == "article6.authorised":
            self.auths[data["authorisation"]] = {**data, "versions": [data], "revoked_from": None}
        elif kind == "article6.changed":
            self.auths[data["authorisation"]]["versions"].append(data)
            if data.get("withdrawn"):
                self.auths[data["authorisation"]].setdefault("pending", []).append(
                    (_time(data["effective_from"]), data["withdrawn"]))
        elif kind == "article6.revoked":
            self.auths[data["authorisation"]]["revoked_from"] = _time(data["effective_from"])
        elif kind == "units.issued":
            self.issued(at, data)
        elif kind.startswith("units."):
            self.moved(at, data)

    def issued(self, at: dt.datetime, data: dict[str, Any]) -> None:
        info = data["issuance"]
        holders = [(b["start"], b["end"], b["account"]) for b in data["blocks"]]

        def holder(n: int) -> str:
            return next(acc for s, e, acc in holders if s <= n <= e)

        mitigation = data.get("mitigation_type") or "Emission reductions"
        for attached in data.get("article6", []):
            a = self.auths[attached["authorisation"]]
            start, end = attached["range"]
            version = next(v for v in a["versions"] if v["version"] == attached["version"])
            ident = {
                "authorisation": a["authorisation"], "cooperative_approach": a["cooperative_approach"],
                "first_party": a["authorising_party"], "registry": self.registry, "vintage": info["vintage"],
                "mitigation_type": attached.get("mitigation_type", mitigation), "offset": 0,
                "definition": a["first_transfer_definition"],
            }
            p = Piece(start, end, ident, holder(start), first=attached["first_transfer"])
            self.pieces.append(p)
            sole = domain.sole_party(version["acquiring_parties"])
            self.row(at, "Authorization", "", p, start, end, transferring=a["authorising_party"], acquiring=sole)
            if p.first:  # on being authorised: no Party has acquired them yet
                self.firsts.append((a["authorisation"], start, end))
                self.row(at, "First Transfer", "", p, start, end, transferring=a["authorising_party"])
        for b in data["blocks"]:  # retired at issuance: a use like any other
            if b.get("kind") == "retirement":
                self.moved(at, {**b, "to": b["account"], "ranges": [[b["start"], b["end"]]]})
        imported = data.get("import")
        if imported:
            a = imported["authorisation"]
            block = data["blocks"][0]
            ident = {
                "authorisation": a["identifier"], "cooperative_approach": a["cooperative_approach"],
                "first_party": a["authorising_party"], "registry": a["originating_registry"],
                "vintage": info["vintage"], "mitigation_type": imported.get("mitigation_type", mitigation),
                "offset": imported["origin_start"] - block["start"], "imported": True,
                "definition": a["first_transfer_definition"],
            }
            p = Piece(block["start"], block["end"], ident, block["account"], first=True)
            self.pieces.append(p)
            self.row(at, "Acquisition", "", p, p.start, p.end, transferring=imported["origin_party"], acquiring=self.party)

    def moved(self, at: dt.datetime, data: dict[str, Any]) -> None:
        target = data["to"]
        target_type = self.types.get(target, "")
        for start, end in data["ranges"]:
            hits = [p for p in self.pieces if p.start <= end and p.end >= start]
            for p in hits:
                if not self.authorised(p, at):
                    continue
                lo, hi = max(p.start, start), min(p.end, end)
                self.pieces.remove(p)
                self.pieces.extend(p.cut(lo, hi))
                moved = Piece(lo, hi, p.ident, target, p.first)
                self.pieces.append(moved)
                self.action(at, data, target_type, moved, lo, hi)

    def action(self, at: dt.datetime, data: dict[str, Any], target_type: str, p: Piece, lo: int, hi: int) -> None:
        party = data.get("jurisdiction", "")
        outcome = domain.NONE if p.first else self.first_transfer(p, at, target_type, data.get("purpose", ""), party)
        if outcome.first_transfer:
            p.first = True
            self.firsts.append((p.ident["authorisation"], lo, hi))
            self.row(at, "First Transfer", "", p, lo, hi, transferring=p.ident["first_party"],
                     acquiring=outcome.adjustment_party)
        if target_type == "export":
            self.row(at, "Transfer", "", p, lo, hi, acquiring=party)
        elif target_type in ("retirement", "cancellation", "omge"):
            purpose = data.get("purpose", "")
            type_, subtype = USES.get(purpose, ("Cancellation", "OMGE cancellation" if target_type == "omge"
                                                 else f"{target_type.capitalize()}"))
            self.row(at, type_, subtype, p, lo, hi, using_party=party,
                     using_entity=data.get("beneficiary", "") if data.get("beneficiary") != party else "",
                     oimp=data.get("reason", "") if purpose == "article6-oimp" else "")

    def first_transfer(self, p: Piece, at: dt.datetime, target_type: str, purpose: str, party: str) -> Any:
        """The first-transfer rule, on the terms the ledger recorded."""
        a = self.auths.get(p.ident["authorisation"], {})
        version = _version_at(a, at)
        defs = a.get("first_transfer_definitions") or {q: a["first_transfer_definition"] for q in domain.PURPOSES}
        defs = {q: d for q, d in defs.items() if q in version.get("purposes", [])}
        terminal = target_type in ("retirement", "cancellation", "omge", "export")
        event = domain.event_of_move(target_type, purpose, export=target_type == "export") if terminal else (
            "domestic_transfer")
        try:
            return domain.first_transfer(defs, event, already=False, party=party,
                                         acquiring_parties=version.get("acquiring_parties", []),
                                         authorising_party=a.get("authorising_party", ""))
        except ValidationFailed:
            return domain.NONE  # the registry refused such a move: the ledger has none

    # -- year end --------------------------------------------------------------------------

    def totals(self, at: dt.datetime) -> dict[tuple[str, int], int]:
        out: dict[tuple[str, int], int] = defaultdict(int)
        for p in self.pieces:
            if self.types.get(p.holder) in HOLDER_TYPES and self.authorised(p, at):
                out[(p.ident["authorisation"], p.ident["vintage"])] += p.end - p.start + 1
        return dict(out)

    def holdings(self, at: dt.datetime) -> list[dict[str, Any]]:
        rows = []
        for p in sorted(self.pieces, key=lambda x: x.start):
            if self.types.get(p.holder) not in HOLDER_TYPES or not self.authorised(p, at):
                continue
            rows.append({
                "cooperative_approach_id": p.ident["cooperative_approach"],
                "authorization_id": p.ident["authorisation"],
                "first_transferring_party_id": p.ident["first_party"],
                "party_itmo_registry_id": p.ident["registry"],
                "itmo_first_id": _itmo(p.ident, p.start),
                "itmo_last_id": _itmo(p.ident, p.end),
                "unit_registry_id": self.registry,
                "unit_first_id": str(p.start),
                "unit_last_id": str(p.end),
                "metric": METRIC,
                "quantity_t_co2": p.end - p.start + 1,
                "mitigation_type": p.ident["mitigation_type"],
                "vintage_year": p.ident["vintage"],
                "holding_account": p.holder,
            })
        return rows


def _itmo(ident: dict[str, Any], serial: int) -> str:
    """The ITMO identifier of one unit (its serial in the originating registry)."""
    n = serial + ident["offset"]
    return domain.itmo_identifier(ident["cooperative_approach"], ident["registry"], ident["first_party"], n, n, ident["vintage"])


def _time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _version_at(a: dict[str, Any], at: dt.datetime) -> dict[str, Any]:
    current: dict[str, Any] = {}
    for v in a.get("versions", []):
        if _time(v["effective_from"]) <= at:
            current = v
    return current


def replay(year: int, until: dt.datetime | None = None) -> Replay:
    end = until or dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC)
    r = Replay(year=year, party=settings.TONNE_COUNTRY, registry=settings.TONNE_ARTICLE6_REGISTRY_ID)
    # Entries name accounts by pseudonym; the report names them as the registry does.
    names = {pseudonym: name for pseudonym, (_kind, name) in openings.reverse_names().items()}
    for body in LedgerEntry.objects.order_by("seq").values_list("body", flat=True).iterator(chunk_size=2000):
        entry = json.loads(body)
        entry["data"] = commitments.opened(entry["data"], {}, names)
        if entry["kind"] == "account.opened":
            # What kind of account an identifier names is a fact for all time:
            # system accounts are opened when the database is created, which
            # for a registry loaded with earlier history is after that history.
            r.types[entry["data"]["account"]] = entry["data"]["type"]
            continue
        at = _time(entry["at"])
        if at >= end:
            break
        r.apply(entry["kind"], at, entry["data"])
    if not r.opened:
        r.withdraw(min(dt.datetime(year, 1, 1, tzinfo=dt.UTC), clock.now()) - dt.timedelta(microseconds=1))
        r.opening = r.totals(dt.datetime(year, 1, 1, tzinfo=dt.UTC))
    r.withdraw(min(end, clock.now()) - dt.timedelta(microseconds=1))
    return r


# -- the report ---------------------------------------------------------------------------


def build(year: int, *, submission_date: dt.date | None = None, version: str = "1") -> dict[str, Any]:
    if not 1990 <= year <= 2200:
        raise ValidationFailed("YEAR_INVALID", "year must be a reporting year (YYYY).", field="year")
    year_end = dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC)
    r = replay(year)
    holdings = r.holdings(year_end - dt.timedelta(microseconds=1))
    authorisations, entities = _authorisations(r, year)
    report = {
        "year": year,
        "party": r.party,
        "registry": r.registry,
        "tables": {
            "submission": [{"party": r.party, "version": version, "report_year": year,
                            "submission_date": (submission_date or dt.date.today()).isoformat()}],
            "authorizations": authorisations,
            "actions": r.actions,
            "holdings": holdings,
            "authorized_entities": entities,
        },
    }
    # The review's own reading of the rows, which shares none of the rules above.
    sequence, balance = review.sequences(r.history), review.balances(r.history, holdings)
    report["review"] = sequence + balance
    report["checks"] = checks(r, holdings, year_end) + [
        _check("every unit's actions follow the ITMO sequence (review)", not sequence,
               "; ".join(f"{f['code']} {f.get('itmo', '')}: {f['detail']}" for f in sequence)),
        _check("holdings = authorisations + acquisitions - transfers - uses - cancellations - withdrawals (review)",
               not balance, "; ".join(f"{f['code']}: {f['detail']}" for f in balance)),
    ]
    report["cadt"] = cadt_tables(report)
    return report


def _authorisations(r: Replay, year: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows, entities = [], []
    for a in r.auths.values():
        for v in a["versions"]:
            if _time(v["effective_from"]).year != year:
                continue
            rows.append({
                "authorization_id": a["authorisation"],
                "date": v["authorisation_date"],
                "cooperative_approach_id": a["cooperative_approach"],
                "version": str(v["version"]),
                "quantity": v["quantity"],
                "metric": METRIC,
                "sector": v.get("sector") or _covered(v["projects"], "sectors", domain.aef_sector),
                "activity_type": v.get("activity_type") or _covered(v["projects"], "types", domain.aef_activity_type),
                "purposes_for_authorization": domain.purposes_label(v["purposes"]),
                "authorized_party_id": ", ".join(v["acquiring_parties"]),
                "authorized_entity_id": ", ".join(e["uid"] for e in v["entities"]),
                "oimp_authorized_party": v["oimp_purposes"],
                "authorized_timeframe": f"{v['vintages'][0]}-{v['vintages'][1]}",
                "authorization_terms": v["terms"],
                "authorization_documentation": f"sha256:{v['letter_sha256']}" if v["letter_sha256"] else "",
                # Only for an authorisation that covers OIMP (blank for NDC only).
                "first_transfer_definition_oimp": _oimp_definition(a, v),
                "additional_information": _effects(a, v),
            })
            for e in v["entities"]:
                entities.append({
                    "authorization_date": v["authorisation_date"], "name": e["name"],
                    "incorporation_country": _country_name(e["country"]), "id": e["uid"],
                    "cooperative_approach_id": a["cooperative_approach"], "authorization_id": a["authorisation"],
                    "conditions": v["terms"],
                })
    return rows, entities


def _effects(a: dict[str, Any], version: dict[str, Any]) -> str:
    """What the version did to units already authorised, and the revocation."""
    said = []
    taken = sum(t["range"][1] - t["range"][0] + 1 for t in version.get("withdrawn", []))
    if taken:
        said.append(f"withdraws {taken} units not first-transferred from {_time(version['effective_from']).isoformat()}")
    if a["revoked_from"]:
        said.append("revoked from " + a["revoked_from"].isoformat())
    return "; ".join(said)


def _oimp_definition(a: dict[str, Any], version: dict[str, Any]) -> str:
    if "oimp" not in version["purposes"]:
        return ""
    definition = (a.get("first_transfer_definitions") or {}).get("oimp") or a["first_transfer_definition"]
    return domain.DEFINITION_LABELS[definition]


# The CAD Trust country picklist's own spelling where no ISO name matches it.
PICKLIST_COUNTRY = {
    "CZ": "Czech Republic", "GB": "United Kingdom of Great Britain and Northern Ireland", "CD": "Democratic Republic of Congo",
    "GQ": "Equatorial New Guinea", "NL": "Netherlands (Kingdom of the)", "SY": "Syria Arab Republic", "TR": "Turkey",
    "FM": "Micronesia (Federated States of)", "IR": "Iran (Islamic Republic of)", "KR": "Republic of Korea",
    "AG": "Antigua and Barduba",
}


def _country_name(code: str) -> str:
    """The CAD Trust country picklist names countries where the registry
    keeps ISO 3166-1 codes: the picklist's spelling of the code's country."""
    if not code:
        return ""
    allowed = set(picklists.allowed("location_country"))
    country = pycountry.countries.get(alpha_2=code)
    names = [PICKLIST_COUNTRY.get(code, "")]
    if country is not None:
        names += [getattr(country, k, "") for k in ("common_name", "name", "official_name")]
    names += [unicodedata.normalize("NFKD", n).encode("ascii", "ignore").decode() for n in names if n]
    return next((n for n in names if n in allowed), iso3166.country_name(code))


def _covered(project_ids: list[str], attribute: str, pick: Any) -> str:
    """Sector or activity type of entries written before the ledger carried
    them: from the covered projects as they are now."""

    values = Project.objects.filter(project_id__in=project_ids).values_list(attribute, flat=True)
    return str(pick([x for listed in values for x in listed]))


def checks(r: Replay, holdings: list[dict[str, Any]], year_end: dt.datetime) -> list[dict[str, Any]]:
    """Before export: each first transfer has its adjustment; the recorded
    first transfers are the ledger's; holdings balance with the year's
    actions; and, for a year not yet over, the replay matches the holdings."""
    out = []
    derived = {(s, e) for _, s, e in r.firsts}
    recorded = {(f.serial_start, f.serial_end): f for f in FirstTransfer.objects.filter(at__lt=year_end)}
    adjusted = set(CorrespondingAdjustment.objects.filter(first_transfer__at__lt=year_end).values_list("first_transfer_id", flat=True))
    missing_adj = [f"{s}-{e}" for (s, e), f in recorded.items() if f.pk not in adjusted]
    out.append(_check("first transfer has its corresponding adjustment", not missing_adj,
                      f"no adjustment for first transfer(s) {', '.join(missing_adj)}"))
    derived_units = _units(derived)
    recorded_units = _units(recorded)
    out.append(_check("first transfers recorded as the ledger shows", derived_units == recorded_units,
                      f"ledger {_describe(derived_units - recorded_units)} not recorded; "
                      f"recorded {_describe(recorded_units - derived_units)} not in the ledger"))
    closing = r.totals(year_end - dt.timedelta(microseconds=1))
    bad = []
    for key in sorted(set(closing) | set(r.opening) | set(r.flows)):
        flows = r.flows.get(key, {})
        inflow = sum(q for k, q in flows.items() if k in ("Authorization/", "Acquisition/"))
        outflow = sum(q for k, q in flows.items() if k.split("/")[0] in ("Transfer", "Use", "Cancellation")
                      or k in ("Authorization/Revocation", "Authorization/Change"))
        # flows count every year; the balance is over the replay as a whole
        expected = inflow - outflow
        if closing.get(key, 0) != expected:
            bad.append(f"{key[0]} vintage {key[1]}: holdings {closing.get(key, 0)}, acquisitions minus "
                       f"transfers, uses and cancellations {expected}")
    out.append(_check("year-end holdings = acquisitions - transfers - uses - cancellations", not bad, "; ".join(bad)))
    if year_end > dt.datetime.now(dt.UTC):
        live = set(UnitBlock.objects.filter(account__type__in=HOLDER_TYPES).values_list("serial_start", "serial_end", "account__identifier"))
        wrong = [f"{h['unit_first_id']}-{h['unit_last_id']}" for h in holdings
                 if not any(s <= int(h["unit_first_id"]) and int(h["unit_last_id"]) <= e and acc == h["holding_account"]
                            for s, e, acc in live)]
        out.append(_check("replayed holdings match the registry's holdings", not wrong,
                          f"ranges held elsewhere: {', '.join(wrong)}"))
    return out


def _units(ranges: Any) -> set[int]:
    return {n for s, e in ranges for n in range(s, e + 1)}


def _describe(units: set[int]) -> str:
    return f"{len(units)} units" if units else "none"


def _check(name: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"check": name, "ok": ok, "detail": "" if ok else detail}


# -- rendering ----------------------------------------------------------------------------

ACRONYMS = {"itmo": "ITMO", "id": "ID", "ndc": "NDC", "oimp": "OIMP", "gwp": "GWP", "ghg": "GHG", "co2": "CO2"}


def column_title(name: str) -> str:
    """AEF column heading from the field name: "itmo_first_id" -> "ITMO first ID"."""
    words = [ACRONYMS.get(w, w) for w in name.split("_")]
    text = " ".join(words)
    return text[0].upper() + text[1:]


# Every field of the actions, holdings and submission tables, by the column title the workbook gives it.
FIELDS = (
    "date", "type", "subtype", "cooperative_approach_id", "authorization_id", "first_transferring_party_id",
    "party_itmo_registry_id", "itmo_first_id", "itmo_last_id", "unit_registry_id", "unit_first_id", "unit_last_id",
    "metric", "quantity_t_co2", "mitigation_type", "vintage_year", "transferring_party_id", "acquiring_party_id",
    "purpose_of_use_oimp", "using_participating_party_id", "using_authorized_entity_id", "itmo_used_year",
    "holding_account", "party", "version", "report_year", "submission_date",
)
TITLES = {column_title(f): f for f in FIELDS}


def sheets(report: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    out = []
    for name, table in [*report["tables"].items(), *report["cadt"].items()]:
        columns = list(table[0]) if table else []
        heading = [column_title(c) for c in columns] if name in report["tables"] else columns
        out.append((name, heading, [[row.get(c, "") for c in columns] for row in table]))
    out.append(("checks", ["Check", "OK", "Detail"], [[c["check"], c["ok"], c["detail"]] for c in report["checks"]]))
    return out


def render(report: dict[str, Any], fmt: str) -> tuple[bytes, str, str]:
    fmt = (fmt or "json").lower().lstrip(".")
    if fmt == "json":
        return json.dumps(report, indent=2, default=str).encode(), "application/json", "json"
    if fmt == "cadt":  # the CAD Trust v2 AEF tables T1-T5, with CAD Trust's field names
        return json.dumps(report["cadt"], indent=2, default=str).encode(), "application/json", "cadt.json"
    if fmt == "csv":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, heading, rows in sheets(report):
                text = io.StringIO()
                writer = csv.writer(text)
                writer.writerow(safe_row(heading))
                writer.writerows(safe_row(row) for row in rows)
                archive.writestr(f"{name}.csv", text.getvalue())
        return buffer.getvalue(), "application/zip", "zip"
    if fmt == "xlsx":
        # import here: a large library, loaded for spreadsheet downloads only
        from openpyxl import Workbook

        book = Workbook()
        book.remove(book.active)
        for name, heading, rows in sheets(report):
            sheet = book.create_sheet(name[:31])
            sheet.append(safe_row(heading))
            for row in rows:
                sheet.append(safe_row(row))
        buffer = io.BytesIO()
        book.save(buffer)
        return buffer.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"
    raise ValidationFailed("FORMAT_INVALID", "format must be json, csv, xlsx or cadt.", field="format")


def summary(report: dict[str, Any]) -> str:
    """The readable consistency report."""
    lines = [f"AEF {report['year']} for {report['party']} ({report['registry']})"]
    for name, table in report["tables"].items():
        lines.append(f"  {name}: {len(table)} rows")
    for c in report["checks"]:
        lines.append(f"  [{'ok' if c['ok'] else 'FAILED'}] {c['check']}" + (f": {c['detail']}" if c["detail"] else ""))
    return "\n".join(lines)
