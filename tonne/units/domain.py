"""Pure rules for serial numbers and unit selection (no database)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings

from tonne.core import iso3166, text
from tonne.core.errors import NotFound, RuleChecks, ValidationFailed
from tonne.organisations.models import Account, Organisation

MAX_SERIAL = 2**62  # fits a signed 64-bit column with room to spare


@dataclass(frozen=True, order=True)
class SerialRange:
    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 1 or self.end < self.start or self.end > MAX_SERIAL:
            raise ValidationFailed(
                "SERIAL_RANGE_INVALID",
                f"{self.start}-{self.end} is not a serial range (start ≥ 1, end ≥ start).",
                field="ranges",
                details={"serials": f"{self.start}-{self.end}"},
            )

    @property
    def count(self) -> int:
        return self.end - self.start + 1

    def overlaps(self, other: SerialRange) -> bool:
        return self.start <= other.end and other.start <= self.end


@dataclass(frozen=True)
class SerialPrefix:
    """Everything in a serial string but the range."""

    host: str
    unit_class: str
    scope: int
    project: int
    vintage: int
    issuance: int


@dataclass(frozen=True)
class Serial:
    prefix: SerialPrefix
    range: SerialRange

    def render(self) -> str:
        return render_serial(self.prefix, self.range)


def render_serial(prefix: SerialPrefix, serials: SerialRange) -> str:
    return (
        f"{prefix.host}-{prefix.unit_class}-{prefix.scope}-{prefix.project:04d}-{prefix.vintage}"
        f"-{prefix.issuance}-{serials.start}-{serials.end}"
    )


def block_answer(prefix: SerialPrefix, serials: SerialRange, project_id: str) -> dict[str, Any]:
    """One block of a transaction as the API answers it."""
    return {
        "serial": render_serial(prefix, serials),
        "serial_start": serials.start,
        "serial_end": serials.end,
        "quantity": serials.end - serials.start + 1,
        "project_id": project_id,
        "vintage": prefix.vintage,
    }


def moved_blocks(ordered: list[Piece], prefixes: dict[int, tuple[int, str, int, int, str]]) -> list[dict[str, Any]]:
    """A move's blocks as its answer shows them, from the pieces it moved and
    the prefixes of their issuances (number, host, scope, project number, project identifier)."""
    found = []
    for piece in ordered:
        number, host, scope, project, project_id = prefixes[piece.block.issuance_id]
        prefix = SerialPrefix(host=host, unit_class=piece.block.unit_class, scope=scope, project=project,
                              vintage=piece.block.vintage, issuance=number)
        found.append(block_answer(prefix, piece.serials, project_id))
    return found


_SERIAL_RE = re.compile(
    r"^(?P<host>[A-Z]{2})-(?P<cls>[A-Z][A-Z0-9.]{0,9})-(?P<scope>[1-9]|1[0-5])-(?P<project>\d{4,})"
    r"-(?P<vintage>\d{4})-(?P<issuance>[1-9]\d*)-(?P<start>[1-9]\d*)(?:-(?P<end>[1-9]\d*))?$",
    re.ASCII,
)
_RANGE_RE = re.compile(r"^(?P<start>[1-9]\d*)(?:\s*(?:-|–|\.\.|to)\s*(?P<end>[1-9]\d*))?$", re.ASCII)


def parse_serial(text: str) -> Serial:
    """Parse a full serial string; a single unit may omit the end."""
    match = _SERIAL_RE.match((text or "").strip().upper())
    if not match:
        raise ValidationFailed(
            "SERIAL_MALFORMED",
            f"{text!r} is not a serial number of the form HOST-CLASS-SCOPE-PROJECT-VINTAGE-ISSUANCE-START-END "
            f"(e.g. CI-VER-3-0042-2024-17-1000001-1005000).",
            field="serial",
            details={"text": text},
        )
    g = match.groupdict()
    project = g["project"]
    if len(project) > 4 and project.startswith("0"):
        raise ValidationFailed("SERIAL_MALFORMED", f"{text!r}: the project number has extra leading zeros.", field="serial", details={"text": text})
    start = int(g["start"])
    end = int(g["end"]) if g["end"] else start
    prefix = SerialPrefix(g["host"], g["cls"], int(g["scope"]), int(project), int(g["vintage"]), int(g["issuance"]))
    return Serial(prefix, SerialRange(start, end))


def parse_lookup(text: str) -> tuple[SerialPrefix | None, SerialRange]:
    """What the public may paste: a full serial string, or bare numbers `n` / `a-b`."""
    raw = (text or "").strip()
    bare = _RANGE_RE.match(raw.replace(",", "").replace(" ", ""))
    if bare:
        start = int(bare["start"])
        end = int(bare["end"]) if bare["end"] else start
        return None, SerialRange(start, end)
    serial = parse_serial(raw)
    return serial.prefix, serial.range


def check_disjoint(ranges: list[SerialRange]) -> list[SerialRange]:
    ordered = sorted(ranges)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if a.overlaps(b):
            raise ValidationFailed(
                "SERIAL_RANGES_OVERLAP", f"Requested ranges {a.start}-{a.end} and {b.start}-{b.end} overlap.", field="ranges",
                details={"serials": f"{a.start}-{a.end}", "other_serials": f"{b.start}-{b.end}"},
            )
    return ordered


def check_quantity(quantity: object, *, field: str = "quantity") -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise ValidationFailed("QUANTITY_INVALID", "quantity must be a whole number of units.", field=field)
    if quantity <= 0:
        raise ValidationFailed("QUANTITY_NOT_POSITIVE", "quantity must be a positive whole number.", field=field)
    if quantity > MAX_SERIAL:
        raise ValidationFailed("QUANTITY_INVALID", "quantity is too large.", field=field)
    return quantity


# Column limits of Transaction's free-text fields (units.models), kept here so
# the rules need no database.
BENEFICIARY_LIMIT = 300


def retirement_details(
    beneficiary: object = "", purpose: object = "", jurisdiction: object = "", reason: object = "", *,
    compliance_period: object = "", using_entity: object = "", on_behalf_of: object = "",
) -> dict[str, str]:
    """What a retirement records, checked: a beneficiary (kept whole, never
    cut), a known purpose, an ISO 3166-1 or 3166-2 jurisdiction when given;
    for compliance use, the period or reporting year and the using entity; and
    the client an exchange or broker retires for. Empty optional fields are
    left out, so a retirement without them reads as before."""
    checks, out = RuleChecks(), {}  # every broken rule of the form at once
    with checks.rule():
        out["beneficiary"] = text.bounded(beneficiary, "beneficiary", BENEFICIARY_LIMIT)
        if not out["beneficiary"]:
            raise ValidationFailed("RETIREMENT_BENEFICIARY_REQUIRED", "A retirement names its beneficiary.", field="beneficiary")
    with checks.rule():
        if purpose not in RETIREMENT_PURPOSES:
            raise ValidationFailed(
                "RETIREMENT_PURPOSE_INVALID", f"purpose must be one of: {', '.join(RETIREMENT_PURPOSES)}.", field="purpose",
                details={"allowed": list(RETIREMENT_PURPOSES)},
            )
        out["purpose"] = str(purpose)
    where = str(jurisdiction or "").strip()
    with checks.rule():
        out["jurisdiction"] = iso3166.jurisdiction(where, "jurisdiction") if where else ""
    with checks.rule():
        out["reason"] = text.bounded(reason, "reason", text.LONG_TEXT)
    with checks.rule():
        out["compliance_period"] = compliance_period_text(compliance_period)
    with checks.rule():
        out["using_entity"] = text.bounded(using_entity, "using_entity", BENEFICIARY_LIMIT)
    with checks.rule():
        out["on_behalf_of"] = text.bounded(on_behalf_of, "on_behalf_of", BENEFICIARY_LIMIT)
    checks.done()
    extra = ("compliance_period", "using_entity", "on_behalf_of")
    return {k: v for k, v in out.items() if k not in extra or v}


COMPLIANCE_PERIOD_RE = re.compile(r"^(\d{4})(?:\s*[-–/]\s*(\d{4}))?$")
FIRST_YEAR, LAST_YEAR = 1990, 2100


def compliance_period_text(value: object) -> str:
    """A reporting year ("2025") or a compliance period ("2024-2026"), as
    the registry writes it; anything else is refused."""
    said = str(value or "").strip()
    if not said:
        return ""
    match = COMPLIANCE_PERIOD_RE.match(said)
    start = int(match.group(1)) if match else 0
    end = int(match.group(2) or start) if match else 0
    if not match or not FIRST_YEAR <= start <= end <= LAST_YEAR:
        raise ValidationFailed(
            "COMPLIANCE_PERIOD_INVALID",
            f"compliance_period is a reporting year (e.g. 2025) or a period of years (e.g. 2024-2026) "
            f"between {FIRST_YEAR} and {LAST_YEAR}.",
            field="compliance_period",
            details={"first_year": FIRST_YEAR, "last_year": LAST_YEAR},
        )
    return str(start) if start == end else f"{start}-{end}"


def cancellation_reason(reason: object) -> str:
    said = text.bounded(reason, "reason", text.LONG_TEXT)
    if not said:
        raise ValidationFailed("CANCELLATION_REASON_REQUIRED", "A cancellation needs a reason.", field="reason")
    return said


def _parse_range(value: object) -> SerialRange:
    try:
        start, end = cast(tuple[Any, Any], value)
        if isinstance(start, bool) or isinstance(end, bool):
            raise TypeError
        return SerialRange(int(start), int(end))
    except (TypeError, ValueError):
        raise ValidationFailed(
            "SERIAL_RANGE_INVALID", f"{value!r} is not a serial range [start, end].", field="ranges",
            details={"text": repr(value)},
        ) from None


def check_range_count(count: int, limit: int) -> None:
    """One request names at most `limit` serial ranges: refused before any
    parsing or lock, so a body of thousands of ranges costs nothing."""
    if count > limit:
        raise ValidationFailed(
            "TOO_MANY_RANGES",
            f"A request may name at most {limit} serial ranges; this one names {count}. Split it.",
            field="ranges",
            details={"limit": limit, "given": count},
        )


_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class Selection:
    """Which units to move: explicit ranges, or a quantity chosen by criteria
    (oldest acquisition first, then lowest serial)."""

    ranges: tuple[SerialRange, ...] = ()
    quantity: int | None = None
    project: str | None = None
    vintage: int | None = None
    unit_class: str | None = None
    issuance: str | None = None  # an issuance's uid: units of that issuance only

    @classmethod
    def build(
        cls,
        *,
        ranges: list[tuple[int, int]] | list[SerialRange] | None = None,
        quantity: int | None = None,
        project: str | None = None,
        vintage: int | None = None,
        unit_class: str | None = None,
        issuance: str | None = None,
    ) -> Selection:
        if ranges:
            check_range_count(len(ranges), settings.TONNE_MAX_RANGES_PER_REQUEST)
            parsed = [r if isinstance(r, SerialRange) else _parse_range(r) for r in ranges]
            if quantity is not None and sum(r.count for r in parsed) != quantity:
                raise ValidationFailed(
                    "QUANTITY_MISMATCH", "quantity does not equal the number of units in the ranges.", field="quantity"
                )
            if project or vintage or unit_class or issuance:
                raise ValidationFailed(
                    "SELECTION_AMBIGUOUS", "Give either serial ranges or selection criteria, not both.", field="ranges"
                )
            return cls(ranges=tuple(check_disjoint(parsed)))
        if quantity is None:
            raise ValidationFailed(
                "SELECTION_EMPTY", "Say which units to move: serial ranges, or a quantity.", field="quantity"
            )
        if issuance is not None:
            issuance = str(issuance).strip().lower()
            if not _UUID_RE.match(issuance):
                raise ValidationFailed("ISSUANCE_INVALID", "issuance is an issuance's identifier (a UUID).", field="issuance")
        return cls(
            quantity=check_quantity(quantity), project=project, vintage=vintage, unit_class=unit_class, issuance=issuance
        )

    @property
    def total(self) -> int:
        return sum(r.count for r in self.ranges) if self.ranges else int(self.quantity or 0)

    def describe(self) -> dict[str, Any]:
        if self.ranges:
            return {"ranges": [[r.start, r.end] for r in self.ranges]}
        described = {"quantity": self.quantity, "project": self.project, "vintage": self.vintage, "unit_class": self.unit_class}
        if self.issuance:  # only when given: the requests of before keep their hash
            described["issuance"] = self.issuance
        return described


RETIREMENT_PURPOSES = ("voluntary", "ndc", "corsia", "other_compliance", "other")


def unit_state(account_type: str) -> str:
    return {
        "holding": "held",
        "buffer": "buffer",
        "retirement": "retired",
        "cancellation": "cancelled",
        "omge": "cancelled",
        "export": "exported",
        "sop": "held",
    }[account_type]


def issuance_shares(quantity: int, sop_basis_points: int, omge_basis_points: int) -> tuple[int, int]:
    """Share of proceeds and OMGE cancellation of an issuance of `quantity`.

    Rounding rule: each share is computed on the whole issued quantity and
    rounded up to a whole unit, separately, so neither the Adaptation Fund
    nor the atmosphere ever receives less than its rate (decision 3/CMA.3:
    5 % and at least 2 %). An issuance of 1 unit at 5 % and 2 % therefore
    owes 1 + 1 units and is refused: shares are never rounded away."""
    if quantity <= 0 or sop_basis_points < 0 or omge_basis_points < 0:
        raise ValueError("quantity must be positive and rates non-negative")
    return -(-quantity * sop_basis_points // 10000), -(-quantity * omge_basis_points // 10000)


# -- moving units: the pure rules ------------------------------------------------------


@dataclass(frozen=True)
class MoveRequest:
    """A request to move units, as the services received it (identifiers checked)."""

    kind: str
    source: str  # account identifiers
    target: str
    selection: Selection
    key: str  # the Idempotency-Key
    request_hash: str
    details: dict[str, str]
    awaits_partner: bool = False  # an export held until the receiving registry accepts it
    onward_of: str = ""  # a retirement that completes this transfer (transfer and retire: units.onward)


# A move that waits for another registry's acceptance: its serials stay
# reserved in the holder's account (not spendable, not terminal) until the
# caller settles it (accepted) or cancels it (rejected, timed out); no
# settlement time ever comes for it.
AWAITS_PARTNER = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)


@dataclass(frozen=True)
class BlockRow:
    id: int
    issuance_id: int
    project_id: int
    vintage: int
    unit_class: str
    serial_start: int
    serial_end: int
    acquired_at: Any  # as the database returns it; written back unchanged

    @property
    def quantity(self) -> int:
        return self.serial_end - self.serial_start + 1


@dataclass(frozen=True)
class Piece:
    """Serials a move takes, and the block that holds them."""

    block: BlockRow
    serials: SerialRange


ACQUIRING_TYPES: dict[str, tuple[str, ...]] = {
    "transfer": (Account.Type.HOLDING,),
    "retirement": (Account.Type.RETIREMENT,),
    "cancellation": (Account.Type.CANCELLATION, Account.Type.OMGE),
    "reversal": (Account.Type.CANCELLATION,),
    "export": (Account.Type.EXPORT,),
}
TRANSFERRING_TYPES: dict[str, tuple[str, ...]] = {
    "transfer": (Account.Type.HOLDING,),
    "retirement": (Account.Type.HOLDING,),
    "cancellation": (Account.Type.HOLDING,),
    "reversal": (Account.Type.BUFFER,),
    "export": (Account.Type.HOLDING,),
}


def check_transferring(kind: str, account: Account) -> None:
    """Whether units may leave `account` by a move of this kind."""
    if account.is_terminal:
        raise ValidationFailed(
            "TRANSFERRING_ACCOUNT_TERMINAL",
            f"Units in {account.identifier} ({account.type}) are final and never move again.",
            field="from_account",
            details={"account": account.identifier, "account_type": account.type},
        )
    if account.status == Account.Status.CLOSED:
        raise ValidationFailed("TRANSFERRING_ACCOUNT_CLOSED", f"Account {account.identifier} is closed.", field="from_account", details={"account": account.identifier})
    if account.status == Account.Status.SUSPENDED:
        raise ValidationFailed("TRANSFERRING_ACCOUNT_SUSPENDED", f"Account {account.identifier} is suspended.", field="from_account", details={"account": account.identifier})
    if account.type not in TRANSFERRING_TYPES[kind]:
        raise ValidationFailed(
            "TRANSFERRING_ACCOUNT_TYPE_NOT_ALLOWED", f"A {kind} cannot start from a {account.type} account.", field="from_account",
            details={"movement": kind, "account_type": account.type},
        )
    if account.organisation is not None and account.organisation.status != Organisation.Status.APPROVED:
        raise ValidationFailed(
            "TRANSFERRING_ORGANISATION_NOT_APPROVED",
            f"The holder of {account.identifier} is {account.organisation.status}.",
            field="from_account",
            details={"account": account.identifier, "status": account.organisation.status},
        )


def check_acquiring(kind: str, source: Account, account: Account) -> None:
    """Whether `account` may receive units from `source` by a move of this kind."""
    if account.pk == source.pk:
        raise ValidationFailed("SAME_ACCOUNT", "The acquiring account is the transferring account.", field="to_account")
    if account.status != Account.Status.OPEN:
        raise ValidationFailed("ACQUIRING_ACCOUNT_NOT_OPEN", f"Account {account.identifier} is {account.status}.", field="to_account", details={"account": account.identifier, "status": account.status})
    if account.type not in ACQUIRING_TYPES[kind]:
        raise ValidationFailed(
            "ACQUIRING_ACCOUNT_TYPE_NOT_ALLOWED", f"A {kind} cannot go to a {account.type} account.", field="to_account",
            details={"movement": kind, "account_type": account.type},
        )
    if account.organisation is not None and account.organisation.status != Organisation.Status.APPROVED:
        raise ValidationFailed(
            "ACQUIRING_ORGANISATION_NOT_APPROVED",
            f"The holder of {account.identifier} is {account.organisation.status}.",
            field="to_account",
            details={"account": account.identifier, "status": account.organisation.status},
        )


def pieces_of_range(wanted: SerialRange, blocks: list[BlockRow], account: str) -> list[Piece]:
    """The pieces of `blocks` (in serial order, never overlapping) that make
    up `wanted`; every serial of it must be held."""
    pieces: list[Piece] = []
    at = wanted.start
    for block in blocks:
        if block.serial_end < at:
            continue
        if block.serial_start > at:
            break
        end = min(block.serial_end, wanted.end)
        pieces.append(Piece(block, SerialRange(at, end)))
        at = end + 1
        if at > wanted.end:
            break
    if at <= wanted.end:
        raise ValidationFailed(
            "SERIAL_RANGE_NOT_HELD",
            f"Serials {wanted.start}-{wanted.end} are not all held in account {account} (serial {at} is not there).",
            field="ranges",
            details={"first_missing_serial": at, "serials": f"{wanted.start}-{wanted.end}", "account": str(account)},
        )
    return pieces


def free_parts(block: BlockRow, covered: list[tuple[int, int]]) -> list[SerialRange]:
    """The parts of `block` outside the `covered` ranges (reserved or frozen serials)."""
    parts, at = [], block.serial_start
    for start, end in sorted(covered):
        if start > at:
            parts.append(SerialRange(at, min(start - 1, block.serial_end)))
        at = max(at, end + 1)
    if at <= block.serial_end:
        parts.append(SerialRange(at, block.serial_end))
    return parts


def take(block: BlockRow, parts: list[SerialRange], need: int, pieces: list[Piece]) -> int:
    """Selection by criteria: take up to `need` units from the parts of a
    block, lowest serials first, onto `pieces`; returns what is still needed."""
    for part in parts:
        count = min(need, part.count)
        pieces.append(Piece(block, SerialRange(part.start, part.start + count - 1)))
        need -= count
        if need == 0:
            break
    return need


def missing_criterion(project: str | None, project_found: bool, issuance: str | None, issuance_found: bool) -> None:
    """A selection naming a project or issuance that does not exist is "not
    found", not "insufficient units"."""
    if project and not project_found:
        raise NotFound("PROJECT_NOT_FOUND", f"No project {project}.", field="project", details={"project": project})
    if issuance and not issuance_found:
        raise NotFound("ISSUANCE_NOT_FOUND", f"No issuance {issuance}.", field="issuance", details={"issuance": issuance})


def insufficient(account: str, requested: int, available: int, held_back: int) -> ValidationFailed:
    also = f" ({held_back:,} more are frozen or committed to waiting transactions)" if held_back else ""
    return ValidationFailed(
        "INSUFFICIENT_UNITS",
        f"Account {account} holds {available:,} matching units that may move{also}; {requested:,} requested.",
        field="quantity",
        details={"account": account, "available": available, "requested": requested,
                 **({"held_back": held_back} if held_back else {})},
    )


# A block shrunk to its first part: [id, start, end, account, acquired].
Shrunk = list[Any]
# Another part of a split block, a new row: the columns of REMAINDER_COLUMNS.
Remainder = list[Any]


def split_blocks(pieces: list[Piece], source_id: int, target_id: int, acquired: Any) -> tuple[list[Shrunk], list[Remainder]]:
    """How the pieces move, splitting blocks at their boundaries; every part
    keeps all attributes but its range (and account, and acquisition time
    for the parts that move). Each block row shrinks to its first part; the
    other parts become new rows, written after the shrinking so no two rows
    ever overlap."""
    by_block: dict[int, list[Piece]] = {}
    for piece in pieces:
        by_block.setdefault(piece.block.id, []).append(piece)
    shrunk: list[Shrunk] = []
    remainders: list[Remainder] = []
    for group in by_block.values():
        block = group[0].block
        parts: list[tuple[int, int, int, Any]] = []  # (start, end, account, acquired)
        at = block.serial_start
        for piece in sorted(group, key=lambda p: p.serials.start):
            if piece.serials.start > at:
                parts.append((at, piece.serials.start - 1, source_id, block.acquired_at))
            parts.append((piece.serials.start, piece.serials.end, target_id, acquired))
            at = piece.serials.end + 1
        if at <= block.serial_end:
            parts.append((at, block.serial_end, source_id, block.acquired_at))
        (start, end, account_id, acquired_at), *rest = parts
        shrunk.append([block.id, start, end, account_id, acquired_at])
        for start, end, account_id, acquired_at in rest:
            remainders.append(
                [block.issuance_id, block.project_id, block.vintage, block.unit_class, start, end, account_id, acquired_at]
            )
    return shrunk, remainders


def move_entry(kind: str, source: str, target: str, quantity: int, ordered: list[Piece], details: dict[str, str]) -> dict[str, Any]:
    """What the ledger entry of a completed move says."""
    data: dict[str, Any] = {
        "op": "move",
        "kind": kind,
        "from": source,
        "to": target,
        "quantity": quantity,
        "ranges": [[p.serials.start, p.serials.end] for p in ordered],
    }
    data.update({field: value for field, value in details.items() if value})
    return data


# -- what the controls say of a move (the vocabulary of units.controls_port) ---------------


@dataclass(frozen=True)
class MoveFacts:
    """What the control rules look at: the move as requested, once its units are chosen."""

    kind: str
    source: Account
    target: Account
    ranges: Sequence[tuple[int, int]]  # merged, ascending
    projects: frozenset[int]
    quantity: int
    at: dt.datetime


# The names of the control rules that may refuse a move (read with the account lock).
Flags = frozenset[str]


@dataclass(frozen=True)
class Decision:
    """What the controls say of a move whose units are chosen: proceed now,
    refuse (with the error that names the rule), or wait, for a second
    person's approval and/or until `execute_at`. The units service carries
    it out; the controls write only their own rows."""

    needs_approval: bool = False
    execute_at: dt.datetime | None = None
    refusal: ValidationFailed | None = None

    @property
    def proceeds(self) -> bool:
        return self.refusal is None and not self.waits

    @property
    def waits(self) -> bool:
        return self.refusal is None and (self.needs_approval or self.execute_at is not None)


PROCEED = Decision()


def merged_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Serial ranges sorted, adjacent ones joined."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and merged[-1][1] + 1 == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged
