"""A randomised fault run in the style of TigerBeetle's simulator: random
operations through the service layer, random faults between statements
(the connection lost before or after a statement, before or after COMMIT),
the invariants checked after every step. Seeded: the same seed and steps
replay the same run (`tonne drill simulate --seed S --steps N`).

Each operation's outcome is judged as a client would judge it: a result is
acknowledged; an error before any COMMIT was sent means nothing changed; an
error once a COMMIT was sent leaves it in doubt, and the move must then be
wholly there or wholly absent. Nothing acknowledged may ever go missing."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.utils import OperationalError

from tonne.core import faults, outcomes
from tonne.core.errors import RegistryError
from tonne.ledger.services import make_checkpoint
from tonne.ops.drills import world
from tonne.organisations.models import User
from tonne.units import services as units
from tonne.units.domain import Selection

COMMIT_POINTS = ("db.commit", "db.committed")


class InjectedFault(OperationalError):
    """The connection 'lost' by the simulator."""


@dataclass
class Ledger:
    acknowledged: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    in_doubt: list[str] = field(default_factory=list)
    faults: int = 0


class Faults:
    """Counts statements (Django's and the pipeline's batches) and COMMITs;
    fails the one the step drew."""

    def __init__(self) -> None:
        self.count = 0
        self.fail_at: int | None = None
        self.after = False

    def arm(self, rng: random.Random) -> None:
        self.count = 0
        self.fail_at = rng.randrange(1, 40) if rng.random() < 0.6 else None
        self.after = rng.random() < 0.5

    def tick(self, run: Callable[[], Any] | None = None) -> Any:
        self.count += 1
        hit = self.fail_at is not None and self.count == self.fail_at
        if hit and not self.after:
            self.fail_at = None
            raise InjectedFault(f"drill: connection lost before statement {self.count}")
        result = run() if run is not None else None
        if hit:
            self.fail_at = None
            raise InjectedFault(f"drill: connection lost after statement {self.count}")
        return result

    def wrapper(self, execute: Any, sql: Any, params: Any, many: Any, context: Any) -> Any:
        return self.tick(lambda: execute(sql, params, many, context))


def run(*, seed: int, steps: int, say: Callable[[str], None] = print, check_every: int = 1) -> Ledger:
    rng = random.Random(seed)
    built = world.build(units=10_000)
    people = {name: (User.objects.get(username=a["user"]), a["account"]) for name, a in built["accounts"].items()}
    book = Ledger()
    injector = Faults()
    # COMMITs and the pipeline's batches are fault points too (core.outcomes, core.pgpipeline).
    for name in (*COMMIT_POINTS, "pipeline.batch"):
        faults.install(name, lambda: injector.tick())
    try:
        with connection.execute_wrapper(injector.wrapper):
            for step in range(steps):
                _step(rng, step, people, book, injector)
                if (step + 1) % check_every == 0 or step == steps - 1:
                    _invariants(book, step)
    finally:
        for name in (*COMMIT_POINTS, "pipeline.batch"):
            faults.install(name, None)
    _invariants(book, steps)
    say(f"seed {seed}: {steps} steps, {len(book.acknowledged)} acknowledged, {len(book.refused)} refused, "
        f"{len(book.in_doubt)} in doubt, {book.faults} faults injected; invariants held")
    return book


def _step(rng: random.Random, step: int, people: dict[str, tuple[User, str]], book: Ledger, injector: Faults) -> None:
    source, target = rng.sample(sorted(people), 2)
    actor, account = people[source]
    key = f"sim-{step}"
    quantity = rng.choice((1, 1, 2, 3, 5, 50_000))  # now and then more than anyone holds
    operation = rng.choice(("transfer", "transfer", "transfer", "retire", "checkpoint"))
    injector.arm(rng)
    outcomes.begin_request()
    try:
        if operation == "transfer":
            units.transfer(actor=actor, from_account=account, to_account=people[target][1],
                           selection=Selection.build(quantity=quantity), idempotency_key=key)
        elif operation == "retire":
            units.retire(actor=actor, from_account=account, selection=Selection.build(quantity=quantity),
                         beneficiary="Drill", purpose="voluntary", idempotency_key=key)
        else:
            make_checkpoint()
            return
    except RegistryError:
        book.refused.append(key)  # refused by a rule: nothing changed
    except OperationalError:
        book.faults += 1
        log = outcomes.current()
        (book.in_doubt if log.in_doubt or log.done > 0 else book.refused).append(key)
        connection.close()  # as a lost connection would be
    else:
        book.acknowledged.append(key)
    finally:
        injector.fail_at = None


def _invariants(book: Ledger, step: int) -> None:
    problems = world.check(acknowledged=book.acknowledged, in_doubt=book.in_doubt, heads=[],
                           nothing_changed=book.refused)
    if problems:
        raise AssertionError(f"after step {step}: " + "; ".join(problems))
