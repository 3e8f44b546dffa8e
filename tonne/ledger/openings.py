"""The private side of the ledger's commitments (see tonne.ledger.commitments):
the registry's commitment key, the openings of what entries commit to, the
public body of any entry, and who may open which entry.

Accounts opened by an entry written before version 2 are named in the clear
by the ledger already; later entries keep naming them so (a pseudonym would
break the public replay of their holdings). Every other account and every
user is named by its pseudonym.

Tables of the apps above are read with SQL on their names: the ledger sits
below them and imports none of them."""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Iterable
from typing import Any

from django.db import connection

from tonne.core.canonical import canonical_json
from tonne.core.errors import NotFound, PermissionDenied
from tonne.ledger import commitments
from tonne.ledger.commitments import ACCOUNT, USER
from tonne.ledger.models import CommitmentKey, LedgerEntry, Opening

LEGACY_ACCOUNTS_SQL = (
    "SELECT body FROM ledger_ledgerentry WHERE kind = 'account.opened' AND body NOT LIKE '%%\"v\":2}'"
)
INSERT_OPENING_SQL = "INSERT INTO ledger_opening (commitment, path, value, salt) VALUES (%s, %s, %s, %s)"


@functools.cache
def commitment_key() -> bytes:
    """The registry's commitment key (made at install, kept in the database
    with everything it protects)."""
    row = CommitmentKey.objects.filter(pk=1).values_list("key", flat=True).first()
    if row is None:
        CommitmentKey.objects.get_or_create(id=1, defaults={"key": secrets.token_hex(32)})
        row = CommitmentKey.objects.values_list("key", flat=True).get(pk=1)
    return bytes.fromhex(row)


@functools.cache
def legacy_accounts() -> frozenset[str]:
    """Accounts an entry before version 2 opened: the ledger names them in
    the clear. Fixed once the registry writes version 2 entries."""
    with connection.cursor() as cursor:
        cursor.execute(LEGACY_ACCOUNTS_SQL)
        return frozenset(json.loads(body)["data"]["account"] for (body,) in cursor.fetchall())


def reset() -> None:
    """Forget the cached key and legacy accounts (a new or restored database)."""
    commitment_key.cache_clear()
    legacy_accounts.cache_clear()
    _pseudonym.cache_clear()


@functools.lru_cache(maxsize=65536)
def _pseudonym(kind: str, value: str) -> str:
    return commitments.pseudonym(commitment_key(), kind, value)


def ledger_name(kind: str, value: str) -> str:
    """How version 2 entries name an account or a user."""
    if kind == ACCOUNT and value in legacy_accounts():
        return value
    return _pseudonym(kind, value)


def actor_name(actor: Any) -> str:
    if actor is None:
        return "system"
    return ledger_name(USER, actor.username)


def conceal(kind: str, data: dict[str, Any]) -> tuple[dict[str, Any], list[commitments.Opening]]:
    return commitments.conceal(kind, data, name=ledger_name, salt=lambda _path: secrets.token_bytes(32))


def store(cursor: Any, openings: list[commitments.Opening]) -> None:
    """Keep the openings, on the cursor of the change, in its transaction."""
    for committed, value, salt, path in openings:
        cursor.execute(INSERT_OPENING_SQL, [committed, path, canonical_json(value).decode("utf-8"), salt.hex()])


# -- what the public sees -------------------------------------------------------------


def public_body(seq: int, body: str) -> str:
    """The body as published: a version 2 body as it is (it commits to its
    private fields itself); an older one with its private fields committed
    to here, with salts derived from the key so they can be opened again."""
    doc = json.loads(body)
    if doc.get("v", 1) >= 2:
        return body
    key = commitment_key()
    data, _openings = commitments.conceal(
        doc["kind"], doc.get("data") or {}, name=_legacy_name,
        salt=lambda path: commitments.legacy_salt(key, seq, path),
    )
    actor = doc.get("actor", "system")
    if isinstance(actor, str) and actor.startswith("user:"):
        actor = _pseudonym(USER, actor[5:])
    return canonical_json({**doc, "data": data, "actor": actor}).decode("utf-8")


def _legacy_name(kind: str, value: str) -> str:
    # Before version 2, accounts were named in the clear, and still are.
    return value if kind == ACCOUNT else _pseudonym(kind, value)


# -- openings -------------------------------------------------------------------------


def opening_of(entry: LedgerEntry) -> dict[str, Any]:
    """Every private field of an entry with its opening: what the public body
    shows, the value, the salt. Anyone can check each with verify_opening."""
    doc = json.loads(entry.body)
    kind = doc["kind"]
    fields: list[dict[str, Any]] = []
    key = commitment_key()
    if doc.get("v", 1) >= 2:
        stored = {o.commitment: o for o in Opening.objects.filter(pk__in=commitments.commitments_in(doc["data"]))}
        for committed in commitments.commitments_in(doc["data"]):
            found = stored.get(committed)
            if found is not None:
                fields.append({"field": found.path, "commitment": committed, "kind": "secret",
                               "value": json.loads(found.value), "salt": found.salt})
    else:
        _data, openings = commitments.conceal(
            kind, doc.get("data") or {}, name=_legacy_name, salt=lambda p: commitments.legacy_salt(key, entry.seq, p)
        )
        fields.extend({"field": p, "commitment": c, "kind": "secret", "value": v, "salt": s.hex()}
                      for c, v, s, p in openings)
    for kind_of, value in _named(entry.seq, doc):
        name = ledger_name(kind_of, value) if doc.get("v", 1) >= 2 else _legacy_name(kind_of, value)
        if name.startswith(commitments.PSEUDONYM):
            fields.append({"field": kind_of, "commitment": name, "kind": kind_of, "value": value,
                           "salt": commitments.pseudonym_salt(key, kind_of, value).hex()})
    return {"seq": entry.seq, "leaf_hash": entry.leaf_hash, "fields": fields}


def _named(seq: int, doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(account|user, name) of every account and user the entry names, opened."""
    names = reverse_names()
    found: list[tuple[str, str]] = []
    seen = set()

    def visit(value: Any) -> None:
        if isinstance(value, str) and value[:2] == commitments.PSEUDONYM and value in names and value not in seen:
            seen.add(value)
            found.append(names[value])
        elif isinstance(value, dict):
            for v in value.values():
                visit(v)
        elif isinstance(value, list):
            for v in value:
                visit(v)

    body = json.loads(public_body(seq, canonical_json(doc).decode("utf-8"))) if doc.get("v", 1) < 2 else doc
    visit(body.get("actor"))
    visit(body.get("data"))
    return found


def reverse_names() -> dict[str, tuple[str, str]]:
    """pseudonym -> (account|user, identifier or username), for every account
    and user in the live tables (the operator's side)."""
    names: dict[str, tuple[str, str]] = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT identifier FROM organisations_account")
        for (identifier,) in cursor.fetchall():
            names[_pseudonym(ACCOUNT, identifier)] = (ACCOUNT, identifier)
        cursor.execute("SELECT username FROM organisations_user")
        for (username,) in cursor.fetchall():
            names[_pseudonym(USER, username)] = (USER, username)
    return names


def opening_for(seq: int, user: Any) -> dict[str, Any]:
    """The opening of entry `seq` for `user`: a registry administrator may
    open any entry; anyone else only one that names their organisation's
    accounts, themselves, or their organisation."""
    entry = LedgerEntry.objects.filter(seq=seq).first()
    if entry is None:
        raise NotFound("LEDGER_ENTRY_NOT_FOUND", "No ledger entry has that number.")
    opening = opening_of(entry)
    # Accounts opened before version 2 are named in the clear: their holders are concerned too.
    doc = json.loads(entry.body)
    named: list[tuple[str, str]] = []

    def note(kind: str, value: str) -> str:
        named.append((kind, value))
        return value

    commitments.conceal(doc["kind"], doc.get("data") or {}, name=note, salt=lambda _path: b"")
    clear = [{"kind": kind, "value": value} for kind, value in named
             if kind == ACCOUNT and not value.startswith(commitments.PSEUDONYM)]
    if not may_open(user, [*opening["fields"], *clear]):
        raise PermissionDenied("OPENING_NOT_ALLOWED", "Only the holders this entry concerns, and the registry "
                                                      "administrator, may open its private fields.")
    return opening


def may_open(user: Any, fields: Iterable[dict[str, Any]]) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    organisation_id = getattr(user, "organisation_id", None)
    with connection.cursor() as cursor:
        cursor.execute("SELECT kind, status, uid FROM organisations_organisation WHERE id = %s", [organisation_id])
        row = cursor.fetchone()
        if row is not None and row[0] == "government" and row[1] == "approved":
            return True
        own_uid = str(row[2]) if row is not None else None
        for field in fields:
            if field["kind"] == USER and field["value"] == user.username:
                return True
            if field["kind"] == "secret" and own_uid is not None and field["value"] == own_uid:
                return True
            if field["kind"] == ACCOUNT and organisation_id is not None:
                cursor.execute("SELECT 1 FROM organisations_account WHERE identifier = %s AND organisation_id = %s",
                               [field["value"], organisation_id])
                if cursor.fetchone():
                    return True
    return False


def opened_body(entry: LedgerEntry) -> dict[str, Any]:
    """The entry as the operator reads it: every commitment and pseudonym the
    registry can open replaced by its value, the actor as ``user:NAME``."""
    doc = json.loads(entry.body)
    if doc.get("v", 1) < 2:
        return doc
    data = doc.get("data") or {}
    stored = {o.commitment: json.loads(o.value) for o in Opening.objects.filter(pk__in=commitments.commitments_in(data))}
    names = reverse_names()
    doc["data"] = commitments.opened(data, stored, {p: name for p, (_kind, name) in names.items()})
    actor = names.get(doc.get("actor", ""))
    if actor is not None:
        doc["actor"] = f"user:{actor[1]}"
    return doc
