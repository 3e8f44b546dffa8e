"""Pure rules for organisations, users and accounts."""

from __future__ import annotations

import re

from tonne.core.errors import ValidationFailed

# ISO 7064 MOD 97-10, as IBANs and the EU/UK registries use: letters count as
# 10..35, the check pair makes the whole number congruent to 1 mod 97.


_LETTER_VALUES = {code: str(code - 55) for code in range(ord("A"), ord("Z") + 1)}


def _digits(text: str) -> str:
    # One translate call: every move checks two account numbers.
    out = text.translate(_LETTER_VALUES)
    if out and not out.isdigit():
        bad = next(ch for ch in text if not (ch.isdigit() or "A" <= ch <= "Z"))
        raise ValueError(f"character {bad!r} cannot carry a check digit")
    return out


def mod97_check_digits(payload: str) -> str:
    return f"{98 - int(_digits(payload) + '00') % 97:02d}"


def mod97_is_valid(payload: str, check: str) -> bool:
    return len(check) == 2 and check.isdigit() and int(_digits(payload) + check) % 97 == 1


# Account identifier: {country}-{type code}-{number}-{check}, e.g. CI-100-1000004-16.
ACCOUNT_ID_RE = re.compile(r"^([A-Z]{2})-(\d{3})-(\d{7})-(\d{2})$", re.ASCII)

ACCOUNT_TYPE_CODES = {
    "holding": "100",
    "buffer": "200",
    "retirement": "300",
    "cancellation": "310",
    "omge": "320",
    "export": "330",
    "sop": "400",
}
TERMINAL_ACCOUNT_TYPES = frozenset({"retirement", "cancellation", "omge", "export"})
SYSTEM_ACCOUNT_TYPES = ("buffer", "retirement", "cancellation", "omge", "export", "sop")


def make_account_identifier(country: str, account_type: str, number: int) -> str:
    code = ACCOUNT_TYPE_CODES[account_type]
    payload = f"{country}{code}{number:07d}"
    return f"{country}-{code}-{number:07d}-{mod97_check_digits(payload)}"


def check_account_identifier(identifier: str, *, field: str = "account") -> str:
    """Normalise and check an account number; a typo fails its check digits."""
    text = (identifier or "").strip().upper()
    match = ACCOUNT_ID_RE.match(text)
    if not match:
        raise ValidationFailed(
            "ACCOUNT_IDENTIFIER_MALFORMED",
            f"{identifier!r} is not an account number (expected e.g. CI-100-1000004-16).",
            field=field,
            details={"text": repr(identifier)},
        )
    country, code, number, check = match.groups()
    if not mod97_is_valid(f"{country}{code}{number}", check):
        raise ValidationFailed(
            "ACCOUNT_CHECK_DIGITS",
            f"Account number {text} has invalid check digits; it was probably mistyped.",
            field=field,
            details={"account": text},
        )
    return text


# Organisation life cycle: which status may follow which.
ORGANISATION_TRANSITIONS: dict[str, frozenset[str]] = {
    "applied": frozenset({"approved", "rejected"}),
    "approved": frozenset({"suspended", "closed"}),
    "suspended": frozenset({"approved", "closed"}),
    "rejected": frozenset(),
    "closed": frozenset(),
}


def check_organisation_transition(current: str, target: str) -> None:
    if target not in ORGANISATION_TRANSITIONS.get(current, frozenset()):
        raise ValidationFailed(
            "ORGANISATION_TRANSITION_NOT_ALLOWED",
            f"An organisation cannot go from {current} to {target}.",
            field="status",
            details={"status": current, "target": target},
        )
