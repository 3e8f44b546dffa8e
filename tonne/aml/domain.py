"""Pure rules of the monitoring: which alerts put the account on hold, and
which transactions the monitor reads."""

from __future__ import annotations

from collections.abc import Collection

# Issuance and buffer contributions create units; the monitor reads what moves them.
UNSCANNED_KINDS = ("issuance", "buffer_contribution")
# A transaction that still waits completes later, in place: the scan stops before it.
WAITING_STATUSES = ("proposed", "awaiting_approval", "delayed")


def holds(rule: str, account_id: int | None, hold_rules: Collection[str]) -> bool:
    """An alert holds the account's units when the country says its rule does
    and it names an account (issuance anomalies name none)."""
    return rule in hold_rules and account_id is not None


def alerted_account(rule: str, from_account_id: int | None, to_account_id: int | None) -> int | None:
    """The account an alert on a transaction is about: the transferring one,
    but the acquiring one for circular trading (where the units came back)."""
    return to_account_id if rule == "circular_trading" else from_account_id
