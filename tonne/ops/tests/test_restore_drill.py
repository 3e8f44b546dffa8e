"""A restore drill on the embedded registry: back up, move, restore the
older backup; the registry flags the rollback (verify fails, moves are
refused, no second root is signed for a signed size) until an
administrator acknowledges the restore; then it goes on."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="SQLite drill (runs in the SQLite pass)"
)

DRILL = textwrap.dedent(
    """
    import os, sys
    import django
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from tonne import testing
    from tonne.core.errors import RegistryError
    from tonne.ledger.models import LedgerHead
    from tonne.ledger.services import make_checkpoint
    from tonne.units import services as units
    from tonne.units.domain import Selection

    for name in ("TONNE_KYC_REQUIRED", "TONNE_DELAY_NON_TRUSTED", "TONNE_MFA_REQUIRED"):
        setattr(settings, name, False)
    settings.TONNE_FOUR_EYES, settings.TONNE_MIN_REPRESENTATIVES = frozenset(), 0
    call_command("migrate", verbosity=0)
    reg = testing.build_registry()
    testing.issue(reg, testing.registered_project(reg), {2022: 100})

    def move(key):
        return units.transfer(actor=reg.developer, from_account=reg.developer_account.identifier,
                              to_account=reg.buyer_account.identifier, selection=Selection.build(quantity=1),
                              idempotency_key=key)

    def verify_fails():
        try:
            call_command("ledger", "verify")
        except SystemExit as exc:
            return exc.code == 1
        return False

    backup = os.path.join(os.environ["TONNE_DATA_DIR"], "before.sqlite3")
    make_checkpoint()
    call_command("backup", backup)
    move("after-backup")
    signed = make_checkpoint()
    from django.core.management.base import CommandError
    from tonne.ops import backup as ops_backup
    ops_backup.hold_running_lock()  # as `tonne serve` does
    try:
        call_command("restore", backup)
        print("RESTORED WHILE RUNNING")
    except CommandError as exc:
        print("refused while running:", "REGISTRY_RUNNING" in str(exc))
    ops_backup._held.pop().close()
    call_command("restore", backup)
    print("restored", LedgerHead.objects.get(pk=1).size, "of", signed.size)
    assert LedgerHead.objects.get(pk=1).size + 1 == signed.size
    try:
        move("while-flagged")
        print("MOVED WHILE FLAGGED")
    except RegistryError as exc:
        print("refused", exc.code, exc.status)
    print("verify fails:", verify_fails())
    call_command("ledger", "acknowledge-restore", "--by", reg.admin.username)
    print("verify fails:", verify_fails())
    try:  # the acknowledgement is entry number `signed.size`: another root for a signed size
        make_checkpoint()
        print("SIGNED A SECOND ROOT")
    except RegistryError as exc:
        print("not signed", exc.code)
    move("after-ack")
    print("signed beyond the mark:", make_checkpoint().size > signed.size)
    """
)


def test_restore_drill(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TONNE_SQLITE_PATH")}
    env.update(DJANGO_SETTINGS_MODULE="tonne.settings", TONNE_DATA_DIR=str(tmp_path),
               TONNE_SQLITE_SYNCHRONOUS="NORMAL")
    done = subprocess.run([sys.executable, "-c", DRILL], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    restored = next(line for line in lines if line.startswith("restored")).split()
    assert int(restored[1]) < int(restored[3])
    assert "refused while running: True" in lines
    assert "refused LEDGER_ROLLED_BACK 503" in lines
    assert lines.count("verify fails: True") == 1 and lines.count("verify fails: False") == 1
    assert lines.index("verify fails: True") < lines.index("verify fails: False")
    assert "not signed LEDGER_ROLLED_BACK" in lines
    assert "signed beyond the mark: True" in lines
    assert "LEDGER ROLLED BACK" in done.stderr
