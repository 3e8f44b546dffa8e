from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import pytest

from tonne import testing
from tonne.core import clock
from tonne.kyc.testing import verified_kyc
from tonne.organisations.models import User
from tonne.projects.models import Project

# A Tuesday morning; the next working day's noon is Wednesday 12:00 UTC.
T0 = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)
_keys = itertools.count(1)


def key() -> str:
    return f"ctl-{next(_keys)}"


@dataclass
class World:
    reg: testing.Registry
    project: Project
    dev_approver: User
    buyer_approver: User
    admin_approver: User


@pytest.fixture
def world(registry: testing.Registry, settings) -> World:  # noqa: ANN001
    return make_world(registry, settings)


def make_world(registry: testing.Registry, settings) -> World:  # noqa: ANN001
    """The controls' world, for other apps' tests of the controls too."""
    settings.TONNE_CALENDAR_TIMEZONE = "UTC"
    settings.TONNE_HOLIDAYS = frozenset()
    clock.freeze(T0 - dt.timedelta(days=30))
    project = testing.registered_project(registry)
    four_eyes = settings.TONNE_FOUR_EYES
    settings.TONNE_FOUR_EYES = four_eyes - {"issuance"}  # issuance has its own tests
    testing.issue(registry, project, {2024: 10_000})
    settings.TONNE_FOUR_EYES = four_eyes
    clock.freeze(T0)
    reg = registry
    world = World(
        reg=reg,
        project=project,
        dev_approver=testing.make_user(reg.developer_org, f"{reg.developer.username}-approver", User.Role.APPROVER, actor=reg.admin),
        buyer_approver=testing.make_user(reg.buyer_org, f"{reg.buyer.username}-approver", User.Role.APPROVER, actor=reg.admin),
        admin_approver=testing.make_user(reg.government, f"{reg.admin.username}-approver", User.Role.APPROVER, actor=reg.root),
    )
    # Holders that move units have verified KYC and two representatives.
    verified_kyc(reg.developer_org, reg.admin)
    verified_kyc(reg.buyer_org, reg.admin)
    return world
