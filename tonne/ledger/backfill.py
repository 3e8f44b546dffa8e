"""`tonne ledger backfill`: a database made before the ledger recorded the
controls (freezes, limits, trusted accounts, the kill switch) or the
decisions of :mod:`tonne.ledger.state_decisions` (holds, approvals, KYC
reviews, screening hits, trusted destinations, AML alerts, beneficial
owners) has rows the ledger never stated, and users whose representative
delay (``in_force_from``) it never stated; verify reports the first. This
appends one entry per such row, with the row's values as they stand, so
that verify is clean again.

Only rows the ledger says nothing about are written: a row whose values
differ from what the ledger states is a divergence to investigate, and is
left for verify to name. Running it twice appends nothing the second time."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from tonne.ledger import state, state_decisions
from tonne.ledger.services import append_entry
from tonne.ledger.verify_checks import Divergence


def backfill() -> dict[str, int]:
    """Append the missing entries; how many of each kind."""
    counts: dict[str, int] = {}

    def append(kind: str, data: dict[str, Any]) -> None:
        append_entry(kind=kind, actor=None, data={**data, "backfilled": True})
        counts[kind] = counts.get(kind, 0) + 1

    with transaction.atomic():
        replay = state.replayed(moves=False)
        if isinstance(replay, Divergence):
            raise ValueError(f"{replay.code}: {replay.message}")
        live = state.live_rows(transactions=False)
        stated = replay.tables
        for uid, values in live["controls_freeze"]:
            if uid in stated["controls_freeze"]:
                continue
            append("control.freeze", {"freeze": uid, **{k: values[k] for k in (
                "scope", "account", "project", "serial_start", "serial_end")}})
            if values["lifted"]:
                append("control.freeze_lifted", {"freeze": uid})
        for account, values in live["controls_accountlimit"]:
            if account not in stated["controls_accountlimit"]:
                append("control.limits", {"account": account, **values})
        for row, values in live["controls_trustedaccount"]:
            if row not in stated["controls_trustedaccount"]:
                account, trusted = row.split(" trusts ")
                append("control.trusted_added", {"account": account, "trusted": trusted,
                                                  "effective_at": values["effective_at"]})
        if not stated["controls_registryswitch"] and any(
            values["suspended"] for _row, values in live["controls_registryswitch"]
        ):
            append("control.transfers", {"suspended": True, "reason": "Recorded when the ledger began stating the "
                                                                      "kill switch"})
        for kind, data in state_decisions.missing_entries(stated, live):
            append(kind, data)
        for username, values in live["organisations_user"]:
            fields = stated["organisations_user"].get(username)
            if fields is None or "in_force_from" in fields:
                continue
            if all(values[name] == value for name, (value, _seq) in fields.items()):
                append("user.changed", {"username": username, **{k: values[k] for k in (
                    "organisation", "role", "active", "in_force_from")}})
    return counts
