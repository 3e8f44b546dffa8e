"""The ledger invariants (DESIGN §3, §4, §5, §9), checked by a hypothesis
state machine that drives the whole unit life cycle through the service
functions only: issuance (through MRV), transfers, retirements and
cancellations by criteria and by explicit serial ranges, reversals from the
buffer pool, retries, and requests that must be refused.

The machine keeps its own model: which account holds every serial, and when
it got there. Unit selection is deterministic (explicit ranges, or oldest
acquisition first then lowest serial), so the model predicts the exact outcome
of every request. After every step it checks, against the database:

* conservation: the blocks of every issuance add up to its quantity;
* no two blocks overlap, and the blocks of an issuance tile exactly its range;
* no empty or negative block; every block carries its issuance's attributes;
* every serial is where the model says, acquired when the model says;
* units that reached a terminal account (retired, cancelled) never move again;
* a refused request changes nothing (no block, no transaction, no entry);
* the ledger replays to exactly the tables, hashes and signatures included
  (`verify_ledger()`), with a signed checkpoint made now and then.

Each example runs inside a savepoint that teardown rolls back, so examples
start from the same registry and do not see each other.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tonne import testing
from tonne.core import clock
from tonne.core.errors import RegistryError, ValidationFailed
from tonne.ledger import watermark
from tonne.ledger.models import LedgerHead
from tonne.ledger.services import make_checkpoint
from tonne.ledger.verify import verify_ledger
from tonne.organisations.models import Account
from tonne.organisations.services import system_account
from tonne.projects.domain import buffer_quantity
from tonne.units import services as units
from tonne.units.domain import Selection
from tonne.units.models import Issuance, SerialCounter, Transaction, UnitBlock

BASE_TIME = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
HOLDERS = ("developer", "other", "buyer")
TERMINAL = ("retirement", "cancellation")


@dataclass
class World:
    """What every example starts from: a registry with three projects."""

    reg: testing.Registry
    projects: list  # Project, with buffer 0 %, 20 %, 50 %
    accounts: dict[str, Account]  # name -> account
    users: dict[str, object]  # holder name -> the user who operates it


def build_world() -> World:
    reg = testing.build_registry("inv")
    projects = [
        testing.registered_project(reg, name="Cookstoves"),
        testing.registered_project(reg, name="Mangroves", buffer_basis_points=2000),
        testing.registered_project(reg, name="Peatland", buffer_basis_points=5000),
    ]
    accounts = {
        "developer": reg.developer_account,
        "other": reg.other_developer_account,
        "buyer": reg.buyer_account,
        "buffer": system_account(Account.Type.BUFFER),
        "retirement": system_account(Account.Type.RETIREMENT),
        "cancellation": system_account(Account.Type.CANCELLATION),
    }
    users = {"developer": reg.developer, "other": reg.other_developer, "buyer": reg.buyer}
    return World(reg, projects, accounts, users)


def runs(serials: list[int]) -> list[tuple[int, int]]:
    """Maximal runs of consecutive serials, from a sorted list."""
    out: list[tuple[int, int]] = []
    for s in serials:
        if out and out[-1][1] == s - 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out


class Lifecycle(RuleBasedStateMachine):
    world: World  # set by the test before running

    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        # Each example rolls the database back on purpose: its signed mark goes too.
        watermark.mark_path().unlink(missing_ok=True)
        self.tick = 0
        self.keys = itertools.count(1)
        self.w = self.world
        self.ids = {name: acc.identifier for name, acc in self.w.accounts.items()}
        self.name_of = {acc.pk: name for name, acc in self.w.accounts.items()}
        # the model
        self.owner: dict[int, str] = {}  # serial -> account name
        self.acquired: dict[int, int] = {}  # serial -> tick it reached its account
        self.attrs: dict[int, tuple[int, int]] = {}  # serial -> (project pk, vintage)
        self.terminal: dict[int, str] = {}  # serial -> terminal account it reached
        self.issuances: dict[int, tuple[int, int]] = {}  # issuance pk -> (start, end)
        self.next_year = {p.pk: 1960 for p in self.w.projects}
        self.next_serial = SerialCounter.objects.get(pk=1).next_serial
        self.ledger_size = LedgerHead.objects.get(pk=1).size
        self.transactions = Transaction.objects.count()
        self.last_success: tuple[Callable[[], Transaction], str] | None = None
        self._advance()

    def teardown(self) -> None:
        clock.freeze(None)
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # -- helpers ----------------------------------------------------------------

    def _advance(self) -> None:
        self.tick += 1
        clock.freeze(BASE_TIME + dt.timedelta(seconds=self.tick))

    def _key(self) -> str:
        return f"k-{next(self.keys)}"

    def held(
        self, name: str, project_pk: int | None = None, vintage: int | None = None
    ) -> list[int]:
        return sorted(
            s
            for s, owner in self.owner.items()
            if owner == name
            and (project_pk is None or self.attrs[s][0] == project_pk)
            and (vintage is None or self.attrs[s][1] == vintage)
        )

    def by_acquisition(self, serials: list[int]) -> list[int]:
        return sorted(serials, key=lambda s: (self.acquired[s], s))

    def _moved(self, serials: list[int], to: str) -> None:
        for s in serials:
            assert self.owner[s] not in TERMINAL, f"model error: serial {s} is final"
            self.owner[s] = to
            self.acquired[s] = self.tick
            if to in TERMINAL:
                self.terminal[s] = to

    def _expect_success(
        self, call: Callable[[], Transaction], serials: list[int], to: str, kind: str
    ) -> None:
        txn = call()
        assert txn.status == Transaction.Status.COMPLETED
        assert txn.kind == kind
        assert txn.quantity == len(serials)
        assert txn.to_account_id == self.w.accounts[to].pk
        moved = sorted(s for b in txn.blocks.all() for s in range(b.serial_start, b.serial_end + 1))
        assert moved == sorted(serials), "the transaction moved other serials than the rules select"
        self._moved(serials, to)
        self.ledger_size += 1
        self.transactions += 1
        assert txn.ledger_seq == self.ledger_size - 1
        self.last_success = (call, txn.identifier)

    def _expect_refusal(self, call: Callable[[], object], code: str, **details: object) -> None:
        try:
            call()
        except RegistryError as exc:
            assert exc.code == code, f"expected {code}, got {exc.code}: {exc.message}"
            for key, value in details.items():
                assert exc.details.get(key) == value, (key, exc.details)
        else:
            raise AssertionError(f"expected {code}, but the request went through")

    def _request(
        self, op: str, src: str, selection: Selection, dst: str | None = None
    ) -> Callable[[], Transaction]:
        actor = self.w.users.get(src, self.w.reg.admin)
        key = self._key()
        if op == "transfer":
            return lambda: units.transfer(
                actor=actor,
                from_account=self.ids[src],
                to_account=self.ids[dst],
                selection=selection,
                idempotency_key=key,
            )
        if op == "retire":
            return lambda: units.retire(
                actor=actor,
                from_account=self.ids[src],
                selection=selection,
                beneficiary="Beneficiary SA",
                purpose="voluntary",
                idempotency_key=key,
            )
        return lambda: units.cancel(
            actor=actor,
            from_account=self.ids[src],
            selection=selection,
            reason="Registry correction",
            idempotency_key=key,
        )

    @staticmethod
    def _destination(op: str, dst: str) -> str:
        return {"transfer": dst, "retire": "retirement", "cancel": "cancellation"}[op]

    # -- issuance ------------------------------------------------------------------

    @rule(
        project=st.integers(0, 2),
        quantities=st.lists(st.integers(1, 40), min_size=1, max_size=2),
    )
    def issue(self, project: int, quantities: list[int]) -> None:
        self._advance()
        p = self.w.projects[project]
        year = self.next_year[p.pk]
        self.next_year[p.pk] += len(quantities)
        vintages = {year + i: q for i, q in enumerate(quantities)}
        period = (dt.date(year, 1, 1), dt.date(year + len(quantities) - 1, 12, 31))
        _, issued = testing.issue(self.w.reg, p, vintages, period=period)
        assert [i.vintage for i in issued] == sorted(vintages)
        for issuance in issued:
            q = vintages[issuance.vintage]
            buffer = buffer_quantity(q, p.buffer_basis_points)
            assert issuance.quantity == q and issuance.buffer_quantity == buffer
            assert issuance.serial_start == self.next_serial, (
                "serials are not one monotonic sequence"
            )
            assert issuance.serial_end == self.next_serial + q - 1
            self.next_serial += q
            self.issuances[issuance.pk] = (issuance.serial_start, issuance.serial_end)
            for i, s in enumerate(range(issuance.serial_start, issuance.serial_end + 1)):
                assert s not in self.owner
                self.owner[s] = "developer" if i < q - buffer else "buffer"
                self.acquired[s] = self.tick
                self.attrs[s] = (p.pk, issuance.vintage)
            self.transactions += (q - buffer > 0) + (buffer > 0)
        self.ledger_size += 3 + len(issued)  # submitted, assignment accepted, verified, one per vintage

    # -- moves by criteria --------------------------------------------------------------

    @rule(
        op=st.sampled_from(["transfer", "retire", "cancel"]),
        src=st.sampled_from(HOLDERS),
        dst=st.sampled_from(HOLDERS),
        data=st.data(),
    )
    def move_by_criteria(self, op: str, src: str, dst: str, data: st.DataObject) -> None:
        self._advance()
        if op == "transfer" and dst == src:
            dst = HOLDERS[(HOLDERS.index(src) + 1) % len(HOLDERS)]
        how = data.draw(st.sampled_from(["any", "project", "vintage"]), label="criteria")
        project_pk = vintage = None
        criteria: dict = {}
        if how == "project":
            project = data.draw(st.sampled_from(self.w.projects), label="project")
            project_pk, criteria["project"] = project.pk, project.project_id
        elif how == "vintage":
            known = sorted({v for _, v in self.attrs.values()}) or [1960]
            vintage = data.draw(st.sampled_from([*known, 1959]), label="vintage")
            criteria["vintage"] = vintage
        available = self.held(src, project_pk, vintage)
        quantity = data.draw(
            st.one_of(
                st.integers(1, len(available) + 3),
                st.just(len(available) + 1),
                st.integers(1, 10**6),
            ),
            label="quantity",
        )
        call = self._request(op, src, Selection.build(quantity=quantity, **criteria), dst)
        if quantity <= len(available):
            chosen = self.by_acquisition(available)[:quantity]
            self._expect_success(call, chosen, self._destination(op, dst), self._kind(op))
        else:
            self._expect_refusal(
                call, "INSUFFICIENT_UNITS", available=len(available), requested=quantity
            )

    @staticmethod
    def _kind(op: str) -> str:
        return {"transfer": "transfer", "retire": "retirement", "cancel": "cancellation"}[op]

    # -- moves by explicit ranges ---------------------------------------------------------

    @precondition(lambda self: any(owner in HOLDERS for owner in self.owner.values()))
    @rule(
        op=st.sampled_from(["transfer", "retire", "cancel"]),
        dst=st.sampled_from(HOLDERS),
        data=st.data(),
    )
    def move_held_ranges(self, op: str, dst: str, data: st.DataObject) -> None:
        """Sub-ranges of what an account holds: parts of blocks, whole blocks,
        runs spanning adjacent blocks and issuances, one or several ranges."""
        self._advance()
        src = data.draw(
            st.sampled_from(sorted({o for o in self.owner.values() if o in HOLDERS})), label="src"
        )
        if op == "transfer" and dst == src:
            dst = HOLDERS[(HOLDERS.index(src) + 1) % len(HOLDERS)]
        held = self.held(src)
        available = runs(held)
        ranges: list[tuple[int, int]] = []
        if data.draw(st.booleans(), label="scatter"):
            # several ranges anywhere in the holdings, often inside one block
            cuts = sorted(
                data.draw(
                    st.lists(st.integers(0, len(held) - 1), min_size=2, max_size=8), label="cuts"
                )
            )
            last = -1
            for i, j in zip(cuts[::2], cuts[1::2], strict=False):
                if i <= last:
                    continue
                last = j
                ranges.extend(runs(held[i : j + 1]))
        else:
            picked = data.draw(
                st.lists(
                    st.sampled_from(range(len(available))), min_size=1, max_size=3, unique=True
                ),
                label="runs",
            )
            for i in sorted(picked):
                lo, hi = available[i]
                a = data.draw(st.integers(lo, hi), label="start")
                b = data.draw(st.one_of(st.just(hi), st.integers(a, hi)), label="end")
                ranges.append((a, b))
        if data.draw(st.booleans(), label="shuffled"):
            ranges.reverse()
        serials = [s for a, b in ranges for s in range(a, b + 1)]
        call = self._request(op, src, Selection.build(ranges=ranges, quantity=len(serials)), dst)
        self._expect_success(call, serials, self._destination(op, dst), self._kind(op))

    @rule(
        op=st.sampled_from(["transfer", "retire", "cancel"]),
        src=st.sampled_from(HOLDERS),
        dst=st.sampled_from(HOLDERS),
        data=st.data(),
    )
    def move_ranges_not_held(self, op: str, src: str, dst: str, data: st.DataObject) -> None:
        """A range with at least one serial the account does not hold: past the
        end of a run, someone else's serials, terminal serials, never issued."""
        self._advance()
        if op == "transfer" and dst == src:
            dst = HOLDERS[(HOLDERS.index(src) + 1) % len(HOLDERS)]
        mine = runs(self.held(src))
        others = sorted(s for s, o in self.owner.items() if o != src)
        choices = ["unissued", "random"]
        if mine:
            choices.append("overrun")
        if others:
            choices.append("someone else's")
        how = data.draw(st.sampled_from(choices), label="how")
        if how == "overrun":
            lo, hi = data.draw(st.sampled_from(mine), label="run")
            a = data.draw(st.integers(lo, hi), label="start")
            ranges = [(a, hi + data.draw(st.integers(1, 5), label="beyond"))]
        elif how == "someone else's":
            s = data.draw(st.sampled_from(others), label="serial")
            ranges = [(s, s + data.draw(st.integers(0, 5), label="length"))]
        elif how == "unissued":
            ranges = [
                (self.next_serial, self.next_serial + data.draw(st.integers(0, 5), label="length"))
            ]
        else:
            a = data.draw(st.integers(1, self.next_serial + 5), label="start")
            ranges = [(a, a + data.draw(st.integers(0, 30), label="length"))]
        if mine and data.draw(st.booleans(), label="with a held range too"):
            lo, hi = mine[0]
            if hi < ranges[0][0]:
                ranges.append((lo, hi))
        wanted = sorted(ranges)
        missing = next(
            (s for a, b in wanted for s in range(a, b + 1) if self.owner.get(s) != src), None
        )
        call = self._request(op, src, Selection.build(ranges=ranges), dst)
        if missing is None:  # the random range happened to be held: then it must go through
            serials = [s for a, b in wanted for s in range(a, b + 1)]
            self._expect_success(call, serials, self._destination(op, dst), self._kind(op))
        else:
            self._expect_refusal(call, "SERIAL_RANGE_NOT_HELD", first_missing_serial=missing)

    # -- buffer pool ------------------------------------------------------------------------

    @rule(project=st.integers(0, 2), data=st.data())
    def reverse(self, project: int, data: st.DataObject) -> None:
        self._advance()
        p = self.w.projects[project]
        available = self.held("buffer", p.pk)
        quantity = data.draw(st.integers(1, len(available) + 2), label="quantity")
        key = self._key()

        def call() -> Transaction:
            return units.reverse(
                actor=self.w.reg.admin,
                project=p.project_id,
                quantity=quantity,
                reason="Fire",
                idempotency_key=key,
            )

        if quantity <= len(available):
            self._expect_success(
                call, self.by_acquisition(available)[:quantity], "cancellation", "reversal"
            )
        else:
            self._expect_refusal(
                call, "INSUFFICIENT_UNITS", available=len(available), requested=quantity
            )

    # -- requests that must be refused --------------------------------------------------------

    @rule(
        terminal=st.sampled_from(TERMINAL),
        op=st.sampled_from(["transfer", "retire", "cancel"]),
        data=st.data(),
    )
    def move_out_of_terminal_account(self, terminal: str, op: str, data: st.DataObject) -> None:
        self._advance()
        final = runs(self.held(terminal))
        if final and data.draw(st.booleans(), label="by ranges"):
            selection = Selection.build(ranges=[data.draw(st.sampled_from(final), label="run")])
        else:
            selection = Selection.build(quantity=data.draw(st.integers(1, 50), label="quantity"))
        # the registry administrator operates system accounts: even they cannot
        self._expect_refusal(
            self._request(op, terminal, selection, "buyer"), "TRANSFERRING_ACCOUNT_TERMINAL"
        )

    @rule(
        case=st.sampled_from(
            [
                "same account",
                "to the buffer pool",
                "to a terminal account",
                "not my account",
                "from the buffer",
            ]
        ),
        src=st.sampled_from(HOLDERS),
    )
    def invalid_request(self, case: str, src: str) -> None:
        self._advance()
        selection = Selection.build(quantity=1)
        key = self._key()
        if case == "same account":
            call, code = self._request("transfer", src, selection, src), "SAME_ACCOUNT"
        elif case in ("to the buffer pool", "to a terminal account"):
            dst = "buffer" if case == "to the buffer pool" else "retirement"
            call, code = (
                self._request("transfer", src, selection, dst),
                "ACQUIRING_ACCOUNT_TYPE_NOT_ALLOWED",
            )
        elif case == "not my account":
            thief = self.w.users[HOLDERS[(HOLDERS.index(src) + 1) % len(HOLDERS)]]

            def call() -> Transaction:
                return units.transfer(
                    actor=thief,
                    from_account=self.ids[src],
                    to_account=self.ids["buyer" if src != "buyer" else "other"],
                    selection=selection,
                    idempotency_key=key,
                )

            code = "ACCOUNT_NOT_OPERATED_BY_USER"
        else:  # the buffer pool only empties through reversals
            call, code = (
                self._request("transfer", "buffer", selection, src),
                "TRANSFERRING_ACCOUNT_TYPE_NOT_ALLOWED",
            )
        self._expect_refusal(call, code)

    # -- retries and checkpoints ---------------------------------------------------------------

    @precondition(lambda self: self.last_success is not None)
    @rule()
    def retry_last_request(self) -> None:
        self._advance()
        call, identifier = self.last_success
        assert call().identifier == identifier  # nothing moves twice

    @rule()
    def checkpoint(self) -> None:
        self._advance()
        make_checkpoint()

    # -- invariants -------------------------------------------------------------------------------

    @invariant()
    def tables_match_the_model(self) -> None:
        blocks = list(
            UnitBlock.objects.order_by("serial_start").values_list(
                "serial_start",
                "serial_end",
                "account_id",
                "issuance_id",
                "project_id",
                "vintage",
                "unit_class",
                "acquired_at",
            )
        )
        issuances = {i.pk: i for i in Issuance.objects.all()}
        assert set(issuances) == set(self.issuances)
        previous_end = 0
        per_issuance: dict[int, list[tuple[int, int]]] = {pk: [] for pk in issuances}
        live: dict[int, str] = {}
        for (
            start,
            end,
            account_id,
            issuance_id,
            project_id,
            vintage,
            unit_class,
            acquired_at,
        ) in blocks:
            assert start >= 1 and end >= start, f"empty or negative block {start}-{end}"
            assert start > previous_end, f"block {start}-{end} overlaps the block before it"
            previous_end = end
            issuance = issuances[issuance_id]
            assert issuance.serial_start <= start and end <= issuance.serial_end, (
                "block outside its issuance"
            )
            assert (project_id, vintage, unit_class) == (
                issuance.project_id,
                issuance.vintage,
                issuance.unit_class,
            )
            per_issuance[issuance_id].append((start, end))
            name = self.name_of[account_id]
            for s in range(start, end + 1):
                live[s] = name
                assert self.acquired[s] == (acquired_at - BASE_TIME).total_seconds(), (
                    f"serial {s}: acquisition time"
                )
        for pk, pieces in per_issuance.items():
            issuance = issuances[pk]
            # conservation, and the blocks tile the issuance's range exactly
            assert sum(b - a + 1 for a, b in pieces) == issuance.quantity
            cursor = issuance.serial_start
            for a, b in pieces:
                assert a == cursor, f"issuance {issuance.number}: gap or overlap at serial {cursor}"
                cursor = b + 1
            assert cursor == issuance.serial_end + 1
        assert live == self.owner
        for s, final in self.terminal.items():
            assert live[s] == final, f"serial {s} left the {final} account"

    @invariant()
    def refused_requests_leave_nothing(self) -> None:
        assert LedgerHead.objects.get(pk=1).size == self.ledger_size
        assert Transaction.objects.count() == self.transactions
        assert not Transaction.objects.exclude(status=Transaction.Status.COMPLETED).exists()

    @invariant()
    def ledger_replays_to_the_tables(self) -> None:
        result = verify_ledger()
        assert result.ok, result.divergences
        assert result.entries == self.ledger_size


@pytest.mark.django_db
def test_unit_life_cycle_keeps_the_ledger_invariants() -> None:
    Lifecycle.world = build_world()
    run_state_machine_as_test(
        Lifecycle,
        settings=settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
                HealthCheck.filter_too_much,
            ],
        ),
    )


def test_refusals_raise_registry_errors() -> None:
    """The machine matches refusals on RegistryError codes; selection errors
    raised before any service call are ValidationFailed too."""
    with pytest.raises(ValidationFailed) as info:
        Selection.build(ranges=[(1, 5), (5, 9)])
    assert info.value.code == "SERIAL_RANGES_OVERLAP"
