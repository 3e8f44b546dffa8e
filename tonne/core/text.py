"""Text a person typed is kept whole or refused: never cut to fit a column.
The one rule for every length limit in the registry (TEXT_TOO_LONG)."""

from __future__ import annotations

from tonne.core.errors import ValidationFailed

# Free text without a column limit (reasons, notes): long enough for any
# honest explanation, short enough to keep a ledger entry small.
LONG_TEXT = 2000


def bounded(value: object, field: str, limit: int, *, label: str = "") -> str:
    """The stripped text, or TEXT_TOO_LONG when it is longer than `limit`."""
    text = str(value or "").strip()
    if len(text) > limit:
        raise ValidationFailed(
            "TEXT_TOO_LONG",
            f"{label or field} is {len(text):,} characters long; at most {limit:,} are kept. Shorten it.",
            field=field,
            details={"limit": limit, "length": len(text)},
        )
    return text


def fits(model: type, field: str, value: object, *, label: str = "") -> str:
    """`bounded` with the limit of the model's own column (CharField max_length)."""
    limit = model._meta.get_field(field).max_length or LONG_TEXT  # type: ignore[attr-defined]
    return bounded(value, field, limit, label=label)
