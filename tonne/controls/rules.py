"""The rules that can refuse a move, each written once.

A rule has two faces that must agree: a cheap SQL expression (its column of
the one flags statement the move path sends under the account lock) that is
true whenever the rule could refuse, and the detailed check that names the
reason. `MOVE_RULES` lists every rule in the order refusals are reported;
the flags statement is generated from that list, so a rule cannot be in one
path and not the other (tests/test_rule_equivalence.py checks they decide
alike over random control states)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Q, QuerySet, Sum

from tonne.controls.models import AccountHold, AccountLimit, Freeze, RegistrySwitch
from tonne.core.errors import ValidationFailed
from tonne.kyc.models import KycProfile, ScreeningHit
from tonne.kyc.services import BLOCKING_HITS, REPRESENTATIVE_ROLES
from tonne.organisations.models import Account, User
from tonne.units.domain import Flags, MoveFacts
from tonne.units.models import WAITING, Transaction

Kind = Transaction.Kind
Status = Transaction.Status

# Units leaving a holder's own account, to another holder (domestic or
# abroad) or to a terminal account (retirements, Article 6 uses,
# cancellations): the holder's standing (KYC, representatives) binds them.
HOLDER_MOVES = frozenset({Kind.TRANSFER, Kind.EXPORT, Kind.RETIREMENT, Kind.CANCELLATION})
# Units going to another holder: the account's limits bind them, counted together.
LIMITED_MOVES = (Kind.TRANSFER, Kind.EXPORT)


# -- freezes -------------------------------------------------------------------------------

# A freeze (alias f) in force at a time (the one parameter): the SQL twin of active_freezes.
ACTIVE_FREEZE_SQL = "f.lifted_at IS NULL AND (f.expires_at IS NULL OR f.expires_at > %s)"


def active_freezes(at: dt.datetime) -> QuerySet[Freeze]:
    return Freeze.objects.filter(lifted_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at))


def freezes_binding(
    account_id: int, ranges: Sequence[tuple[int, int]], projects: Collection[int], at: dt.datetime
) -> QuerySet[Freeze]:
    """The freezes in force that stop some of these units: of their account,
    of a project they belong to, or of some of their serials."""
    serials = Q()
    for start, end in ranges:
        serials |= Q(scope=Freeze.Scope.SERIALS, serial_start__lte=end, serial_end__gte=start)
    return active_freezes(at).filter(
        Q(scope=Freeze.Scope.ACCOUNT, account_id=account_id) | Q(scope=Freeze.Scope.PROJECT, project_id__in=projects) | serials
    )


def check_freezes(facts: MoveFacts) -> None:
    hit = freezes_binding(facts.source.pk, facts.ranges, facts.projects, facts.at).order_by("created_at").first()
    if hit is None:
        return
    details = {"freeze": str(hit.uid), "expires_at": hit.expires_at.isoformat() if hit.expires_at else None,
               "reason": hit.reason, "scope": hit.scope, "account": facts.source.identifier}
    if hit.scope == Freeze.Scope.ACCOUNT:
        raise ValidationFailed(
            "ACCOUNT_FROZEN", f"Account {facts.source.identifier} is frozen: {hit.reason}", field="from_account",
            details=details,
        )
    raise ValidationFailed("UNITS_FROZEN", f"Some of the selected units are frozen ({hit.scope}): {hit.reason}", details=details)


# -- the registry-wide switch ----------------------------------------------------------------


def transfers_suspended() -> bool:
    """Whether the registry administrator has suspended every movement of units."""
    return RegistrySwitch.objects.filter(pk=1, transfers_suspended=True).exists()


def refuse_if_suspended() -> None:
    """The kill switch stops every path that moves or creates units:
    transfers, retirements, uses, cancellations, reversals, exports, imports
    and issuance alike (an insider's exit is closed whatever door they try)."""
    if transfers_suspended():
        raise ValidationFailed(
            "TRANSFERS_SUSPENDED",
            "The registry administrator has suspended every movement of units (transfers, retirements, "
            "cancellations, exports, imports and issuance).",
        )


def check_switch(facts: MoveFacts) -> None:
    refuse_if_suspended()


# -- limits ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    per_transfer: int | None
    per_day: int | None


def limits_in_force(account_id: int) -> Limits:
    """The account's own limits, or the country's where it has none."""
    limit = AccountLimit.objects.filter(account_id=account_id).first()
    return Limits(
        per_transfer=(limit.per_transfer if limit and limit.per_transfer else settings.TONNE_MAX_TRANSFER_QUANTITY) or None,
        per_day=(limit.per_day if limit and limit.per_day else settings.TONNE_MAX_DAILY_QUANTITY) or None,
    )


def check_limits(facts: MoveFacts) -> None:
    if facts.kind not in LIMITED_MOVES:
        return
    source, quantity = facts.source, facts.quantity
    limits = limits_in_force(source.pk)
    if limits.per_transfer and quantity > limits.per_transfer:
        raise ValidationFailed(
            "TRANSFER_LIMIT_EXCEEDED",
            f"Account {source.identifier} may transfer at most {limits.per_transfer:,} units at once.",
            field="quantity",
            details={"limit": limits.per_transfer, "requested": quantity, "account": source.identifier},
        )
    if limits.per_day:
        moved = (
            Transaction.objects.filter(
                from_account_id=source.pk,
                kind__in=LIMITED_MOVES,
                created_at__gt=facts.at - dt.timedelta(hours=24),
                status__in=(Status.COMPLETED, *WAITING),
            ).aggregate(total=Sum("quantity"))["total"]
            or 0
        )
        if moved + quantity > limits.per_day:
            raise ValidationFailed(
                "DAILY_LIMIT_EXCEEDED",
                f"Account {source.identifier} may transfer at most {limits.per_day:,} units in 24 hours; "
                f"{moved:,} already went or are on their way.",
                field="quantity",
                details={"limit": limits.per_day, "requested": quantity, "moved": moved, "account": source.identifier},
            )


# -- the holders' standing (sanctions, KYC, representatives) ---------------------------------


def check_sanctions(facts: MoveFacts) -> None:
    """Sanctions hits stop every move of the organisation, out and in."""
    source, target = facts.source, facts.target
    org_ids = [a.organisation_id for a in (source, target) if a.organisation_id]
    if not org_ids:
        return
    blocked = set(
        ScreeningHit.objects.filter(organisation_id__in=org_ids, status__in=BLOCKING_HITS).values_list("organisation_id", flat=True)
    )
    if source.organisation_id in blocked:
        raise ValidationFailed("SANCTIONS_HIT", f"The holder of {source.identifier} is under sanctions review.", field="from_account", details={"account": source.identifier})
    if target.organisation_id in blocked:
        raise ValidationFailed(
            "SANCTIONS_HIT_ACQUIRING", f"The holder of {target.identifier} is under sanctions review.", field="to_account",
            details={"account": target.identifier},
        )


def _holder_bound(facts: MoveFacts) -> int | None:
    """KYC and representatives bind units leaving an organisation's account
    (HOLDER_MOVES): that organisation, or None."""
    return facts.source.organisation_id if facts.kind in HOLDER_MOVES else None


def kyc_review_overdue(organisation_id: int | None, at: dt.datetime) -> dt.date | None:
    """When the holder's KYC review was due, if that day has passed."""
    profile = KycProfile.objects.filter(organisation_id=organisation_id).first() if organisation_id else None
    if profile is not None and profile.review_due is not None and profile.review_due < at.date():
        return profile.review_due
    return None


def check_kyc_review(facts: MoveFacts) -> None:
    due = kyc_review_overdue(_holder_bound(facts), facts.at)
    if due is not None:
        raise ValidationFailed(
            "KYC_REVIEW_OVERDUE", f"The KYC review of the holder of {facts.source.identifier} was due on {due}.",
            field="from_account",
            details={"account": facts.source.identifier, "date": due.isoformat()},
        )


def check_kyc_verified(facts: MoveFacts) -> None:
    holder = _holder_bound(facts)
    if holder is None or not settings.TONNE_KYC_REQUIRED:
        return
    if not KycProfile.objects.filter(organisation_id=holder, status=KycProfile.Status.VERIFIED).exists():
        raise ValidationFailed(
            "KYC_NOT_VERIFIED", f"The holder of {facts.source.identifier} has no verified KYC record.", field="from_account",
            details={"account": facts.source.identifier},
        )


def check_representatives(facts: MoveFacts) -> None:
    holder = _holder_bound(facts)
    if holder is None or not settings.TONNE_MIN_REPRESENTATIVES:
        return
    count = User.objects.filter(organisation_id=holder, is_active=True, role__in=REPRESENTATIVE_ROLES).count()
    if count < settings.TONNE_MIN_REPRESENTATIVES:
        raise ValidationFailed(
            "REPRESENTATIVES_MISSING",
            f"Accounts that move units need at least {settings.TONNE_MIN_REPRESENTATIVES} authorised "
            f"representatives; the holder of {facts.source.identifier} has {count}.",
            field="from_account",
            details={"minimum": settings.TONNE_MIN_REPRESENTATIVES, "account": facts.source.identifier, "count": count},
        )


# -- monitoring holds ------------------------------------------------------------------------


def hold_in_force(account: Account) -> AccountHold | None:
    return AccountHold.objects.filter(account_id=account.pk, released_at__isnull=True).order_by("created_at", "pk").first()


def check_hold(facts: MoveFacts) -> None:
    """A hold placed by a monitoring alert keeps units in the account."""
    hold = hold_in_force(facts.source)
    if hold is not None:
        raise ValidationFailed(
            "AML_HOLD",
            f"Account {facts.source.identifier} is on hold after a monitoring alert ({hold.rule}); "
            "the registry administrator reviews it.",
            field="from_account",
            details={"alert": hold.alert_id, "rule": hold.rule, "account": facts.source.identifier},
        )


# -- the rules, and the one statement that says which may refuse ---------------------------------


@dataclass(frozen=True)
class MoveRule:
    """`flag_sql`: an SQL expression over `s` (the transferring account: id,
    organisation_id) and `t` (the acquiring one: organisation_id), with
    `flag_params(at)` for its %s (plain Python values: `flags_statement`
    adapts times for the database); `flagged(value, facts)` reads its column
    (True whenever `check` could refuse); `check` refuses with the reason."""

    name: str
    flag_sql: Callable[[], str]
    flag_params: Callable[[dt.datetime], list[Any]]
    flagged: Callable[[Any, str, Account], bool]
    check: Callable[[MoveFacts], None]
    at_settlement: bool = True  # checked again when a waiting move settles


def _table(model: Any) -> str:
    return str(model._meta.db_table)


def _marks(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def _holder_move(kind: str, source: Account) -> bool:
    return kind in HOLDER_MOVES and bool(source.organisation_id)


MOVE_RULES: tuple[MoveRule, ...] = (
    MoveRule(
        "kill_switch",
        lambda: f"EXISTS (SELECT 1 FROM {_table(RegistrySwitch)} WHERE id = 1 AND transfers_suspended)",
        lambda at: [],
        lambda value, kind, source: bool(value),  # every kind of move
        check_switch,
    ),
    MoveRule(
        # Any freeze of a project or of serials flags every move (they are
        # rare); the check decides whether it touches the units chosen.
        "freeze",
        lambda: f"EXISTS (SELECT 1 FROM {_table(Freeze)} f WHERE {ACTIVE_FREEZE_SQL} "
        "AND (f.scope <> %s OR f.account_id = (SELECT id FROM s)))",
        lambda at: [at, Freeze.Scope.ACCOUNT],
        lambda value, kind, source: bool(value),
        check_freezes,
    ),
    MoveRule(
        "limits",
        lambda: f"EXISTS (SELECT 1 FROM {_table(AccountLimit)} WHERE account_id = (SELECT id FROM s))",
        lambda at: [],
        lambda value, kind, source: kind in LIMITED_MOVES
        and (bool(value) or bool(settings.TONNE_MAX_TRANSFER_QUANTITY) or bool(settings.TONNE_MAX_DAILY_QUANTITY)),
        check_limits,
        at_settlement=False,  # the waiting move was counted when it was requested
    ),
    MoveRule(
        "sanctions",
        lambda: f"EXISTS (SELECT 1 FROM {_table(ScreeningHit)} WHERE organisation_id IN "
        f"(SELECT organisation_id FROM s UNION ALL SELECT organisation_id FROM t) AND status IN ({_marks(BLOCKING_HITS)}))",
        lambda at: list(BLOCKING_HITS),
        lambda value, kind, source: bool(value),
        check_sanctions,
    ),
    MoveRule(
        "kyc_review",
        lambda: f"EXISTS (SELECT 1 FROM {_table(KycProfile)} WHERE organisation_id = (SELECT organisation_id FROM s) "
        "AND review_due < %s)",
        lambda at: [at.date()],
        lambda value, kind, source: _holder_move(kind, source) and bool(value),
        check_kyc_review,
    ),
    MoveRule(
        "kyc_verified",
        lambda: f"EXISTS (SELECT 1 FROM {_table(KycProfile)} WHERE organisation_id = (SELECT organisation_id FROM s) "
        "AND status = %s)",
        lambda at: [KycProfile.Status.VERIFIED],
        lambda value, kind, source: _holder_move(kind, source) and bool(settings.TONNE_KYC_REQUIRED) and not value,
        check_kyc_verified,
    ),
    MoveRule(
        "representatives",
        lambda: f"(SELECT COUNT(*) FROM {_table(User)} WHERE organisation_id = (SELECT organisation_id FROM s) "
        f"AND is_active AND role IN ({_marks(REPRESENTATIVE_ROLES)}))",
        lambda at: list(REPRESENTATIVE_ROLES),
        lambda value, kind, source: _holder_move(kind, source) and int(value) < settings.TONNE_MIN_REPRESENTATIVES,
        check_representatives,
    ),
    MoveRule(
        "hold",
        lambda: f"EXISTS (SELECT 1 FROM {_table(AccountHold)} WHERE account_id = (SELECT id FROM s) AND released_at IS NULL)",
        lambda at: [],
        lambda value, kind, source: bool(value),
        check_hold,
    ),
)


@functools.cache
def _flags_sql() -> str:
    accounts = _table(Account)
    return (
        f"WITH s AS (SELECT id, organisation_id FROM {accounts} WHERE identifier = %s), "
        f"t AS (SELECT organisation_id FROM {accounts} WHERE identifier = %s) "
        "SELECT " + ", ".join(rule.flag_sql() for rule in MOVE_RULES)
    )


def flags_statement(source_identifier: str, target_identifier: str, at: dt.datetime) -> tuple[str, list[Any]]:
    """The one plain statement that says which rules may refuse a move. It
    needs only the accounts' identifiers, so the move path sends it in the
    same round trip as its locking query (it runs once the lock is held)."""
    params: list[Any] = [source_identifier, target_identifier]
    for rule in MOVE_RULES:
        params.extend(rule.flag_params(at))
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":  # the move path's driver takes times as they are; others want them adapted
        ops = db.ops
        params = [
            ops.adapt_datetimefield_value(v) if isinstance(v, dt.datetime)
            else ops.adapt_datefield_value(v) if isinstance(v, dt.date) else v
            for v in params
        ]
    return _flags_sql(), params


def read_flags(kind: str, source: Account, row: Sequence[Any]) -> Flags:
    """The names of the rules the statement's row says may refuse."""
    return frozenset(rule.name for rule, value in zip(MOVE_RULES, row, strict=True) if rule.flagged(value, kind, source))


def flags_of(kind: str, source: Account, target: Account, at: dt.datetime) -> Flags:
    sql, params = flags_statement(source.identifier, target.identifier, at)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return read_flags(kind, source, cursor.fetchone())


def check_flagged(facts: MoveFacts, flags: Flags) -> None:
    """The move path: only the flagged rules run in detail (they name the reason)."""
    for rule in MOVE_RULES:
        if rule.name in flags:
            rule.check(facts)


def check_all(facts: MoveFacts, *, settlement: bool = False) -> None:
    """Every rule in detail, whatever the flags say (at settlement: those that
    may have changed since the request)."""
    for rule in MOVE_RULES:
        if rule.at_settlement or not settlement:
            rule.check(facts)
