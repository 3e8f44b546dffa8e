"""`tonne ledger verify --checkpoint FILE|URL`: a database that is consistent
on its own (an old backup restored, or a history re-signed with the
registry's own key) still fails against a checkpoint saved elsewhere."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.db import transaction

from tonne import testing
from tonne.core.errors import ValidationFailed
from tonne.ledger import watermark
from tonne.ledger.external import External, load
from tonne.ledger.models import LedgerEntry, LedgerHead
from tonne.ledger.services import make_checkpoint
from tonne.ledger.tests.test_tamper import _flip_signature, drop_guards, rewrite_chain, sql
from tonne.ledger.verify import verify_ledger
from tonne.units import services as units
from tonne.units.domain import Selection

pytestmark = pytest.mark.django_db


class _Undo(Exception):
    pass


def _sale(reg, key: str, quantity: int) -> None:
    units.transfer(
        actor=reg.developer,
        from_account=reg.developer_account.identifier,
        to_account=reg.buyer_account.identifier,
        selection=Selection.build(quantity=quantity),
        idempotency_key=key,
    )


@pytest.fixture
def world(registry):
    project = testing.registered_project(registry)
    testing.issue(registry, project, {2020: 100})
    _sale(registry, "first", 10)
    registry.extra["saved"] = make_checkpoint().note  # a partner keeps this one
    return registry


def _future_note(reg, key: str, quantity: int) -> str:
    """A checkpoint signed after one more sale, then the database put back as
    it was before it: exactly what restoring an older backup does."""
    note = ""
    try:
        with transaction.atomic():
            _sale(reg, key, quantity)
            note = make_checkpoint().note
            raise _Undo
    except _Undo:
        pass
    return note


def _codes(result) -> list[str]:
    return [d.code for d in result.divergences]


def test_a_ledger_extending_the_saved_checkpoint_passes(world, tmp_path):
    _sale(world, "later", 5)
    path = tmp_path / "checkpoint.txt"
    path.write_text(world.extra["saved"])
    result = verify_ledger(compiled=False, external=[load(str(path))])
    assert result.ok, result.divergences
    assert (result.external, result.held_size) == (1, LedgerEntry.objects.count() - 1)
    out = io.StringIO()
    call_command("ledger", "verify", "--checkpoint", str(path), stdout=out)
    assert "Held against 1 external checkpoint" in out.getvalue()


def test_without_an_external_checkpoint_verify_says_so(world):
    out = io.StringIO()
    call_command("ledger", "verify", stdout=out)
    assert "not held against any external checkpoint" in out.getvalue()


def test_a_restored_older_database_is_rolled_back(world, tmp_path):
    note = _future_note(world, "lost", 7)
    assert verify_ledger(compiled=False).ok  # on its own, the old copy is consistent
    path = tmp_path / "partner.txt"
    path.write_text(note)
    result = verify_ledger(compiled=False, external=[load(str(path))])
    assert _codes(result) == ["LEDGER_ROLLED_BACK"]
    err = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("ledger", "verify", "--checkpoint", str(path), stderr=err)
    assert "LEDGER_ROLLED_BACK" in err.getvalue()


def test_deleting_the_last_entries_and_checkpoints_is_rolled_back(world):
    """SQLite and PostgreSQL alike: the guards dropped, the entries and the
    checkpoint after the saved one deleted and the head fixed up."""
    _sale(world, "later", 5)
    newer = make_checkpoint()
    held = External("partner", newer.note)
    cut = LedgerHead.objects.get(pk=1).size - 1
    drop_guards("ledger_ledgerentry", "ledger_checkpoint")
    last = LedgerEntry.objects.get(seq=cut - 1).leaf_hash
    sql("DELETE FROM ledger_ledgerentry WHERE seq >= %s", [cut])
    sql("DELETE FROM ledger_checkpoint WHERE size > %s", [cut])
    LedgerHead.objects.filter(pk=1).update(size=cut, last_hash=last)
    result = verify_ledger(compiled=False, external=[held])
    assert "LEDGER_ROLLED_BACK" in _codes(result)


def test_a_fork_is_inconsistent(world):
    """The operator served one history to a partner, then another: both are
    signed with the registry's key and each is consistent on its own."""
    note = _future_note(world, "to-partner", 7)
    _sale(world, "instead", 3)
    watermark.mark_path().unlink()  # the operator also discards the mark kept outside the database
    make_checkpoint()
    assert verify_ledger(compiled=False).ok
    result = verify_ledger(compiled=False, external=[External("partner", note)])
    assert _codes(result) == ["CHECKPOINT_INCONSISTENT"]


def test_a_rechained_and_re_signed_history_is_inconsistent(world):
    seq = LedgerEntry.objects.count() - 1  # the sale the partner's checkpoint covers
    drop_guards("ledger_ledgerentry", "ledger_checkpoint")
    rewrite_chain(seq, lambda doc: doc.update(at="2001-01-01T00:00:00Z"))
    sql("DELETE FROM ledger_checkpoint")
    watermark.mark_path().unlink()  # and the mark kept outside the database
    make_checkpoint()  # the operator holds the key: re-signs the new history
    assert verify_ledger(compiled=False).ok
    result = verify_ledger(compiled=False, external=[External("partner", world.extra["saved"])])
    assert _codes(result) == ["CHECKPOINT_INCONSISTENT"]


def test_a_checkpoint_not_signed_by_the_registry_is_refused(world):
    result = verify_ledger(compiled=False, external=[External("partner", _flip_signature(world.extra["saved"]))])
    assert _codes(result) == ["CHECKPOINT_BAD_SIGNATURE"]


def test_unreadable_sources_get_a_clear_code(tmp_path):
    err = io.StringIO()
    with pytest.raises(Exception) as exc:
        call_command("ledger", "verify", "--checkpoint", str(tmp_path / "missing"), stderr=err)
    assert "CHECKPOINT_UNREADABLE" in str(exc.value)
    with pytest.raises(Exception) as exc:
        call_command("ledger", "verify", "--checkpoint", "http://127.0.0.1:1/checkpoint")
    assert "CHECKPOINT_UNREADABLE" in str(exc.value)


def test_json_output_lists_every_divergence(world, capsys):
    note = _future_note(world, "lost", 7)
    result = verify_ledger(compiled=False, external=[External("a", note), External("b", world.extra["saved"])])
    assert _codes(result) == ["LEDGER_ROLLED_BACK"]
    assert json.loads(json.dumps([d.__dict__ for d in result.divergences]))[0]["code"] == "LEDGER_ROLLED_BACK"


def test_a_checkpoint_served_at_a_url_is_fetched_through_the_outbound_client(world, settings):
    import http.server
    import threading

    note = _future_note(world, "lost", 7).encode()

    class Serve(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            self.send_response(200)
            self.send_header("Content-Length", str(len(note)))
            self.end_headers()
            self.wfile.write(note)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Serve)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/checkpoint.txt"
    try:
        with pytest.raises(ValidationFailed) as refused:
            load(url)  # loopback is refused unless the operator allows it
        assert refused.value.code == "CHECKPOINT_UNREADABLE"
        settings.TONNE_OUTBOUND_ALLOW = ["127.0.0.1"]
        result = verify_ledger(compiled=False, external=[load(url)])
    finally:
        server.shutdown()
        server.server_close()
    assert _codes(result) == ["LEDGER_ROLLED_BACK"]
