"""Organisations, users, accounts and API tokens through their services:
applications decided by the registry administrator with a reason, roles and
permissions, password rules and Argon2, system accounts made at install,
holding accounts with check digits, API tokens stored only as hashes."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import identify_hasher

from tonne import testing
from tonne.core import clock
from tonne.core.errors import NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from tonne.ledger.models import LedgerEntry, LedgerHead
from tonne.ledger.openings import opened_body
from tonne.organisations import domain
from tonne.organisations import services as orgs
from tonne.organisations.models import Account, ApiToken, Organisation, User
from tonne.units import services as units
from tonne.units.domain import Selection
from tonne.units.models import Transaction, UnitBlock

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def last_entry(kind: str) -> dict:
    entry = LedgerEntry.objects.filter(kind=kind).order_by("-seq").first()
    assert entry is not None, f"no {kind} ledger entry"
    return opened_body(entry)


def ledger_size() -> int:
    return LedgerHead.objects.get(pk=1).size


def fresh(user: User) -> User:
    """The user as a new request would load it (no cached organisation)."""
    return User.objects.select_related("organisation").get(pk=user.pk)


def refused(exc_type, code: str, fn, *args, **kwargs):  # noqa: ANN001, ANN201
    """Call fn; it must raise exc_type with code and leave the ledger unchanged."""
    size = ledger_size()
    with pytest.raises(exc_type) as exc:
        fn(*args, **kwargs)
    assert exc.value.code == code, exc.value
    assert ledger_size() == size
    return exc.value


# --- applications and decisions ------------------------------------------------


def test_apply_creates_applied_organisation_and_ledger_entry(registry) -> None:
    clock.freeze(T0)
    org = orgs.apply_for_organisation(
        actor=None, name="  Cocoa Agroforestry Co  ", kind="developer", country="ci", contact_email="a@b.org"
    )
    assert org.status == Organisation.Status.APPLIED
    assert org.name == "Cocoa Agroforestry Co"
    assert org.country == "CI"
    assert org.created_at == T0
    assert org.uid is not None
    body = last_entry("organisation.applied")
    assert body["data"] == {"organisation": str(org.uid), "name": org.name, "kind": "developer", "status": "applied"}
    assert body["actor"] == "system"
    assert not org.is_registry_administrator


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"name": "  "}, "ORGANISATION_NAME_REQUIRED", "name"),
        ({"kind": "bank"}, "ORGANISATION_KIND_INVALID", "kind"),
        ({"country": "CIV"}, "COUNTRY_INVALID", "country"),
        ({"country": "1I"}, "COUNTRY_INVALID", "country"),
        ({"country": ""}, "COUNTRY_INVALID", "country"),
        ({"country": "XX"}, "COUNTRY_INVALID", "country"),  # the right shape, no such country
    ],
)
def test_apply_validation(registry, fields: dict, code: str, field: str) -> None:
    data = {"name": "New Org", "kind": "developer", "country": "CI", **fields}
    exc = refused(ValidationFailed, code, orgs.apply_for_organisation, actor=None, **data)
    assert exc.field == field
    assert not Organisation.objects.filter(name="New Org").exists()


def test_apply_duplicate_name_case_insensitive(registry) -> None:
    name = registry.developer_org.name.upper()
    refused(ValidationFailed, "ORGANISATION_EXISTS", orgs.apply_for_organisation, actor=None, name=name, kind="developer", country="CI")


@pytest.mark.parametrize("decision", ["approved", "rejected"])
def test_administrator_decides_application_with_reason(registry, decision: str) -> None:
    org = orgs.apply_for_organisation(actor=None, name="Applicant", kind="trader", country="GH")
    clock.freeze(T0)
    decided = orgs.decide_organisation(actor=registry.admin, organisation=org, status=decision, reason=" KYC checked ")
    assert decided.status == decision
    assert decided.status_reason == "KYC checked"
    assert decided.status_changed_at == T0
    org.refresh_from_db()
    assert org.status == decision
    body = last_entry("organisation.status")
    assert body["actor"] == f"user:{registry.admin.username}"
    assert body["data"]["from"] == "applied"
    assert body["data"]["status"] == decision
    assert body["data"]["reason"] == "KYC checked"


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_decision_needs_reason(registry, reason) -> None:  # noqa: ANN001
    org = orgs.apply_for_organisation(actor=None, name="Applicant", kind="trader", country="GH")
    exc = refused(
        ValidationFailed, "REASON_REQUIRED", orgs.decide_organisation, actor=registry.admin, organisation=org, status="approved", reason=reason
    )
    assert exc.field == "reason"
    org.refresh_from_db()
    assert org.status == "applied"


@pytest.mark.parametrize("who", ["developer", "vvb", "buyer", "government_viewer"])
def test_only_registry_administrator_decides(registry, who: str) -> None:
    if who == "government_viewer":
        actor = testing.make_user(registry.government, "gov-viewer", User.Role.VIEWER, actor=registry.admin)
    else:
        actor = getattr(registry, who)
    org = orgs.apply_for_organisation(actor=None, name="Applicant", kind="trader", country="GH")
    exc = refused(
        PermissionDenied, "NOT_REGISTRY_ADMINISTRATOR", orgs.decide_organisation, actor=actor, organisation=org, status="approved", reason="ok"
    )
    assert exc.status == 403
    org.refresh_from_db()
    assert org.status == "applied"


@pytest.mark.parametrize("role", [User.Role.INITIATOR, User.Role.APPROVER])
def test_government_initiators_and_approvers_are_administrators(registry, role: str) -> None:
    actor = testing.make_user(registry.government, f"gov-{role}", role, actor=registry.admin)
    org = orgs.apply_for_organisation(actor=None, name="Applicant", kind="trader", country="GH")
    assert orgs.decide_organisation(actor=actor, organisation=org, status="approved", reason="ok").status == "approved"


def test_full_life_cycle_suspend_reinstate_close(registry) -> None:
    org = registry.buyer_org
    org = orgs.decide_organisation(actor=registry.admin, organisation=org, status="suspended", reason="AML review")
    assert org.status == "suspended"
    org = orgs.decide_organisation(actor=registry.admin, organisation=org, status="approved", reason="review cleared")
    assert org.status == "approved"
    org = orgs.decide_organisation(actor=registry.admin, organisation=org, status="closed", reason="asked to leave")
    assert org.status == "closed"
    assert org.status_reason == "asked to leave"


@pytest.mark.parametrize(
    ("path", "target"),
    [
        (["rejected"], "approved"),
        (["approved", "closed"], "approved"),
        (["approved", "closed"], "suspended"),
        ([], "suspended"),
        ([], "closed"),
        (["approved"], "rejected"),
        (["approved"], "applied"),
        (["approved", "suspended"], "rejected"),
    ],
)
def test_invalid_transitions_refused(registry, path: list[str], target: str) -> None:
    org = orgs.apply_for_organisation(actor=None, name="Applicant", kind="trader", country="GH")
    for status in path:
        org = orgs.decide_organisation(actor=registry.admin, organisation=org, status=status, reason="step")
    refused(
        ValidationFailed,
        "ORGANISATION_TRANSITION_NOT_ALLOWED",
        orgs.decide_organisation,
        actor=registry.admin,
        organisation=org,
        status=target,
        reason="try",
    )
    org.refresh_from_db()
    assert org.status == (path[-1] if path else "applied")


def test_government_status_only_changed_by_root(registry) -> None:
    refused(
        PermissionDenied,
        "GOVERNMENT_STATUS_ROOT_ONLY",
        orgs.decide_organisation,
        actor=registry.admin,
        organisation=registry.government,
        status="suspended",
        reason="coup",
    )
    org = orgs.decide_organisation(actor=registry.root, organisation=registry.government, status="suspended", reason="handover")
    assert org.status == "suspended"
    # A suspended government is no registry administrator any more.
    assert not orgs.is_registry_administrator(fresh(registry.admin))
    assert orgs.is_registry_administrator(registry.root)


# --- suspended organisations and units -------------------------------------------


@pytest.fixture
def funded(registry):
    project = testing.registered_project(registry)
    testing.issue(registry, project, {2022: 100})
    return registry


def _transfer(actor: User, source: Account, target: Account, key: str, quantity: int = 10) -> Transaction:
    return units.transfer(
        actor=actor,
        from_account=source.identifier,
        to_account=target.identifier,
        selection=Selection.build(quantity=quantity),
        idempotency_key=key,
    )


def _blocks() -> list[tuple]:
    return list(UnitBlock.objects.order_by("serial_start").values_list("serial_start", "serial_end", "account_id"))


def test_suspended_organisation_cannot_move_units(funded) -> None:
    reg = funded
    orgs.decide_organisation(actor=reg.admin, organisation=reg.developer_org, status="suspended", reason="investigation")
    before = _blocks()
    refused(
        PermissionDenied,
        "ORGANISATION_NOT_APPROVED",
        _transfer,
        fresh(reg.developer),
        reg.developer_account,
        reg.buyer_account,
        "k1",
    )
    # Even a session that still carries the old organisation status is stopped
    # by the check on the account holder.
    refused(
        ValidationFailed,
        "TRANSFERRING_ORGANISATION_NOT_APPROVED",
        _transfer,
        reg.developer,
        reg.developer_account,
        reg.buyer_account,
        "k2",
    )
    assert _blocks() == before
    assert not Transaction.objects.filter(kind="transfer").exists()


def test_suspended_organisation_cannot_receive_units(funded) -> None:
    reg = funded
    orgs.decide_organisation(actor=reg.admin, organisation=reg.buyer_org, status="suspended", reason="investigation")
    before = _blocks()
    exc = refused(
        ValidationFailed,
        "ACQUIRING_ORGANISATION_NOT_APPROVED",
        _transfer,
        fresh(reg.developer),
        reg.developer_account,
        reg.buyer_account,
        "k1",
    )
    assert exc.field == "to_account"
    assert _blocks() == before


def test_reinstated_organisation_moves_again(funded) -> None:
    reg = funded
    orgs.decide_organisation(actor=reg.admin, organisation=reg.buyer_org, status="suspended", reason="review")
    orgs.decide_organisation(actor=reg.admin, organisation=reg.buyer_org, status="approved", reason="cleared")
    txn = _transfer(fresh(reg.developer), reg.developer_account, reg.buyer_account, "k1")
    assert txn.status == Transaction.Status.COMPLETED
    back = _transfer(fresh(reg.buyer), reg.buyer_account, reg.developer_account, "k2", quantity=5)
    assert back.status == Transaction.Status.COMPLETED


def test_closed_organisation_cannot_receive_units(funded) -> None:
    reg = funded
    orgs.decide_organisation(actor=reg.admin, organisation=reg.buyer_org, status="closed", reason="wound up")
    refused(
        ValidationFailed,
        "ACQUIRING_ORGANISATION_NOT_APPROVED",
        _transfer,
        fresh(reg.developer),
        reg.developer_account,
        reg.buyer_account,
        "k1",
    )


def test_suspended_organisation_cannot_open_accounts_or_add_work(registry) -> None:
    orgs.decide_organisation(actor=registry.admin, organisation=registry.buyer_org, status="suspended", reason="review")
    refused(
        PermissionDenied,
        "ORGANISATION_NOT_APPROVED",
        orgs.open_holding_account,
        actor=fresh(registry.buyer),
        organisation=registry.buyer_org,
        name="Second",
    )
    buyer_org = Organisation.objects.get(pk=registry.buyer_org.pk)
    refused(
        ValidationFailed,
        "ORGANISATION_NOT_APPROVED",
        orgs.open_holding_account,
        actor=registry.admin,
        organisation=buyer_org,
        name="Second",
    )


# --- users -------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    ["short", "password1234", "123456789012345", "alice-exampleuser"],
)
def test_weak_password_refused(registry, password: str) -> None:
    exc = refused(
        ValidationFailed,
        "PASSWORD_TOO_WEAK",
        orgs.create_user,
        actor=registry.admin,
        organisation=registry.buyer_org,
        username="alice-exampleuser",
        email="alice@example.org",
        password=password,
    )
    assert exc.field == "password"
    assert exc.message
    assert not User.objects.filter(username="alice-exampleuser").exists()


def test_create_user_records_ledger_without_password(registry) -> None:
    user = orgs.create_user(
        actor=registry.admin,
        organisation=registry.buyer_org,
        username="trader-2",
        email="t2@example.org",
        password=testing.PASSWORD,
        role=User.Role.INITIATOR,
    )
    assert user.role == "initiator"
    assert user.organisation_id == registry.buyer_org.id
    assert not user.is_superuser
    assert user.check_password(testing.PASSWORD)
    assert user.password != testing.PASSWORD
    entry = LedgerEntry.objects.filter(kind="user.created").order_by("-seq").first()
    body = opened_body(entry)
    assert body["data"] == {
        "username": "trader-2",
        "organisation": str(registry.buyer_org.uid),
        "role": "initiator",
        "root": False,
        "active": True,
        "in_force_from": None,  # stated from creation: an edit of it is named by verify from day one
    }
    assert testing.PASSWORD not in entry.body
    assert user.password not in entry.body


def test_default_role_is_viewer(registry) -> None:
    user = orgs.create_user(
        actor=registry.admin, organisation=registry.buyer_org, username="v1", email="v@example.org", password=testing.PASSWORD
    )
    assert user.role == User.Role.VIEWER


@pytest.mark.parametrize("username", ["r-dup", "R-DUP", " r-dup "])
def test_duplicate_username_refused(registry, username: str) -> None:
    testing.make_user(registry.buyer_org, "r-dup", actor=registry.admin)
    exc = refused(
        ValidationFailed,
        "USERNAME_TAKEN",
        orgs.create_user,
        actor=registry.admin,
        organisation=registry.buyer_org,
        username=username,
        email="x@example.org",
        password=testing.PASSWORD,
    )
    assert exc.field == "username"


def test_user_field_validation(registry) -> None:
    common = {"actor": registry.admin, "organisation": registry.buyer_org, "email": "x@example.org", "password": testing.PASSWORD}
    refused(ValidationFailed, "USERNAME_REQUIRED", orgs.create_user, username="  ", **common)
    refused(ValidationFailed, "ROLE_INVALID", orgs.create_user, username="u1", role="superuser", **common)
    refused(
        ValidationFailed,
        "ORGANISATION_REQUIRED",
        orgs.create_user,
        actor=registry.admin,
        organisation=None,
        username="u2",
        email="x@example.org",
        password=testing.PASSWORD,
    )


def test_organisation_admin_adds_users_to_own_organisation_only(registry) -> None:
    # registry.buyer is the admin of the buyer organisation.
    own = orgs.create_user(
        actor=registry.buyer, organisation=registry.buyer_org, username="b-2", email="b2@example.org", password=testing.PASSWORD
    )
    assert own.organisation_id == registry.buyer_org.id
    for org in (registry.developer_org, registry.government, registry.vvb_org):
        refused(
            PermissionDenied,
            "USER_ADMIN_NOT_ALLOWED",
            orgs.create_user,
            actor=registry.buyer,
            organisation=org,
            username=f"intruder-{org.pk}",
            email="i@example.org",
            password=testing.PASSWORD,
        )


@pytest.mark.parametrize("role", [User.Role.INITIATOR, User.Role.APPROVER, User.Role.VIEWER])
def test_non_admin_members_cannot_add_users(registry, role: str) -> None:
    member = testing.make_user(registry.buyer_org, f"member-{role}", role, actor=registry.admin)
    refused(
        PermissionDenied,
        "ROLE_NOT_ALLOWED",
        orgs.create_user,
        actor=member,
        organisation=registry.buyer_org,
        username="new-one",
        email="n@example.org",
        password=testing.PASSWORD,
    )


def test_registry_administrator_adds_users_anywhere(registry) -> None:
    for org in (registry.developer_org, registry.vvb_org, registry.buyer_org):
        user = testing.make_user(org, f"by-admin-{org.pk}", User.Role.VIEWER, actor=registry.admin)
        assert user.organisation_id == org.id


def test_user_without_organisation_only_root(registry) -> None:
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="orphan", role=User.Role.ADMIN)


# --- passwords: Argon2 in production -----------------------------------------


def test_production_settings_hash_with_argon2_first() -> None:
    # The conftest swaps hashers for speed: read the real settings module.
    real = importlib.import_module("tonne.settings")
    assert real.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert all("MD5" not in h and "SHA1" not in h for h in real.PASSWORD_HASHERS)
    min_length = [v for v in real.AUTH_PASSWORD_VALIDATORS if v["NAME"].endswith("MinimumLengthValidator")]
    assert min_length and min_length[0]["OPTIONS"]["min_length"] >= 12


def test_real_argon2_hash_verifies(registry, settings) -> None:  # noqa: ANN001
    real = importlib.import_module("tonne.settings")
    settings.PASSWORD_HASHERS = real.PASSWORD_HASHERS
    user = orgs.create_user(
        actor=registry.admin, organisation=registry.buyer_org, username="argon-user", email="a@example.org", password=testing.PASSWORD
    )
    user = User.objects.get(pk=user.pk)
    assert user.password.startswith("argon2$argon2id$")
    assert identify_hasher(user.password).algorithm == "argon2"
    assert user.check_password(testing.PASSWORD)
    assert not user.check_password(testing.PASSWORD + "!")
    assert authenticate(username="argon-user", password=testing.PASSWORD) == user
    assert authenticate(username="argon-user", password="wrong password here") is None


def test_argon2_hash_salted(registry, settings) -> None:  # noqa: ANN001
    real = importlib.import_module("tonne.settings")
    settings.PASSWORD_HASHERS = real.PASSWORD_HASHERS
    a = testing.make_user(registry.buyer_org, "salt-a", actor=registry.admin)
    b = testing.make_user(registry.buyer_org, "salt-b", actor=registry.admin)
    assert a.password != b.password


# --- accounts ----------------------------------------------------------------

SYSTEM_TYPES = {
    "buffer": False,
    "retirement": True,
    "cancellation": True,
    "omge": True,
    "export": True,
    "sop": False,
}


def test_system_accounts_exist_after_migrate(db) -> None:
    system = Account.objects.exclude(type=Account.Type.HOLDING)
    assert {a.type for a in system} == set(SYSTEM_TYPES)
    assert system.count() == 6
    for account in system:
        assert account.is_terminal is SYSTEM_TYPES[account.type], account.type
        assert account.organisation_id is None
        assert account.status == Account.Status.OPEN
        assert domain.check_account_identifier(account.identifier) == account.identifier
        assert account.identifier.split("-")[1] == domain.ACCOUNT_TYPE_CODES[account.type]
        assert account.name == orgs.SYSTEM_ACCOUNT_NAMES[account.type]
    opened = {opened_body(e)["data"]["type"] for e in LedgerEntry.objects.filter(kind="account.opened")}
    assert set(SYSTEM_TYPES) <= opened


def test_ensure_system_accounts_idempotent(db) -> None:
    count = Account.objects.count()
    assert orgs.ensure_system_accounts() == []
    assert Account.objects.count() == count
    assert orgs.system_account("retirement").type == "retirement"


def test_second_system_account_of_a_type_refused_by_database(db) -> None:
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(
            identifier=domain.make_account_identifier("CI", "retirement", 9000001),
            number=9000001,
            type="retirement",
            name="Second retirement",
            is_terminal=True,
            created_at=clock.now(),
        )


def test_holding_accounts_have_valid_identifiers(registry) -> None:
    clock.freeze(T0)
    second = orgs.open_holding_account(actor=registry.buyer, organisation=registry.buyer_org, name="  ")
    assert second.name == f"{registry.buyer_org.name} holding account"
    assert second.created_at == T0
    holding = list(Account.objects.filter(type=Account.Type.HOLDING))
    assert len(holding) == 4
    numbers = [a.number for a in Account.objects.all()]
    assert len(set(numbers)) == len(numbers)
    for account in holding:
        assert account.is_terminal is False
        assert account.organisation_id is not None
        assert domain.check_account_identifier(account.identifier) == account.identifier
        country, code, number, _ = account.identifier.split("-")
        assert country == "CI" and code == "100" and int(number) == account.number
    assert second.number == max(numbers)
    body = last_entry("account.opened")
    assert body["data"] == {
        "account": second.identifier,
        "type": "holding",
        "name": second.name,
        "organisation": str(registry.buyer_org.uid),
    }


def test_open_account_permissions(registry) -> None:
    refused(
        PermissionDenied,
        "ACCOUNT_ADMIN_NOT_ALLOWED",
        orgs.open_holding_account,
        actor=registry.buyer,
        organisation=registry.developer_org,
        name="Sneaky",
    )
    viewer = testing.make_user(registry.buyer_org, "b-viewer", User.Role.VIEWER, actor=registry.admin)
    refused(PermissionDenied, "ROLE_NOT_ALLOWED", orgs.open_holding_account, actor=viewer, organisation=registry.buyer_org, name="x")
    # The registry administrator opens for anyone approved, not for applicants.
    assert orgs.open_holding_account(actor=registry.admin, organisation=registry.developer_org, name="Second").type == "holding"
    applicant = orgs.apply_for_organisation(actor=None, name="Applicant", kind="trader", country="GH")
    refused(ValidationFailed, "ORGANISATION_NOT_APPROVED", orgs.open_holding_account, actor=registry.admin, organisation=applicant, name="x")


def test_get_account_rejects_typos(registry) -> None:
    identifier = registry.buyer_account.identifier
    assert orgs.get_account(identifier.lower()).pk == registry.buyer_account.pk
    typo = identifier[:-1] + str((int(identifier[-1]) + 1) % 10)
    with pytest.raises(ValidationFailed) as exc:
        orgs.get_account(typo, field="to_account")
    assert exc.value.code == "ACCOUNT_CHECK_DIGITS"
    assert exc.value.field == "to_account"
    unknown = domain.make_account_identifier("CI", "holding", 9999999)
    with pytest.raises(NotFound) as missing:
        orgs.get_account(unknown)
    assert missing.value.code == "ACCOUNT_NOT_FOUND"
    with pytest.raises(ValidationFailed) as malformed:
        orgs.get_account("account 7")
    assert malformed.value.code == "ACCOUNT_IDENTIFIER_MALFORMED"


def test_account_status_changes(funded) -> None:
    reg = funded
    refused(
        PermissionDenied,
        "NOT_REGISTRY_ADMINISTRATOR",
        orgs.set_account_status,
        actor=reg.buyer,
        account=reg.buyer_account,
        status="suspended",
        reason="x",
    )
    refused(ValidationFailed, "REASON_REQUIRED", orgs.set_account_status, actor=reg.admin, account=reg.buyer_account, status="suspended", reason=" ")
    refused(ValidationFailed, "ACCOUNT_STATUS_INVALID", orgs.set_account_status, actor=reg.admin, account=reg.buyer_account, status="frozen", reason="x")
    refused(
        ValidationFailed,
        "ACCOUNT_NOT_EMPTY",
        orgs.set_account_status,
        actor=reg.admin,
        account=reg.developer_account,
        status="closed",
        reason="x",
    )
    account = orgs.set_account_status(actor=reg.admin, account=reg.buyer_account, status="closed", reason="empty, asked")
    assert account.status == "closed"
    assert last_entry("account.status")["data"] == {
        "account": account.identifier,
        "from": "open",
        "to": "closed",
        "reason": "empty, asked",
    }
    refused(ValidationFailed, "ACCOUNT_CLOSED", orgs.set_account_status, actor=reg.admin, account=account, status="open", reason="x")


# --- API tokens --------------------------------------------------------------


def test_issue_token_stores_only_hash(registry) -> None:
    clock.freeze(T0)
    token, secret = orgs.issue_api_token(actor=registry.buyer, name="bot")
    assert secret.startswith("tonne_")
    assert len(secret) > 40
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert stored.prefix == secret[:12]
    values = [str(v) for v in ApiToken.objects.filter(pk=token.pk).values().get().values()]
    assert secret not in values
    assert not any(secret in v for v in values)
    assert stored.scope == ApiToken.Scope.TRADE
    assert stored.created_at == T0
    assert stored.expires_at == T0 + dt.timedelta(days=90)
    assert stored.revoked_at is None
    # Each token is different.
    _, other = orgs.issue_api_token(actor=registry.buyer, name="bot")
    assert other != secret


def test_authenticate_token(registry) -> None:
    _, secret = orgs.issue_api_token(actor=registry.buyer, name="bot")
    clock.freeze(T0)
    user, token = orgs.authenticate_token(secret)
    assert user.pk == registry.buyer.pk
    assert ApiToken.objects.get(pk=token.pk).last_used_at == T0
    for wrong in (secret + "x", secret[:-1], "", "tonne_nothing"):
        with pytest.raises(NotAuthenticated) as exc:
            orgs.authenticate_token(wrong)
        assert exc.value.code == "TOKEN_INVALID"
        assert exc.value.status == 401


def test_token_user_and_organisation_read_in_one_query(registry, django_assert_num_queries) -> None:
    """One row on each request: the instances carry every column as the ORM
    reads it (dates, flags and UUIDs converted on SQLite too)."""
    _, secret = orgs.issue_api_token(actor=registry.buyer, name="bot")
    orgs.authenticate_token(secret)  # first use: last_used_at written
    with django_assert_num_queries(1):
        user, token = orgs.authenticate_token(secret)
        organisation = user.organisation
        assert token.user is user
    for instance, stored in ((token, ApiToken.objects.get(pk=token.pk)), (user, User.objects.get(pk=user.pk)),
                             (organisation, Organisation.objects.get(pk=organisation.pk))):
        for field in type(instance)._meta.concrete_fields:
            assert getattr(instance, field.attname) == getattr(stored, field.attname), field.attname


def test_token_expiry(registry) -> None:
    clock.freeze(T0)
    _, secret = orgs.issue_api_token(actor=registry.buyer, name="bot", days=1)
    clock.freeze(T0 + dt.timedelta(days=1) - dt.timedelta(seconds=1))
    assert orgs.authenticate_token(secret)[0].pk == registry.buyer.pk
    clock.freeze(T0 + dt.timedelta(days=1))
    with pytest.raises(NotAuthenticated):
        orgs.authenticate_token(secret)
    clock.freeze(T0 + dt.timedelta(days=400))
    with pytest.raises(NotAuthenticated):
        orgs.authenticate_token(secret)


def test_token_revocation(registry) -> None:
    token, secret = orgs.issue_api_token(actor=registry.buyer, name="bot")
    with pytest.raises(PermissionDenied) as exc:
        orgs.revoke_api_token(actor=registry.developer, token=token)
    assert exc.value.code == "TOKEN_NOT_YOURS"
    assert orgs.authenticate_token(secret)[0].pk == registry.buyer.pk
    clock.freeze(T0)
    revoked = orgs.revoke_api_token(actor=registry.buyer, token=token)
    assert revoked.revoked_at == T0
    with pytest.raises(NotAuthenticated):
        orgs.authenticate_token(secret)
    # Revoking again keeps the first time.
    clock.freeze(T0 + dt.timedelta(hours=1))
    assert orgs.revoke_api_token(actor=registry.buyer, token=ApiToken.objects.get(pk=token.pk)).revoked_at == T0


def test_administrator_revokes_any_token(registry) -> None:
    token, secret = orgs.issue_api_token(actor=registry.buyer, name="bot")
    orgs.revoke_api_token(actor=registry.admin, token=token)
    with pytest.raises(NotAuthenticated):
        orgs.authenticate_token(secret)


def test_inactive_user_token_refused(registry) -> None:
    _, secret = orgs.issue_api_token(actor=registry.buyer, name="bot")
    User.objects.filter(pk=registry.buyer.pk).update(is_active=False)
    with pytest.raises(NotAuthenticated):
        orgs.authenticate_token(secret)


def test_token_scope_and_lifetime_rules(registry) -> None:
    with pytest.raises(PermissionDenied) as exc:
        orgs.issue_api_token(actor=registry.buyer, name="x", scope="admin")
    assert exc.value.code == "TOKEN_SCOPE_NOT_ALLOWED"
    token, _ = orgs.issue_api_token(actor=registry.admin, name="x", scope="admin")
    assert token.scope == "admin"
    with pytest.raises(ValidationFailed) as bad_scope:
        orgs.issue_api_token(actor=registry.buyer, name="x", scope="everything")
    assert bad_scope.value.code == "TOKEN_SCOPE_INVALID"
    for days in (0, -1, 367):
        with pytest.raises(ValidationFailed) as bad_days:
            orgs.issue_api_token(actor=registry.buyer, name="x", days=days)
        assert bad_days.value.code == "TOKEN_LIFETIME_INVALID"
    assert ApiToken.objects.filter(user=registry.buyer).count() == 0


def test_suspended_organisation_admin_cannot_add_users(registry) -> None:
    orgs.decide_organisation(actor=registry.admin, organisation=registry.buyer_org, status="suspended", reason="AML")
    with pytest.raises(PermissionDenied):
        orgs.create_user(
            actor=fresh(registry.buyer),
            organisation=Organisation.objects.get(pk=registry.buyer_org.pk),
            username="added-while-suspended",
            email="s@example.org",
            password=testing.PASSWORD,
        )
