"""A request naming thousands of serial ranges is refused, with a stable
code, before the transferring account is locked (issue: the lock held while
thousands of ranges are checked)."""

from __future__ import annotations

import pytest
from django.test import Client

from tonne import testing
from tonne.core.errors import ValidationFailed
from tonne.core.tests.test_api_core import assert_problem, post
from tonne.units import store
from tonne.units.domain import Selection
from tonne.units.models import Transaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kw: object) -> None:
        raise AssertionError("the account was locked for a refused request")

    for name in dir(store):
        cls = getattr(store, name)
        if isinstance(cls, type) and hasattr(cls, "lock"):
            monkeypatch.setattr(cls, "lock", refuse)


def test_a_transfer_naming_thousands_of_serial_ranges_is_refused_before_any_lock(
    registry: testing.Registry, client: Client, no_lock: None
) -> None:
    project = testing.registered_project(registry)
    testing.issue(registry, project, {2022: 10_000})
    client.force_login(registry.developer)
    ranges = [{"start": n, "end": n} for n in range(1, 10_000, 2)]
    source = {"from_account": registry.developer_account.identifier, "ranges": ranges}
    bodies = {
        "/transfers": {**source, "to_account": registry.buyer_account.identifier},
        "/retirements": {**source, "beneficiary": "Someone", "purpose": "voluntary"},
        "/cancellations": {**source, "reason": "Double counting"},
    }
    for path, body in bodies.items():
        response = post(client, path, body, headers={"Idempotency-Key": f"many-{path}"})
        assert_problem(response, 422, "TOO_MANY_RANGES")
    assert not Transaction.objects.filter(kind__in=("transfer", "retirement", "cancellation")).exists()


def test_the_cap_is_the_countrys_setting(settings) -> None:  # noqa: ANN001
    settings.TONNE_MAX_RANGES_PER_REQUEST = 3
    assert len(Selection.build(ranges=[(1, 1), (3, 3), (5, 5)]).ranges) == 3
    with pytest.raises(ValidationFailed) as refused:
        Selection.build(ranges=[(1, 1), (3, 3), (5, 5), (7, 7)])
    assert refused.value.code == "TOO_MANY_RANGES" and refused.value.details == {"limit": 3, "given": 4}
