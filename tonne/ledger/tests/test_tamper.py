"""An attacker with database access (DESIGN §4): the ledger tables refuse
UPDATE and DELETE, the unit tables refuse overlaps, deletions and edits of
final blocks. Whoever gets past those guards (by dropping the triggers, as a
database owner can) is still caught by `tonne ledger verify`, which names the
first divergence.

Trigger removal happens inside the test's transaction; DDL is transactional
on SQLite and PostgreSQL, so the rollback at the end of each test restores the
guards (the guard tests at the end of this module check that they are back).
"""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction

from tonne import testing
from tonne.core.canonical import canonical_json
from tonne.ledger import verify as verify_module
from tonne.ledger.checkpoint import Checkpoint as CheckpointNote
from tonne.ledger.checkpoint import generate_private_key, sign_checkpoint
from tonne.ledger.commitments import ACCOUNT
from tonne.ledger.merkle import MerkleAccumulator
from tonne.ledger.models import Checkpoint, LedgerEntry, LedgerHead
from tonne.ledger.openings import ledger_name
from tonne.ledger.services import GENESIS_HASH, make_checkpoint
from tonne.organisations.models import Account
from tonne.organisations.services import system_account
from tonne.units import services as units
from tonne.units.domain import Selection
from tonne.units.models import Issuance, SerialCounter, UnitBlock

pytestmark = pytest.mark.django_db

GUARDED = (
    "ledger_ledgerentry",
    "ledger_checkpoint",
    "units_unitblock",
    "units_serialcounter",
)


# -- the attacker's tools --------------------------------------------------------


def sql(statement: str, params: list | tuple | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def scalar(statement: str, params: list | tuple | None = None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone()[0]


def drop_guards(*tables: str) -> None:
    """What a database owner can always do: remove the tables' triggers (in
    this test's transaction only)."""
    if connection.vendor == "postgresql":
        # Django's foreign keys are deferred; ALTER TABLE refuses to run while
        # their checks are pending, so run them now.
        sql("SET CONSTRAINTS ALL IMMEDIATE")
    for table in tables:
        if connection.vendor == "postgresql":
            sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        else:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                    [table],
                )
                names = [row[0] for row in cursor.fetchall()]
            assert names, f"{table} has no triggers to drop"
            for name in names:
                sql(f'DROP TRIGGER "{name}"')


def leaf(raw: bytes) -> str:
    return hashlib.sha256(b"\x00" + raw).hexdigest()


def entry_doc(seq: int) -> dict:
    return json.loads(LedgerEntry.objects.get(seq=seq).body)


def write_body(seq: int, doc: dict, *, rehash: bool = False) -> None:
    raw = canonical_json(doc)
    if rehash:
        sql(
            "UPDATE ledger_ledgerentry SET body = %s, leaf_hash = %s WHERE seq = %s",
            [raw.decode(), leaf(raw), seq],
        )
    else:
        sql("UPDATE ledger_ledgerentry SET body = %s WHERE seq = %s", [raw.decode(), seq])


def rewrite_chain(from_seq: int, mutate) -> None:
    """The careful attacker: change one entry, then recompute every later
    entry's prev link and leaf hash, and the head, so the chain is whole."""
    prev = GENESIS_HASH if from_seq == 0 else LedgerEntry.objects.get(seq=from_seq - 1).leaf_hash
    for entry in LedgerEntry.objects.filter(seq__gte=from_seq).order_by("seq"):
        doc = json.loads(entry.body)
        if entry.seq == from_seq:
            mutate(doc)
        doc["prev"] = prev
        raw = canonical_json(doc)
        new_leaf = leaf(raw)
        sql(
            "UPDATE ledger_ledgerentry SET body = %s, prev_hash = %s, leaf_hash = %s WHERE seq = %s",
            [raw.decode(), prev, new_leaf, entry.seq],
        )
        prev = new_leaf
    LedgerHead.objects.filter(pk=1).update(last_hash=prev)


def verify_ledger(**kwargs):
    """Every check here runs both verifiers: the pure-Python reference and,
    where it is built, the compiled one. They must report the same outcome;
    the compiled one accepts every valid ledger here itself and refuses every
    tampered one (leaving the naming to the reference)."""
    reference = verify_module.verify_ledger(compiled=False, **kwargs)
    if verify_module.compiled_available():
        compiled = verify_module.verify_ledger(compiled=True, **kwargs)
        assert outcome(compiled) == outcome(reference)
        assert compiled.path == ("compiled" if reference.ok else "python")
    return reference


def outcome(result):
    first = result.first
    return (
        result.ok,
        None if first is None else (first.code, first.seq, first.message),
        result.entries,
        result.checkpoints,
        result.blocks,
    )


def first(result):
    assert not result.ok, "tampering went unnoticed"
    return result.first


# -- the registry under attack ---------------------------------------------------


@pytest.fixture
def world(registry):
    reg = registry
    forest = testing.registered_project(reg, buffer_basis_points=2000)
    solar = testing.registered_project(reg, name="Solar mini-grids")
    testing.issue(reg, forest, {2020: 100})  # 80 to the developer, 20 to the buffer pool
    testing.issue(reg, solar, {2021: 50})
    dev, buyer, other = reg.developer_account, reg.buyer_account, reg.other_developer_account
    solar_issuance = Issuance.objects.get(project=solar)
    txns = {
        "sale": units.transfer(
            actor=reg.developer,
            from_account=dev.identifier,
            to_account=buyer.identifier,
            selection=Selection.build(quantity=30),
            idempotency_key="sale",
        ),
        "ranges": units.transfer(
            actor=reg.developer,
            from_account=dev.identifier,
            to_account=other.identifier,
            selection=Selection.build(
                ranges=[(solar_issuance.serial_start + 5, solar_issuance.serial_start + 14)]
            ),
            idempotency_key="ranges",
        ),
        "retirement": units.retire(
            actor=reg.buyer,
            from_account=buyer.identifier,
            selection=Selection.build(quantity=10),
            beneficiary="Acme Airways",
            purpose="voluntary",
            idempotency_key="retire",
        ),
        "cancellation": units.cancel(
            actor=reg.developer,
            from_account=dev.identifier,
            selection=Selection.build(quantity=5, project=solar.project_id),
            reason="Correction after audit",
            idempotency_key="cancel",
        ),
        "reversal": units.reverse(
            actor=reg.admin,
            project=forest.project_id,
            quantity=4,
            reason="Fire",
            idempotency_key="reverse",
        ),
    }
    checkpoint = make_checkpoint()
    # two more entries after the last checkpoint
    txns["late1"] = units.transfer(
        actor=reg.buyer,
        from_account=buyer.identifier,
        to_account=dev.identifier,
        selection=Selection.build(quantity=3),
        idempotency_key="late1",
    )
    txns["late2"] = units.transfer(
        actor=reg.other_developer,
        from_account=other.identifier,
        to_account=buyer.identifier,
        selection=Selection.build(quantity=2),
        idempotency_key="late2",
    )
    result = verify_ledger()
    assert result.ok, result.divergences
    assert result.checkpoints == 1
    reg.extra.update(txns=txns, checkpoint=checkpoint, forest=forest, solar=solar)
    return reg


def seq_of(world, name: str) -> int:
    return world.extra["txns"][name].ledger_seq


def size() -> int:
    return LedgerHead.objects.get(pk=1).size


# -- the guards: plain edits are refused by the database -------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_ledgerentry SET kind = 'x' WHERE seq = 3",
        "UPDATE ledger_ledgerentry SET body = body",
        "DELETE FROM ledger_ledgerentry WHERE seq = 3",
        "DELETE FROM ledger_ledgerentry",
        "UPDATE ledger_checkpoint SET root_hash = 'x'",
        "UPDATE ledger_checkpoint SET note = note",
        "DELETE FROM ledger_checkpoint",
    ],
)
def test_ledger_tables_refuse_update_and_delete(world, statement):
    entries, checkpoints = LedgerEntry.objects.count(), Checkpoint.objects.count()
    with pytest.raises(DatabaseError), transaction.atomic():
        sql(statement)
    assert LedgerEntry.objects.count() == entries
    assert Checkpoint.objects.count() == checkpoints
    assert LedgerEntry.objects.get(seq=3).kind != "x"
    assert verify_ledger().ok


@pytest.mark.postgres
def test_ledger_tables_refuse_truncate_on_postgresql(world):
    for table in ("ledger_ledgerentry", "ledger_checkpoint"):
        with pytest.raises(DatabaseError), transaction.atomic():
            # Only the test runner's own connection may empty these tables.
            sql("SET LOCAL tonne.maintenance = 'off'")
            sql(f"TRUNCATE {table} CASCADE")
    assert LedgerEntry.objects.count() == size()
    assert verify_ledger().ok


def test_ledger_orm_update_and_delete_are_refused(world):
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.filter(seq=1).update(kind="forged")
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.filter(seq=size() - 1).delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        Checkpoint.objects.all().delete()
    assert verify_ledger().ok


# -- editing entries --------------------------------------------------------------


def test_editing_an_entry_body_is_detected(world):
    seq = seq_of(world, "sale")
    drop_guards("ledger_ledgerentry")
    doc = entry_doc(seq)
    doc["data"]["quantity"] = 31
    write_body(seq, doc)
    d = first(verify_ledger())
    assert (d.code, d.seq) == ("LEDGER_ENTRY_ALTERED", seq)


def test_editing_a_single_character_is_detected(world):
    seq = seq_of(world, "retirement")
    drop_guards("ledger_ledgerentry")
    body = LedgerEntry.objects.get(seq=seq).body
    assert "Acme Airways" in body
    sql(
        "UPDATE ledger_ledgerentry SET body = %s WHERE seq = %s",
        [body.replace("Acme Airways", "Acme Airwayz"), seq],
    )
    d = first(verify_ledger())
    assert (d.code, d.seq) == ("LEDGER_ENTRY_ALTERED", seq)


def test_editing_body_and_its_leaf_hash_breaks_the_chain_at_the_next_entry(world):
    seq = seq_of(world, "sale")
    drop_guards("ledger_ledgerentry")
    doc = entry_doc(seq)
    doc["data"]["to"] = ledger_name(ACCOUNT, world.other_developer_account.identifier)
    write_body(seq, doc, rehash=True)
    d = first(verify_ledger())
    assert (d.code, d.seq) == ("LEDGER_CHAIN_BROKEN", seq + 1)


def test_editing_the_last_entry_and_its_leaf_hash_is_caught_by_the_head(world):
    seq = size() - 1
    drop_guards("ledger_ledgerentry")
    doc = entry_doc(seq)
    doc["actor"] = "user:nobody"  # replays the same; only the hashes can tell
    write_body(seq, doc, rehash=True)
    d = first(verify_ledger())
    assert d.code == "LEDGER_HEAD_MISMATCH"


def test_editing_an_entry_inside_its_own_recorded_fields_is_detected(world):
    """The row's seq / kind / prev columns agree with each other but not with
    the hashed body."""
    seq = seq_of(world, "sale")
    drop_guards("ledger_ledgerentry")
    sql("UPDATE ledger_ledgerentry SET kind = 'units.retirement' WHERE seq = %s", [seq])
    d = first(verify_ledger())
    assert (d.code, d.seq) == ("LEDGER_ENTRY_ALTERED", seq)


def test_the_chain_rewriting_helper_is_faithful(world):
    """Sanity check for the attacker's tool: a rewrite that changes nothing is
    not a divergence, so every detection below is due to the change made."""
    drop_guards("ledger_ledgerentry")
    rewrite_chain(seq_of(world, "sale"), lambda doc: None)
    result = verify_ledger()
    assert result.ok, result.divergences


def test_rewriting_the_whole_chain_is_caught_by_the_signed_checkpoint(world):
    seq = seq_of(world, "retirement")
    checkpoint = world.extra["checkpoint"]
    assert seq < checkpoint.size
    drop_guards("ledger_ledgerentry")

    def rename_beneficiary(doc: dict) -> None:
        doc["data"]["beneficiary"] = "Someone Else Ltd"

    rewrite_chain(seq, rename_beneficiary)
    d = first(verify_ledger())
    assert (d.code, d.seq) == ("CHECKPOINT_ROOT_MISMATCH", checkpoint.size - 1)


def test_rewriting_the_chain_and_re_signing_with_another_key_is_caught(world):
    seq = seq_of(world, "retirement")
    checkpoint = world.extra["checkpoint"]
    drop_guards("ledger_ledgerentry", "ledger_checkpoint")
    rewrite_chain(seq, lambda doc: doc["data"].update(beneficiary="Someone Else Ltd"))
    acc = MerkleAccumulator()
    for entry in LedgerEntry.objects.filter(seq__lt=checkpoint.size).order_by("seq"):
        acc.append(bytes.fromhex(entry.leaf_hash))
    forged = sign_checkpoint(
        CheckpointNote(origin=settings.TONNE_LEDGER_ORIGIN, size=checkpoint.size, root=acc.root()),
        settings.TONNE_LEDGER_KEY_NAME,  # same name, the attacker's own key
        generate_private_key(),
    )
    Checkpoint.objects.filter(pk=checkpoint.pk).update(note=forged, root_hash=acc.root().hex())
    d = first(verify_ledger())
    assert (d.code, d.seq) == ("CHECKPOINT_SIGNATURE_INVALID", checkpoint.size - 1)


def test_a_chain_consistent_rewrite_after_the_last_checkpoint_is_caught_by_replay(world):
    """No signature covers the latest entries yet: replaying them against the
    live holdings still exposes the lie."""
    seq = seq_of(world, "late1")
    assert seq >= world.extra["checkpoint"].size
    drop_guards("ledger_ledgerentry")
    other = ledger_name(ACCOUNT, world.other_developer_account.identifier)
    rewrite_chain(seq, lambda doc: doc["data"].update(to=other))
    d = first(verify_ledger())
    assert d.code == "HOLDINGS_DIVERGE"
    assert other in d.message or ledger_name(ACCOUNT, world.developer_account.identifier) in d.message


def test_a_chain_consistent_rewrite_that_cannot_be_replayed_is_named(world):
    seq = seq_of(world, "late2")
    drop_guards("ledger_ledgerentry")
    # claim the units came from the retirement account: units never leave it
    retirement = ledger_name(ACCOUNT, system_account(Account.Type.RETIREMENT).identifier)
    rewrite_chain(seq, lambda doc: doc["data"].update({"from": retirement}))
    d = first(verify_ledger())
    assert (d.code, d.seq) == ("LEDGER_REPLAY_FAILED", seq)
    assert "terminal" in d.message


# -- deleting, reordering, truncating ---------------------------------------------


def test_deleting_a_middle_entry_is_detected(world):
    seq = seq_of(world, "ranges")
    drop_guards("ledger_ledgerentry")
    assert sql("DELETE FROM ledger_ledgerentry WHERE seq = %s", [seq]) == 1
    d = first(verify_ledger())
    assert (d.code, d.seq) == ("LEDGER_ENTRY_MISSING", seq)


def test_deleting_the_first_entry_is_detected(world):
    drop_guards("ledger_ledgerentry")
    sql("DELETE FROM ledger_ledgerentry WHERE seq = 0")
    d = first(verify_ledger())
    assert (d.code, d.seq) == ("LEDGER_ENTRY_MISSING", 0)


def test_deleting_a_middle_entry_and_renumbering_the_rest_is_detected(world):
    seq = seq_of(world, "ranges")
    drop_guards("ledger_ledgerentry")
    sql("DELETE FROM ledger_ledgerentry WHERE seq = %s", [seq])
    for later in range(seq + 1, size()):
        sql("UPDATE ledger_ledgerentry SET seq = %s WHERE seq = %s", [later - 1, later])
    d = first(verify_ledger())
    assert d.seq == seq
    assert d.code in {"LEDGER_ENTRY_ALTERED", "LEDGER_CHAIN_BROKEN"}


def test_swapping_two_entries_is_detected_at_the_earlier(world):
    a = seq_of(world, "sale")
    b = a + 1
    drop_guards("ledger_ledgerentry")
    sql("UPDATE ledger_ledgerentry SET seq = %s WHERE seq = %s", [10**9, a])
    sql("UPDATE ledger_ledgerentry SET seq = %s WHERE seq = %s", [a, b])
    sql("UPDATE ledger_ledgerentry SET seq = %s WHERE seq = %s", [b, 10**9])
    d = first(verify_ledger())
    assert d.seq == a
    assert d.code in {"LEDGER_CHAIN_BROKEN", "LEDGER_ENTRY_ALTERED", "LEDGER_SEQUENCE_BROKEN"}


def test_swapping_bodies_with_their_hashes_is_detected_at_the_earlier(world):
    """Move whole rows' content (body, prev, leaf), keeping the seq column."""
    a = seq_of(world, "ranges")
    b = a + 1
    rows = {e.seq: e for e in LedgerEntry.objects.filter(seq__in=[a, b])}
    drop_guards("ledger_ledgerentry")
    for target, source in ((a, rows[b]), (b, rows[a])):
        sql(
            "UPDATE ledger_ledgerentry SET body = %s, prev_hash = %s, leaf_hash = %s, kind = %s WHERE seq = %s",
            [source.body, source.prev_hash, source.leaf_hash, source.kind, target],
        )
    d = first(verify_ledger())
    assert d.seq == a
    assert d.code in {"LEDGER_CHAIN_BROKEN", "LEDGER_ENTRY_ALTERED"}


def test_truncating_unsigned_entries_is_caught_by_the_head(world):
    assert size() - world.extra["checkpoint"].size == 2
    drop_guards("ledger_ledgerentry")
    assert sql("DELETE FROM ledger_ledgerentry WHERE seq >= %s", [size() - 2]) == 2
    d = first(verify_ledger())
    assert d.code == "LEDGER_HEAD_MISMATCH"


def test_truncating_unsigned_entries_and_the_head_is_caught_by_replay(world):
    drop_guards("ledger_ledgerentry")
    cut = size() - 2
    last = LedgerEntry.objects.get(seq=cut - 1).leaf_hash
    sql("DELETE FROM ledger_ledgerentry WHERE seq >= %s", [cut])
    LedgerHead.objects.filter(pk=1).update(size=cut, last_hash=last)
    d = first(verify_ledger())
    assert d.code == "HOLDINGS_DIVERGE"


def test_truncating_signed_entries_is_detected(world):
    checkpoint = world.extra["checkpoint"]
    drop_guards("ledger_ledgerentry")
    cut = checkpoint.size - 3
    last = LedgerEntry.objects.get(seq=cut - 1).leaf_hash
    sql("DELETE FROM ledger_ledgerentry WHERE seq >= %s", [cut])
    LedgerHead.objects.filter(pk=1).update(size=cut, last_hash=last)  # even with the head fixed up
    d = first(verify_ledger())
    assert d.code == "LEDGER_TRUNCATED"
    assert d.seq == cut


def test_editing_the_head_is_detected(world):
    LedgerHead.objects.filter(pk=1).update(size=size() + 1)
    assert first(verify_ledger()).code == "LEDGER_HEAD_MISMATCH"
    LedgerHead.objects.filter(pk=1).update(size=size() - 1, last_hash="f" * 64)
    assert first(verify_ledger()).code == "LEDGER_HEAD_MISMATCH"


# -- checkpoints ------------------------------------------------------------------


def _flip_signature(note: str) -> str:
    body, _, sig_line = note.rstrip("\n").rpartition("\n")
    prefix, _, b64 = sig_line.rpartition(" ")
    import base64

    raw = bytearray(base64.b64decode(b64))
    raw[-1] ^= 0x01
    return f"{body}\n{prefix} {base64.b64encode(bytes(raw)).decode()}\n"


def test_forged_checkpoint_signature_is_detected(world):
    checkpoint = world.extra["checkpoint"]
    drop_guards("ledger_checkpoint")
    forged = _flip_signature(checkpoint.note)
    assert forged != checkpoint.note
    sql("UPDATE ledger_checkpoint SET note = %s WHERE id = %s", [forged, checkpoint.pk])
    d = first(verify_ledger())
    assert (d.code, d.seq) == ("CHECKPOINT_SIGNATURE_INVALID", checkpoint.size - 1)


def test_checkpoint_signed_by_an_unknown_key_is_detected(world):
    checkpoint = world.extra["checkpoint"]
    drop_guards("ledger_checkpoint")
    note = sign_checkpoint(
        CheckpointNote(
            origin=settings.TONNE_LEDGER_ORIGIN,
            size=checkpoint.size,
            root=bytes.fromhex(checkpoint.root_hash),
        ),
        "someone-else",
        generate_private_key(),
    )
    sql("UPDATE ledger_checkpoint SET note = %s WHERE id = %s", [note, checkpoint.pk])
    d = first(verify_ledger())
    assert d.code == "CHECKPOINT_SIGNATURE_INVALID"


def test_checkpoint_root_column_edited_is_detected(world):
    checkpoint = world.extra["checkpoint"]
    drop_guards("ledger_checkpoint")
    sql("UPDATE ledger_checkpoint SET root_hash = %s WHERE id = %s", ["ab" * 32, checkpoint.pk])
    d = first(verify_ledger())
    assert (d.code, d.seq) == ("CHECKPOINT_ROOT_MISMATCH", checkpoint.size - 1)


def test_checkpoint_note_for_another_size_is_detected(world):
    """A genuine signed note moved onto another checkpoint row."""
    old = world.extra["checkpoint"]
    new = make_checkpoint()
    drop_guards("ledger_checkpoint")
    sql(
        "UPDATE ledger_checkpoint SET note = %s, root_hash = %s WHERE id = %s",
        [new.note, new.root_hash, old.pk],
    )
    d = first(verify_ledger())
    assert d.code == "CHECKPOINT_ROOT_MISMATCH"
    assert d.seq == old.size - 1


def test_verify_with_someone_elses_key_fails(world):
    from tonne.ledger.checkpoint import verifier_key

    other = verifier_key(settings.TONNE_LEDGER_KEY_NAME, generate_private_key().public_key())
    d = first(verify_ledger(verifier_key=other))
    assert d.code == "CHECKPOINT_SIGNATURE_INVALID"


# -- holdings edited behind the ledger's back -------------------------------------


def test_moving_a_block_to_another_account_is_detected(world):
    block = UnitBlock.objects.filter(account=world.developer_account).first()
    # no trigger stands in the way: the block is in an ordinary holding account
    sql(
        "UPDATE units_unitblock SET account_id = %s WHERE id = %s",
        [world.buyer_account.pk, block.pk],
    )
    d = first(verify_ledger())
    assert d.code == "HOLDINGS_DIVERGE"
    assert f"{block.serial_start}-{block.serial_end}" in d.message


@pytest.mark.parametrize("column,value", [("vintage", 1999), ("unit_class", "VCU")])
def test_editing_a_block_attribute_is_detected(world, column, value):
    block = UnitBlock.objects.filter(account=world.buyer_account).first()
    sql(f"UPDATE units_unitblock SET {column} = %s WHERE id = %s", [value, block.pk])  # noqa: S608
    assert first(verify_ledger()).code == "HOLDINGS_DIVERGE"


def test_moving_a_block_to_another_project_is_detected(world):
    block = UnitBlock.objects.filter(
        project=world.extra["forest"], account=world.developer_account
    ).first()
    sql(
        "UPDATE units_unitblock SET project_id = %s WHERE id = %s",
        [world.extra["solar"].pk, block.pk],
    )
    assert first(verify_ledger()).code == "HOLDINGS_DIVERGE"


def test_growing_a_block_into_its_neighbour_is_refused_by_the_database(world):
    blocks = list(UnitBlock.objects.select_related("account").order_by("serial_start"))
    block, neighbour = next(
        (a, b)
        for a, b in zip(blocks, blocks[1:], strict=False)
        if not a.account.is_terminal
        and not b.account.is_terminal
        and b.serial_start == a.serial_end + 1
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        sql(
            "UPDATE units_unitblock SET serial_end = %s WHERE id = %s",
            [neighbour.serial_start, block.pk],
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        sql(
            "UPDATE units_unitblock SET serial_start = %s WHERE id = %s",
            [block.serial_end, neighbour.pk],
        )
    assert verify_ledger().ok


def test_shrinking_a_block_is_detected(world):
    block = (
        UnitBlock.objects.filter(account=world.developer_account).order_by("serial_start").first()
    )
    assert block.quantity > 1
    sql(
        "UPDATE units_unitblock SET serial_end = %s WHERE id = %s", [block.serial_end - 1, block.pk]
    )
    d = first(verify_ledger())
    assert d.code == "HOLDINGS_DIVERGE"


def test_growing_the_last_block_past_the_issued_serials_is_detected(world):
    block = UnitBlock.objects.order_by("-serial_start").first()
    assert not block.account.is_terminal
    assert block.serial_end == Issuance.objects.order_by("-serial_end").first().serial_end
    sql(
        "UPDATE units_unitblock SET serial_end = %s WHERE id = %s",
        [block.serial_end + 1000, block.pk],
    )
    d = first(verify_ledger())
    assert d.code == "HOLDINGS_DIVERGE"


def test_a_forged_block_is_detected(world):
    template = UnitBlock.objects.filter(account=world.buyer_account).first()
    start = SerialCounter.objects.get(pk=1).next_serial + 10
    sql(
        "INSERT INTO units_unitblock "
        "(issuance_id, project_id, vintage, unit_class, serial_start, serial_end, account_id, acquired_at) "
        "SELECT issuance_id, project_id, vintage, unit_class, %s, %s, account_id, acquired_at "
        "FROM units_unitblock WHERE id = %s",
        [start, start + 999, template.pk],
    )
    d = first(verify_ledger())
    assert d.code == "HOLDINGS_DIVERGE"
    assert f"{start}-{start + 999}" in d.message


def test_a_deleted_block_is_detected(world):
    drop_guards("units_unitblock")
    block = UnitBlock.objects.filter(account__type=Account.Type.RETIREMENT).first()
    assert sql("DELETE FROM units_unitblock WHERE id = %s", [block.pk]) == 1
    d = first(verify_ledger())
    assert d.code == "HOLDINGS_DIVERGE"


def test_un_retiring_units_behind_the_guards_is_detected(world):
    drop_guards("units_unitblock")
    block = UnitBlock.objects.filter(account__type=Account.Type.RETIREMENT).first()
    sql(
        "UPDATE units_unitblock SET account_id = %s WHERE id = %s",
        [world.buyer_account.pk, block.pk],
    )
    d = first(verify_ledger())
    assert d.code == "HOLDINGS_DIVERGE"


def test_an_overlapping_block_behind_the_guards_is_detected(world):
    """With even the overlap guard gone (SQLite: its triggers), a block that
    double-counts serials already held elsewhere is still found."""
    if connection.vendor == "postgresql":
        sql("SET CONSTRAINTS ALL IMMEDIATE")
        sql("ALTER TABLE units_unitblock DROP CONSTRAINT units_unitblock_no_overlap")
    else:
        drop_guards("units_unitblock")
    block = (
        UnitBlock.objects.filter(account=world.developer_account).order_by("serial_start").first()
    )
    sql(
        "INSERT INTO units_unitblock "
        "(issuance_id, project_id, vintage, unit_class, serial_start, serial_end, account_id, acquired_at) "
        "SELECT issuance_id, project_id, vintage, unit_class, %s, %s, %s, acquired_at "
        "FROM units_unitblock WHERE id = %s",
        [block.serial_start + 1, block.serial_start + 1, world.buyer_account.pk, block.pk],
    )
    assert first(verify_ledger()).code == "HOLDINGS_DIVERGE"


# -- the database guards on unit tables --------------------------------------------


def _insert_block(start: int, end: int, account_pk: int, template_pk: int) -> None:
    sql(
        "INSERT INTO units_unitblock "
        "(issuance_id, project_id, vintage, unit_class, serial_start, serial_end, account_id, acquired_at) "
        "SELECT issuance_id, project_id, vintage, unit_class, %s, %s, %s, acquired_at "
        "FROM units_unitblock WHERE id = %s",
        [start, end, account_pk, template_pk],
    )


def test_overlapping_blocks_are_refused_by_the_database(world):
    blocks = list(UnitBlock.objects.order_by("serial_start"))
    template = blocks[0]
    count = len(blocks)
    last_end = blocks[-1].serial_end
    cases = [
        (template.serial_start + 1, template.serial_start + 1),  # inside a block
        (template.serial_end, template.serial_end + 1),  # straddles two blocks
        (2, last_end + 100),  # covers nearly everything
        (last_end, last_end + 5),  # overlaps the last serial only
    ]
    for start, end in cases:
        assert start != template.serial_start
        with pytest.raises(IntegrityError), transaction.atomic():
            _insert_block(start, end, world.buyer_account.pk, template.pk)
    # the same through the ORM
    with pytest.raises(IntegrityError), transaction.atomic():
        UnitBlock.objects.create(
            issuance_id=template.issuance_id,
            project_id=template.project_id,
            vintage=template.vintage,
            unit_class=template.unit_class,
            serial_start=template.serial_end,
            serial_end=template.serial_end,
            account=world.buyer_account,
            acquired_at=template.acquired_at,
        )
    assert UnitBlock.objects.count() == count
    # a block right after every issued serial does not overlap: the guard is precise
    with transaction.atomic():
        _insert_block(last_end + 1, last_end + 1, world.buyer_account.pk, template.pk)
        transaction.set_rollback(True)
    assert verify_ledger().ok


def test_overlapping_issuances_are_refused_by_the_database(world):
    issuance = Issuance.objects.order_by("serial_start").first()
    with pytest.raises(IntegrityError), transaction.atomic():
        sql(
            "INSERT INTO units_issuance (uid, project_id, report_id, number, vintage, unit_class, quantity, "
            "buffer_quantity, serial_start, serial_end, approved_by_id, issued_at) "
            "SELECT %s, project_id, report_id, 99, 1999, unit_class, 10, 0, %s, %s, approved_by_id, issued_at "
            "FROM units_issuance WHERE id = %s",
            ["0" * 32, issuance.serial_end - 4, issuance.serial_end + 5, issuance.pk],
        )


def test_blocks_in_terminal_accounts_cannot_be_updated(world):
    for account_type in (Account.Type.RETIREMENT, Account.Type.CANCELLATION):
        block = UnitBlock.objects.filter(account__type=account_type).first()
        assert block is not None
        for statement, params in [
            (
                "UPDATE units_unitblock SET account_id = %s WHERE id = %s",
                [world.buyer_account.pk, block.pk],
            ),
            (
                "UPDATE units_unitblock SET serial_end = %s WHERE id = %s",
                [block.serial_end - 1, block.pk],
            ),
            ("UPDATE units_unitblock SET acquired_at = acquired_at WHERE id = %s", [block.pk]),
        ]:
            with pytest.raises(DatabaseError), transaction.atomic():
                sql(statement, params)
        with pytest.raises(DatabaseError), transaction.atomic():
            UnitBlock.objects.filter(pk=block.pk).update(account=world.developer_account)
    assert verify_ledger().ok


def test_blocks_cannot_be_deleted(world):
    count = UnitBlock.objects.count()
    for block in (
        UnitBlock.objects.filter(account=world.developer_account).first(),
        UnitBlock.objects.filter(account__type=Account.Type.RETIREMENT).first(),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            sql("DELETE FROM units_unitblock WHERE id = %s", [block.pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        UnitBlock.objects.all().delete()
    assert UnitBlock.objects.count() == count


def test_the_serial_counter_never_goes_back(world):
    current = SerialCounter.objects.get(pk=1).next_serial
    with pytest.raises(DatabaseError), transaction.atomic():
        sql("UPDATE units_serialcounter SET next_serial = %s WHERE id = 1", [current - 1])
    with pytest.raises(DatabaseError), transaction.atomic():
        sql("UPDATE units_serialcounter SET next_serial = 1 WHERE id = 1")
    with pytest.raises(DatabaseError), transaction.atomic():
        sql("DELETE FROM units_serialcounter")
    assert SerialCounter.objects.get(pk=1).next_serial == current
    # moving it forward (skipping serials) is harmless and allowed
    sql("UPDATE units_serialcounter SET next_serial = %s WHERE id = 1", [current + 10])
    assert SerialCounter.objects.get(pk=1).next_serial == current + 10


def test_a_rewound_counter_would_reissue_serials_but_the_blocks_guard_holds(world):
    """Even past the counter's guard, re-used serials cannot become blocks."""
    drop_guards("units_serialcounter")
    sql("UPDATE units_serialcounter SET next_serial = 1 WHERE id = 1")
    with pytest.raises(IntegrityError), transaction.atomic():
        testing.issue(world, world.extra["forest"], {2015: 10})
    assert verify_ledger().ok


# -- the CLI -----------------------------------------------------------------------


def run_verify(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command("ledger", "verify", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def test_cli_verify_clean_ledger(world):
    code, out, err = run_verify()
    assert code == 0
    assert out.startswith("OK:")
    assert f"{size()} entries" in out
    assert "1 signed checkpoints" in out
    assert err == ""


def test_cli_verify_tampered_ledger(world):
    seq = seq_of(world, "sale")
    drop_guards("ledger_ledgerentry")
    doc = entry_doc(seq)
    doc["data"]["quantity"] = 29
    write_body(seq, doc)
    code, out, err = run_verify()
    assert code == 1
    assert "LEDGER_ENTRY_ALTERED" in err
    assert f"at entry {seq}" in err
    assert not out.startswith("OK")


def test_cli_verify_json_names_the_divergence(world):
    block = UnitBlock.objects.filter(account=world.developer_account).first()
    sql(
        "UPDATE units_unitblock SET account_id = %s WHERE id = %s",
        [world.buyer_account.pk, block.pk],
    )
    code, out, _ = run_verify("--json")
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    assert report["divergence"]["code"] == "HOLDINGS_DIVERGE"


def test_cli_verify_with_a_wrong_key_fails(world):
    from tonne.ledger.checkpoint import verifier_key

    other = verifier_key(settings.TONNE_LEDGER_KEY_NAME, generate_private_key().public_key())
    code, _, err = run_verify("--key", other)
    assert code == 1
    assert "CHECKPOINT_SIGNATURE_INVALID" in err


# -- the guards are back after every test (DDL rolled back with the test) ---------


def test_guards_survive_the_tests_that_dropped_them(world):
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            names = {row[0] for row in cursor.fetchall()}
        assert {
            "ledger_ledgerentry_no_update",
            "ledger_ledgerentry_no_delete",
            "ledger_checkpoint_no_update",
            "ledger_checkpoint_no_delete",
            "units_unitblock_no_delete",
            "units_unitblock_final_update",
            "units_unitblock_no_overlap_insert",
            "units_unitblock_no_overlap_update",
            "units_serialcounter_next_serial_monotonic",
        } <= names
    else:
        disabled = scalar(
            "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND t.tgenabled = 'D' AND c.relname = ANY(%s)",
            [list(GUARDED)],
        )
        assert disabled == 0
        assert (
            scalar(
                "SELECT count(*) FROM pg_constraint WHERE conname = 'units_unitblock_no_overlap'"
            )
            == 1
        )
    with pytest.raises(DatabaseError), transaction.atomic():
        sql("DELETE FROM ledger_ledgerentry")
    with pytest.raises(DatabaseError), transaction.atomic():
        sql("DELETE FROM units_unitblock")
