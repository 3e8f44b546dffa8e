"""The public ledger commits to private fields: the pure commitment rules,
what the anonymous API and pages show, openings for those an entry concerns,
and ledgers written before version 2 that keep verifying."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tonne import testing
from tonne.access.testing import give_totp
from tonne.core.canonical import canonical_json
from tonne.ledger import commitments, domain, openings, proofs
from tonne.ledger.commitments import ACCOUNT, USER, check_opening, commit, verify_opening
from tonne.ledger.models import LedgerEntry, Opening
from tonne.ledger.services import make_checkpoint
from tonne.ledger.tests.test_tamper import sql
from tonne.ledger.verify import verify_ledger
from tonne.organisations import services as orgs
from tonne.units import services as units
from tonne.units.domain import Selection

SALT = bytes(range(32))


# -- the pure rules ---------------------------------------------------------------------


def test_an_opening_opens_its_commitment_and_nothing_else() -> None:
    committed = commit("Acme Trading SA", SALT)
    opening = {"value": "Acme Trading SA", "salt": SALT.hex()}
    assert committed.startswith("c:") and len(committed) == 66
    assert verify_opening(committed, opening)
    assert not verify_opening(committed, {**opening, "value": "Acme Trading"})
    assert not verify_opening(committed, {**opening, "salt": bytes(32).hex()})
    assert not verify_opening("p:" + committed[2:], opening)  # a pseudonym is its own kind
    for broken in ({}, {"value": "x"}, {"value": "x", "salt": "zz"}, {"value": "x", "salt": None}, "text"):
        assert not verify_opening(committed, broken)  # type: ignore[arg-type]
    assert not verify_opening(None, opening)  # type: ignore[arg-type]
    # Any JSON value can be committed to, and is opened as itself.
    assert verify_opening(commit(67, SALT), {"value": 67, "salt": SALT.hex()})
    assert not verify_opening(commit(67, SALT), {"value": "67", "salt": SALT.hex()})


def test_conceal_commits_to_private_fields_and_leaves_public_ones() -> None:
    names = {}

    def name(kind: str, value: str) -> str:
        return names.setdefault((kind, value), commitments.pseudonym(b"k" * 32, kind, value))

    data = {"op": "move", "kind": "retirement", "from": "CI-100-1", "to": "CI-300-2", "quantity": 5,
            "ranges": [[1, 5]], "beneficiary": "Town", "purpose": "voluntary", "jurisdiction": "CI"}
    public, opened = commitments.conceal("units.retirement", data, name=name, salt=lambda _path: SALT)
    assert opened == []  # accounts get pseudonyms, nothing stored
    assert public["from"] == names[(ACCOUNT, "CI-100-1")] and public["from"].startswith("p:")
    assert {k: public[k] for k in ("beneficiary", "purpose", "jurisdiction", "quantity", "ranges")} == {
        "beneficiary": "Town", "purpose": "voluntary", "jurisdiction": "CI", "quantity": 5, "ranges": [[1, 5]]}
    assert data["from"] == "CI-100-1"  # the caller's dict is left alone

    issued = {"op": "issue", "blocks": [{"start": 1, "end": 4, "account": "CI-100-1"}], "issuance": {"quantity": 4}}
    public, _ = commitments.conceal("units.issued", issued, name=name, salt=lambda _path: SALT)
    assert public["blocks"][0]["account"] == names[(ACCOUNT, "CI-100-1")]

    document = {"document": "u-1", "project": "CI-0001", "filename": "kyc-passport.pdf", "sha256": "ab" * 32,
                "size": 67, "kind": "design"}
    public, opened = commitments.conceal("document.uploaded", document, name=name, salt=lambda _path: SALT)
    assert [path for _c, _v, _s, path in opened] == ["filename", "sha256", "size"]
    assert "kyc-passport" not in json.dumps(public) and public["project"] == "CI-0001"
    body = canonical_json({"data": public}).decode()
    opening = {"fields": [{"field": p, "commitment": c, "value": v, "salt": s.hex()} for c, v, s, p in opened]}
    assert check_opening(body, opening) == []
    opening["fields"][0]["value"] = "other.pdf"
    assert check_opening(body, opening) == [f"filename: the value and salt do not open {opened[0][0]}"]
    assert check_opening(canonical_json({"data": {}}).decode(), {"fields": opening["fields"][1:2]}) == [
        f"sha256: {opened[1][0]} is not in this entry"]


# -- a registry ----------------------------------------------------------------------


@pytest.fixture
def retired(registry):
    reg = registry
    project = testing.registered_project(reg)
    testing.issue(reg, project, {2022: 100})
    units.transfer(actor=reg.developer, from_account=reg.developer_account.identifier,
                   to_account=reg.buyer_account.identifier, selection=Selection.build(quantity=30),
                   idempotency_key="c-sale")
    retirement = units.retire(actor=reg.buyer, from_account=reg.buyer_account.identifier,
                              selection=Selection.build(quantity=10), beneficiary="Abidjan Port Authority",
                              purpose="voluntary", idempotency_key="c-retire")
    reg.extra["retirement"] = retirement
    reg.extra["checkpoint"] = make_checkpoint(force=True)
    return reg


@pytest.mark.django_db
def test_the_anonymous_ledger_shows_no_holder_user_or_private_document(retired, client) -> None:
    reg = retired
    entries = client.get("/api/v1/ledger/entries?limit=1000").json()["items"]
    text = json.dumps(entries)
    private = [reg.developer_account.identifier, reg.buyer_account.identifier, reg.developer.username,
               reg.buyer.username, reg.admin.username]
    for value in private:
        assert value not in text, value
    # Public: what a certificate states, the quantities and serials, account types.
    assert "Abidjan Port Authority" in text
    bodies = [json.loads(e["body"]) for e in entries]
    assert all(b["v"] == domain.ENTRY_VERSION for b in bodies)
    opened = [b for b in bodies if b["kind"] == "account.opened"]
    assert {b["data"]["type"] for b in opened} >= {"holding", "retirement"}
    # Organisations are public participants; which accounts they own is not.
    assert all(b["data"]["organisation"] is None or b["data"]["organisation"].startswith("c:") for b in opened)
    assert all(b["data"]["name"].startswith("c:") for b in opened)
    # Each body still hashes to its leaf: anyone can check the chain.
    for entry in entries:
        assert domain.leaf_hash(entry["body"].encode()) == entry["leaf_hash"]
    seq = reg.extra["retirement"].ledger_seq
    page = client.get(f"/ledger/entries/{seq}/").content.decode()
    assert reg.buyer_account.identifier not in page and "Abidjan Port Authority" in page
    proof = client.get(f"/api/v1/ledger/proofs/inclusion/{seq}").json()
    assert reg.buyer_account.identifier not in proof["entry"]
    assert proofs.verify_bundle(proof, proof["verifier_key"])["content_proved"]


@pytest.mark.django_db
def test_the_holder_and_the_administrator_open_an_entry_others_may_not(retired) -> None:
    reg = retired
    seq = reg.extra["retirement"].ledger_seq
    body = LedgerEntry.objects.get(seq=seq).body

    def opening_as(user):
        client = Client()
        if user is not None:
            give_totp(user)
            _, secret = orgs.issue_api_token(actor=user, name="open", scope="read")
            client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
        return client.get(f"/api/v1/ledger/entries/{seq}/opening")

    assert opening_as(None).status_code == 401
    refused = opening_as(reg.other_developer)
    assert (refused.status_code, refused.json()["code"]) == (403, "OPENING_NOT_ALLOWED")
    for user in (reg.buyer, reg.admin):
        answer = opening_as(user)
        assert answer.status_code == 200, answer.content
        opening = answer.json()
        assert check_opening(body, opening) == []
        values = {(f["kind"], f["value"]) for f in opening["fields"]}
        assert (ACCOUNT, reg.buyer_account.identifier) in values and (USER, reg.buyer.username) in values


@pytest.mark.django_db
def test_an_altered_opening_is_named_by_verify(retired) -> None:
    assert verify_ledger().ok
    committed = Opening.objects.order_by("commitment").values_list("commitment", flat=True).first()
    # A plain UPDATE: the openings carry no triggers; their commitments guard them.
    sql("UPDATE ledger_opening SET value = %s WHERE commitment = %s", ['"Someone else"', committed])
    result = verify_ledger()
    assert result.first is not None and result.first.code == "LEDGER_OPENING_INVALID"
    assert committed in result.first.message
    sql("DELETE FROM ledger_opening WHERE commitment = %s", [committed])
    result = verify_ledger()
    assert result.first is not None and result.first.code == "LEDGER_OPENING_INVALID"
    assert "does not hold" in result.first.message


# -- ledgers written before version 2 --------------------------------------------------


@pytest.fixture
def legacy(db):
    """A registry whose first entries were written before version 2: accounts
    and users named in the clear."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(domain, "ENTRY_VERSION", 1)
        patch.setattr(openings, "conceal", lambda kind, data: (data, []))
        patch.setattr(openings, "actor_name", domain.actor_ref)
        reg = testing.build_registry("old")
        project = testing.registered_project(reg)
        testing.issue(reg, project, {2021: 60})
        make_checkpoint(force=True)
    openings.reset()
    yield reg
    openings.reset()


@pytest.mark.django_db
def test_a_ledger_from_before_version_2_keeps_verifying_and_is_shown_committed(legacy, client) -> None:
    reg = legacy
    old = LedgerEntry.objects.get(kind="account.opened", body__contains=reg.developer_account.identifier)
    assert json.loads(old.body)["v"] == 1
    # Moves now: legacy accounts keep their names in the clear; a new account gets a pseudonym.
    new_account = orgs.open_holding_account(actor=reg.admin, organisation=reg.developer_org,
                                            name="New trading account")
    units.transfer(actor=reg.developer, from_account=reg.developer_account.identifier,
                   to_account=new_account.identifier, selection=Selection.build(quantity=10), idempotency_key="l-1")
    units.transfer(actor=reg.developer, from_account=new_account.identifier,
                   to_account=reg.buyer_account.identifier, selection=Selection.build(quantity=4), idempotency_key="l-2")
    make_checkpoint(force=True)
    moves = [json.loads(b) for b in LedgerEntry.objects.filter(kind="units.transfer").values_list("body", flat=True)]
    assert moves[0]["v"] == 2 and moves[0]["data"]["from"] == reg.developer_account.identifier
    assert moves[0]["data"]["to"] == openings.ledger_name(ACCOUNT, new_account.identifier) != new_account.identifier
    result = verify_ledger()
    assert result.ok, result.first
    # Shown with users and private fields committed to; the leaf is proved, the text is not the hashed one.
    shown = client.get(f"/api/v1/ledger/entries/{old.seq}").json()["body"]
    assert json.loads(shown)["data"]["name"].startswith("c:")
    assert json.loads(shown)["data"]["account"] == reg.developer_account.identifier  # its name in the ledger
    user_entry = LedgerEntry.objects.get(kind="user.created", body__contains=f'"{reg.developer.username}"')
    shown_user = client.get(f"/api/v1/ledger/entries/{user_entry.seq}").json()["body"]
    assert json.loads(user_entry.body)["data"]["username"] not in shown_user
    proof = client.get(f"/api/v1/ledger/proofs/inclusion/{user_entry.seq}").json()
    assert proof["entry_redacted"] is True
    assert proofs.verify_bundle(proof, proof["verifier_key"])["content_proved"] is False
    # The operator can still open what the old entry shows committed.
    opening = openings.opening_of(user_entry)
    assert check_opening(shown_user, opening) == []
