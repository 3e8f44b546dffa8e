"""Every path that moves or creates units goes through the controls gate.

The service functions that move units are found from the code
(`unit_moves.entry_points`: every function of the service layer that
reaches the unit store, a write of unit blocks or a units ledger entry,
directly or through the functions it calls; see that module's docstring).
For each one, a scenario below proves that it is refused under the kill
switch, leaving every unit where it was, and that with four-eyes on it moves
nothing until a second person approved (the initiator cannot). A new service
that moves units fails `test_every_unit_moving_service_is_proven` until it
has its scenario here, and its scenario fails if it bypasses the gate."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings as django_settings

from tonne import testing
from tonne.article6 import international
from tonne.article6 import services as a6
from tonne.controls import destinations, gate
from tonne.controls import services as controls
from tonne.controls.models import Approval
from tonne.controls.tests import unit_moves
from tonne.core import clock
from tonne.core.canonical import canonical_json
from tonne.core.errors import RegistryError
from tonne.kyc.testing import verified_kyc
from tonne.ledger.checkpoint import generate_private_key, sign_note, verifier_key
from tonne.linkage import delivery, sending
from tonne.linkage.models import Outbound, Partner
from tonne.mrv import approvals as issuance
from tonne.mrv import services as mrv
from tonne.mrv import verification as mrv_verification
from tonne.mrv.models import MonitoringReport
from tonne.organisations import services as orgs
from tonne.organisations.models import User
from tonne.units import batches, onward
from tonne.units import services as units
from tonne.units.domain import Selection
from tonne.units.models import Transaction, UnitBlock

pytestmark = [pytest.mark.django_db, pytest.mark.controls]

T0 = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)  # a Tuesday
SE_KEY = generate_private_key()  # the partner registry that sends here
EVERY_KIND = frozenset({"issuance", "transfer", "retirement", "cancellation", "reversal", "export", "import"})
_keys = iter(range(1, 10**6))


def key() -> str:
    return f"gated-{next(_keys)}"


@dataclass
class World:
    reg: testing.Registry
    dev_approver: User
    admin_approver: User
    project_id: str
    authorised: tuple[int, int]  # authorised serials held by the developer

    @property
    def dev_acc(self) -> str:
        return self.reg.developer_account.identifier


@pytest.fixture
def world(registry: testing.Registry, settings: Any) -> World:
    settings.TONNE_FOUR_EYES = frozenset()
    settings.TONNE_DELAY_NON_TRUSTED = False
    clock.freeze(T0 - dt.timedelta(days=30))
    reg = registry
    admin_approver = testing.make_user(reg.government, f"{reg.admin.username}-approver", User.Role.APPROVER, actor=reg.root)
    dev_approver = testing.make_user(reg.developer_org, f"{reg.developer.username}-approver", User.Role.APPROVER, actor=reg.admin)
    testing.link_partner(reg.admin, admin_approver, registry_id="SE-TONNE", party="SE",
                         verifier_key=verifier_key("se-tonne", SE_KEY.public_key()))
    project = testing.registered_project(reg, buffer_basis_points=1000)
    approval = a6.request_authorisation(actor=reg.admin, data={
        "identifier": "CI-A6-GATE", "cooperative_approach": "CI-CH-2024", "first_transfer_definition": "first_international_transfer",
        "acquiring_parties": ["CH"], "purposes": ["ndc"], "quantity": 500, "vintage_from": 2024, "vintage_to": 2024,
        "projects": [project.project_id], "entities": [str(reg.developer_org.uid)], "authorisation_date": "2026-01-05",
    })
    controls.approve(actor=admin_approver, uid=approval.uid, request_hash=approval.request_hash)
    testing.issue(reg, project, {2024: 10_000})
    first = reg.developer_account.blocks.order_by("serial_start").first()
    assert first is not None
    verified_kyc(reg.developer_org, reg.admin)
    verified_kyc(reg.buyer_org, reg.admin)
    destinations.request_addition(actor=reg.developer, account=reg.developer_account.identifier, party="CH", registry="CH-TONNE")
    clock.freeze(T0)  # the trusted destination is in force
    return World(reg, dev_approver, admin_approver, project.project_id, (first.serial_start, first.serial_start + 9))


def where_units_are() -> list[tuple[int, int, int]]:
    return list(UnitBlock.objects.order_by("serial_start").values_list("serial_start", "serial_end", "account_id"))


def switch_on(w: World) -> None:
    controls.set_transfers_suspended(actor=w.reg.admin, suspended=True, reason="Incident")


def refused_under_switch(w: World, call: Callable[[], Any]) -> None:
    switch_on(w)
    before = where_units_are()
    with pytest.raises(RegistryError) as refused:
        call()
    assert refused.value.code == "TRANSFERS_SUSPENDED"
    assert where_units_are() == before


def second_person_needed(call: Callable[[], Any], initiator: User, approver: User) -> None:
    """With four-eyes on everything: the call moves nothing; its initiator
    cannot approve it; another person's approval moves the units."""
    django_settings.TONNE_FOUR_EYES = EVERY_KIND
    before = where_units_are()
    call()
    assert where_units_are() == before
    approval = Approval.objects.filter(status=Approval.Status.PENDING).order_by("-created_at", "-id").first()
    assert approval is not None and approval.initiated_by_id == initiator.pk
    with pytest.raises(RegistryError) as alone:
        controls.approve(actor=initiator, uid=approval.uid, request_hash=approval.request_hash)
    assert alone.value.code == "SELF_APPROVAL_NOT_ALLOWED"
    assert where_units_are() == before
    controls.approve(actor=approver, uid=approval.uid, request_hash=approval.request_hash)
    assert where_units_are() != before


# -- the paths -------------------------------------------------------------------------------


def _transfer(w: World) -> Any:
    return units.transfer(actor=w.reg.developer, from_account=w.dev_acc, to_account=w.reg.buyer_account.identifier,
                          selection=Selection.build(quantity=10), idempotency_key=key())


def _retire(w: World) -> Any:
    return units.retire(actor=w.reg.developer, from_account=w.dev_acc, selection=Selection.build(quantity=10),
                        beneficiary="Town", purpose="voluntary", idempotency_key=key())


def _cancel(w: World) -> Any:
    return units.cancel(actor=w.reg.developer, from_account=w.dev_acc, selection=Selection.build(quantity=10),
                        reason="Cancelled at the holder's request", idempotency_key=key())


def _reverse(w: World) -> Any:
    return units.reverse(actor=w.reg.admin, project=w.project_id, quantity=5, reason="Fire", idempotency_key=key())


def _use(w: World) -> Any:
    return a6.use_units(actor=w.reg.developer, from_account=w.dev_acc, selection=Selection.build(ranges=[w.authorised]),
                        use="omge", using_entity="Town", idempotency_key=key())


def _export(w: World) -> Any:
    return international.export_units(actor=w.reg.developer, from_account=w.dev_acc, ranges=[w.authorised],
                                      destination_party="CH", destination_registry="CH-TONNE",
                                      destination_account="CH-100-1", idempotency_key=key())


def incoming_file(w: World, quantity: int = 25) -> str:
    """A transfer file another Party's registry (SE) signed for this one."""
    block = {
        "serial_start": 7001, "serial_end": 7000 + quantity, "quantity": quantity, "serial": f"SE-7001-{7000 + quantity}",
        "vintage": 2024, "unit_class": "VER", "itmo_id": f"SE-CI:SE-TONNE:SE:7001-{7000 + quantity}:2024",
        "mitigation_type": "Emission reductions", "monitoring_period": {"start": "2024-01-01", "end": "2024-12-31"},
        "project": {"project_id": "SE-P-1", "name": "Swedish wind", "host_party": "SE", "sectoral_scope": 1,
                    "unit_type": "Avoidance - technical", "sectors": [], "types": []},
        "authorisation": {"identifier": "SE-A6-1", "cooperative_approach": "SE-CI", "authorising_party": "SE",
                          "first_transfer_definition": "first_international_transfer", "version": 1,
                          "authorisation_date": "2026-01-01", "purposes": "NDC", "oimp_purposes": "",
                          "acquiring_parties": [django_settings.TONNE_COUNTRY], "letter_sha256": None,
                          "originating_registry": "SE-TONNE"},
        "first_transfer": None,
    }
    payload = {"format": international.FORMAT, "transfer": str(uuid.uuid4()), "created_at": clock.now(),
               "origin_registry": "SE-TONNE", "origin_party": "SE",
               "destination_registry": django_settings.TONNE_ARTICLE6_REGISTRY_ID,
               "destination_party": django_settings.TONNE_COUNTRY, "destination_account": w.reg.buyer_account.identifier,
               "transaction": "TX-SE-1", "ledger_seq": 1, "quantity": quantity, "blocks": [block]}
    text = canonical_json(payload).decode("utf-8") + "\n"
    return sign_note(text, "se-tonne", SE_KEY)


def _import(w: World) -> Any:
    return international.import_transfer(actor=w.reg.admin, signed=incoming_file(w))


def _batch(w: World, *, all_or_nothing: bool) -> Any:
    """A batch of two transfers: an item's refusal is raised as its single move's would be."""
    items = [batches.BatchItem(idempotency_key=key(), from_account=w.dev_acc, selection={"quantity": 10},
                               to_account=w.reg.buyer_account.identifier) for _ in range(2)]
    result = batches.move_batch(actor=w.reg.developer, kind=batches.TRANSFER, items=items,
                                all_or_nothing=all_or_nothing)
    for outcome in result.outcomes:
        if outcome.refusal is not None:
            raise outcome.refusal
    return result


def _move_batch(w: World, mode: str) -> None:
    if mode == "kill_switch":  # every item refused, each on its own or the batch whole
        refused_under_switch(w, lambda: _batch(w, all_or_nothing=True))
        refused_under_switch(w, lambda: _batch(w, all_or_nothing=False))
    else:  # every item waits for a second person, then moves by that person's approval
        second_person_needed(lambda: _batch(w, all_or_nothing=True), w.reg.developer, w.dev_approver)
        assert Approval.objects.filter(status=Approval.Status.PENDING).count() == 1


def _transfer_and_retire(w: World, mode: str) -> None:
    """The buyer, an exchange acting for clients, moves units to its client's
    (the developer's) account and retires them there: one request, one gate."""
    orgs.set_acts_for_clients(actor=w.reg.admin, organisation=w.reg.buyer_org, acts_for_clients=True)
    units.transfer(actor=w.reg.developer, from_account=w.dev_acc, to_account=w.reg.buyer_account.identifier,
                   selection=Selection.build(quantity=10), idempotency_key=key())
    approver = testing.make_user(w.reg.buyer_org, f"{w.reg.buyer.username}-approver", User.Role.APPROVER, actor=w.reg.admin)

    def request(w: World) -> Any:
        return onward.transfer_and_retire(
            actor=w.reg.buyer, from_account=w.reg.buyer_account.identifier, to_account=w.dev_acc,
            selection=Selection.build(quantity=10), beneficiary="Town", purpose="voluntary", idempotency_key=key())

    _move_scenario(request, lambda w: w.reg.buyer, lambda w: approver)(w, mode)


def _verified_report(w: World) -> MonitoringReport:
    project = testing.registered_project(w.reg, name="Second project")
    report = mrv.submit_report(actor=w.reg.developer, project=project, period_start=dt.date(2025, 1, 1),
                               period_end=dt.date(2025, 12, 31), vintages=[{"vintage": 2025, "quantity": 100}],
                               vvb=str(w.reg.vvb_org.uid))
    mrv_verification.accept_assignment(actor=w.reg.vvb, report=report, no_conflict_of_interest=True)
    return mrv.verify_report(actor=w.reg.vvb, report=report, verified=[{"vintage": 2025, "quantity": 100}])


def _waiting(w: World, request: Callable[[World], Any]) -> Approval:
    """A move asked with four-eyes on, waiting for its second person."""
    django_settings.TONNE_FOUR_EYES = EVERY_KIND
    request(w)
    approval = Approval.objects.filter(status=Approval.Status.PENDING).order_by("-created_at", "-id").first()
    assert approval is not None
    return approval


def _approve_under_switch(w: World, request: Callable[[World], Any], approver: User) -> None:
    """The approval of a request made before the switch went on moves nothing."""
    approval = _waiting(w, request)
    switch_on(w)
    before = where_units_are()
    try:
        controls.approve(actor=approver, uid=approval.uid, request_hash=approval.request_hash)
    except RegistryError as refused:  # the approval's handler refused: nothing of it stays
        assert refused.code == "TRANSFERS_SUSPENDED"
    else:  # a waiting move that no longer may settle fails with the rule's code
        assert Transaction.objects.get(pk=approval.transaction_id).failure_code == "TRANSFERS_SUSPENDED"
    assert where_units_are() == before


def _move_scenario(request: Callable[[World], Any], initiator: Callable[[World], User], approver: Callable[[World], User]):
    def scenario(w: World, mode: str) -> None:
        if mode == "kill_switch":
            refused_under_switch(w, lambda: request(w))
        else:
            second_person_needed(lambda: request(w), initiator(w), approver(w))
    return scenario


def _dev(w: World) -> User:
    return w.reg.developer


def _dev2(w: World) -> User:
    return w.dev_approver


def _admin(w: World) -> User:
    return w.reg.admin


def _admin2(w: World) -> User:
    return w.admin_approver


def _approve(w: World, mode: str) -> None:
    if mode == "kill_switch":
        _approve_under_switch(w, _transfer, w.dev_approver)
    else:  # the approval is the second person: its initiator cannot give it
        second_person_needed(lambda: _transfer(w), w.reg.developer, w.dev_approver)


def _run_due(w: World, mode: str) -> None:
    django_settings.TONNE_DELAY_NON_TRUSTED = True
    if mode == "kill_switch":  # a delayed transfer whose time came, under the switch
        _transfer(w)
        switch_on(w)
        clock.freeze(T0 + dt.timedelta(days=2))
        before = where_units_are()
        [failed] = controls.run_due()
        assert failed.failure_code == "TRANSFERS_SUSPENDED" and where_units_are() == before
    else:  # a move awaiting its second person is never settled by the worker
        approval = _waiting(w, _transfer)
        clock.freeze(T0 + dt.timedelta(days=2))  # its settlement time came; its approval has not
        before = where_units_are()
        assert controls.run_due() == [] and where_units_are() == before
        controls.approve(actor=w.dev_approver, uid=approval.uid, request_hash=approval.request_hash)
        assert where_units_are() != before


def _approve_issuance(w: World, mode: str) -> None:
    report = _verified_report(w)
    if mode == "kill_switch":
        refused_under_switch(w, lambda: mrv.approve_issuance(actor=w.reg.admin, report=report))
    else:
        django_settings.TONNE_FOUR_EYES = EVERY_KIND
        with pytest.raises(RegistryError) as alone:
            mrv.approve_issuance(actor=w.reg.admin, report=report)
        assert alone.value.code == "FOUR_EYES_REQUIRED"
        second_person_needed(lambda: controls.request_issuance(actor=w.reg.admin, report_uid=report.uid),
                             w.reg.admin, w.admin_approver)


def _carry_out_issuance(w: World, mode: str) -> None:
    report = _verified_report(w)
    request = lambda _w: controls.request_issuance(actor=w.reg.admin, report_uid=report.uid)  # noqa: E731
    if mode == "kill_switch":
        _approve_under_switch(w, request, w.admin_approver)
    else:  # the handler itself refuses a request no second person approved
        approval = _waiting(w, request)
        with pytest.raises(RegistryError) as alone:
            issuance.carry_out_issuance(approval, w.reg.admin)
        assert alone.value.code == "FOUR_EYES_REQUIRED"


def _carry_out_import(w: World, mode: str) -> None:
    if mode == "kill_switch":
        _approve_under_switch(w, _import, w.admin_approver)
    else:
        approval = _waiting(w, _import)
        before = where_units_are()
        with pytest.raises(RegistryError) as alone:
            international.carry_out_import(approval, w.reg.admin)
        assert alone.value.code == "FOUR_EYES_REQUIRED" and where_units_are() == before


# -- transfers to a partner registry (tonne.linkage) ----------------------------------------

CH_KEY = generate_private_key()  # the partner registry that receives from here


def _partner_ch(w: World) -> None:
    if not Partner.objects.filter(registry_id="CH-TONNE").exists():
        testing.link_partner(w.reg.admin, w.admin_approver, registry_id="CH-TONNE", party="CH",
                             verifier_key=verifier_key("ch-tonne", CH_KEY.public_key()))


def _propose(w: World) -> Any:
    _partner_ch(w)
    return sending.propose(actor=w.reg.developer, from_account=w.dev_acc, ranges=[w.authorised],
                           destination_party="CH", destination_registry="CH-TONNE", destination_account="CH-100-1",
                           idempotency_key=key())


def _accepted_by_ch(out: Any) -> str:
    body = {"format": "tonne-linkage/1", "type": "answer", "transfer": str(out.uid), "from": "CH-TONNE",
            "to": django_settings.TONNE_ARTICLE6_REGISTRY_ID, "at": clock.now().isoformat(),
            "request_sha256": "0" * 64, "state": "accepted", "code": None, "field": None}
    return sign_note(canonical_json(body).decode("utf-8") + "\n", "ch-tonne", CH_KEY)


def _proposal_scenario(w: World, mode: str) -> None:
    if mode == "kill_switch":
        _partner_ch(w)
        refused_under_switch(w, lambda: _propose(w))
        return
    django_settings.TONNE_FOUR_EYES = EVERY_KIND
    before = where_units_are()
    out = _propose(w)
    approval = Approval.objects.get(transaction__identifier=out.transaction_identifier)
    with pytest.raises(RegistryError) as alone:
        controls.approve(actor=w.reg.developer, uid=approval.uid, request_hash=approval.request_hash)
    assert alone.value.code == "SELF_APPROVAL_NOT_ALLOWED"
    controls.approve(actor=w.dev_approver, uid=approval.uid, request_hash=approval.request_hash)
    # Approved, the units still wait for the partner: reserved at home, not gone.
    assert Transaction.objects.get(identifier=out.transaction_identifier).status == Transaction.Status.DELAYED
    assert where_units_are() == before


def _answer_scenario(deliver: Callable[[Any, str], None]) -> Callable[[World, str], None]:
    """A partner's acceptance settles the export only through the gate: not
    under the kill switch, not before the holder's second person approved."""
    def scenario(w: World, mode: str) -> None:
        if mode == "four_eyes":
            django_settings.TONNE_FOUR_EYES = EVERY_KIND
        out = _propose(w)
        if mode == "kill_switch":
            switch_on(w)
        before = where_units_are()
        deliver(out, _accepted_by_ch(out))
        assert where_units_are() == before
        out.refresh_from_db()
        if mode == "four_eyes" and deliver in (_delivered, _delivered_once):
            assert out.state == "proposed"  # the worker sends nothing before the second person approved
        else:
            assert out.state == "cancelling"  # the units stay; the partner is told to close
        if mode == "kill_switch":
            txn = Transaction.objects.get(identifier=out.transaction_identifier)
            assert txn.failure_code == "TRANSFERS_SUSPENDED"
    return scenario


def _take(out: Any, answer: str) -> None:
    sending.take_answer(answer)


def _delivered(out: Any, answer: str) -> None:
    """The worker's round: the answer comes back from the partner's endpoint."""
    Outbound.objects.filter(pk=out.pk).update(next_attempt_at=clock.now())
    original = delivery.post
    delivery.post = lambda endpoint, note: (answer, "")  # type: ignore[assignment]
    try:
        delivery.run_once(lambda said: None)
    finally:
        delivery.post = original  # type: ignore[assignment]


def _delivered_once(out: Any, answer: str) -> None:
    """One transfer's round, as the worker runs it: its message posted, the partner's answer taken."""
    sending.deliver(out.uid, lambda endpoint, note: (answer, ""))


# Every entry point that moves units -> the scenario that proves it is gated.
SCENARIOS: dict[str, Callable[[World, str], None]] = {
    "tonne.units.services.transfer": _move_scenario(_transfer, _dev, _dev2),
    "tonne.units.services.retire": _move_scenario(_retire, _dev, _dev2),
    "tonne.units.services.cancel": _move_scenario(_cancel, _dev, _dev2),
    "tonne.units.batches.move_batch": _move_batch,
    "tonne.units.onward.transfer_and_retire": _transfer_and_retire,
    "tonne.units.services.reverse": _move_scenario(_reverse, _admin, _admin2),
    "tonne.article6.services.use_units": _move_scenario(_use, _dev, _dev2),
    "tonne.article6.international.export_units": _move_scenario(_export, _dev, _dev2),
    "tonne.article6.international.import_transfer": _move_scenario(_import, _admin, _admin2),
    "tonne.article6.international.carry_out_import": _carry_out_import,
    "tonne.controls.services.approve": _approve,
    "tonne.controls.services.run_due": _run_due,
    "tonne.mrv.services.approve_issuance": _approve_issuance,
    "tonne.mrv.approvals.carry_out_issuance": _carry_out_issuance,
    "tonne.linkage.sending.propose": _proposal_scenario,
    "tonne.linkage.sending.take_answer": _answer_scenario(_take),
    "tonne.linkage.delivery.run_once": _answer_scenario(_delivered),
    "tonne.linkage.sending.deliver": _answer_scenario(_delivered_once),
}
ENTRY_POINTS = unit_moves.entry_points()


def test_every_unit_moving_service_is_proven() -> None:
    unproven = {name: why for name, why in ENTRY_POINTS.items() if name not in SCENARIOS}
    assert not unproven, (
        f"these services move units but no scenario proves they go through the controls gate: {unproven}; "
        "send them through the gate and add their scenario to SCENARIOS"
    )
    assert set(SCENARIOS) <= set(ENTRY_POINTS), f"scenarios for services that no longer move units: {set(SCENARIOS) - set(ENTRY_POINTS)}"


def test_the_finder_sees_the_known_doors() -> None:
    """The finder itself: it must see the ways units move that we know of."""
    moving = unit_moves.moving(unit_moves.service_functions())
    for known in ("tonne.units.services.request_move", "tonne.units.services.settle_waiting",
                  "tonne.units.services.receive_units", "tonne.units.services.issue_units"):
        assert known in moving


@pytest.mark.parametrize("mode", ["kill_switch", "four_eyes"])
@pytest.mark.parametrize("service", sorted(ENTRY_POINTS))
def test_each_unit_moving_service_is_gated(world: World, service: str, mode: str) -> None:
    if service not in SCENARIOS:
        pytest.fail(f"{service} moves units ({ENTRY_POINTS[service]}) and has no scenario")
    SCENARIOS[service](world, mode)


def test_a_destination_is_trusted_only_once_in_force(world: World) -> None:
    source = world.reg.developer_account
    assert gate.destination_trusted(source, "CH-TONNE", "CH-100-1", clock.now())
    assert not gate.destination_trusted(source, "SE-TONNE", "SE-1", clock.now())
