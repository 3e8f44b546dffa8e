"""A real `tonne cadt sync --loop` process killed (SIGKILL) while it waits for
a CAD Trust node's commit: the next worker delivers the batch again; the node
ends with every change, each record once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection

from tonne.cadt import mapping, sync
from tonne.cadt.models import SyncDestination
from tonne.cadt.standin import StandInNode
from tonne.cadt.tests.conftest import cadt_registry
from tonne.units import services as units
from tonne.units.domain import Selection


def _worker(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tonne.cli", "cadt", "sync", "--loop", "--interval", "0.1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def _wait(condition, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("loopback_outbound")
def test_sync_survives_the_worker_process_being_killed() -> None:
    reg = cadt_registry()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "TONNE_CADT_SYNC_LEASE_SECONDS": "1",
        "TONNE_OUTBOUND_ALLOW": "127.0.0.0/8",  # the stand-in node
        "DJANGO_SETTINGS_MODULE": "tonne.settings",
    }
    with StandInNode() as node:
        sync.add_destination(actor=reg.admin, name="main", url=node.url, from_start=True)
        node.commit_gate.clear()
        first = _worker(env)
        try:
            assert _wait(node.commit_arrived.is_set), "the worker never reached the commit"
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
        finally:
            if first.poll() is None:
                first.kill()
        dest = SyncDestination.objects.get()
        assert dest.cursor == 0 and dest.pending_upto  # the kill left the batch undelivered
        node.commit_gate.set()  # the node finishes the commit the dead worker asked for
        issuance = reg.extra["issuances"][1]
        units.transfer(  # and the registry goes on changing
            actor=reg.developer, from_account=reg.developer_account.identifier,
            to_account=reg.buyer_account.identifier,
            selection=Selection.build(ranges=[(issuance.serial_start, issuance.serial_start + 2)]), idempotency_key="k1",
        )
        from tonne.cadt.selectors import ledger_cursor

        target = ledger_cursor()
        second = _worker(env)
        try:
            assert _wait(lambda: SyncDestination.objects.get().cursor == target), second.stderr
        finally:
            second.terminate()
            second.wait(timeout=30)
    expected = {row["cadTrustUnitId"]: row for row in mapping.v2_rows()["unit"]}
    received = node.rows("unit")
    assert set(received) == set(expected)
    for key, row in expected.items():
        assert received[key]["unitStatus"] == row["unitStatus"]
        assert str(received[key]["unitEndBlock"]) == row["unitEndBlock"]
    assert len(node.commits) >= 2  # the repeated batch was committed again, as an update
