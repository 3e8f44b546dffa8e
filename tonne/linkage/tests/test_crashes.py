"""Real crashes: two installations in their own processes, CH sending to
SE. CH's `tonne worker` (running the `linkage` job) is killed with SIGKILL,
and SE's server too, at each step: after the proposal went, after SE
accepted, after the completion went, during a cancel. Each time both are
started again and the transfer ends as it should; after every step each of
CH's serials is live in exactly one registry and both ledgers verify."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from tonne.linkage.tests.test_protocol import ROOT, Receiver, _merge

# No test database: both registries are processes of their own.


class Worker:
    """CH's `tonne worker`, killed without warning and started again."""

    def __init__(self, node: Receiver) -> None:
        self.node, self.process = node, None  # type: ignore[var-annotated]

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "tonne.cli", "worker", "--interval", "0.2"],
                                        env=self.node.env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
            self.process = None


def until(read: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while True:
        state = read()
        if done(state):
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.5)


# Both registries are SQLite processes of their own, whatever the test database:
# the drill runs once, in the SQLite pass of the suite.
@pytest.mark.skipif(connection.vendor == "postgresql", reason="same drill as in the SQLite pass")
def test_the_senders_worker_and_the_receivers_server_killed_at_each_step(tmp_path: Path) -> None:
    ch_node, se_node = Receiver(tmp_path / "ch", "CH"), Receiver(tmp_path / "se", "SE")
    ch = ch_node.run("setup", "--issue", "100", "SE")
    se = se_node.run("setup")
    ch_node.run("link", "SE-TONNE", "SE", se["key"], se_node.url)
    se_node.run("link", "CH-TONNE", "CH", ch["key"], ch_node.url)
    lo, hi = ch["serials"]
    ch_node.env["TONNE_LINKAGE_POLL_SECONDS"] = "1"  # the worker asks again each second, within SE's rate limits
    worker = Worker(ch_node)

    def conserved() -> tuple[dict[str, Any], dict[str, Any]]:
        """Each of CH's serials live once: at CH, or at SE (by its ITMO serials)."""
        here, there = ch_node.run("state"), se_node.run("state")
        every = [(max(s, lo), min(e, hi)) for s, e in here["live_own"] + there["live_itmo"] if s <= hi and e >= lo]
        assert sum(e - s + 1 for s, e in every) == hi - lo + 1 and _merge(every) == [(lo, hi)], (here, there)
        assert here["ledger_ok"] and there["ledger_ok"]
        return here, there

    se_node.serve()
    try:
        # 1. The proposal went (SE checked it): the worker dies, then SE's server.
        first = ch_node.run("send", "SE-TONNE", "SE", se["account"], str(lo), str(lo + 59))["transfer"]
        worker.start()
        until(lambda: se_node.run("state"), lambda s: s["inbound"].get(first, [""])[0] == "checked")
        worker.kill()
        se_node.kill()
        conserved()
        # 2. SE accepts, and its server dies at once: the worker, back, finds nobody and retries.
        assert se_node.run("accept", first, "CH-TONNE")["state"] == "accepted"
        worker.start()
        time.sleep(2)
        here, _ = conserved()
        assert here["outbound"][first][0] == "proposed"  # nothing left CH: SE's acceptance never arrived
        # 3. SE back: the completion goes; the worker dies as soon as SE created the units.
        se_node.serve()
        until(lambda: se_node.run("state"), lambda s: s["inbound"][first][0] == "completed")
        worker.kill()
        se_node.kill()
        conserved()
        worker.start()  # the completion again, if its answer was lost: the same state
        se_node.serve()
        until(lambda: ch_node.run("state"), lambda s: s["outbound"][first][0] == "completed")
        here, there = conserved()
        assert there["live_itmo"] == [[lo, lo + 59]]

        # 4. A cancel while SE's server and then CH's worker are down: the units stay at CH; SE closes it.
        second = ch_node.run("send", "SE-TONNE", "SE", se["account"], str(lo + 60), str(hi))["transfer"]
        until(lambda: se_node.run("state"), lambda s: s["inbound"].get(second, [""])[0] == "checked")
        se_node.kill()
        assert "code" not in ch_node.run("withdraw", second)
        until(lambda: ch_node.run("state"), lambda s: s["outbound"][second][0] == "cancelling")
        worker.kill()  # during the cancel
        here, _ = conserved()
        assert [lo + 60, hi] in here["live_own"]
        worker.start()
        se_node.serve()
        here = until(lambda: ch_node.run("state"), lambda s: s["outbound"][second][0] == "cancelled")
        assert se_node.run("state")["inbound"][second][0] == "closed"
        conserved()
        worker.kill()
        for node in (ch_node, se_node):
            node.tonne("ledger", "verify")  # exits non-zero on any divergence
    finally:
        worker.kill()
        se_node.kill()
