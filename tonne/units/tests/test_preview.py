"""The read-only move preview uses the services' own selection rule: what it
shows is exactly what the move then takes."""

from __future__ import annotations

import pytest

from tonne import testing
from tonne.core.errors import RegistryError
from tonne.organisations.models import Account
from tonne.units import selectors
from tonne.units import services as units
from tonne.units.domain import Selection
from tonne.units.models import Transaction, UnitBlock


def moved(txn: Transaction) -> list[tuple[int, int]]:
    return [(b["serial_start"], b["serial_end"]) for b in selectors.transaction_blocks(txn)]


def shown(preview: dict) -> list[tuple[int, int]]:
    return [(r["serial_start"], r["serial_end"]) for r in preview["ranges"]]


@pytest.fixture
def fragmented(registry):
    """The developer's account holds several blocks of two vintages, acquired
    at different times (a transfer out and back splits and reorders them)."""
    project = testing.registered_project(registry)
    testing.issue(registry, project, {2021: 300, 2022: 500})
    units.transfer(
        actor=registry.developer,
        from_account=registry.developer_account.identifier,
        to_account=registry.buyer_account.identifier,
        selection=Selection.build(quantity=120),
        idempotency_key="out",
    )
    units.transfer(
        actor=registry.buyer,
        from_account=registry.buyer_account.identifier,
        to_account=registry.developer_account.identifier,
        selection=Selection.build(quantity=50),
        idempotency_key="back",
    )
    return project


@pytest.mark.parametrize(
    "selection",
    [
        {"quantity": 1},
        {"quantity": 260},
        {"quantity": 700},
        {"quantity": 400, "vintage": 2022},
        {"quantity": 30, "project": "CI-0001"},
    ],
)
def test_preview_equals_what_the_transfer_moves(registry, fragmented, selection) -> None:
    if "project" in selection:
        selection["project"] = fragmented.project_id
    chosen = Selection.build(**selection)
    before = list(UnitBlock.objects.order_by("serial_start").values_list("serial_start", "serial_end", "account_id"))
    preview = selectors.preview_move(
        registry.developer,
        kind=Transaction.Kind.TRANSFER,
        from_account=registry.developer_account.identifier,
        to_account=registry.buyer_account.identifier,
        selection=chosen,
    )
    # The preview changes nothing.
    assert list(UnitBlock.objects.order_by("serial_start").values_list("serial_start", "serial_end", "account_id")) == before
    assert preview["quantity"] == chosen.total
    txn = units.transfer(
        actor=registry.developer,
        from_account=registry.developer_account.identifier,
        to_account=registry.buyer_account.identifier,
        selection=chosen,
        idempotency_key="k",
    )
    assert shown(preview) == moved(txn)


def test_preview_of_explicit_ranges_and_retirement(registry, fragmented) -> None:
    block = UnitBlock.objects.filter(account=registry.developer_account).order_by("serial_start").first()
    chosen = Selection.build(ranges=[(block.serial_start, block.serial_start + 9)])
    retirement = Account.objects.get(type=Account.Type.RETIREMENT)
    preview = selectors.preview_move(
        registry.developer,
        kind=Transaction.Kind.RETIREMENT,
        from_account=registry.developer_account.identifier,
        to_account=retirement.identifier,
        selection=chosen,
    )
    assert preview["ranges"][0]["serial"].endswith(f"-{block.serial_start}-{block.serial_start + 9}")
    txn = units.retire(
        actor=registry.developer,
        from_account=registry.developer_account.identifier,
        selection=chosen,
        beneficiary="City of Abidjan",
        purpose="voluntary",
        idempotency_key="r",
    )
    assert shown(preview) == moved(txn)


@pytest.mark.parametrize(
    ("who", "source", "target", "quantity", "code"),
    [
        ("buyer", "developer_account", "buyer_account", 10, "ACCOUNT_NOT_OPERATED_BY_USER"),
        ("developer", "developer_account", "developer_account", 10, "SAME_ACCOUNT"),
        ("developer", "developer_account", "buyer_account", 10**6, "INSUFFICIENT_UNITS"),
    ],
)
def test_preview_refuses_what_the_move_refuses(registry, fragmented, who, source, target, quantity, code) -> None:
    with pytest.raises(RegistryError) as refused:
        selectors.preview_move(
            getattr(registry, who),
            kind=Transaction.Kind.TRANSFER,
            from_account=getattr(registry, source).identifier,
            to_account=getattr(registry, target).identifier,
            selection=Selection.build(quantity=quantity),
        )
    assert refused.value.code == code
