"""Article 6 rules, pure: authorisation terms, ITMO identifiers, which event
is a first transfer, and the labels of the Agreed Electronic Format."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tonne.core import iso3166
from tonne.core.errors import ValidationFailed

DEFINITIONS = ("authorisation", "issuance", "first_international_transfer", "use_or_cancellation")
# AEF / CAD Trust picklist wording (aef_t2_authorizations_first_transfer_definition_oimp).
DEFINITION_LABELS = {
    "authorisation": "Authorization",
    "issuance": "Issuance",
    "first_international_transfer": "First international transfer",
    "use_or_cancellation": "Use or cancellation",
}
# First transfer happens when the units become authorised (attached at issuance or authorisation).
AT_ATTACHMENT = frozenset({"authorisation", "issuance"})
PURPOSES = ("ndc", "oimp")
USES = ("ndc", "oimp", "voluntary_cancellation", "omge")
# How a use is kept in the move's own fields (Transaction.purpose, 30 characters).
USE_PURPOSE_PREFIX = "article6-"
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
MAX_VINTAGE = 2100


def _fail(code: str, message: str, field: str) -> ValidationFailed:
    return ValidationFailed(code, message, field=field)


def party(value: Any, field: str) -> str:
    return iso3166.country(value, field, code="PARTY_INVALID")


def identifier(value: Any, field: str) -> str:
    text = str(value or "").strip()
    if not IDENTIFIER.match(text):
        raise _fail(
            "IDENTIFIER_INVALID", f"{field} is 1-100 characters: letters, digits and . _ / - (not first).", field
        )
    return text


def _int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise _fail("FIELD_INVALID", f"{field} must be a whole number.", field)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _fail("FIELD_INVALID", f"{field} must be a whole number.", field) from None
    if str(number) != str(value).strip() and not isinstance(value, int):
        raise _fail("FIELD_INVALID", f"{field} must be a whole number.", field)
    if not low <= number <= high:
        raise _fail("FIELD_OUT_OF_RANGE", f"{field} must be between {low} and {high}.", field)
    return number


def _date(value: Any, field: str, *, required: bool = True) -> str | None:
    if value in (None, ""):
        if required:
            raise _fail("FIELD_REQUIRED", f"{field} is required (YYYY-MM-DD).", field)
        return None
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise _fail("FIELD_INVALID", f"{field} must be a date (YYYY-MM-DD).", field) from None


def terms(data: dict[str, Any], *, new: bool) -> dict[str, Any]:
    """The authorisation's terms, checked and in canonical form (what a
    second administrator approves, bound by its hash)."""
    if not isinstance(data, dict):
        raise _fail("FIELD_INVALID", "The authorisation must be an object.", "terms")
    out: dict[str, Any] = {}
    if new:
        out["identifier"] = identifier(data.get("identifier"), "identifier")
        out["cooperative_approach"] = identifier(data.get("cooperative_approach"), "cooperative_approach")
    elif {"first_transfer_definition", "first_transfer_definitions", "cooperative_approach"} & set(data):
        field = next(f for f in ("first_transfer_definition", "first_transfer_definitions", "cooperative_approach")
                     if f in data)
        raise _fail(
            "AUTHORISATION_FIELD_FIXED",
            f"{field} is fixed when an authorisation is made; revoke it and authorise anew to change it.",
            field,
        )
    parties = data.get("acquiring_parties") or []
    if not isinstance(parties, list):
        raise _fail("FIELD_INVALID", "acquiring_parties must be a list of Party codes.", "acquiring_parties")
    out["acquiring_parties"] = sorted({party(p, "acquiring_parties") for p in parties})
    purposes = data.get("purposes") or []
    if not isinstance(purposes, list) or not purposes or any(p not in PURPOSES for p in purposes):
        raise _fail("PURPOSES_INVALID", "purposes must list one or both of: ndc, oimp.", "purposes")
    out["purposes"] = sorted(set(purposes))
    oimp = str(data.get("oimp_purposes") or "").strip()
    if "oimp" in out["purposes"] and not oimp:
        raise _fail(
            "OIMP_PURPOSES_REQUIRED", "Name the other international mitigation purposes (e.g. CORSIA).", "oimp_purposes"
        )
    out["oimp_purposes"] = oimp if "oimp" in out["purposes"] else ""
    if new:
        out["first_transfer_definitions"] = definitions_of(data, out["purposes"])
        # What the approver reads (the approval shows this field): each purpose's definition.
        out["first_transfer_definition"] = "; ".join(
            f"{p.upper()}: {DEFINITION_LABELS[d]}" for p, d in out["first_transfer_definitions"].items())
    if "ndc" in out["purposes"] and not out["acquiring_parties"]:
        raise _fail(
            "ACQUIRING_PARTY_REQUIRED", "Use towards an NDC needs at least one acquiring Party.", "acquiring_parties"
        )
    out["quantity"] = _int(data.get("quantity"), "quantity", 1, 10**15)
    out["vintage_from"] = _int(data.get("vintage_from"), "vintage_from", 1990, MAX_VINTAGE)
    out["vintage_to"] = _int(data.get("vintage_to", out["vintage_from"]), "vintage_to", 1990, MAX_VINTAGE)
    if out["vintage_to"] < out["vintage_from"]:
        raise _fail("VINTAGES_INVALID", "vintage_to is before vintage_from.", "vintage_to")
    out["vintage_quantities"] = vintage_quantities(data.get("vintage_quantities"), out)
    projects = data.get("projects") or []
    if not isinstance(projects, list) or not projects:
        raise _fail("PROJECTS_REQUIRED", "projects must list the project ids whose units are authorised.", "projects")
    out["projects"] = sorted({str(p).strip() for p in projects})
    entities = data.get("entities") or []
    try:
        out["entities"] = sorted({str(uuid.UUID(str(e))) for e in entities}) if isinstance(entities, list) else None
    except ValueError:
        out["entities"] = None
    if out["entities"] is None:
        raise _fail("FIELD_INVALID", "entities must list organisation uids.", "entities")
    out["authorisation_date"] = _date(data.get("authorisation_date"), "authorisation_date")
    out["valid_until"] = _date(data.get("valid_until"), "valid_until", required=False)
    if out["valid_until"] and out["valid_until"] < out["authorisation_date"]:
        raise _fail("FIELD_INVALID", "valid_until is before the authorisation date.", "valid_until")
    out["terms"] = str(data.get("terms") or "").strip()
    out["letter"] = str(data.get("letter") or "").strip()
    return out


def effective_from(value: Any, now: dt.datetime) -> dt.datetime:
    """When a change or revocation takes effect: now, or a later moment;
    never in the past (what happened under the old terms stays so)."""
    if value in (None, ""):
        return now
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise _fail("FIELD_INVALID", "effective_from must be an ISO 8601 date-time.", "effective_from") from None
    if moment.tzinfo is None:
        raise _fail("FIELD_INVALID", "effective_from needs a time zone.", "effective_from")
    if moment < now:
        raise _fail("EFFECTIVE_DATE_IN_PAST", "A change takes effect now or later, never in the past.", "effective_from")
    return moment.astimezone(dt.UTC)


def itmo_identifier(cooperative_approach: str, registry: str, party: str, start: int, end: int, vintage: int) -> str:
    """ITMO unique identifier (decision 6/CMA.4): cooperative approach,
    originating registry, first transferring Party, serial(s), vintage."""
    serials = str(start) if start == end else f"{start}-{end}"
    return f"{cooperative_approach}:{registry}:{party}:{serials}:{vintage}"


def purposes_label(purposes: list[str]) -> str:
    """The AEF picklist value (aef_t2_authorizations_purposes_for_authorization)."""
    if set(purposes) == {"ndc", "oimp"}:
        return "NDC and OIMP"
    return "NDC" if purposes == ["ndc"] else "OIMP"


def sole_party(parties: list[str]) -> str:
    return parties[0] if len(parties) == 1 else ""


def use_purpose(use: str) -> str:
    """The use as the move's purpose field keeps it (at most 30 characters)."""
    return f"{USE_PURPOSE_PREFIX}{'voluntary' if use == 'voluntary_cancellation' else use}"


def intersect(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int] | None:
    start, end = max(a[0], b[0]), min(a[1], b[1])
    return (start, end) if start <= end else None


def mitigation_type(unit_type: str) -> str:
    """AEF mitigation type (aef_t3_actions_mitigation_type) from the CAD Trust unit type."""
    return "Removals" if unit_type.lower().startswith("removal") else "Emission reductions"


# AEF table 2 sector and activity type (aef_t2_authorizations_sector /
# _activity_type) from the CAD Trust project sector and type picklists: the
# same words but for the AFOLU entry, which the AEF lists without its comma
# (sector) or not at all (activity type, where agriculture is the nearest).
AEF_SECTOR_SPELLING = {
    "Agriculture, forestry and other land use (AFOLU)": "Agriculture forestry and other land use (AFOLU)",
}
AEF_ACTIVITY_SPELLING = {"Agriculture, forestry and other land use (AFOLU)": "Agriculture"}
ANY_COMBINATION = "Any combination of the above"


def _aef_one(values: list[str], spelling: dict[str, str]) -> str:
    found = sorted({spelling.get(v, v) for v in values if v})
    if not found:
        return ""
    return found[0] if len(found) == 1 else ANY_COMBINATION


def aef_sector(sectors: list[str]) -> str:
    """One AEF sector for the projects an authorisation covers: theirs, or
    "Any combination of the above" when they differ."""
    return _aef_one(sectors, AEF_SECTOR_SPELLING)


def aef_activity_type(types: list[str]) -> str:
    """One AEF activity type for the projects an authorisation covers."""
    return _aef_one(types, AEF_ACTIVITY_SPELLING)


# -- first transfer, per purpose (decision 2/CMA.3 annex I para 2(b); 6/CMA.4) --------------
#
# The authorising Party defines the first transfer for each purpose it
# authorises. The first transfer of a unit is recorded once, at the first event
# that meets the definition of the purpose the unit is then moved under or used
# for. The first international transfer is a first transfer at the latest
# (the default definition): the Party's choice can bring it earlier, never
# later, so no unit leaves the Party or is used before it is adjusted for.

EVENTS = (
    "authorisation",  # units already issued are authorised
    "issuance",  # units are issued under an authorisation in force
    "domestic_transfer",
    "international_transfer",
    "use_ndc",
    "use_oimp",
    "voluntary_cancellation",
    "omge_cancellation",
)
# The events each definition names (units issued under an authorisation in
# force are authorised as they are issued).
MEETS = {
    "authorisation": frozenset({"authorisation", "issuance"}),
    "issuance": frozenset({"issuance"}),
    "first_international_transfer": frozenset({"international_transfer", "use_ndc"}),
    "use_or_cancellation": frozenset({"use_ndc", "use_oimp", "voluntary_cancellation", "omge_cancellation"}),
}
ATTACHMENT_EVENTS = frozenset({"authorisation", "issuance"})
# Every other event but a domestic transfer first-transfers a unit not yet
# first-transferred, whatever the definition: the unit leaves the Party, or is
# used or cancelled for good, and no one counts it twice only if the
# authorising Party adjusts for it.


@dataclass(frozen=True)
class FirstTransferOutcome:
    """What an event does to an authorised unit: whether it is its first
    transfer, under which purpose and definition, and which Party the
    corresponding adjustment names ("" for none: an OIMP use or an OMGE
    cancellation, where the AEF records the using entity)."""

    first_transfer: bool
    purpose: str = ""
    cause: str = ""
    adjustment_party: str = ""


NONE = FirstTransferOutcome(False)


def _refuse(code: str, message: str) -> ValidationFailed:
    return ValidationFailed(code, message, field="use")


def first_transfer(
    definitions: Mapping[str, str],
    event: str,
    *,
    already: bool,
    party: str = "",
    acquiring_parties: Sequence[str] = (),
    authorising_party: str = "",
) -> FirstTransferOutcome:
    """The first-transfer rule. `definitions` maps each authorised purpose
    ("ndc", "oimp") to its definition; `party` is the destination Party of an
    international transfer or the Party using units towards its NDC. Raises
    ValidationFailed for a use the authorisation does not cover."""
    purposes = sorted(p for p in PURPOSES if p in definitions)
    if not purposes or any(definitions[p] not in DEFINITIONS for p in purposes) or event not in EVENTS:
        raise ValueError(f"first_transfer({dict(definitions)!r}, {event!r})")
    if event in ("international_transfer", "use_ndc") and party not in acquiring_parties:
        raise _refuse("ACQUIRING_PARTY_NOT_AUTHORISED", f"The authorisation does not name {party or 'the Party'} "
                      "as an acquiring Party.")
    if event == "use_ndc" and "ndc" not in purposes:
        raise _refuse("PURPOSE_NOT_AUTHORISED", "These units are not authorised for use towards an NDC.")
    if event == "use_ndc" and party == authorising_party:
        raise _refuse("NDC_USE_BY_AUTHORISING_PARTY",
                      "Units authorised for transfer are not used towards the authorising Party's own NDC.")
    if event == "use_oimp" and "oimp" not in purposes:
        raise _refuse("PURPOSE_NOT_AUTHORISED", "These units are not authorised for other international "
                      "mitigation purposes.")
    if already or event == "domestic_transfer":
        return NONE
    if event in ATTACHMENT_EVENTS:
        # Before any move the purpose is not known: only when every authorised
        # purpose's definition names this event.
        if all(event in MEETS[definitions[p]] for p in purposes):
            return FirstTransferOutcome(True, ",".join(purposes), definitions[purposes[0]])
        return NONE
    purpose = {
        "international_transfer": "ndc" if "ndc" in purposes else "oimp",
        "use_ndc": "ndc",
        "use_oimp": "oimp",
        "voluntary_cancellation": "oimp" if "oimp" in purposes else "ndc",
        "omge_cancellation": "omge",
    }[event]
    # An OMGE cancellation is under no authorised purpose: the OIMP definition if any.
    definition = definitions[purpose if purpose != "omge" else ("oimp" if "oimp" in purposes else "ndc")]
    adjusted = party if event in ("international_transfer", "use_ndc") else ""
    return FirstTransferOutcome(True, purpose, definition, adjusted)


def event_of_move(target_type: str, purpose: str, *, export: bool = False) -> str:
    """The Article 6 event a move into a terminal account is, from the
    acquiring account's type and the move's purpose field."""
    if export:
        return "international_transfer"
    if target_type == "omge" or purpose == use_purpose("omge"):
        return "omge_cancellation"
    return {use_purpose("ndc"): "use_ndc", use_purpose("oimp"): "use_oimp"}.get(purpose, "voluntary_cancellation")


def definitions_of(data: dict[str, Any], purposes: list[str]) -> dict[str, str]:
    """The definition of each authorised purpose: `first_transfer_definitions`
    ({"ndc": ..., "oimp": ...}) or one `first_transfer_definition` for all."""
    given = data.get("first_transfer_definitions")
    single = str(data.get("first_transfer_definition") or "").strip()
    if given is not None and not isinstance(given, dict):
        raise _fail("FIRST_TRANSFER_DEFINITION_INVALID", "first_transfer_definitions maps purposes to definitions.",
                    "first_transfer_definitions")
    out = {}
    for p in purposes:
        value = str((given or {}).get(p) or single).strip()
        if value not in DEFINITIONS:
            raise _fail(
                "FIRST_TRANSFER_DEFINITION_INVALID",
                f"The first transfer definition for {p} must be one of: {', '.join(DEFINITIONS)}.",
                "first_transfer_definitions",
            )
        out[p] = value
    extra = sorted(set(given or {}) - set(purposes))
    if extra:
        raise _fail("FIRST_TRANSFER_DEFINITION_INVALID", f"No authorised purpose {', '.join(extra)}.",
                    "first_transfer_definitions")
    return out


def transfer_definition(definitions: Mapping[str, str]) -> str:
    """The definition that governs transfers to another Party: the NDC
    purpose's if authorised, else the OIMP purpose's."""
    return definitions.get("ndc") or definitions["oimp"]


def vintage_quantities(value: Any, terms: dict[str, Any]) -> dict[str, int]:
    """The most authorised of each vintage, {"2025": 300}: vintages within
    the authorised ones, each at most the authorisation's quantity."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise _fail("FIELD_INVALID", "vintage_quantities maps vintages to quantities.", "vintage_quantities")
    out = {}
    for vintage, quantity in value.items():
        year = _int(vintage, "vintage_quantities", terms["vintage_from"], terms["vintage_to"])
        out[str(year)] = _int(quantity, f"vintage_quantities.{year}", 1, terms["quantity"])
    return dict(sorted(out.items()))
