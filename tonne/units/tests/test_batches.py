"""Batches of moves over HTTP (POST /transfers/batch, /retirements/batch):
each item answered as its single request would be, all or nothing on
request, replays, limits, malformed bodies and other holders' accounts."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tonne import testing
from tonne.audit.models import AuditEvent
from tonne.core.tests.test_api_core import API, assert_problem, bearer, get, post, state
from tonne.ledger.models import LedgerEntry, LedgerHead
from tonne.organisations.models import Account
from tonne.units import services as units
from tonne.units.domain import Selection
from tonne.units.models import Issuance, Transaction, UnitBlock


@pytest.fixture
def issued(registry):
    project = testing.registered_project(registry)
    _report, issuances = testing.issue(registry, project, {2022: 1000})
    return project, issuances[0]


def balance(account: Account) -> int:
    return sum(b.quantity for b in UnitBlock.objects.filter(account=account))


def conserved() -> None:
    """Every issuance's units are all somewhere, once."""
    for issuance in Issuance.objects.all():
        assert sum(b.quantity for b in issuance.blocks.all()) == issuance.quantity


def transfer(reg, key: str, **kw) -> dict:
    return {"idempotency_key": key, "from_account": reg.developer_account.identifier,
            "to_account": reg.buyer_account.identifier, **kw}


def ledger_size() -> int:
    return LedgerHead.objects.get(pk=1).size


def test_each_item_answers_as_its_single_request(registry, issued, client: Client) -> None:
    client.force_login(registry.developer)
    size = ledger_size()
    items = [
        transfer(registry, "a", quantity=100),
        transfer(registry, "b", quantity=5000),  # more than is held
        transfer(registry, "c", ranges=[{"start": 101, "end": 110}]),
        transfer(registry, "d", quantity=1, to_account="nonsense"),
        transfer(registry, "e", quantity=0),
        transfer(registry, "f", quantity=1, project="CI-9999"),
        transfer(registry, " ", quantity=1),
    ]
    response = post(client, "/transfers/batch", {"items": items})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["all_or_nothing"] is False
    assert body["completed_or_waiting"] == 2 and body["refused"] == 5
    results = body["items"]
    assert [r["index"] for r in results] == list(range(7))
    assert [r["idempotency_key"] for r in results] == ["a", "b", "c", "d", "e", "f", " "]
    assert [r["status"] for r in results] == [201, 422, 201, 422, 422, 404, 422]
    codes = [r["problem"]["code"] if r["problem"] else None for r in results]
    assert codes == [None, "INSUFFICIENT_UNITS", None, "ACCOUNT_IDENTIFIER_MALFORMED", "QUANTITY_NOT_POSITIVE",
                     "PROJECT_NOT_FOUND", "IDEMPOTENCY_KEY_REQUIRED"]
    assert results[0]["transaction"]["quantity"] == 100 and results[0]["transaction"]["status"] == "completed"
    assert results[2]["transaction"]["blocks"][0]["serial_start"] == 101
    assert results[1]["problem"]["status"] == 422 and results[1]["problem"]["type"].startswith("https://")
    # Each transaction as the registry shows it anywhere else.
    assert get(client, f"/transactions/{results[0]['transaction']['identifier']}").json() == results[0]["transaction"]
    assert balance(registry.buyer_account) == 110
    assert ledger_size() == size + 2
    # The same request alone answers the same: the single endpoint's codes.
    alone = post(client, "/transfers", {k: v for k, v in items[1].items() if k != "idempotency_key"},
                 headers={"Idempotency-Key": "b-alone"})
    assert_problem(alone, 422, "INSUFFICIENT_UNITS")
    conserved()


def test_replay_answers_as_the_first_time(registry, issued, client: Client) -> None:
    client.force_login(registry.developer)
    items = [transfer(registry, "r1", quantity=10), transfer(registry, "r2", quantity=99999),
             transfer(registry, "r3", quantity=20)]
    first = post(client, "/transfers/batch", {"items": items}).json()
    size, before = ledger_size(), state()
    again = post(client, "/transfers/batch", {"items": items}).json()
    assert [r["status"] for r in first["items"]] == [201, 422, 201]
    assert [r["status"] for r in again["items"]] == [200, 422, 200]  # 200: replayed, as POST /transfers says it
    # Moves that were made answer with their first transaction; a refused
    # item was not recorded, so it is asked again (as POST /transfers would).
    assert [r["transaction"] for r in first["items"]] == [r["transaction"] for r in again["items"]]
    assert first["items"][1]["problem"]["code"] == again["items"][1]["problem"]["code"] == "INSUFFICIENT_UNITS"
    assert ledger_size() == size and state() == before
    # A key used again for a different move is that item's conflict, as alone.
    changed = post(client, "/transfers/batch", {"items": [transfer(registry, "r1", quantity=11)]}).json()
    assert changed["items"][0]["status"] == 409
    assert changed["items"][0]["problem"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert state() == before


def test_all_or_nothing_rolls_every_item_back(registry, issued, client: Client) -> None:
    client.force_login(registry.developer)
    before, size = state(), ledger_size()
    items = [transfer(registry, "x1", quantity=100), transfer(registry, "x2", quantity=200),
             transfer(registry, "x3", quantity=900), transfer(registry, "x4", quantity=1)]
    response = post(client, "/transfers/batch", {"items": items, "all_or_nothing": True})
    problem = assert_problem(response, 422, "INSUFFICIENT_UNITS")
    assert problem["item"] == 2 and problem["idempotency_key"] == "x3"
    assert "Item 2" in problem["detail"]
    assert state() == before and ledger_size() == size
    assert not Transaction.objects.filter(idempotency_key__in=["x1", "x2", "x3", "x4"]).exists()
    conserved()
    # Without the refusing item the batch goes through whole, then replays whole.
    items[2] = transfer(registry, "x3", quantity=300)
    done = post(client, "/transfers/batch", {"items": items, "all_or_nothing": True})
    assert done.status_code == 200, done.content
    assert [r["status"] for r in done.json()["items"]] == [201, 201, 201, 201]
    assert balance(registry.buyer_account) == 601 and ledger_size() == size + 4
    replay = post(client, "/transfers/batch", {"items": items, "all_or_nothing": True})
    assert [r["status"] for r in replay.json()["items"]] == [200, 200, 200, 200]
    assert ledger_size() == size + 4
    conserved()


@hypothesis_settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(quantities=st.lists(st.integers(min_value=-1, max_value=600), min_size=1, max_size=5))
def test_all_or_nothing_is_all_or_nothing(registry, issued, client: Client, quantities: list[int]) -> None:
    """Whatever the items, either each moved or nothing did; units are conserved."""
    client.force_login(registry.developer)
    held, size = balance(registry.developer_account), ledger_size()
    keys = [f"h-{Transaction.objects.count()}-{i}" for i in range(len(quantities))]
    items = [transfer(registry, key, quantity=q) for key, q in zip(keys, quantities, strict=True)]
    response = post(client, "/transfers/batch", {"items": items, "all_or_nothing": True})
    assert response.status_code < 500
    if response.status_code == 200:
        assert sum(quantities) <= held
        assert balance(registry.developer_account) == held - sum(quantities)
        assert ledger_size() == size + len(quantities)
    else:
        assert balance(registry.developer_account) == held and ledger_size() == size
        assert response.json()["code"] in ("INSUFFICIENT_UNITS", "QUANTITY_NOT_POSITIVE")
    conserved()


def test_retirements_of_several_blocks_for_one_beneficiary(registry, issued, client: Client) -> None:
    client.force_login(registry.developer)
    blocks = [(1, 10), (21, 30), (41, 45)]
    items = [{"idempotency_key": f"ret-{start}", "from_account": registry.developer_account.identifier,
              "ranges": [{"start": start, "end": end}], "beneficiary": "Ville d'Abidjan", "purpose": "voluntary",
              "jurisdiction": "CI"} for start, end in blocks]
    items.append({**items[0], "idempotency_key": "ret-bad", "beneficiary": "B" * 301})
    response = post(client, "/retirements/batch", {"items": items})
    assert response.status_code == 200, response.content
    results = response.json()["items"]
    assert [r["status"] for r in results] == [201, 201, 201, 422]
    assert results[3]["problem"]["code"] == "TEXT_TOO_LONG"
    assert {r["transaction"]["kind"] for r in results[:3]} == {"retirement"}
    public = get(client, "/retirements?beneficiary=Abidjan").json()
    assert public["count"] == 3 and sum(r["quantity"] for r in public["items"]) == 25
    conserved()


def test_four_eyes_applies_to_each_item(registry, issued, client: Client, settings) -> None:
    settings.TONNE_FOUR_EYES = frozenset({"transfer"})
    client.force_login(registry.developer)
    size = ledger_size()
    items = [transfer(registry, "w1", quantity=10), transfer(registry, "w2", quantity=20)]
    results = post(client, "/transfers/batch", {"items": items, "all_or_nothing": True}).json()["items"]
    assert [r["status"] for r in results] == [201, 201]
    assert {r["transaction"]["status"] for r in results} == {"awaiting_approval"}
    # Nothing moved: the ledger holds only the two requests for a second person's approval.
    assert balance(registry.buyer_account) == 0
    assert list(LedgerEntry.objects.filter(seq__gte=size).values_list("kind", flat=True)) == [
        "control.approval_requested"] * 2
    assert Transaction.objects.filter(status="awaiting_approval").count() == 2


def test_limits(registry, issued, client: Client, settings) -> None:
    settings.TONNE_MAX_BATCH_ITEMS = 3
    client.force_login(registry.developer)
    before = state()
    many = [transfer(registry, f"l{i}", quantity=1) for i in range(4)]
    assert_problem(post(client, "/transfers/batch", {"items": many}), 422, "BATCH_TOO_LARGE")
    assert_problem(post(client, "/transfers/batch", {"items": []}), 422, "BATCH_EMPTY")
    twice = [transfer(registry, "same", quantity=1), transfer(registry, " same ", quantity=2)]
    problem = assert_problem(post(client, "/transfers/batch", {"items": twice}), 422, "BATCH_KEY_REPEATED")
    assert problem["field"] == "items[1].idempotency_key"
    assert state() == before
    assert post(client, "/transfers/batch", {"items": many[:3]}).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"items": "all of them"},
        {"items": [None]},
        {"items": [{"idempotency_key": "m", "quantity": 1}]},  # no accounts
        {"items": [{"idempotency_key": "m", "from_account": "x", "to_account": "y", "quantity": "5"}]},
        {"items": [{"idempotency_key": "m", "from_account": "x", "to_account": "y", "quantity": 2.5}]},
        {"items": [{"idempotency_key": 7, "from_account": "x", "to_account": "y", "quantity": 1}]},
        {"items": [{"idempotency_key": "m", "from_account": "x", "to_account": "y", "colour": "red"}]},
        {"items": [], "all_or_nothing": "sometimes"},
        {"items": [{"idempotency_key": "m", "from_account": "x", "to_account": "y", "ranges": [{"start": 1}]}]},
    ],
)
def test_malformed_batches_are_refused_whole(registry, issued, client: Client, body) -> None:
    """A body that does not match the schema changes nothing and says where (never a 500)."""
    client.force_login(registry.developer)
    before = state()
    problem = assert_problem(post(client, "/transfers/batch", body), 422, "REQUEST_INVALID")
    assert problem["errors"]
    assert state() == before


def test_not_json_is_refused(registry, client: Client) -> None:
    client.force_login(registry.developer)
    response = client.post(API + "/transfers/batch", data="{not json", content_type="application/json")
    assert 400 <= response.status_code < 500


def test_another_holders_account_is_refused_per_item(registry, issued, client: Client) -> None:
    units.transfer(actor=registry.developer, from_account=registry.developer_account.identifier,
                   to_account=registry.other_developer_account.identifier, selection=Selection.build(quantity=50),
                   idempotency_key="give")
    client.force_login(registry.other_developer)
    before_dev = balance(registry.developer_account)
    own = {"idempotency_key": "own", "from_account": registry.other_developer_account.identifier,
           "to_account": registry.buyer_account.identifier, "quantity": 5}
    steal = transfer(registry, "steal", quantity=5, to_account=registry.other_developer_account.identifier)
    results = post(client, "/transfers/batch", {"items": [own, steal]}).json()["items"]
    assert [r["status"] for r in results] == [201, 403]
    assert results[1]["problem"]["code"] == "ACCOUNT_NOT_OPERATED_BY_USER"
    assert balance(registry.developer_account) == before_dev
    assert AuditEvent.objects.filter(action="ACCOUNT_NOT_OPERATED_BY_USER").exists()
    # All or nothing: the other holder's item refuses the whole batch, with its own status.
    before = state()
    own["idempotency_key"] = "own-2"
    problem = assert_problem(post(client, "/transfers/batch", {"items": [own, steal], "all_or_nothing": True}),
                             403, "ACCOUNT_NOT_OPERATED_BY_USER")
    assert problem["item"] == 1
    assert state() == before


def test_callers_without_the_right_are_refused(registry, issued, client: Client) -> None:
    items = {"items": [transfer(registry, "z", quantity=1)]}
    before = state()
    assert_problem(post(client, "/transfers/batch", items), 401, "NOT_AUTHENTICATED")
    read_only = bearer(registry.developer, "read")
    assert_problem(post(client, "/transfers/batch", items, headers=read_only), 403, "TOKEN_SCOPE_INSUFFICIENT")
    assert_problem(post(client, "/retirements/batch", {"items": []}, headers=read_only), 403,
                   "TOKEN_SCOPE_INSUFFICIENT")
    assert state() == before
    trade = bearer(registry.developer, "trade")
    response = post(client, "/transfers/batch", items, headers=trade)
    assert response.status_code == 200 and response.json()["items"][0]["status"] == 201


def test_batch_paths_are_not_retirements(registry, client: Client) -> None:
    """GET /retirements/batch is not a retirement called "batch"."""
    response = client.get(API + "/retirements/batch")
    assert response.status_code == 405
    assert json.loads(response.content)["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_batches_and_single_moves_at_once_never_deadlock_and_conserve() -> None:
    """All-or-nothing batches taking two accounts in either order, and single
    moves out of those accounts, all at once: every request is answered (no
    deadlock, no 500), and every unit is still somewhere once."""
    from tonne.organisations import services as orgs
    from tonne.units import batches
    from tonne.units.tests.test_concurrency import assert_no_overlap, codes, storm

    reg = testing.build_registry()
    testing.issue(reg, testing.registered_project(reg), {2022: 1000})
    one, two = (orgs.open_holding_account(actor=reg.developer, organisation=reg.developer_org, name=n)
                for n in ("one", "two"))
    for account in (one, two):
        units.transfer(actor=reg.developer, from_account=reg.developer_account.identifier,
                       to_account=account.identifier, selection=Selection.build(quantity=400),
                       idempotency_key=f"fill-{account.identifier}")
    buyer = reg.buyer_account.identifier

    def item(i: int, source: Account) -> batches.BatchItem:
        return batches.BatchItem(idempotency_key=f"c-{i}-{source.identifier}", from_account=source.identifier,
                                 to_account=buyer, selection={"quantity": 7})

    def request(i: int) -> object:
        if i % 3 == 2:
            return units.transfer(actor=reg.developer, from_account=one.identifier, to_account=buyer,
                                  selection=Selection.build(quantity=7), idempotency_key=f"single-{i}")
        order = [one, two] if i % 3 == 0 else [two, one]
        return batches.move_batch(actor=reg.developer, kind=batches.TRANSFER,
                                  items=[item(i, order[0]), item(i, order[1])], all_or_nothing=True)

    results = storm(12, request)
    assert codes(results) == {"ok": 12}
    assert all(r.refused_item is None for r in results if isinstance(r, batches.BatchResult))
    assert balance(reg.buyer_account) == 7 * (4 + 8 * 2)
    assert balance(one) + balance(two) == 800 - 7 * 20
    assert_no_overlap()


def test_each_move_of_a_batch_counts_against_the_write_limit(registry, issued, client: Client, settings) -> None:
    """A batch is a faster way to send moves, not a way around the limit of changes a minute."""
    settings.TONNE_API_WRITE_RATE_PER_MINUTE = 10
    client.force_login(registry.developer)
    first = post(client, "/transfers/batch", {"items": [transfer(registry, f"q{i}", quantity=1) for i in range(8)]})
    assert first.status_code == 200 and first.json()["completed_or_waiting"] == 8
    before = state()
    over = post(client, "/transfers/batch", {"items": [transfer(registry, f"p{i}", quantity=1) for i in range(3)]})
    assert_problem(over, 429, "RATE_LIMITED")
    assert int(over["Retry-After"]) >= 1
    assert state() == before
