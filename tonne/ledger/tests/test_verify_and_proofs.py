"""Public proofs (DESIGN §4): an inclusion proof for a retirement's ledger
entry and a consistency proof between two checkpoints, bundled with a signed
C2SP checkpoint so anyone can check them offline with only the verifier key.

The Merkle arithmetic is cross-checked against an independent transcription
of RFC 9162 (§2.1.1 tree hash, §2.1.3.2 inclusion verification) written here,
not against tonne.ledger.merkle itself."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import io
import json
import signal

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from tonne import testing
from tonne.core import clock
from tonne.core.errors import NotFound, ValidationFailed
from tonne.ledger import keys
from tonne.ledger.checkpoint import (
    CHECKPOINT_BAD_SIGNATURE,
    CHECKPOINT_MALFORMED,
    CHECKPOINT_UNKNOWN_KEY,
    CheckpointError,
    generate_private_key,
    parse_signed_note,
    sign_checkpoint,
    verifier_key,
    verify_checkpoint,
)
from tonne.ledger.checkpoint import Checkpoint as CheckpointNote
from tonne.ledger.commitments import ACCOUNT
from tonne.ledger.models import Checkpoint, LedgerEntry, LedgerHead
from tonne.ledger.openings import ledger_name
from tonne.ledger.proofs import ProofInvalid, consistency_bundle, inclusion_bundle, verify_bundle
from tonne.ledger.services import checkpoint_due, make_checkpoint
from tonne.ledger.verify import verify_ledger
from tonne.units import services as units
from tonne.units.domain import Selection

pytestmark = pytest.mark.django_db

CHECKPOINT_CODES = {CHECKPOINT_BAD_SIGNATURE, CHECKPOINT_MALFORMED, CHECKPOINT_UNKNOWN_KEY}


# -- RFC 9162, independently ----------------------------------------------------------


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def rfc_root(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) of §2.1.1 over leaf hashes."""
    if not leaves:
        return _h(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return _h(b"\x01" + rfc_root(leaves[:k]) + rfc_root(leaves[k:]))


def rfc_verify_inclusion(
    index: int, size: int, leaf: bytes, path: list[bytes], root: bytes
) -> bool:
    """§2.1.3.2, step by step."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _h(b"\x01" + p + r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _h(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def entry_leaves(size: int | None = None) -> list[bytes]:
    qs = LedgerEntry.objects.order_by("seq")
    if size is not None:
        qs = qs.filter(seq__lt=size)
    return [_h(b"\x00" + e.body.encode("utf-8")) for e in qs]


# -- a registry with a retirement -----------------------------------------------------


@pytest.fixture
def retired(registry):
    reg = registry
    project = testing.registered_project(reg, buffer_basis_points=1000)
    testing.issue(reg, project, {2022: 200})
    units.transfer(
        actor=reg.developer,
        from_account=reg.developer_account.identifier,
        to_account=reg.buyer_account.identifier,
        selection=Selection.build(quantity=80),
        idempotency_key="sale",
    )
    retirement = units.retire(
        actor=reg.buyer,
        from_account=reg.buyer_account.identifier,
        selection=Selection.build(quantity=25),
        beneficiary="Abidjan Port Authority",
        purpose="voluntary",
        jurisdiction="CI",
        idempotency_key="retire",
    )
    reg.extra["retirement"] = retirement
    reg.extra["project"] = project
    reg.extra["checkpoint"] = make_checkpoint()
    return reg


def more_entries(reg, n: int = 3, key: str = "more") -> None:
    for i in range(n):
        units.transfer(
            actor=reg.developer,
            from_account=reg.developer_account.identifier,
            to_account=reg.other_developer_account.identifier,
            selection=Selection.build(quantity=1),
            idempotency_key=f"{key}-{i}",
        )


def roundtrip(bundle: dict) -> dict:
    """What an offline verifier gets: the bundle written to a file and read back."""
    return json.loads(json.dumps(bundle))


# -- checkpoints -----------------------------------------------------------------------


def test_checkpoint_note_format(retired):
    checkpoint = retired.extra["checkpoint"]
    note, signatures = parse_signed_note(checkpoint.note)
    assert note.origin == settings.TONNE_LEDGER_ORIGIN
    assert note.size == checkpoint.size == LedgerHead.objects.get(pk=1).size
    assert note.root.hex() == checkpoint.root_hash
    assert [s.name for s in signatures] == [settings.TONNE_LEDGER_KEY_NAME]
    assert checkpoint.key_name == settings.TONNE_LEDGER_KEY_NAME
    # C2SP tlog-checkpoint: origin, size, base64 root, blank line, signature lines
    lines = checkpoint.note.split("\n")
    assert lines[0] == settings.TONNE_LEDGER_ORIGIN
    assert lines[1] == str(checkpoint.size)
    assert lines[3] == ""
    assert lines[4].startswith(f"\u2014 {settings.TONNE_LEDGER_KEY_NAME} ")
    assert checkpoint.note.endswith("\n")
    verified = verify_checkpoint(
        checkpoint.note, keys.verifier_key_text(), expected_origin=settings.TONNE_LEDGER_ORIGIN
    )
    assert verified == note


def test_checkpoint_root_matches_an_independent_rfc9162_tree_hash(retired):
    checkpoint = retired.extra["checkpoint"]
    leaves = entry_leaves(checkpoint.size)
    assert len(leaves) == checkpoint.size
    assert rfc_root(leaves).hex() == checkpoint.root_hash
    # the stored leaf hashes and prev links agree with the bodies
    prev = "0" * 64
    for entry, expected in zip(LedgerEntry.objects.order_by("seq"), leaves, strict=False):
        assert entry.leaf_hash == expected.hex()
        assert entry.prev_hash == prev
        assert json.loads(entry.body)["prev"] == prev
        prev = entry.leaf_hash


def test_make_checkpoint_only_when_something_changed(retired):
    latest = retired.extra["checkpoint"]
    assert make_checkpoint() is None
    assert make_checkpoint(force=True).pk == latest.pk
    more_entries(retired, 1)
    newer = make_checkpoint()
    assert newer.size == latest.size + 1
    assert rfc_root(entry_leaves()).hex() == newer.root_hash
    assert Checkpoint.objects.count() == 2
    result = verify_ledger()
    assert result.ok and result.checkpoints == 2


def test_successive_checkpoints_all_match_independent_roots(retired):
    for n in (1, 2, 3, 5):
        more_entries(retired, n, key=f"batch{n}")
        make_checkpoint()
    for checkpoint in Checkpoint.objects.order_by("size"):
        assert rfc_root(entry_leaves(checkpoint.size)).hex() == checkpoint.root_hash
        assert parse_signed_note(checkpoint.note)[0].size == checkpoint.size
    result = verify_ledger()
    assert result.ok and result.checkpoints == 5


# -- inclusion proofs ------------------------------------------------------------------------


def test_inclusion_proof_of_a_retirement_verifies_offline(retired):
    retirement = retired.extra["retirement"]
    assert retirement.ledger_seq is not None
    bundle = roundtrip(inclusion_bundle(retirement.ledger_seq))
    proved = verify_bundle(bundle, keys.verifier_key_text())
    assert proved["proved"] == "inclusion"
    assert proved["seq"] == retirement.ledger_seq
    assert proved["tree_size"] == retired.extra["checkpoint"].size
    assert proved["origin"] == settings.TONNE_LEDGER_ORIGIN
    entry = proved["entry"]
    assert entry["kind"] == "units.retirement"
    assert entry["transaction"] == retirement.identifier
    assert entry["data"]["beneficiary"] == "Abidjan Port Authority"
    assert entry["data"]["quantity"] == 25
    assert entry["data"]["to"] == ledger_name(ACCOUNT, retirement.to_account.identifier)
    # and the path checks out against the RFC 9162 algorithm written above
    note = verify_checkpoint(bundle["checkpoint"], keys.verifier_key_text())
    assert rfc_verify_inclusion(
        bundle["seq"],
        bundle["tree_size"],
        bytes.fromhex(bundle["leaf_hash"]),
        [bytes.fromhex(p) for p in bundle["proof"]],
        note.root,
    )


def test_every_entry_has_a_valid_inclusion_proof(retired):
    more_entries(retired, 4)
    checkpoint = make_checkpoint()
    key = keys.verifier_key_text()
    root = bytes.fromhex(checkpoint.root_hash)
    for seq in range(checkpoint.size):
        bundle = inclusion_bundle(seq)
        assert verify_bundle(bundle, key)["seq"] == seq
        assert rfc_verify_inclusion(
            seq,
            checkpoint.size,
            bytes.fromhex(bundle["leaf_hash"]),
            [bytes.fromhex(p) for p in bundle["proof"]],
            root,
        )


def test_inclusion_proof_against_an_older_checkpoint(retired):
    old = retired.extra["checkpoint"]
    more_entries(retired, 3)
    new = make_checkpoint()
    seq = retired.extra["retirement"].ledger_seq
    at_old = verify_bundle(inclusion_bundle(seq, old.size), keys.verifier_key_text())
    at_new = verify_bundle(inclusion_bundle(seq), keys.verifier_key_text())
    assert (at_old["tree_size"], at_new["tree_size"]) == (old.size, new.size)
    with pytest.raises(NotFound) as info:
        inclusion_bundle(seq, old.size + 1)
    assert info.value.code == "CHECKPOINT_NOT_FOUND"


def test_inclusion_proof_with_another_key_fails(retired):
    bundle = inclusion_bundle(retired.extra["retirement"].ledger_seq)
    strangers = [
        verifier_key("someone-else", generate_private_key().public_key()),
        verifier_key(
            settings.TONNE_LEDGER_KEY_NAME, generate_private_key().public_key()
        ),  # same name, other key
    ]
    for key in strangers:
        with pytest.raises(ProofInvalid) as info:
            verify_bundle(bundle, key)
        assert info.value.code in CHECKPOINT_CODES
        assert info.value.code == CHECKPOINT_UNKNOWN_KEY
    with pytest.raises(ProofInvalid) as info:
        verify_bundle(bundle, "not a key")
    assert info.value.code  # a malformed key is named, never accepted


def _mutations(bundle: dict, other_note: str) -> list[tuple[str, dict, set[str]]]:
    seq = bundle["seq"]
    entry = json.loads(bundle["entry"])

    def with_(**changes) -> dict:
        b = copy.deepcopy(bundle)
        b.update(changes)
        return b

    forged_entry = dict(entry, data=dict(entry["data"], beneficiary="Someone Else"))
    forged_text = json.dumps(
        forged_entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    forged_leaf = _h(b"\x00" + forged_text.encode()).hex()
    flipped = bytes.fromhex(bundle["proof"][0])
    flipped = (bytes([flipped[0] ^ 1]) + flipped[1:]).hex()
    renumbered_text = json.dumps(
        dict(entry, seq=seq + 1), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    garbage = "this is not json"
    return [
        (
            "entry edited",
            with_(entry=bundle["entry"].replace("Abidjan", "Abidjam")),
            {"ENTRY_HASH_MISMATCH"},
        ),
        (
            "entry replaced, leaf hash recomputed",
            with_(entry=forged_text, leaf_hash=forged_leaf),
            {"INCLUSION_PROOF_INVALID"},
        ),
        ("leaf hash edited", with_(leaf_hash="00" * 32), {"ENTRY_HASH_MISMATCH"}),
        ("index moved", with_(seq=seq + 1), {"ENTRY_INDEX_MISMATCH"}),
        (
            "entry renumbered and rehashed",
            with_(
                seq=seq + 1,
                entry=renumbered_text,
                leaf_hash=_h(b"\x00" + renumbered_text.encode()).hex(),
            ),
            {"INCLUSION_PROOF_INVALID"},
        ),
        (
            "proof hash flipped",
            with_(proof=[flipped, *bundle["proof"][1:]]),
            {"INCLUSION_PROOF_INVALID"},
        ),
        ("proof shortened", with_(proof=bundle["proof"][:-1]), {"INCLUSION_PROOF_INVALID"}),
        (
            "proof lengthened",
            with_(proof=[*bundle["proof"], "00" * 32]),
            {"INCLUSION_PROOF_INVALID"},
        ),
        ("proof not hex", with_(proof=["zz"]), {"PROOF_MALFORMED"}),
        ("tree size edited", with_(tree_size=bundle["tree_size"] + 1), {"TREE_SIZE_MISMATCH"}),
        (
            "checkpoint of another size",
            with_(checkpoint=other_note),
            {"TREE_SIZE_MISMATCH", "INCLUSION_PROOF_INVALID"},
        ),
        (
            "checkpoint size edited",
            with_(
                checkpoint=bundle["checkpoint"].replace(
                    f"\n{bundle['tree_size']}\n", f"\n{bundle['tree_size'] + 1}\n", 1
                )
            ),
            {CHECKPOINT_BAD_SIGNATURE},
        ),
        (
            "checkpoint missing",
            {k: v for k, v in bundle.items() if k != "checkpoint"},
            {"PROOF_MALFORMED"},
        ),
        ("unknown format", with_(format="tonne-inclusion-proof/99"), {"PROOF_MALFORMED"}),
        ("entry not text", with_(entry=12), {"PROOF_MALFORMED"}),
        (
            "entry not JSON",
            with_(entry=garbage, leaf_hash=_h(b"\x00" + garbage.encode()).hex()),
            {"PROOF_MALFORMED"},
        ),
    ]


def test_tampered_inclusion_bundles_are_refused(retired):
    seq = retired.extra["retirement"].ledger_seq
    more_entries(retired, 2)
    other = make_checkpoint()
    bundle = roundtrip(inclusion_bundle(seq, retired.extra["checkpoint"].size))
    key = keys.verifier_key_text()
    verify_bundle(bundle, key)
    failures = []
    for name, mutated, codes in _mutations(bundle, other.note):
        try:
            verify_bundle(mutated, key)
        except ProofInvalid as exc:
            if exc.code not in codes:
                failures.append(f"{name}: {exc.code} not in {codes}")
        except Exception as exc:  # noqa: BLE001 - a crash is a failure too
            failures.append(f"{name}: crashed with {type(exc).__name__}: {exc}")
        else:
            failures.append(f"{name}: accepted")
    assert not failures, failures


def test_inclusion_proof_of_an_entry_newer_than_the_last_checkpoint(retired):
    more_entries(retired, 1)
    newest = LedgerHead.objects.get(pk=1).size - 1
    with pytest.raises(ValidationFailed) as info:
        inclusion_bundle(newest)
    assert info.value.code == "LEDGER_ENTRY_NOT_YET_CHECKPOINTED"
    assert info.value.status == 409
    make_checkpoint()
    assert verify_bundle(inclusion_bundle(newest), keys.verifier_key_text())["seq"] == newest


def test_inclusion_proof_needs_a_checkpoint_and_an_entry(registry):
    with pytest.raises(NotFound) as info:
        inclusion_bundle(0)
    assert info.value.code == "CHECKPOINT_NOT_FOUND"
    make_checkpoint()
    with pytest.raises(NotFound) as missing:
        inclusion_bundle(10**6)
    assert missing.value.code == "LEDGER_ENTRY_NOT_FOUND"


# -- consistency proofs -------------------------------------------------------------


def test_consistency_proofs_between_every_pair_of_checkpoints(retired):
    for n in (1, 3, 4):
        more_entries(retired, n, key=f"c{n}")
        make_checkpoint()
    sizes = list(Checkpoint.objects.order_by("size").values_list("size", flat=True))
    assert len(sizes) == 4
    key = keys.verifier_key_text()
    for i, old in enumerate(sizes):
        for new in sizes[i:]:
            proved = verify_bundle(roundtrip(consistency_bundle(old, new)), key)
            assert (proved["proved"], proved["old_size"], proved["new_size"]) == (
                "consistency",
                old,
                new,
            )
            assert proved["origin"] == settings.TONNE_LEDGER_ORIGIN
    # default: up to the latest checkpoint
    assert verify_bundle(consistency_bundle(sizes[0]), key)["new_size"] == sizes[-1]
    with pytest.raises(ValidationFailed) as info:
        consistency_bundle(sizes[-1], sizes[0])
    assert info.value.code == "CONSISTENCY_SIZES_INVALID"


def test_consistency_proof_exposes_a_forked_history(retired):
    """The operator signs, with the real key, a checkpoint of a different
    history at the old size: no proof links it to the real newer checkpoint."""
    old = retired.extra["checkpoint"]
    more_entries(retired, 5)
    make_checkpoint()
    bundle = consistency_bundle(old.size)
    key = keys.verifier_key_text()
    verify_bundle(bundle, key)
    fork = sign_checkpoint(
        CheckpointNote(
            origin=settings.TONNE_LEDGER_ORIGIN, size=old.size, root=_h(b"another history")
        ),
        settings.TONNE_LEDGER_KEY_NAME,
        keys.private_key(),
    )
    with pytest.raises(ProofInvalid) as info:
        verify_bundle(dict(bundle, old_checkpoint=fork), key)
    assert info.value.code == "CONSISTENCY_PROOF_INVALID"

    elsewhere = sign_checkpoint(
        CheckpointNote(
            origin="another.registry/xx", size=old.size, root=bytes.fromhex(old.root_hash)
        ),
        settings.TONNE_LEDGER_KEY_NAME,
        keys.private_key(),
    )
    with pytest.raises(ProofInvalid) as info:
        verify_bundle(dict(bundle, old_checkpoint=elsewhere), key)
    assert info.value.code == "ORIGIN_MISMATCH"

    flipped = bytes.fromhex(bundle["proof"][0])
    with pytest.raises(ProofInvalid) as info:
        verify_bundle(
            dict(bundle, proof=[bytes([flipped[0] ^ 1, *flipped[1:]]).hex(), *bundle["proof"][1:]]),
            key,
        )
    assert info.value.code == "CONSISTENCY_PROOF_INVALID"

    with pytest.raises(ProofInvalid) as info:
        verify_bundle(bundle, verifier_key("x", generate_private_key().public_key()))
    assert info.value.code == CHECKPOINT_UNKNOWN_KEY


# -- the CLI -------------------------------------------------------------------------------


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command(*args, stdout=out, stderr=err)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def test_cli_inclusion_proof_roundtrip(retired, tmp_path):
    seq = retired.extra["retirement"].ledger_seq
    path = tmp_path / "proof.json"
    code, out, _ = run("ledger", "proof", "inclusion", str(seq), "-o", str(path))
    assert code == 0 and str(path) in out
    key = keys.verifier_key_text()
    code, out, err = run("ledger", "proof", "verify", str(path), "--key", key)
    assert code == 0, err
    assert out.startswith("VALID")
    assert retired.extra["retirement"].identifier in out
    assert settings.TONNE_LEDGER_ORIGIN in out

    key_file = tmp_path / "key.txt"
    key_file.write_text(key + "\n")
    assert run("ledger", "proof", "verify", str(path), "--key-file", str(key_file))[0] == 0

    # without a key: valid, with a warning that it only proves self-consistency
    code, out, err = run("ledger", "proof", "verify", str(path))
    assert code == 0 and out.startswith("VALID") and "warning" in err

    bundle = json.loads(path.read_text())
    bundle["entry"] = bundle["entry"].replace("Abidjan", "Yamoussoukro")
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(bundle))
    code, out, err = run("ledger", "proof", "verify", str(tampered), "--key", key)
    assert code == 1
    assert "INVALID" in err and "ENTRY_HASH_MISMATCH" in err
    assert "VALID" not in out

    stranger = verifier_key(settings.TONNE_LEDGER_KEY_NAME, generate_private_key().public_key())
    code, _, err = run("ledger", "proof", "verify", str(path), "--key", stranger)
    assert code == 1 and "INVALID" in err


def test_cli_consistency_proof_roundtrip(retired, tmp_path):
    old = retired.extra["checkpoint"].size
    more_entries(retired, 2)
    code, out, _ = run("ledger", "checkpoint")
    assert code == 0 and out.startswith(settings.TONNE_LEDGER_ORIGIN)
    new = LedgerHead.objects.get(pk=1).size
    path = tmp_path / "consistency.json"
    assert run("ledger", "proof", "consistency", str(old), str(new), "-o", str(path))[0] == 0
    code, out, err = run("ledger", "proof", "verify", str(path), "--key", keys.verifier_key_text())
    assert code == 0, err
    assert out.startswith("VALID") and f"{new}" in out and f"{old}" in out


def test_cli_inclusion_proof_of_an_unsigned_entry_is_refused(retired):
    more_entries(retired, 1)
    newest = LedgerHead.objects.get(pk=1).size - 1
    with pytest.raises(CommandError) as info:
        call_command("ledger", "proof", "inclusion", str(newest), stdout=io.StringIO())
    assert "LEDGER_ENTRY_NOT_YET_CHECKPOINTED" in str(info.value)


def test_cli_key_prints_the_verifier_key(retired):
    code, out, _ = run("ledger", "key")
    assert code == 0 and out.strip() == keys.verifier_key_text()


# -- the worker ------------------------------------------------------------------------


@pytest.fixture
def keep_signal_handlers(monkeypatch):
    """`tonne worker` installs SIGINT/SIGTERM handlers; give pytest its own back."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_worker_once_signs_a_checkpoint_when_entries_are_pending(registry, keep_signal_handlers):
    assert Checkpoint.objects.count() == 0
    assert checkpoint_due()
    code, out, _ = run("worker", "--once")
    assert code == 0
    checkpoint = Checkpoint.objects.get()
    assert checkpoint.size == LedgerHead.objects.get(pk=1).size
    assert f"signed checkpoint {checkpoint.size}" in out
    assert not checkpoint_due()
    # nothing pending: nothing signed
    run("worker", "--once")
    assert Checkpoint.objects.count() == 1
    assert verify_ledger().ok


def test_worker_waits_for_enough_entries_or_enough_time(retired, keep_signal_handlers, settings):
    settings.TONNE_CHECKPOINT_EVERY_ENTRIES = 5
    settings.TONNE_CHECKPOINT_EVERY_MINUTES = 10
    start = clock.now()
    clock.freeze(start)
    make_checkpoint()
    more_entries(retired, 2, key="few")
    assert not checkpoint_due()
    run("worker", "--once")
    count = Checkpoint.objects.count()
    # enough entries
    more_entries(retired, 3, key="enough")
    assert checkpoint_due()
    run("worker", "--once")
    assert Checkpoint.objects.count() == count + 1
    # few entries, but the time has come
    more_entries(retired, 1, key="late")
    assert not checkpoint_due()
    clock.freeze(start + dt.timedelta(minutes=11))
    assert checkpoint_due()
    run("worker", "--once")
    assert Checkpoint.objects.count() == count + 2
    assert Checkpoint.objects.order_by("-size").first().size == LedgerHead.objects.get(pk=1).size
    assert verify_ledger().ok


def test_verify_ledger_counts(retired):
    result = verify_ledger()
    assert result.ok
    assert result.entries == LedgerHead.objects.get(pk=1).size
    assert result.checkpoints == 1
    assert result.blocks > 0
    assert result.first is None


def test_checkpoint_error_carries_its_code():
    with pytest.raises(CheckpointError) as info:
        verify_checkpoint("not a note", verifier_key("k", generate_private_key().public_key()))
    assert info.value.code in CHECKPOINT_CODES


def test_worker_thread_of_serve_signs_checkpoints(registry):
    """`tonne serve` runs the same background work in a thread."""
    import threading

    from tonne.ops import worker

    before = Checkpoint.objects.count()
    stop = threading.Event()
    stop.set()  # one round, then stop
    worker.run_once()
    assert Checkpoint.objects.count() == before + 1
    worker.run(stop, 0.01)  # returns at once when asked to stop


@pytest.mark.parametrize(
    ("content", "code"),
    [(None, "PROOF_FILE_UNREADABLE"), ("not json", "PROOF_MALFORMED"), ("[1, 2]", "PROOF_MALFORMED")],
)
def test_proof_verify_cli_refuses_garbage_files_cleanly(tmp_path, content, code):
    from django.core.management import CommandError, call_command

    path = tmp_path / "proof.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(CommandError, match=code):
        call_command("ledger", "proof", "verify", str(path), "--key", keys.verifier_key_text())
