"""PostgreSQL races: the first transfer of a unit, and its corresponding
adjustment, are recorded once however many requests race for it."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from tonne import testing
from tonne.article6 import services as a6
from tonne.article6.models import Authorisation, CorrespondingAdjustment, FirstTransfer
from tonne.article6.tests.conftest import T0, key
from tonne.core import clock
from tonne.core.errors import RegistryError
from tonne.units.domain import Selection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def storm(n: int, request: Any) -> list[Any]:
    barrier = threading.Barrier(n)

    def one(i: int) -> Any:
        try:
            barrier.wait(timeout=30)
            return request(i)
        except (RegistryError, IntegrityError) as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def outcome(r: Any) -> str:
    if isinstance(r, RegistryError):
        return r.code
    return type(r).__name__ if isinstance(r, Exception) else "ok"


def test_racing_first_transfers_of_the_same_units_record_one(world):
    world.authorise(first_transfer_definition="use_or_cancellation", quantity=1000)
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(world.reg, world.project, {2024: 1000})
    authorisation = Authorisation.objects.get()
    s = issuance.serial_start

    def record(i: int) -> Any:
        with transaction.atomic():
            return a6.record_first_transfer(authorisation, issuance.pk, 2024, s, s + 9, cause="use_or_cancellation",
                                            party="CH", transaction_ref=f"T{i}", at=T0)

    results = storm(8, record)
    assert Counter(outcome(r) for r in results) == {"ok": 1, "IntegrityError": 7}
    assert FirstTransfer.objects.count() == 1 and CorrespondingAdjustment.objects.count() == 1


def test_racing_uses_of_the_same_units_first_transfer_once(world):
    world.authorise(first_transfer_definition="use_or_cancellation", quantity=1000)
    clock.freeze(T0 + dt.timedelta(hours=1))
    _, (issuance,) = testing.issue(world.reg, world.project, {2024: 1000})
    s = issuance.serial_start

    def use(i: int) -> Any:
        return a6.use_units(actor=world.reg.developer, from_account=world.reg.developer_account.identifier,
                            selection=Selection.build(ranges=[(s, s + 99)]), use="ndc", using_party="CH",
                            idempotency_key=key())

    results = storm(8, use)
    assert Counter(outcome(r) for r in results)["ok"] == 1
    (ft,) = FirstTransfer.objects.all()
    assert (ft.serial_start, ft.serial_end) == (s, s + 99)
    assert CorrespondingAdjustment.objects.get().quantity == 100


def test_racing_imports_of_the_same_serials_under_new_transfer_ids_import_once(registry, settings):
    from tonne.article6.models import ImportedRange
    from tonne.article6.tests.test_attacks_file import SENDERS, payload, receive, vkey
    from tonne.ledger.checkpoint import generate_private_key
    from tonne.organisations.models import User

    settings.TONNE_FOUR_EYES = frozenset()
    clock.freeze(T0)
    # Imports come only from partner registries, each with its own key: SE's, and four others.
    others = {f"N{i}-TONNE": ("NO", generate_private_key()) for i in range(4)}
    SENDERS.update(others)
    try:
        approver = testing.make_user(registry.government, "a6-approver", User.Role.APPROVER, actor=registry.root)
        for sender in ("SE-TONNE", *others):
            testing.link_partner(registry.admin, approver, registry_id=sender, party=SENDERS[sender][0],
                                 verifier_key=vkey(sender))
        # The same serials under four transfer ids, and the same ITMOs from four other registries.
        files = [payload(registry) for _ in range(4)]
        files += [payload(registry, start=100 + i, sender=f"N{i}-TONNE", itmo_start=9001) for i in range(4)]
        for n, f in enumerate(files[4:]):
            f["blocks"][0]["project"]["project_id"] = f"SE-000{n + 1}"
            f["blocks"][0]["itmo_id"] = "SE-CI:SE-TONNE:SE:9001-9025:2024"
        results = storm(8, lambda i: receive(registry, files[i]))
    finally:
        for sender in others:
            SENDERS.pop(sender)
    assert sorted(Counter(outcome(r) for r in results[:4]).items()) == [("ORIGIN_SERIALS_ALREADY_IMPORTED", 3), ("ok", 1)]
    assert sorted(Counter(outcome(r) for r in results[4:]).items()) == [("ITMO_ALREADY_IN_REGISTRY", 3), ("ok", 1)]
    assert ImportedRange.objects.count() == 2
