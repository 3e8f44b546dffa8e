"""What an entry keeps private, and how it commits to it (pure; no database).

From entry version 2 on, an entry's body (what is hashed, chained and
published) holds, in place of each private field, a commitment to it:

* ``p:<hex>``, a *pseudonym*, for accounts and users: the same account (or
  user) always gets the same pseudonym, so anyone can replay who holds which
  serials and check conservation without learning who the holder is. Its salt
  is derived from the registry's commitment key, so none is stored.
* ``c:<hex>``, a *commitment* to one value in one entry (an account's owner
  and name, a user's organisation, role and representative delay, a private
  document's file name, hash and size, an organisation's KYC review and
  screening hits and beneficial owners, an AML alert's rule, organisation and
  decision, the hash of a four-eyes request): a fresh random salt each time, kept in a private table, so
  two commitments to the same value cannot be linked.

Both are HMAC-SHA256(key=salt, message=prefix + canonical JSON of the value). The
opening of a field is ``{"value": ..., "salt": hex}``; anyone can check it
with :func:`verify_opening`, without the registry.

What stays public: kinds, quantities, serial ranges, account types, projects,
vintages, unit classes, a retirement's beneficiary, purpose and jurisdiction,
statuses and reasons, organisations (registered participants are public),
and the time of every entry.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from tonne.core.canonical import canonical_json

PSEUDONYM = "p:"
COMMITMENT = "c:"
ACCOUNT = "account"
USER = "user"
SECRET = "secret"  # noqa: S105  # a value committed to in this entry alone

_MOVE = {"from": ACCOUNT, "to": ACCOUNT}
_USER = {"username": USER, "organisation": SECRET, "role": SECRET, "root": SECRET, "in_force_from": SECRET}
_DESTINATION = {"account": ACCOUNT, "destination_account": SECRET}
_ARTICLE6 = {"requested_by": USER, "approved_by": USER}
# Private fields per entry kind: a dotted path ("[]" for every item of a
# list) and how it is committed to. Moves ("units.*" but issuance) use _MOVE.
PRIVATE_FIELDS: dict[str, dict[str, str]] = {
    "account.opened": {"account": ACCOUNT, "organisation": SECRET, "name": SECRET},
    "account.status": {"account": ACCOUNT},
    "units.issued": {"blocks[].account": ACCOUNT},
    "control.trusted_added": {"account": ACCOUNT, "trusted": ACCOUNT},
    "control.trusted_removed": {"account": ACCOUNT, "trusted": ACCOUNT},
    "control.limits": {"account": ACCOUNT},
    "control.freeze": {"account": ACCOUNT},
    "control.trusted_destination_added": _DESTINATION,
    "control.trusted_destination_removed": _DESTINATION,
    "control.hold": {"account": ACCOUNT, "rule": SECRET},  # which suspicion is not told to anyone
    # Who asked and who decided (pseudonyms: the same person links across
    # entries, as in moves), and what the request was (its hash, committed).
    "control.approval_requested": {"account": ACCOUNT, "initiated_by": USER, "request_hash": SECRET},
    "control.approval_decided": {"decided_by": USER},
    # An organisation's KYC review and screening hits are its own business.
    "kyc.status": {"status": SECRET, "review_due": SECRET, "reviewed_by": USER},
    "kyc.hit_raised": {"organisation": SECRET},
    "kyc.hit_decided": {"status": SECRET, "decided_by": USER},
    # Who owns an organisation, and which suspicions an alert raised about whom, are private.
    "kyc.owners": {"owners": SECRET},
    "aml.alert_raised": {"account": ACCOUNT, "organisation": SECRET, "rule": SECRET},
    "aml.alert_status": {"status": SECRET, "decided_by": USER},
    "user.created": _USER,
    "user.changed": _USER,
    "document.uploaded": {"filename": SECRET, "sha256": SECRET, "size": SECRET},
    "projects.benefit_plan_set": {"shares[].account": ACCOUNT},
    "projects.grievance_received": {"summary": SECRET},
    "projects.grievance_updated": {"resolution": SECRET},
    "article6.transfer_sent": {"destination_account": SECRET},
    "article6.authorised": _ARTICLE6,
    "article6.changed": _ARTICLE6,
    "article6.revoked": _ARTICLE6,
}


def private_fields(kind: str) -> dict[str, str]:
    if kind.startswith("units.") and kind != "units.issued":
        return _MOVE
    return PRIVATE_FIELDS.get(kind, {})


def commit(value: Any, salt: bytes, prefix: str = COMMITMENT) -> str:
    """The commitment to `value` under `salt` (the prefix is hashed too: a
    pseudonym never opens as a commitment, nor the reverse)."""
    return prefix + hmac.new(salt, prefix.encode() + canonical_json(value), hashlib.sha256).hexdigest()


def verify_opening(commitment: str, opening: dict[str, Any]) -> bool:
    """Does `opening` ({"value": ..., "salt": hex}) open `commitment`?
    Needs nothing from the registry: anyone given an opening can check it."""
    if not isinstance(commitment, str) or not isinstance(opening, dict):
        return False
    prefix = commitment[:2]
    if prefix not in (PSEUDONYM, COMMITMENT) or "value" not in opening:
        return False
    try:
        salt = bytes.fromhex(opening["salt"])
        expected = commit(opening["value"], salt, prefix)
    except (TypeError, ValueError, AttributeError, KeyError):
        return False
    return hmac.compare_digest(expected, commitment)


def pseudonym_salt(key: bytes, kind: str, value: str) -> bytes:
    """An account's or user's salt, derived from the registry's commitment key."""
    return hmac.new(key, b"pseudonym\x00" + kind.encode() + b"\x00" + value.encode(), hashlib.sha256).digest()


def pseudonym(key: bytes, kind: str, value: str) -> str:
    return commit(value, pseudonym_salt(key, kind, value), PSEUDONYM)


def legacy_salt(key: bytes, seq: int, path: str) -> bytes:
    """The salt with which an entry written before version 2 is shown
    committed (derived, so it can be opened again from the stored body)."""
    return hmac.new(key, f"legacy\x00{seq}\x00{path}".encode(), hashlib.sha256).digest()


# (commitment, value, salt, path) of each SECRET field committed to.
Opening = tuple[str, Any, bytes, str]


def _walk(data: Any, parts: list[str], path: str, replace: Callable[[Any, str], Any]) -> Any:
    """`data` with the value at `parts` (a list item for "[]") replaced."""
    if not parts:
        return data if data is None else replace(data, path)
    head, rest = parts[0], parts[1:]
    if head.endswith("[]"):
        name = head[:-2]
        if not isinstance(data, dict) or not isinstance(data.get(name), list):
            return data
        items = [_walk(item, rest, f"{path}{name}[{i}].", replace) for i, item in enumerate(data[name])]
        return {**data, name: items}
    if not isinstance(data, dict) or head not in data:
        return data
    value = _walk(data[head], rest, f"{path}{head}" + ("." if rest else ""), replace)
    return {**data, head: value}


def conceal(
    kind: str,
    data: dict[str, Any],
    *,
    name: Callable[[str, str], str],
    salt: Callable[[str], bytes],
) -> tuple[dict[str, Any], list[Opening]]:
    """The public data of an entry, and the openings of what it commits to.
    `name(kind, value)` gives an account's or user's pseudonym (or, for an
    account the ledger already names in the clear, that name); `salt(path)`
    a salt for a value committed to in this entry alone."""
    fields = private_fields(kind)
    if not fields:
        return data, []
    if fields is _MOVE:  # the hot path: two accounts, nothing stored
        public = dict(data)
        for key in ("from", "to"):
            value = public.get(key)
            if value is not None:
                public[key] = name(ACCOUNT, str(value))
        return public, []
    openings: list[Opening] = []

    def replace_as(how: str) -> Callable[[Any, str], Any]:
        def replace(value: Any, path: str) -> Any:
            if how != SECRET:
                return name(how, str(value))
            salted = salt(path)
            committed = commit(value, salted)
            openings.append((committed, value, salted, path))
            return committed

        return replace

    public = data
    for path, how in fields.items():
        public = _walk(public, path.split("."), "", replace_as(how))
    return public, openings


def opened(value: Any, openings: dict[str, Any], names: dict[str, str]) -> Any:
    """`value` (an entry's data) with every commitment and pseudonym that
    `openings` (commitment -> value) or `names` (pseudonym -> name) opens
    replaced by what it stands for; the rest as it is."""
    if isinstance(value, str):
        if value[:2] == COMMITMENT and value in openings:
            return openings[value]
        if value[:2] == PSEUDONYM:
            return names.get(value, value)
        return value
    if isinstance(value, dict):
        return {k: opened(v, openings, names) for k, v in value.items()}
    if isinstance(value, list):
        return [opened(v, openings, names) for v in value]
    return value


def commitments_in(value: Any) -> list[str]:
    """Every ``c:`` commitment in an entry's data, in order."""
    if isinstance(value, str):
        return [value] if value[:2] == COMMITMENT and len(value) == 66 else []
    if isinstance(value, dict):
        return [c for v in value.values() for c in commitments_in(v)]
    if isinstance(value, list):
        return [c for v in value for c in commitments_in(v)]
    return []


def check_opening(body: str, opening: dict[str, Any]) -> list[str]:
    """What is wrong with `opening` (as the registry hands it out) for the
    public entry `body`: each field must open its commitment, and each
    commitment must be in the entry. Empty if all is well."""
    problems = []
    fields = opening.get("fields") if isinstance(opening, dict) else None
    if not isinstance(fields, list):
        return ["the opening has no list of fields"]
    for field in fields:
        if not isinstance(field, dict):
            problems.append("a field of the opening is not an object")
            continue
        committed = str(field.get("commitment"))
        if not verify_opening(committed, field):
            problems.append(f"{field.get('field')}: the value and salt do not open {committed}")
        elif f'"{committed}"' not in body:
            problems.append(f"{field.get('field')}: {committed} is not in this entry")
    return problems
