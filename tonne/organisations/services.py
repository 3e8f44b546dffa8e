"""State changes for organisations, users, accounts and API tokens."""

from __future__ import annotations

import functools
import hashlib
import secrets
import uuid
from collections.abc import Mapping
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection, transaction
from django.db.models import Max

from tonne.core import clock, iso3166
from tonne.core.errors import (
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RuleChecks,
    ValidationFailed,
)
from tonne.core.rows import Columns
from tonne.ledger.models import LedgerHead
from tonne.ledger.services import append_entry
from tonne.organisations import domain, second_factor
from tonne.organisations.handlers import handlers
from tonne.organisations.models import Account, ApiToken, Organisation, User

SYSTEM_ACCOUNT_NAMES = {
    "buffer": "Buffer pool",
    "retirement": "Retirement account",
    "cancellation": "Cancellation account",
    "omge": "OMGE cancellation account",
    "export": "Export account",
    "sop": "Share of proceeds account",
}


# -- permission rules, shared by every entry point ---------------------------


def is_registry_administrator(user: User) -> bool:
    if user.is_superuser:
        return True
    org = user.organisation
    return (
        org is not None
        and org.is_registry_administrator
        and user.role in (User.Role.ADMIN, User.Role.APPROVER, User.Role.INITIATOR)
    )


def require_registry_administrator(user: User) -> None:
    if not is_registry_administrator(user):
        raise PermissionDenied(
            "NOT_REGISTRY_ADMINISTRATOR", "Only the registry administrator may do this."
        )


def require_active_member(user: User, roles: tuple[str, ...]) -> Organisation:
    org = user.organisation
    if org is None:
        raise PermissionDenied("NO_ORGANISATION", "This user does not belong to an organisation.")
    if org.status != Organisation.Status.APPROVED:
        raise PermissionDenied(
            "ORGANISATION_NOT_APPROVED", f"Organisation {org.name} is {org.status}, not approved.",
            details={"organisation": org.name, "status": org.status},
        )
    if user.role not in roles:
        raise PermissionDenied(
            "ROLE_NOT_ALLOWED", f"Your role ({user.role}) may not do this; needs one of {', '.join(roles)}.",
            details={"role": user.role, "allowed": list(roles)},
        )
    return org


def require_account_operator(user: User, account: Account) -> None:
    """The user may initiate movements out of this account."""
    if account.type == Account.Type.HOLDING:
        org = require_active_member(user, (User.Role.ADMIN, User.Role.INITIATOR))
        if account.organisation_id != org.id:
            raise PermissionDenied(
                "ACCOUNT_NOT_OPERATED_BY_USER",
                f"Account {account.identifier} does not belong to your organisation.",
                details={"account": account.identifier},
            )
        return
    # System accounts (buffer pool and the like) are operated by the administrator.
    require_registry_administrator(user)


def require_in_force(user: User) -> None:
    """A deactivated person approves nothing, and a newly made or re-roled
    representative nothing until the representative delay has passed
    (TONNE_REPRESENTATIVE_DELAY_WORKING_DAYS)."""
    if not user.is_active:
        raise PermissionDenied("USER_INACTIVE", "This person is not active (or not yet approved).")
    if user.in_force_from is not None and user.in_force_from > clock.now():
        raise PermissionDenied(
            "REPRESENTATIVE_NOT_IN_FORCE",
            f"You became a representative recently; you may approve from {user.in_force_from:%Y-%m-%d %H:%M} UTC.",
            details={"in_force_from": user.in_force_from.isoformat()},
        )


def require_can_view_account(actor: User, account: Account) -> None:
    if is_registry_administrator(actor):
        return
    if account.organisation_id is None or account.organisation_id != actor.organisation_id:
        raise PermissionDenied("ACCOUNT_NOT_VISIBLE", f"Account {account.identifier} is not yours to see.", details={"account": account.identifier})


# -- organisations -------------------------------------------------------------


def _org_data(org: Organisation) -> dict:
    return {"organisation": str(org.uid), "name": org.name, "kind": org.kind, "status": org.status}


@transaction.atomic
def apply_for_organisation(
    *,
    actor: User | None,
    name: str,
    kind: str,
    country: str,
    registration_number: str = "",
    address: str = "",
    contact_email: str = "",
    website: str = "",
) -> Organisation:
    """An organisation applies to join the registry; the administrator decides."""
    name = (name or "").strip()
    checks = RuleChecks()  # every broken rule of the application at once
    with checks.rule():
        if not name:
            raise ValidationFailed("ORGANISATION_NAME_REQUIRED", "An organisation needs a name.", field="name")
        if Organisation.objects.filter(name__iexact=name).exists():
            raise ValidationFailed("ORGANISATION_EXISTS", f"An organisation named {name} already exists.", field="name", details={"organisation": name})
    with checks.rule():
        if kind not in Organisation.Kind.values:
            raise ValidationFailed(
                "ORGANISATION_KIND_INVALID",
                f"kind must be one of: {', '.join(Organisation.Kind.values)}.",
                field="kind",
                details={"allowed": list(Organisation.Kind.values)},
            )
    with checks.rule():
        country = iso3166.country(country, "country")
    checks.done()
    org = Organisation.objects.create(
        uid=uuid.uuid4(),
        name=name,
        kind=kind,
        country=country,
        registration_number=registration_number,
        address=address,
        contact_email=contact_email,
        website=website,
        created_at=clock.now(),
    )
    append_entry(kind="organisation.applied", actor=actor, data=_org_data(org))
    handlers().screen_new_organisation(org)  # sanctions lists, at once
    return org


@transaction.atomic
def decide_organisation(*, actor: User, organisation: Organisation, status: str, reason: str) -> Organisation:
    """Approve, reject, suspend, reinstate or close an organisation."""
    require_registry_administrator(actor)
    require_in_force(actor)  # a newly made administrator decides nothing until the delay has passed
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("REASON_REQUIRED", "A decision needs a reason.", field="reason")
    org = Organisation.objects.select_for_update(no_key=True).get(pk=organisation.pk)
    domain.check_organisation_transition(org.status, status)
    if org.kind == Organisation.Kind.GOVERNMENT and status != Organisation.Status.APPROVED and not actor.is_superuser:
        raise PermissionDenied(
            "GOVERNMENT_STATUS_ROOT_ONLY", "Only the installation root may change the government's status."
        )
    if status == Organisation.Status.APPROVED:
        handlers().require_no_sanctions_hits(org)
    previous = org.status
    org.status = status
    org.status_reason = reason
    org.status_changed_at = clock.now()
    org.save(update_fields=["status", "status_reason", "status_changed_at"])
    append_entry(
        kind="organisation.status",
        actor=actor,
        data={**_org_data(org), "from": previous, "reason": reason},
    )
    return org


@transaction.atomic
def set_accreditation(*, actor: User, organisation: Organisation, accredited: bool) -> Organisation:
    require_registry_administrator(actor)
    org = Organisation.objects.select_for_update(no_key=True).get(pk=organisation.pk)
    if org.kind != Organisation.Kind.VVB:
        raise ValidationFailed("NOT_A_VVB", "Only validation / verification bodies are accredited.")
    org.accredited = accredited
    org.save(update_fields=["accredited"])
    append_entry(kind="organisation.accreditation", actor=actor, data={**_org_data(org), "accredited": accredited})
    return org


@transaction.atomic
def set_acts_for_clients(*, actor: User, organisation: Organisation, acts_for_clients: bool) -> Organisation:
    """The registry administrator says whether a buyer, trader or exchange
    retires units on behalf of its clients (`on_behalf_of`)."""
    require_registry_administrator(actor)
    org = Organisation.objects.select_for_update(no_key=True).get(pk=organisation.pk)
    if acts_for_clients and org.kind != Organisation.Kind.TRADER:
        raise ValidationFailed(
            "NOT_A_TRADER", "Only a buyer, trader or exchange acts for clients.", field="acts_for_clients"
        )
    org.acts_for_clients = acts_for_clients
    org.save(update_fields=["acts_for_clients"])
    append_entry(kind="organisation.acts_for_clients", actor=actor,
                 data={**_org_data(org), "acts_for_clients": acts_for_clients})
    return org


def check_on_behalf(organisation: Organisation | None, details: Mapping[str, str]) -> None:
    """A retirement on behalf of someone comes from an exchange or broker."""
    if details.get("on_behalf_of"):
        require_acts_for_clients(organisation)


def require_acts_for_clients(organisation: Organisation | None) -> None:
    """Only an organisation the registry administrator marked as acting for
    clients (an exchange or broker) retires units on behalf of someone."""
    if organisation is None or not organisation.acts_for_clients:
        raise ValidationFailed(
            "ON_BEHALF_NOT_PERMITTED",
            "Only an exchange or broker the registry lets act for clients retires on behalf of someone.",
            field="on_behalf_of",
        )


# -- users ---------------------------------------------------------------------


@transaction.atomic
def create_user(
    *,
    actor: User | None,
    organisation: Organisation | None,
    username: str,
    email: str,
    password: str,
    role: str = User.Role.VIEWER,
    is_root: bool = False,
) -> User:
    """Add a person. Organisation admins add their own people; the registry
    administrator adds anyone; root is made only from the command line."""
    if actor is not None:
        if organisation is None:
            raise ValidationFailed("ORGANISATION_REQUIRED", "A user belongs to an organisation.")
        if not is_registry_administrator(actor):
            require_active_member(actor, (User.Role.ADMIN,))
            if actor.organisation_id != organisation.id:
                raise PermissionDenied("USER_ADMIN_NOT_ALLOWED", "You may not add users to this organisation.")
    if role not in User.Role.values:
        raise ValidationFailed(
            "ROLE_INVALID", f"role must be one of: {', '.join(User.Role.values)}.", field="role",
            details={"allowed": list(User.Role.values)},
        )
    username = (username or "").strip()
    if not username:
        raise ValidationFailed("USERNAME_REQUIRED", "A username is required.", field="username")
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationFailed("USERNAME_TAKEN", f"Username {username} is taken.", field="username", details={"username": username})
    user = User(username=username, email=email, organisation=organisation, role=role)
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationFailed("PASSWORD_TOO_WEAK", " ".join(exc.messages), field="password") from exc
    user.set_password(password)
    if is_root:
        user.is_superuser = True
        user.is_staff = True
    # A new authorised representative stays inactive until a second person
    # approves (tonne.controls), whoever adds them; only the command line
    # (actor None: the installation's first people) makes one at once.
    needs_approval = actor is not None and handlers().representative_change_needs_approval(
        actor, {"role": role, "active": False}, {"role": role, "active": True}
    )
    user.is_active = not needs_approval
    user.save()
    append_entry(
        kind="user.created",
        actor=actor,
        data={
            "username": user.username,
            "organisation": str(organisation.uid) if organisation else None,
            "role": role,
            "root": is_root,
            "active": user.is_active,
            # The representative delay, from the start (none until a role change sets one).
            "in_force_from": user.in_force_from.isoformat() if user.in_force_from else None,
        },
    )
    if needs_approval:
        assert actor is not None
        handlers().request_representative_change(actor, user, {"role": role, "active": True})
    return user


# -- accounts ------------------------------------------------------------------


def _next_account_number() -> int:
    current = Account.objects.aggregate(m=Max("number"))["m"]
    return 1000001 if current is None else current + 1


def _create_account(*, account_type: str, name: str, organisation: Organisation | None, actor: User | None) -> Account:
    # Numbers come from max+1: hold the ledger head lock so two openings queue.
    LedgerHead.objects.select_for_update().get(pk=1)
    number = _next_account_number()
    account = Account.objects.create(
        identifier=domain.make_account_identifier(settings.TONNE_COUNTRY, account_type, number),
        number=number,
        type=account_type,
        name=name,
        organisation=organisation,
        is_terminal=account_type in domain.TERMINAL_ACCOUNT_TYPES,
        created_at=clock.now(),
    )
    append_entry(
        kind="account.opened",
        actor=actor,
        data={
            "account": account.identifier,
            "type": account_type,
            "name": name,
            "organisation": str(organisation.uid) if organisation else None,
        },
    )
    return account


@transaction.atomic
def open_holding_account(*, actor: User, organisation: Organisation, name: str) -> Account:
    if not is_registry_administrator(actor):
        require_active_member(actor, (User.Role.ADMIN,))
        if actor.organisation_id != organisation.id:
            raise PermissionDenied("ACCOUNT_ADMIN_NOT_ALLOWED", "You may open accounts only for your organisation.")
    if organisation.status != Organisation.Status.APPROVED:
        raise ValidationFailed(
            "ORGANISATION_NOT_APPROVED", f"Organisation {organisation.name} is not approved; no account can be opened.",
            details={"organisation": organisation.name},
        )
    name = (name or "").strip() or f"{organisation.name} holding account"
    return _create_account(account_type=Account.Type.HOLDING, name=name, organisation=organisation, actor=actor)


@transaction.atomic
def ensure_system_accounts() -> list[Account]:
    """Create the registry's own accounts (done at install; idempotent)."""
    made = []
    for account_type in domain.SYSTEM_ACCOUNT_TYPES:
        if not Account.objects.filter(type=account_type).exists():
            made.append(
                _create_account(
                    account_type=account_type, name=SYSTEM_ACCOUNT_NAMES[account_type], organisation=None, actor=None
                )
            )
    return made


def system_account(account_type: str) -> Account:
    return Account.objects.get(type=account_type)


def get_account(identifier: str, *, field: str = "account") -> Account:
    """Find an account by its number (check digits checked first)."""
    text = domain.check_account_identifier(identifier, field=field)
    try:
        return Account.objects.select_related("organisation").get(identifier=text)
    except Account.DoesNotExist:
        raise NotFound("ACCOUNT_NOT_FOUND", f"Account {text} does not exist in this registry.", field=field, details={"account": text}) from None


@transaction.atomic
def set_account_status(*, actor: User, account: Account, status: str, reason: str) -> Account:
    require_registry_administrator(actor)
    if status not in Account.Status.values:
        raise ValidationFailed("ACCOUNT_STATUS_INVALID", f"status must be one of {', '.join(Account.Status.values)}.", details={"allowed": list(Account.Status.values)})
    if not (reason or "").strip():
        raise ValidationFailed("REASON_REQUIRED", "A decision needs a reason.", field="reason")
    locked = Account.objects.select_for_update(no_key=True).get(pk=account.pk)
    if locked.status == Account.Status.CLOSED:
        raise ValidationFailed("ACCOUNT_CLOSED", "A closed account cannot be reopened.")
    if status == Account.Status.CLOSED and locked.blocks.exists() and not locked.is_terminal:
        raise ValidationFailed("ACCOUNT_NOT_EMPTY", "An account holding units cannot be closed.")
    previous = locked.status
    locked.status = status
    locked.save(update_fields=["status"])
    append_entry(
        kind="account.status",
        actor=actor,
        data={"account": locked.identifier, "from": previous, "to": status, "reason": reason},
    )
    return locked


# -- API tokens ----------------------------------------------------------------

TOKEN_PREFIX = "tonne_"  # noqa: S105 (a marker, not a secret)


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def issue_api_token(*, actor: User, name: str, scope: str = ApiToken.Scope.TRADE, days: int | None = None) -> tuple[ApiToken, str]:
    """Return the token and its secret; the secret is never stored. A person
    who must have a second factor gets no token (of any scope) before enrolling."""
    second_factor.refuse_if_missing(actor)
    if scope not in ApiToken.Scope.values:
        raise ValidationFailed("TOKEN_SCOPE_INVALID", f"scope must be one of {', '.join(ApiToken.Scope.values)}.", details={"allowed": list(ApiToken.Scope.values)})
    if scope == ApiToken.Scope.ADMIN and not is_registry_administrator(actor):
        raise PermissionDenied("TOKEN_SCOPE_NOT_ALLOWED", "Only the registry administrator may hold admin tokens.")
    days = settings.TONNE_API_TOKEN_DAYS if days is None else days
    if not 1 <= days <= 366:
        raise ValidationFailed("TOKEN_LIFETIME_INVALID", "A token lives between 1 and 366 days.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    token = ApiToken.objects.create(
        user=actor,
        name=(name or "API token").strip()[:100],
        prefix=secret[:12],
        token_hash=_token_hash(secret),
        scope=scope,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    return token, secret


@transaction.atomic
def revoke_api_token(*, actor: User, token: ApiToken) -> ApiToken:
    if token.user_id != actor.id and not is_registry_administrator(actor):
        raise PermissionDenied("TOKEN_NOT_YOURS", "You may revoke only your own tokens.")
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        token.save(update_fields=["revoked_at"])
    return token


_TOKEN, _USER, _ORGANISATION = Columns(ApiToken, "t"), Columns(User, "u"), Columns(Organisation, "o")


@functools.cache
def _token_sql() -> tuple[str, list[str]]:
    enrolled, params = second_factor.enrolled_sql("u.id")
    return (
        f"SELECT {_TOKEN.sql}, {_USER.sql}, {_ORGANISATION.sql}, {enrolled} "  # noqa: S608 (names; values bound)
        f"FROM {ApiToken._meta.db_table} t JOIN {User._meta.db_table} u ON u.id = t.user_id "
        f"LEFT JOIN {Organisation._meta.db_table} o ON o.id = u.organisation_id WHERE t.token_hash = %s",
        params,
    )


def _read_token(secret: str) -> tuple[User, ApiToken] | None:
    """The token, its user, their organisation and whether they have a second
    factor: one row of plain SQL on every request (an API call's fixed cost,
    so not three models compiled and built by the ORM). Read afresh each time."""
    sql, params = _token_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, _token_hash(secret)])
        row = cursor.fetchone()
    if row is None:
        return None
    t, u = len(_TOKEN), len(_TOKEN) + len(_USER)
    organisation = _ORGANISATION.build(row[u:-1], connection) if row[u] is not None else None
    user = _USER.build(row[t:u], connection, {"organisation": organisation})
    second_factor.note_enrolled(user, row[-1])
    return user, _TOKEN.build(row[:t], connection, {"user": user})


def authenticate_token(secret: str) -> tuple[User, ApiToken]:
    found = _read_token(secret)
    if found is None:
        raise NotAuthenticated("TOKEN_INVALID", "The API token is unknown, expired or revoked.")
    token = found[1]
    if token.revoked_at is not None or token.expires_at <= clock.now() or not token.user.is_active:
        raise NotAuthenticated("TOKEN_INVALID", "The API token is unknown, expired or revoked.")
    # A token works only while its owner has the second factor their role requires.
    second_factor.refuse_if_missing(token.user)
    now = clock.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user, token
