"""Unit blocks, serial lookup, transactions and unit movements over HTTP."""

from __future__ import annotations

import pytest
from django.test import Client

from tonne import testing
from tonne.core.tests.test_api_core import API, assert_problem, bearer, get, post, state
from tonne.ledger.models import LedgerHead
from tonne.organisations.models import Account
from tonne.units.models import UnitBlock


@pytest.fixture
def issued(registry):
    project = testing.registered_project(registry)
    report, issuances = testing.issue(registry, project, {2022: 1000})
    return project, issuances[0]


def balance(account: Account) -> int:
    return sum(b.quantity for b in UnitBlock.objects.filter(account=account))


def transfer_body(reg, **kw):
    body = {
        "from_account": reg.developer_account.identifier,
        "to_account": reg.buyer_account.identifier,
    }
    body.update(kw)
    return body


def test_transfer_by_quantity_then_replay(registry, issued, client: Client) -> None:
    client.force_login(registry.developer)
    size = LedgerHead.objects.get(pk=1).size
    headers = {"Idempotency-Key": "t-1"}
    response = post(client, "/transfers", transfer_body(registry, quantity=100), headers=headers)
    assert response.status_code == 201, response.content
    txn = response.json()
    assert txn["kind"] == "transfer" and txn["status"] == "completed" and txn["quantity"] == 100
    assert txn["from_account"] == registry.developer_account.identifier
    assert txn["to_account"] == registry.buyer_account.identifier
    assert txn["ledger_seq"] == size
    assert txn["blocks"][0]["serial"].startswith("CI-VER-14-0001-2022-1-")
    replay = post(client, "/transfers", transfer_body(registry, quantity=100), headers=headers)
    assert replay.status_code == 200
    assert replay.json() == txn
    assert balance(registry.buyer_account) == 100


def test_answer_built_from_the_move_is_what_is_read_back(registry, client: Client) -> None:
    """A move answers from the rows it moved (no read after it); the replay
    reads the stored transaction: both say the same, blocks of two issuances included."""
    project = testing.registered_project(registry)
    testing.issue(registry, project, {2021: 50, 2022: 50})
    headers = {**bearer(registry.developer, "trade"), "Idempotency-Key": "two-issuances"}
    first = post(client, "/transfers", transfer_body(registry, quantity=80), headers=headers)
    assert first.status_code == 201, first.content
    blocks = first.json()["blocks"]
    assert [b["vintage"] for b in blocks] == [2021, 2022] and sum(b["quantity"] for b in blocks) == 80
    assert blocks[0]["serial"].startswith("CI-VER-14-0001-2021-1-") and blocks[1]["serial"].startswith("CI-VER-14-0001-2022-")
    replay = post(client, "/transfers", transfer_body(registry, quantity=80), headers=headers)
    assert replay.status_code == 200
    assert replay.json() == first.json()


def test_same_key_twenty_times_moves_once(registry, issued, client: Client) -> None:
    headers = {**bearer(registry.developer, "trade"), "Idempotency-Key": "storm-1"}
    size = LedgerHead.objects.get(pk=1).size
    bodies = set()
    for _ in range(20):
        response = post(
            client,
            "/transfers",
            transfer_body(registry, ranges=[{"start": 1, "end": 10}]),
            headers=headers,
        )
        assert response.status_code in (200, 201)
        bodies.add(response.content)
    assert len(bodies) == 1
    assert LedgerHead.objects.get(pk=1).size == size + 1
    assert balance(registry.buyer_account) == 10
    # The same key with another body is refused and changes nothing.
    before = state()
    response = post(client, "/transfers", transfer_body(registry, quantity=11), headers=headers)
    assert_problem(response, 409, "IDEMPOTENCY_KEY_REUSED")
    assert state() == before


def test_missing_idempotency_key(registry, issued, client: Client) -> None:
    client.force_login(registry.developer)
    before = state()
    assert_problem(
        post(client, "/transfers", transfer_body(registry, quantity=1)),
        422,
        "IDEMPOTENCY_KEY_REQUIRED",
    )
    assert_problem(
        post(
            client,
            "/retirements",
            {
                "from_account": registry.developer_account.identifier,
                "quantity": 1,
                "beneficiary": "x",
                "purpose": "voluntary",
            },
        ),
        422,
        "IDEMPOTENCY_KEY_REQUIRED",
    )
    assert state() == before


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"quantity": -5}, 422, "QUANTITY_NOT_POSITIVE"),
        ({"quantity": 0}, 422, "QUANTITY_NOT_POSITIVE"),
        ({"quantity": "5"}, 422, "QUANTITY_INVALID"),
        ({"quantity": 2.5}, 422, "QUANTITY_INVALID"),  # the service's code, not the schema's
        ({"quantity": 5000}, 422, "INSUFFICIENT_UNITS"),
        ({"ranges": [{"start": 5000, "end": 5001}]}, 422, "SERIAL_RANGE_NOT_HELD"),
        ({"ranges": [{"start": 10, "end": 5}]}, 422, "SERIAL_RANGE_INVALID"),
        ({"to_account": "CI-100-1000007-00", "quantity": 1}, 422, "ACCOUNT_CHECK_DIGITS"),
        ({"to_account": "nonsense", "quantity": 1}, 422, "ACCOUNT_IDENTIFIER_MALFORMED"),
        ({}, 422, "SELECTION_EMPTY"),
    ],
)
def test_bad_transfers_change_nothing(
    registry, issued, client: Client, change, status, code
) -> None:
    client.force_login(registry.developer)
    before = state()
    body = transfer_body(registry, **change)
    response = post(client, "/transfers", body, headers={"Idempotency-Key": f"bad-{code}"})
    assert_problem(response, status, code)
    assert state() == before


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"jurisdiction": "foo"}, "JURISDICTION_INVALID"),
        ({"jurisdiction": "XX"}, "JURISDICTION_INVALID"),
        ({"jurisdiction": "US-ZZ"}, "JURISDICTION_INVALID"),
        ({"beneficiary": "B" * 301}, "TEXT_TOO_LONG"),
        ({"reason": "R" * 2001}, "TEXT_TOO_LONG"),
        ({"quantity": 1.5}, "QUANTITY_INVALID"),
    ],
)
def test_bad_retirements_are_refused_whole(registry, issued, client: Client, change, code) -> None:
    """Never cut to fit, never free text where a code is due."""
    client.force_login(registry.developer)
    before = state()
    body = {"from_account": registry.developer_account.identifier, "quantity": 1, "beneficiary": "Ada",
            "purpose": "voluntary", **change}
    assert_problem(post(client, "/retirements", body, headers={"Idempotency-Key": f"r-{code}"}), 422, code)
    assert state() == before


def test_retirement_jurisdiction_is_a_country_or_subdivision(registry, issued, client: Client) -> None:
    client.force_login(registry.developer)
    for n, where in enumerate(("fr", "US-CA")):
        body = {"from_account": registry.developer_account.identifier, "quantity": 1, "beneficiary": "B" * 300,
                "purpose": "voluntary", "jurisdiction": where}
        response = post(client, "/retirements", body, headers={"Idempotency-Key": f"ok-{n}"})
        assert response.status_code in (200, 201), response.content
        assert response.json()["jurisdiction"] == where.upper()
        assert response.json()["beneficiary"] == "B" * 300


def test_selection_by_issuance_and_missing_criteria_are_not_found(registry, client: Client) -> None:
    """Two issuances of one vintage: the issuance criterion takes units of the
    one named only; a project or issuance that does not exist is not found."""
    import datetime as dt

    project = testing.registered_project(registry)
    _r, (first,) = testing.issue(registry, project, {2022: 100}, period=(dt.date(2022, 1, 1), dt.date(2022, 6, 30)))
    _r, (second,) = testing.issue(registry, project, {2022: 100}, period=(dt.date(2022, 7, 1), dt.date(2022, 12, 31)))
    client.force_login(registry.developer)
    body = transfer_body(registry, quantity=30, vintage=2022, issuance=str(second.uid))
    response = post(client, "/transfers", body, headers={"Idempotency-Key": "by-issuance"})
    assert response.status_code in (200, 201), response.content
    moved = UnitBlock.objects.filter(account=registry.buyer_account)
    assert {b.issuance_id for b in moved} == {second.pk} and sum(b.quantity for b in moved) == 30
    before = state()
    for change, status, code in (
        ({"project": "CI-9999"}, 404, "PROJECT_NOT_FOUND"),
        ({"issuance": "00000000-0000-4000-8000-000000000000"}, 404, "ISSUANCE_NOT_FOUND"),
        ({"issuance": "first"}, 422, "ISSUANCE_INVALID"),
        ({"issuance": str(first.uid), "quantity": 101}, 422, "INSUFFICIENT_UNITS"),
    ):
        body = transfer_body(registry, **{"quantity": 5, **change})
        assert_problem(post(client, "/transfers", body, headers={"Idempotency-Key": f"missing-{code}"}), status, code)
    assert state() == before


def test_unknown_account_is_404(registry, issued, client: Client) -> None:
    from tonne.organisations.domain import make_account_identifier

    client.force_login(registry.developer)
    before = state()
    missing = make_account_identifier("CI", "holding", 1999999)
    response = post(
        client,
        "/transfers",
        transfer_body(registry, to_account=missing, quantity=1),
        headers={"Idempotency-Key": "k"},
    )
    assert_problem(response, 404, "ACCOUNT_NOT_FOUND")
    assert_problem(get(client, f"/accounts/{missing}"), 404, "ACCOUNT_NOT_FOUND")
    assert state() == before


def test_other_organisation_cannot_move_or_see_account(registry, issued, client: Client) -> None:
    client.force_login(registry.other_developer)
    before = state()
    response = post(
        client,
        "/transfers",
        transfer_body(registry, quantity=1),
        headers={"Idempotency-Key": "steal"},
    )
    assert_problem(response, 403, "ACCOUNT_NOT_OPERATED_BY_USER")
    assert_problem(
        get(client, f"/accounts/{registry.developer_account.identifier}"),
        403,
        "ACCOUNT_NOT_VISIBLE",
    )
    identifiers = [a["identifier"] for a in get(client, "/accounts").json()["items"]]
    assert identifiers == [registry.other_developer_account.identifier]
    assert get(client, "/transactions").json()["count"] == 0
    assert state() == before


def test_viewer_role_cannot_transfer(registry, issued, client: Client) -> None:
    viewer = testing.make_user(
        registry.developer_org, "dev-viewer", role="viewer", actor=registry.admin
    )
    client.force_login(viewer)
    before = state()
    response = post(
        client, "/transfers", transfer_body(registry, quantity=1), headers={"Idempotency-Key": "v"}
    )
    assert_problem(response, 403, "ROLE_NOT_ALLOWED")
    assert state() == before
    # ...but may read its organisation's account.
    assert get(client, f"/accounts/{registry.developer_account.identifier}").status_code == 200


def test_account_detail_shows_holdings_as_serials(registry, issued, client: Client) -> None:
    client.force_login(registry.developer)
    body = get(client, f"/accounts/{registry.developer_account.identifier}").json()
    assert body["balance"] == 1000
    assert body["holdings"][0]["serial"] == "CI-VER-14-0001-2022-1-1-1000"
    assert body["holdings"][0]["state"] == "held"
    assert_problem(get(client, "/accounts/CI-100-1000004-00"), 422, "ACCOUNT_CHECK_DIGITS")


def test_open_account(registry, client: Client) -> None:
    client.force_login(registry.buyer)
    response = post(client, "/accounts", {"name": "Second"})
    assert response.status_code == 201
    assert response.json()["organisation"]["name"] == registry.buyer_org.name
    # Not for another organisation.
    response = post(
        client, "/accounts", {"name": "x", "organisation": str(registry.developer_org.uid)}
    )
    assert_problem(response, 403, "ACCOUNT_ADMIN_NOT_ALLOWED")


def test_retire_and_public_retirements(registry, issued, client: Client) -> None:
    client.force_login(registry.developer)
    response = post(
        client,
        "/retirements",
        {
            "from_account": registry.developer_account.identifier,
            "ranges": [{"start": 1, "end": 50}],
            "beneficiary": "Abidjan Airport",
            "purpose": "voluntary",
            "jurisdiction": "CI",
        },
        headers={"Idempotency-Key": "r-1"},
    )
    assert response.status_code == 201, response.content
    txn = response.json()
    assert txn["kind"] == "retirement"
    public = get(Client(), "/retirements").json()
    assert public["count"] == 1
    item = public["items"][0]
    assert item["beneficiary"] == "Abidjan Airport" and item["quantity"] == 50
    assert item["serials"][0]["serial"] == "CI-VER-14-0001-2022-1-1-50"
    assert item["ledger_seq"] == txn["ledger_seq"]
    assert get(Client(), f"/retirements/{txn['identifier']}").status_code == 200
    assert_problem(get(Client(), "/retirements/TX-NOPE"), 404, "RETIREMENT_NOT_FOUND")
    # Retired units never move again.
    before = state()
    response = post(
        client,
        "/transfers",
        transfer_body(registry, ranges=[{"start": 1, "end": 1}]),
        headers={"Idempotency-Key": "r-2"},
    )
    assert_problem(response, 422, "SERIAL_RANGE_NOT_HELD")
    assert state() == before
    bad = post(
        client,
        "/retirements",
        {
            "from_account": registry.developer_account.identifier,
            "quantity": 1,
            "beneficiary": "x",
            "purpose": "fun",
        },
        headers={"Idempotency-Key": "r-3"},
    )
    assert_problem(bad, 422, "RETIREMENT_PURPOSE_INVALID")


def test_cancellation_and_reversal(registry, client: Client) -> None:
    project = testing.registered_project(registry, buffer_basis_points=1000)
    testing.issue(registry, project, {2022: 1000})
    client.force_login(registry.developer)
    response = post(
        client,
        "/cancellations",
        {"from_account": registry.developer_account.identifier, "quantity": 5, "reason": "NDC"},
        headers={"Idempotency-Key": "c"},
    )
    assert response.status_code == 201 and response.json()["kind"] == "cancellation"
    # Reversals are for the administrator only.
    body = {"project": project.project_id, "quantity": 10, "reason": "Fire"}
    assert_problem(
        post(client, "/reversals", body, headers={"Idempotency-Key": "rv"}),
        403,
        "NOT_REGISTRY_ADMINISTRATOR",
    )
    admin = Client()
    admin.force_login(registry.admin)
    response = post(admin, "/reversals", body, headers={"Idempotency-Key": "rv"})
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "reversal" and response.json()["from_account"].startswith(
        "CI-200-"
    )
    # The administrator sees every transaction.
    assert get(admin, "/transactions", kind="reversal").json()["count"] == 1


def test_blocks_are_public_but_accounts_hidden(registry, issued, client: Client) -> None:
    anonymous = get(Client(), "/blocks", project="CI-0001").json()
    assert anonymous["count"] == 1
    assert anonymous["items"][0]["account"] is None
    assert anonymous["items"][0]["state"] == "held"
    client.force_login(registry.developer)
    mine = get(client, "/blocks").json()
    assert mine["items"][0]["account"] == registry.developer_account.identifier
    assert get(Client(), "/blocks", state="retired").json()["count"] == 0
    assert_problem(get(Client(), "/blocks", state="lost"), 422, "UNIT_STATE_INVALID")
    block_id = anonymous["items"][0]["id"]
    assert get(Client(), f"/blocks/{block_id}").json()["serial"] == "CI-VER-14-0001-2022-1-1-1000"
    assert_problem(get(Client(), "/blocks/999999"), 404, "BLOCK_NOT_FOUND")


def test_serial_lookup(registry, issued, client: Client) -> None:
    client.force_login(registry.developer)
    post(
        client,
        "/transfers",
        transfer_body(registry, ranges=[{"start": 101, "end": 200}]),
        headers={"Idempotency-Key": "s"},
    )
    anon = Client()
    body = get(anon, "/serials/CI-VER-14-0001-2022-1-1-900").json()
    serials = [b["serial"] for b in body["blocks"]]
    assert serials == [
        "CI-VER-14-0001-2022-1-1-100",
        "CI-VER-14-0001-2022-1-101-200",
        "CI-VER-14-0001-2022-1-201-1000",
    ]
    moved = body["blocks"][1]
    assert [h["kind"] for h in moved["history"]] == ["issuance", "transfer"]
    assert moved["account"] is None and moved["history"][1]["to_account"] is None
    assert body["blocks"][0]["history"][0]["kind"] == "issuance"
    # The holder sees its own account; numbers and ranges work too.
    mine = get(client, "/serials/150").json()
    assert len(mine["blocks"]) == 1 and mine["blocks"][0]["account"] is None  # now the buyer's
    buyer = Client()
    buyer.force_login(registry.buyer)
    assert (
        get(buyer, "/serials/150").json()["blocks"][0]["account"]
        == registry.buyer_account.identifier
    )
    assert len(get(anon, "/serials/100-101").json()["blocks"]) == 2
    assert len(get(anon, "/serials", q="CI-VER-14-0001-2022-1-5").json()["blocks"]) == 1
    assert get(anon, "/serials", q="5000000").json()["blocks"] == []
    assert_problem(get(anon, "/serials/5000000"), 404, "SERIAL_NOT_FOUND")
    assert_problem(get(anon, "/serials/CI-VER-14-0001-2021-1-1-900"), 422, "SERIAL_PREFIX_MISMATCH")
    assert_problem(get(anon, "/serials/not-a-serial"), 422, "SERIAL_MALFORMED")


def test_transactions_scoped(registry, issued, client: Client) -> None:
    client.force_login(registry.developer)
    txn = post(
        client, "/transfers", transfer_body(registry, quantity=3), headers={"Idempotency-Key": "q"}
    ).json()
    assert get(client, f"/transactions/{txn['identifier']}").status_code == 200
    listed = get(client, "/transactions", kind="transfer").json()
    assert [t["identifier"] for t in listed["items"]] == [txn["identifier"]]
    other = Client()
    other.force_login(registry.other_developer)
    assert_problem(get(other, f"/transactions/{txn['identifier']}"), 404, "TRANSACTION_NOT_FOUND")
    buyer = Client()
    buyer.force_login(registry.buyer)
    assert (
        get(buyer, f"/transactions/{txn['identifier']}").json()["to_account"]
        == registry.buyer_account.identifier
    )
    assert_problem(get(client, "/transactions", ordering="identifier"), 422, "ORDERING_INVALID")


def test_issuances_public(registry, issued, client: Client) -> None:
    body = get(client, "/issuances", project="CI-0001").json()
    assert body["count"] == 1
    assert body["items"][0]["serial"] == "CI-VER-14-0001-2022-1-1-1000"
    uid = body["items"][0]["uid"]
    assert get(client, f"/issuances/{uid}").json()["quantity"] == 1000
    response = client.get(f"{API}/issuances/00000000-0000-0000-0000-000000000000")
    assert_problem(response, 404, "ISSUANCE_NOT_FOUND")
