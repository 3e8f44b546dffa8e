"""The pure rules of monitoring, reporting and verification: what a
monitoring period and a claim per vintage must be, and what a verifier may
sign against it. No database here; the services apply these to rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from tonne.core.errors import RuleChecks, ValidationFailed
from tonne.units.domain import check_quantity


def parse_date(value: object, field: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed("FIELD_INVALID", f"{field} must be a date (YYYY-MM-DD).", field=field) from None


def check_period(start: dt.date, end: dt.date, *, today: dt.date) -> None:
    """A monitoring period runs forwards and has ended by `today`."""
    if end < start:
        raise ValidationFailed("PERIOD_INVALID", "The monitoring period ends before it starts.", field="period_end")
    if end > today:
        raise ValidationFailed("PERIOD_IN_FUTURE", "A monitoring period cannot end in the future.", field="period_end")


def check_crediting(start: dt.date, end: dt.date, crediting: tuple[dt.date | None, dt.date | None]) -> None:
    """Units are credited only for what happened in the crediting period."""
    first, last = crediting
    if (first is not None and start < first) or (last is not None and end > last):
        raise ValidationFailed(
            "PERIOD_OUTSIDE_CREDITING",
            f"The monitoring period {start} – {end} is outside the project's crediting period "
            f"{first or '…'} – {last or '…'}.",
            field="period_start",
            details={"start": start.isoformat(), "end": end.isoformat(), "first": first.isoformat() if first else "…", "last": last.isoformat() if last else "…"},
        )


# A claim beyond this many times the project's own estimate for the period is
# a slip (a unit or a digit too many), never over-performance: refused.
CLAIM_ESTIMATE_FACTOR = 100


def check_claim_plausible(
    claimed: Mapping[int, int], period: tuple[dt.date, dt.date], estimations: list[tuple[dt.date, dt.date, int]]
) -> None:
    """The claim against the project's estimate at its average daily rate
    (no estimate given: nothing to compare with)."""
    days = sum((end - start).days + 1 for start, end, _ in estimations)
    if days <= 0:
        return
    expected = sum(units for _, _, units in estimations) * ((period[1] - period[0]).days + 1) / days
    total = sum(claimed.values())
    if total > CLAIM_ESTIMATE_FACTOR * max(expected, 1):
        raise ValidationFailed(
            "CLAIM_ABOVE_ESTIMATE",
            f"{total:,} units claimed where the project estimates about {round(expected):,} for this period: "
            f"more than {CLAIM_ESTIMATE_FACTOR} times the estimate. Check the quantities.",
            field="vintages",
            details={"claimed": total, "estimated": round(expected)},
        )


def vintage_quantities(rows: object, field: str, period: tuple[dt.date, dt.date] | None = None) -> dict[int, int]:
    """Quantities per vintage year, from rows ({vintage, quantity}) or a
    mapping; each vintage once, inside the monitoring `period` when given."""
    if isinstance(rows, dict):
        rows = [{"vintage": k, "quantity": v} for k, v in rows.items()]
    if not isinstance(rows, list) or not rows:
        raise ValidationFailed("VINTAGES_REQUIRED", f"{field} needs at least one vintage and quantity.", field=field)
    out: dict[int, int] = {}
    for row in rows:
        try:
            vintage = int(row["vintage"])
        except (KeyError, TypeError, ValueError):
            raise ValidationFailed("VINTAGE_INVALID", f"{field}: each row needs a vintage year.", field=field) from None
        if vintage in out:
            raise ValidationFailed("VINTAGE_DUPLICATE", f"{field}: vintage {vintage} appears twice.", field=field, details={"vintage": vintage})
        if period and not period[0].year <= vintage <= period[1].year:
            raise ValidationFailed(
                "VINTAGE_OUTSIDE_PERIOD",
                f"{field}: vintage {vintage} is outside the monitoring period {period[0]} – {period[1]}.",
                field=field,
                details={"vintage": vintage, "start": period[0].isoformat(), "end": period[1].isoformat()},
            )
        out[vintage] = check_quantity(row.get("quantity"), field=field)
    return out


def check_verified(claimed: Mapping[int, int], verified: Mapping[int, int]) -> dict[int, int]:
    """What the verifier signs, per claimed vintage (0 where it signs none):
    only claimed vintages, and never more than was claimed."""
    unknown = sorted(set(verified) - set(claimed))
    if unknown:
        raise ValidationFailed(
            "VINTAGE_NOT_CLAIMED", f"Vintage(s) {', '.join(map(str, unknown))} were not claimed in this report.", field="verified",
            details={"vintages": unknown},
        )
    out: dict[int, int] = {}
    for vintage, quantity_claimed in claimed.items():
        quantity = verified.get(vintage, 0)
        if quantity > quantity_claimed:
            raise ValidationFailed(
                "VERIFIED_EXCEEDS_CLAIMED",
                f"Vintage {vintage}: verified {quantity} exceeds the {quantity_claimed} claimed.",
                field="verified",
                details={"vintage": vintage, "verified": quantity, "claimed": quantity_claimed},
            )
        out[vintage] = quantity
    return out


# -- the VVB's assignment, opinion, and the registry's approval of it -------------------

PENDING, ACCEPTED, DECLINED = "pending", "accepted", "declined"
POSITIVE, NEGATIVE = "positive", "negative"
OPINION_COMMENTS_LIMIT = 20_000


def check_assignment_answer(current: str, decision: str, *, no_conflict_of_interest: bool, reason: str) -> None:
    """A VVB answers its assignment once: it accepts only declaring it has no
    conflict of interest with the project, and declines only with a reason."""
    if decision not in (ACCEPTED, DECLINED):
        raise ValidationFailed("FIELD_INVALID", "decision must be accepted or declined.", field="decision")
    if current != PENDING:
        raise ValidationFailed("ASSIGNMENT_ALREADY_ANSWERED", f"This assignment is already {current}.", details={"status": current})
    if decision == ACCEPTED and not no_conflict_of_interest:
        raise ValidationFailed(
            "CONFLICT_OF_INTEREST_NOT_DECLARED",
            "Accepting needs your declaration that you have no conflict of interest with this project.",
            field="no_conflict_of_interest",
        )
    if decision == DECLINED and not reason.strip():
        raise ValidationFailed("REASON_REQUIRED", "Declining an assignment needs a reason.", field="reason")


def check_may_act(assignment: str) -> None:
    """The VVB verifies or gives its opinion only on an assignment it accepted
    (declaring no conflict of interest)."""
    if assignment != ACCEPTED:
        raise ValidationFailed(
            "ASSIGNMENT_NOT_ACCEPTED",
            "Accept the assignment, declaring no conflict of interest, before acting on this report.",
        )


def check_opinion(opinion: str, comments: str) -> None:
    """A positive opinion verifies; a negative one rejects and says why."""
    if opinion not in (POSITIVE, NEGATIVE):
        raise ValidationFailed("FIELD_INVALID", "opinion must be positive or negative.", field="opinion")
    if opinion == NEGATIVE and not comments.strip():
        raise ValidationFailed("COMMENTS_REQUIRED", "A negative opinion needs comments.", field="comments")


def check_issuable_verification(*, approval_required: bool, approved: bool) -> None:
    """Where the registry requires it, a verification is approved before issuance."""
    if approval_required and not approved:
        raise ValidationFailed(
            "VERIFICATION_NOT_APPROVED",
            "The registry requires its own approval of the VVB's verification before issuance.",
        )
RETIREMENT_FIELDS = ("beneficiary", "purpose", "jurisdiction", "reason", "compliance_period", "using_entity", "on_behalf_of")
MAX_INSTRUCTION_LINES = 50


def instruction_lines(lines: Any, vintages: set[int]) -> list[tuple[int, dict[str, Any]]]:
    """The shape of an issuance instruction: each line a vintage of the
    report, a positive whole quantity, and either an account or a retirement."""
    if not isinstance(lines, list) or len(lines) > MAX_INSTRUCTION_LINES:
        raise ValidationFailed(
            "FIELD_INVALID", f"lines must be a list of at most {MAX_INSTRUCTION_LINES} lines.", field="lines"
        )
    checks = RuleChecks()  # every line's broken rules at once
    out: list[tuple[int, dict[str, Any]]] = []
    for i, line in enumerate(lines):
        with checks.rule():
            out.append(_instruction_line(f"lines[{i}]", line, vintages))
    checks.done()
    return out


def _instruction_line(where: str, line: Any, vintages: set[int]) -> tuple[int, dict[str, Any]]:
    if not isinstance(line, dict):
        raise ValidationFailed("FIELD_INVALID", f"{where} must be an object.", field=where)
    checks = RuleChecks()
    vintage, quantity = line.get("vintage"), line.get("quantity")
    with checks.rule():
        if not isinstance(vintage, int) or isinstance(vintage, bool) or vintage not in vintages:
            raise ValidationFailed("VINTAGE_NOT_CLAIMED", f"{where}.vintage must be a vintage of this report.", field=where)
    with checks.rule():
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            raise ValidationFailed("QUANTITY_INVALID", f"{where}.quantity must be a positive whole number.", field=where)
    account, retire = line.get("account"), line.get("retire")
    with checks.rule():
        if bool(account) == bool(retire):
            raise ValidationFailed(
                "FIELD_INVALID", f"{where} names either an account or a retirement (retire), not both.", field=where
            )
        if not account and (not isinstance(retire, dict) or set(retire) - set(RETIREMENT_FIELDS)):
            raise ValidationFailed(
                "FIELD_INVALID", f"{where}.retire has the fields {', '.join(RETIREMENT_FIELDS)}.", field=where
            )
    checks.done()
    if account:
        return vintage, {"account": str(account).strip(), "quantity": quantity}
    return vintage, {"retire": dict(retire or {}), "quantity": quantity}
