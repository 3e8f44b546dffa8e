"""Every rule that can refuse a move decides alike on both paths: the move
path (the one flags statement, then the flagged rules in detail) and the
detailed checks (settlement, and the readings pages show), over random
control states. A rule added to one path only, or a condition added to a
detailed check and not to its flag, makes this fail."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tonne import testing
from tonne.controls import rules
from tonne.controls.models import AccountHold, AccountLimit, Freeze, RegistrySwitch
from tonne.core.errors import ValidationFailed
from tonne.kyc.models import KycProfile, ScreeningHit
from tonne.organisations.models import Account, User
from tonne.organisations.services import system_account
from tonne.units.domain import MoveFacts

AT = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)
RANGES = [(101, 150)]  # the units the move takes
when = st.sampled_from(["in_force", "lifted", "expired"])
state = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["transfer", "retirement", "cancellation"]),
        "suspended": st.booleans(),
        "freeze": st.none() | st.tuples(st.sampled_from(["own_account", "other_account", "project", "other_project",
                                                          "serials_in", "serials_out"]), when),
        "limit": st.none() | st.tuples(st.none() | st.integers(1, 100), st.none() | st.integers(1, 100)),
        "max_transfer": st.sampled_from([0, 10, 1000]),
        "max_daily": st.sampled_from([0, 10, 1000]),
        "hit": st.none() | st.tuples(st.sampled_from(["source", "target"]), st.sampled_from(["pending", "cleared", "confirmed"])),
        "kyc": st.none() | st.tuples(st.sampled_from(["submitted", "verified", "rejected"]),
                                     st.sampled_from([None, -3, 0, 5])),
        "kyc_required": st.booleans(),
        "representatives": st.integers(0, 3),
        "min_representatives": st.integers(0, 3),
        "hold": st.none() | st.booleans(),  # in force, or released
    }
)


@pytest.fixture
def world(registry: testing.Registry):  # noqa: ANN201
    project = testing.registered_project(registry)
    other = testing.registered_project(registry)
    return registry, project, other


def _arrange(reg: testing.Registry, project, other, s: dict, django_settings) -> MoveFacts:  # noqa: ANN001
    django_settings.TONNE_MAX_TRANSFER_QUANTITY = s["max_transfer"]
    django_settings.TONNE_MAX_DAILY_QUANTITY = s["max_daily"]
    django_settings.TONNE_KYC_REQUIRED = s["kyc_required"]
    django_settings.TONNE_MIN_REPRESENTATIVES = s["min_representatives"]
    source = reg.developer_account
    target = {
        "transfer": reg.buyer_account,
        "retirement": system_account(Account.Type.RETIREMENT),
        "cancellation": system_account(Account.Type.CANCELLATION),
    }[s["kind"]]
    RegistrySwitch.objects.update_or_create(pk=1, defaults={"transfers_suspended": s["suspended"]})
    if s["freeze"]:
        what, status = s["freeze"]
        target_of = {
            "own_account": {"scope": "account", "account": source},
            "other_account": {"scope": "account", "account": reg.other_developer_account},
            "project": {"scope": "project", "project": project},
            "other_project": {"scope": "project", "project": other},
            "serials_in": {"scope": "serials", "serial_start": 140, "serial_end": 160},
            "serials_out": {"scope": "serials", "serial_start": 151, "serial_end": 160},
        }[what]
        Freeze.objects.create(
            uid=uuid.uuid4(), reason="test", created_by=reg.admin, created_at=AT - dt.timedelta(days=1),
            expires_at=AT - dt.timedelta(hours=1) if status == "expired" else AT + dt.timedelta(days=1),
            lifted_at=AT - dt.timedelta(hours=2) if status == "lifted" else None, **target_of,
        )
    if s["limit"]:
        per_transfer, per_day = s["limit"]
        AccountLimit.objects.create(account=source, per_transfer=per_transfer, per_day=per_day, set_by=reg.admin, updated_at=AT)
    if s["hit"]:
        whose, status = s["hit"]
        ScreeningHit.objects.create(
            organisation=reg.developer_org if whose == "source" else reg.buyer_org, subject="x", entry_name="x",
            entry_reference="x", source="test", score=90, trigger="transfer", status=status, created_at=AT,
        )
    if s["kyc"]:
        status, due_in_days = s["kyc"]
        KycProfile.objects.create(
            organisation=reg.developer_org, legal_name="x", registration_country="CI", registration_number="x",
            registered_address="x", status=status, submitted_at=AT,
            review_due=None if due_in_days is None else AT.date() + dt.timedelta(days=due_in_days),
        )
    members = list(User.objects.filter(organisation=reg.developer_org).order_by("pk"))
    while len(members) < s["representatives"]:
        members.append(testing.make_user(reg.developer_org, f"rep-{len(members)}", User.Role.INITIATOR, actor=reg.admin))
    for i, member in enumerate(members):
        User.objects.filter(pk=member.pk).update(is_active=i < s["representatives"], role=User.Role.INITIATOR)
    if s["hold"] is not None:
        AccountHold.objects.create(account=source, alert_id=1, rule="structuring", created_at=AT,
                                   released_at=None if s["hold"] else AT)
    source.refresh_from_db()
    return MoveFacts(
        kind=s["kind"], source=source, target=target, ranges=RANGES, projects=frozenset({project.pk}), quantity=50, at=AT,
    )


def _decision(check, facts: MoveFacts) -> str | None:  # noqa: ANN001
    try:
        check(facts)
    except ValidationFailed as refusal:
        return refusal.code
    return None


class _Rollback(Exception):
    pass


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(s=state)
def test_both_paths_decide_alike(world, settings, s):  # noqa: ANN001
    reg, project, other = world
    try:
        with transaction.atomic():
            facts = _arrange(reg, project, other, s, settings)
            flags = rules.flags_of(facts.kind, facts.source, facts.target, facts.at)
            for rule in rules.MOVE_RULES:
                fast = _decision(rule.check, facts) if rule.name in flags else None
                detailed = _decision(rule.check, facts)
                assert fast == detailed, f"rule {rule.name}: move path {fast}, detailed check {detailed}, state {s}"
            # The whole decision: the first refusal, in the same order on both paths.
            assert _decision(lambda f: rules.check_flagged(f, flags), facts) == _decision(rules.check_all, facts)
            # What pages read is what the rules use.
            held = rules.hold_in_force(facts.source) is not None
            assert held == (_decision(rules.check_hold, facts) == "AML_HOLD")
            raise _Rollback
    except _Rollback:
        pass


def test_the_statement_has_one_column_per_rule(registry):  # noqa: ANN001
    sql, params = rules.flags_statement(registry.developer_account.identifier, registry.buyer_account.identifier, AT)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    assert len(row) == len(rules.MOVE_RULES)
    assert len({rule.name for rule in rules.MOVE_RULES}) == len(rules.MOVE_RULES)


# -- the freezes an account page shows: the move path's rule over everything held ----------------

freeze_of = st.tuples(
    st.sampled_from(["developer", "buyer", "other_account", "project", "other_project", "serials"]),
    st.integers(0, 1100), st.integers(0, 200), when,
)


@pytest.fixture
def holdings(registry: testing.Registry, settings):  # noqa: ANN001, ANN201
    from tonne.units import services as units
    from tonne.units.domain import Selection

    settings.TONNE_FOUR_EYES = frozenset()  # the holdings are arranged, not the controls tested
    settings.TONNE_DELAY_NON_TRUSTED = False
    settings.TONNE_KYC_REQUIRED = False
    settings.TONNE_MIN_REPRESENTATIVES = 0

    project, other = testing.registered_project(registry), testing.registered_project(registry)
    _, issuances = testing.issue(registry, project, {2023: 1000})
    first = issuances[0].serial_start
    for start, end in ((first + 100, first + 199), (first + 400, first + 449)):  # the buyer holds two pieces
        units.transfer(actor=registry.developer, from_account=registry.developer_account.identifier,
                       to_account=registry.buyer_account.identifier, selection=Selection.build(ranges=[(start, end)]),
                       idempotency_key=f"holdings-{start}")
    return registry, project, other, first


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(placed=st.lists(freeze_of, max_size=4))
def test_freezes_of_holdings_agree_with_the_move_rule(holdings, placed):  # noqa: ANN001
    from tonne.units.domain import merged_ranges
    from tonne.units.models import UnitBlock

    reg, project, other, first = holdings
    try:
        with transaction.atomic():
            for what, offset, length, status in placed:
                target_of = {
                    "developer": {"scope": "account", "account": reg.developer_account},
                    "buyer": {"scope": "account", "account": reg.buyer_account},
                    "other_account": {"scope": "account", "account": reg.other_developer_account},
                    "project": {"scope": "project", "project": project},
                    "other_project": {"scope": "project", "project": other},
                    "serials": {"scope": "serials", "serial_start": first + offset, "serial_end": first + offset + length},
                }[what]
                Freeze.objects.create(
                    uid=uuid.uuid4(), reason="test", created_by=reg.admin, created_at=AT - dt.timedelta(days=1),
                    expires_at=AT - dt.timedelta(hours=1) if status == "expired" else AT + dt.timedelta(days=1),
                    lifted_at=AT - dt.timedelta(hours=2) if status == "lifted" else None, **target_of,
                )
            for account in (reg.developer_account, reg.buyer_account, reg.other_developer_account):
                held = list(UnitBlock.objects.filter(account=account).values_list("project_id", "serial_start", "serial_end"))
                ranges = merged_ranges((s, e) for _p, s, e in held)
                by_ranges = set(rules.freezes_binding(account.pk, ranges, {p for p, _s, _e in held}, AT)
                                .values_list("pk", flat=True)) if held else set()
                by_holdings = set(rules.freezes_binding_holdings(account.pk, AT).values_list("pk", flat=True))
                if not held:  # nothing held: only a freeze of the account itself binds it
                    by_ranges = set(rules.freezes_binding(account.pk, [], set(), AT).values_list("pk", flat=True))
                assert by_holdings == by_ranges, (account.identifier, placed)
            raise _Rollback
    except _Rollback:
        pass
