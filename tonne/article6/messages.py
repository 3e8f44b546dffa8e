"""The transfer file's content, checked field by field (pure): after its
signature verifies and before anything is written. Every refusal has a
stable code and names the field by its path (`blocks[0].project.project_id`):

- TRANSFER_FIELD_MISSING, TRANSFER_FIELD_EMPTY, TRANSFER_FIELD_TOO_LONG,
  TRANSFER_FIELD_INVALID (wrong type or format), TRANSFER_FIELD_OUT_OF_RANGE;
- TRANSFER_SERIALS_OVERLAP, TRANSFER_QUANTITY_MISMATCH, TRANSFER_ITMO_MISMATCH.

Nothing is cut to fit a column: a value too long is refused."""

from __future__ import annotations

import datetime as dt
import functools
import re
import uuid
from typing import Any

from tonne.article6 import domain
from tonne.core.errors import ValidationFailed
from tonne.projects.domain import UNIT_CLASS_RE

MAX_SERIAL = 2**63 - 1  # a signed 64-bit column, as every serial here
MAX_BLOCKS = 1000
MAX_QUANTITY = 10**15
LOCAL_PROJECT_ID = 100  # "<originating registry>/<project id>" must fit, never cut
PROJECT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # no "/": it joins registry and project
ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
MITIGATION_TYPES = ("Emission reductions", "Removals")
PURPOSE_LABELS = ("NDC", "OIMP", "NDC and OIMP")
# The Party codes ISO 3166-1 does not list but the Paris Agreement does.
NON_ISO_PARTIES = frozenset({"EU"})


def _fail(code: str, field: str, message: str) -> ValidationFailed:
    return ValidationFailed(code, f"{field}: {message}", field=field)


def _value(obj: dict[str, Any], key: str, path: str, *, nullable: bool = False) -> Any:
    field = f"{path}.{key}" if path else key
    if key not in obj:
        raise _fail("TRANSFER_FIELD_MISSING", field, "is missing.")
    value = obj[key]
    if value is None and not nullable:
        raise _fail("TRANSFER_FIELD_EMPTY", field, "is empty.")
    return value


def _object(obj: dict[str, Any], key: str, path: str, *, nullable: bool = False) -> dict[str, Any] | None:
    value = _value(obj, key, path, nullable=nullable)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _fail("TRANSFER_FIELD_INVALID", f"{path}.{key}" if path else key, "must be an object.")
    return value


def _text(obj: dict[str, Any], key: str, path: str, limit: int, pattern: re.Pattern[str] | None = None,
          *, nullable: bool = False, empty: bool = False) -> str | None:
    field = f"{path}.{key}" if path else key
    value = _value(obj, key, path, nullable=nullable)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail("TRANSFER_FIELD_INVALID", field, "must be text.")
    if not value.strip():
        if empty:
            return ""
        raise _fail("TRANSFER_FIELD_EMPTY", field, "is empty.")
    if len(value) > limit:
        raise _fail("TRANSFER_FIELD_TOO_LONG", field, f"is at most {limit} characters.")
    if value != value.strip() or any(ord(c) < 32 for c in value):
        raise _fail("TRANSFER_FIELD_INVALID", field, "has surrounding spaces or control characters.")
    if pattern is not None and not pattern.match(value):
        raise _fail("TRANSFER_FIELD_INVALID", field, "is not in the expected format.")
    return value


def _int(obj: dict[str, Any], key: str, path: str, low: int, high: int, *, nullable: bool = False) -> int | None:
    field = f"{path}.{key}" if path else key
    value = _value(obj, key, path, nullable=nullable)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail("TRANSFER_FIELD_INVALID", field, "must be a whole number.")
    if not low <= value <= high:
        raise _fail("TRANSFER_FIELD_OUT_OF_RANGE", field, f"must be between {low} and {high}.")
    return value


def _list(obj: dict[str, Any], key: str, path: str, limit: int) -> list[Any]:
    field = f"{path}.{key}" if path else key
    value = _value(obj, key, path)
    if not isinstance(value, list):
        raise _fail("TRANSFER_FIELD_INVALID", field, "must be a list.")
    if len(value) > limit:
        raise _fail("TRANSFER_FIELD_TOO_LONG", field, f"has at most {limit} entries.")
    return value


@functools.cache
def _iso_parties() -> frozenset[str]:
    import pycountry  # a large table: loaded once, on the first file

    return frozenset(str(c.alpha_2) for c in pycountry.countries) | NON_ISO_PARTIES


def _party(obj: dict[str, Any], key: str, path: str, *, nullable: bool = False) -> str | None:
    field = f"{path}.{key}" if path else key
    value = _text(obj, key, path, 2, nullable=nullable)
    if value is None:
        return None
    try:
        code = domain.party(value, field)
    except ValidationFailed:
        code = ""
    if code != value or code not in _iso_parties():
        raise _fail("TRANSFER_FIELD_INVALID", field, "must be a Party's ISO 3166-1 alpha-2 code.")
    return code


def _moment(obj: dict[str, Any], key: str, path: str, now: dt.datetime) -> str:
    field = f"{path}.{key}" if path else key
    text = _text(obj, key, path, 40)
    assert text is not None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise _fail("TRANSFER_FIELD_INVALID", field, "must be an ISO 8601 date-time.") from None
    if moment.tzinfo is None:
        raise _fail("TRANSFER_FIELD_INVALID", field, "needs a time zone.")
    if not dt.datetime(2015, 12, 12, tzinfo=dt.UTC) <= moment <= now + dt.timedelta(days=1):
        raise _fail("TRANSFER_FIELD_OUT_OF_RANGE", field, "is before the Paris Agreement or in the future.")
    return text


def _date(obj: dict[str, Any], key: str, path: str) -> dt.date:
    field = f"{path}.{key}" if path else key
    text = _text(obj, key, path, 10)
    assert text is not None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise _fail("TRANSFER_FIELD_INVALID", field, "must be a date (YYYY-MM-DD).") from None
    if not 1990 <= day.year <= domain.MAX_VINTAGE:
        raise _fail("TRANSFER_FIELD_OUT_OF_RANGE", field, f"must be between 1990 and {domain.MAX_VINTAGE}.")
    return day


def transfer_file(payload: Any, *, now: dt.datetime) -> dict[str, Any]:
    """The file's content checked; the values a receiver may rely on."""
    if not isinstance(payload, dict):
        raise _fail("TRANSFER_FIELD_INVALID", "file", "must be an object.")
    identifier = domain.IDENTIFIER
    out: dict[str, Any] = {"format": payload.get("format")}
    transfer = _text(payload, "transfer", "", 36)
    try:
        out["transfer"] = str(uuid.UUID(str(transfer)))
    except ValueError:
        raise _fail("TRANSFER_FIELD_INVALID", "transfer", "must be a UUID.") from None
    if out["transfer"] != str(transfer).lower():
        raise _fail("TRANSFER_FIELD_INVALID", "transfer", "must be a UUID in its canonical form.")
    out["created_at"] = _moment(payload, "created_at", "", now)
    out["origin_registry"] = _text(payload, "origin_registry", "", 100, identifier)
    out["origin_party"] = _party(payload, "origin_party", "")
    out["destination_registry"] = _text(payload, "destination_registry", "", 100, identifier)
    out["destination_party"] = _party(payload, "destination_party", "")
    out["destination_account"] = _text(payload, "destination_account", "", 40, ACCOUNT)
    out["transaction"] = _text(payload, "transaction", "", 30, identifier)
    out["ledger_seq"] = _int(payload, "ledger_seq", "", 0, MAX_SERIAL, nullable=True)
    raw = _list(payload, "blocks", "", MAX_BLOCKS)
    if not raw:
        raise _fail("TRANSFER_FIELD_EMPTY", "blocks", "lists no units.")
    out["blocks"] = [_block(b, f"blocks[{n}]", now) for n, b in enumerate(raw)]
    ordered = sorted(out["blocks"], key=lambda b: b["serial_start"])
    for prev, nxt in zip(ordered, ordered[1:], strict=False):
        if nxt["serial_start"] <= prev["serial_end"]:
            raise _fail("TRANSFER_SERIALS_OVERLAP", "blocks", f"serials {nxt['serial_start']}-{prev['serial_end']} "
                        "appear twice in the file.")
    itmos = sorted((b["authorisation"]["originating_registry"], *b["itmo_serials"]) for b in out["blocks"])
    for prev, nxt in zip(itmos, itmos[1:], strict=False):
        if prev[0] == nxt[0] and nxt[1] <= prev[2]:
            raise _fail("TRANSFER_SERIALS_OVERLAP", "blocks", f"ITMO serials {nxt[1]}-{prev[2]} of {nxt[0]} "
                        "appear twice in the file.")
    out["quantity"] = _int(payload, "quantity", "", 1, MAX_QUANTITY)
    if out["quantity"] != sum(b["quantity"] for b in out["blocks"]):
        raise _fail("TRANSFER_QUANTITY_MISMATCH", "quantity", "is not the sum of the blocks' quantities.")
    return out


def _block(block: Any, path: str, now: dt.datetime) -> dict[str, Any]:
    if not isinstance(block, dict):
        raise _fail("TRANSFER_FIELD_INVALID", path, "must be an object.")
    out: dict[str, Any] = {}
    out["serial_start"] = _int(block, "serial_start", path, 1, MAX_SERIAL)
    out["serial_end"] = _int(block, "serial_end", path, 1, MAX_SERIAL)
    if out["serial_end"] < out["serial_start"]:
        raise _fail("TRANSFER_FIELD_OUT_OF_RANGE", f"{path}.serial_end", "is before serial_start.")
    out["quantity"] = _int(block, "quantity", path, 1, MAX_QUANTITY)
    if out["quantity"] != out["serial_end"] - out["serial_start"] + 1:
        raise _fail("TRANSFER_QUANTITY_MISMATCH", f"{path}.quantity", "is not the size of the serial range.")
    out["serial"] = _text(block, "serial", path, 200)
    out["vintage"] = _int(block, "vintage", path, 1990, domain.MAX_VINTAGE)
    out["unit_class"] = _text(block, "unit_class", path, 10, UNIT_CLASS_RE)
    out["mitigation_type"] = _text(block, "mitigation_type", path, 30)
    if out["mitigation_type"] not in MITIGATION_TYPES:
        raise _fail("TRANSFER_FIELD_INVALID", f"{path}.mitigation_type", f"is one of: {', '.join(MITIGATION_TYPES)}.")
    period = _object(block, "monitoring_period", path)
    assert period is not None
    start, end = _date(period, "start", f"{path}.monitoring_period"), _date(period, "end", f"{path}.monitoring_period")
    if end < start:
        raise _fail("TRANSFER_FIELD_OUT_OF_RANGE", f"{path}.monitoring_period.end", "is before its start.")
    out["monitoring_period"] = {"start": start.isoformat(), "end": end.isoformat()}
    out["authorisation"] = _authorisation(block, f"{path}.authorisation")
    out["project"] = _project(block, f"{path}.project", out["authorisation"]["originating_registry"])
    out["itmo_id"] = _text(block, "itmo_id", path, 300)
    out["itmo_serials"] = _itmo(out, f"{path}.itmo_id")
    first = _object(block, "first_transfer", path, nullable=True)
    out["first_transfer"] = None if first is None else {
        "at": _moment(first, "at", f"{path}.first_transfer", now),
        "definition": _choice(first, "definition", f"{path}.first_transfer", domain.DEFINITIONS),
        "acquiring_party": _party(first, "acquiring_party", f"{path}.first_transfer", nullable=True),
    }
    return out


def _choice(obj: dict[str, Any], key: str, path: str, choices: tuple[str, ...]) -> str:
    value = _text(obj, key, path, 40)
    if value not in choices:
        raise _fail("TRANSFER_FIELD_INVALID", f"{path}.{key}", f"is one of: {', '.join(choices)}.")
    return value


def _project(block: dict[str, Any], path: str, registry: str) -> dict[str, Any]:
    p = _object(block, "project", path.rsplit(".", 1)[0])
    assert p is not None
    out: dict[str, Any] = {"project_id": _text(p, "project_id", path, LOCAL_PROJECT_ID - len(registry) - 1, PROJECT_ID)}
    out["name"] = _text(p, "name", path, 300)
    out["host_party"] = _party(p, "host_party", path)
    out["sectoral_scope"] = _int(p, "sectoral_scope", path, 1, 15)
    out["unit_type"] = _text(p, "unit_type", path, 50)
    for key in ("sectors", "types"):
        values = _list(p, key, path, 50)
        for n, v in enumerate(values):
            if not isinstance(v, str) or not v.strip() or len(v) > 200:
                raise _fail("TRANSFER_FIELD_INVALID", f"{path}.{key}[{n}]", "must be text of 1-200 characters.")
        out[key] = values
    return out


def _authorisation(block: dict[str, Any], path: str) -> dict[str, Any]:
    a = _object(block, "authorisation", path.rsplit(".", 1)[0])
    assert a is not None
    out: dict[str, Any] = {
        "identifier": _text(a, "identifier", path, 100, domain.IDENTIFIER),
        "cooperative_approach": _text(a, "cooperative_approach", path, 100, domain.IDENTIFIER),
        "authorising_party": _party(a, "authorising_party", path),
        "first_transfer_definition": _choice(a, "first_transfer_definition", path, domain.DEFINITIONS),
        "version": _int(a, "version", path, 1, 1_000_000),
        "authorisation_date": _date(a, "authorisation_date", path).isoformat(),
        "purposes": _choice(a, "purposes", path, PURPOSE_LABELS),
        "oimp_purposes": _text(a, "oimp_purposes", path, 1000, empty=True),
        "letter_sha256": _text(a, "letter_sha256", path, 64, SHA256, nullable=True),
        "originating_registry": _text(a, "originating_registry", path, 100, domain.IDENTIFIER),
    }
    parties = _list(a, "acquiring_parties", path, 200)
    for n, p in enumerate(parties):
        if not isinstance(p, str) or p not in _iso_parties():
            raise _fail("TRANSFER_FIELD_INVALID", f"{path}.acquiring_parties[{n}]", "must be an ISO 3166-1 alpha-2 code.")
    out["acquiring_parties"] = parties
    out["first_transfer_definitions"] = _definitions(a, path, out)
    return out


PURPOSES_OF = {"NDC": ("ndc",), "OIMP": ("oimp",), "NDC and OIMP": ("ndc", "oimp")}


def _definitions(a: dict[str, Any], path: str, out: dict[str, Any]) -> dict[str, str]:
    """The first-transfer definition of each authorised purpose (optional: files
    that name one definition apply it to every purpose)."""
    purposes = PURPOSES_OF[out["purposes"]]
    given = a.get("first_transfer_definitions")
    field = f"{path}.first_transfer_definitions"
    if given is None:
        return {p: out["first_transfer_definition"] for p in purposes}
    if not isinstance(given, dict) or set(given) - set(purposes):
        raise _fail("TRANSFER_FIELD_INVALID", field, f"maps the authorised purposes ({', '.join(purposes)}) to definitions.")
    for p, d in given.items():
        if d not in domain.DEFINITIONS:
            raise _fail("TRANSFER_FIELD_INVALID", f"{field}.{p}", f"must be one of: {', '.join(domain.DEFINITIONS)}.")
    return {p: given.get(p, out["first_transfer_definition"]) for p in purposes}


def _itmo(block: dict[str, Any], field: str) -> tuple[int, int]:
    """The ITMO identifier (decision 6/CMA.4) must say what the block says:
    its cooperative approach, originating registry, first transferring
    Party, vintage, and as many serials as the block holds."""
    parts = block["itmo_id"].split(":")
    if len(parts) != 5:
        raise _fail("TRANSFER_FIELD_INVALID", field, "is approach:registry:party:serials:vintage.")
    approach, registry, party, serials, vintage = parts
    low, _, high = serials.partition("-")
    if not low.isdigit() or high and not high.isdigit() or not vintage.isdigit():
        raise _fail("TRANSFER_FIELD_INVALID", field, "has no serials or vintage.")
    start, end = int(low), int(high or low)
    if not 1 <= start <= end <= MAX_SERIAL:
        raise _fail("TRANSFER_FIELD_OUT_OF_RANGE", field, "has serials out of order or beyond 64 bits.")
    a = block["authorisation"]
    if (approach, registry, party, int(vintage), end - start + 1) != (
        a["cooperative_approach"], a["originating_registry"], a["authorising_party"], block["vintage"], block["quantity"]
    ):
        raise _fail("TRANSFER_ITMO_MISMATCH", field, "does not match the block's authorisation, vintage or quantity.")
    return start, end
