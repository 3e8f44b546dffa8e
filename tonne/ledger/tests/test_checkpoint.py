"""Tests for tonne.ledger.checkpoint (C2SP tlog-checkpoint / signed-note).

Published vectors:

* github.com/golang/mod sumdb/note/note_test.go: the PeterNeumann and
  EnochRoot keys, the exact signed note produced by TestSign, the signature
  lines of TestOpen, its malformed notes and the verifier-key manglings of
  TestNewVerifier. Ed25519 is deterministic, so signing the same text with
  the same seed must reproduce the published note byte for byte.
* github.com/C2SP/C2SP tlog-checkpoint.md: the example checkpoint note.
"""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from tonne.ledger.checkpoint import (
    CHECKPOINT_BAD_SIGNATURE,
    CHECKPOINT_MALFORMED,
    CHECKPOINT_UNKNOWN_KEY,
    CHECKPOINT_WRONG_ORIGIN,
    KEY_MALFORMED,
    KEY_PERMISSIONS,
    MAX_SIGNATURES,
    Checkpoint,
    CheckpointError,
    NoteSignature,
    add_signature,
    generate_private_key,
    key_id,
    load_private_key,
    parse_checkpoint_body,
    parse_note,
    parse_signed_note,
    parse_verifier_key,
    private_key_from_env,
    save_private_key,
    sign_checkpoint,
    sign_note,
    verifier_key,
    verify_checkpoint,
    verify_note,
)
from tonne.ledger.merkle import EMPTY_ROOT, leaf_hash

# --- golang.org/x/mod/sumdb/note note_test.go -------------------------------

PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXg"
    "KvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGw"
    "nWLox33WWd1RvMc+QQ=\n"
)

# --- C2SP tlog-checkpoint.md ------------------------------------------------

C2SP_EXAMPLE = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5"
    "/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)


def peter_private_key() -> Ed25519PrivateKey:
    # The Go signer key is name+hash+base64(0x01 || 32-byte Ed25519 seed).
    raw = base64.b64decode(PETER_SKEY.split("+", 4)[4])
    assert raw[0] == 1
    return Ed25519PrivateKey.from_private_bytes(raw[1:])


def key_from_seed(byte: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([byte]) * 32)


LOG_NAME = "registry.example/tonne"
LOG_KEY = key_from_seed(1)
LOG_VKEY = verifier_key(LOG_NAME, LOG_KEY.public_key())
WITNESS_NAME = "witness.example/w1"
WITNESS_KEY = key_from_seed(2)
WITNESS_VKEY = verifier_key(WITNESS_NAME, WITNESS_KEY.public_key())

ROOT = leaf_hash(b"tonne")
CHECKPOINT = Checkpoint(LOG_NAME, 1234, ROOT)


def code_of(excinfo: pytest.ExceptionInfo[CheckpointError]) -> str:
    return excinfo.value.code


# --- signed-note vectors ----------------------------------------------------


def test_go_verifier_key_from_private_seed() -> None:
    assert verifier_key("PeterNeumann", peter_private_key().public_key()) == PETER_VKEY


@pytest.mark.parametrize(
    ("vkey", "name", "kid"),
    [(PETER_VKEY, "PeterNeumann", "c74f20a3"), (ENOCH_VKEY, "EnochRoot", "af0cfe78")],
)
def test_go_verifier_keys_parse(vkey: str, name: str, kid: str) -> None:
    parsed_name, parsed_kid, public_key = parse_verifier_key(vkey)
    assert parsed_name == name
    assert parsed_kid == bytes.fromhex(kid)
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert key_id(name, raw) == bytes.fromhex(kid)
    assert verifier_key(name, public_key) == vkey


def test_go_sign_vector_is_reproduced_exactly() -> None:
    assert sign_note(GO_TEXT, "PeterNeumann", peter_private_key()) == GO_TEXT + "\n" + PETER_SIG


def test_go_open_vectors() -> None:
    note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert verify_note(note, PETER_VKEY) == GO_TEXT
    assert verify_note(note, ENOCH_VKEY) == GO_TEXT
    body, sigs = parse_note(note)
    assert body == GO_TEXT
    assert [(s.name, s.key_id.hex()) for s in sigs] == [
        ("PeterNeumann", "c74f20a3"),
        ("EnochRoot", "af0cfe78"),
    ]
    assert all(len(s.signature) == 64 for s in sigs)
    assert [s.line() for s in sigs] == [PETER_SIG, ENOCH_SIG]


def test_go_open_ignores_unknown_and_duplicate_signatures() -> None:
    enoch_abcd = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    note = GO_TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enoch_abcd
    assert verify_note(note, PETER_VKEY) == GO_TEXT


def test_go_open_invalid_signature() -> None:
    note = GO_TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(CheckpointError) as exc:
        verify_note(note, PETER_VKEY)
    assert code_of(exc) == CHECKPOINT_BAD_SIGNATURE


@pytest.mark.parametrize(
    "sig",
    [
        PETER_SIG.replace("PeterNeumann", "CarmenSandiego"),  # other name, same id
        PETER_SIG.replace("x08g", "xxxx"),  # same name, other key id
    ],
)
def test_go_open_mismatched_key_is_unknown(sig: str) -> None:
    with pytest.raises(CheckpointError) as exc:
        verify_note(GO_TEXT + "\n" + sig, PETER_VKEY)
    assert code_of(exc) == CHECKPOINT_UNKNOWN_KEY


@pytest.mark.parametrize(
    "note",
    [
        GO_TEXT,
        GO_TEXT + "\n",
        GO_TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + GO_TEXT + "\n" + PETER_SIG,
        "\udcff" + GO_TEXT + "\n" + PETER_SIG,  # Python's stand-in for a bad UTF-8 byte
        GO_TEXT
        + "\n"
        + "\u2014 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfq"
        "dngotpRZb6KE6RyyBwJnAM=",
        GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        GO_TEXT + "\n" + PETER_SIG * (MAX_SIGNATURES + 1),
    ],
)
def test_go_malformed_notes(note: str) -> None:
    with pytest.raises(CheckpointError) as exc:
        verify_note(note, PETER_VKEY)
    assert code_of(exc) == CHECKPOINT_MALFORMED


def test_go_verifier_key_manglings_are_refused() -> None:
    # TestNewVerifier: every proper substring and every single-byte increment.
    b = PETER_VKEY
    candidates = {b[i:j] for i in range(len(b) + 1) for j in range(i + 1, len(b) + 1)}
    candidates.discard(b)
    candidates |= {b[:i] + chr(ord(b[i]) + 1) + b[i + 1 :] for i in range(len(b))}
    candidates |= {
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    }
    accepted = []
    for candidate in candidates:
        try:
            parse_verifier_key(candidate)
        except CheckpointError as err:
            assert err.code == KEY_MALFORMED
        else:
            accepted.append(candidate)
    assert accepted == []


def test_c2sp_signed_note_example_splits_at_last_blank_line() -> None:
    # C2SP signed-note.md: the note text may itself contain empty lines.
    text = (
        "Ognuno sta solo sul cuor della terra\n"
        "trafitto da un raggio di sole:\n"
        "\n"
        "ed \u00e8 subito sera.\n"
    )
    sig = (
        "\u2014 quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJK"
        "ONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
    )
    body, sigs = parse_note(text + "\n" + sig)
    assert body == text
    assert [s.name for s in sigs] == ["quasimodo.example/salvatore"]
    assert sigs[0].line() == sig
    # ...but a checkpoint body never has one.
    with pytest.raises(CheckpointError) as exc:
        parse_signed_note(text + "\n" + sig)
    assert code_of(exc) == CHECKPOINT_MALFORMED


# --- checkpoint bodies ------------------------------------------------------


def test_c2sp_example_parses() -> None:
    checkpoint, sigs = parse_signed_note(C2SP_EXAMPLE)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert checkpoint.extensions == ()
    assert checkpoint.body() == C2SP_EXAMPLE.split("\n\n")[0] + "\n"
    assert len(sigs) == 1
    assert sigs[0].name == "example.com/behind-the-sofa"
    assert len(sigs[0].key_id) == 4
    assert len(sigs[0].signature) == 64


def test_body_format() -> None:
    cp = Checkpoint("example.com/log", 0, EMPTY_ROOT, ("ext one", "ext two"))
    assert cp.body() == (
        "example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next one\next two\n"
    )
    assert parse_checkpoint_body(cp.body()) == cp


def test_checkpoint_construction_is_validated() -> None:
    for kwargs in [
        {"origin": "", "size": 1, "root": ROOT},
        {"origin": "a\n1", "size": 1, "root": ROOT},
        {"origin": "a", "size": -1, "root": ROOT},
        {"origin": "a", "size": 2**64, "root": ROOT},
        {"origin": "a", "size": True, "root": ROOT},
        {"origin": "a", "size": 1, "root": ROOT[:31]},
        {"origin": "a", "size": 1, "root": ROOT, "extensions": ("",)},
        {"origin": "a", "size": 1, "root": ROOT, "extensions": ("x\ny",)},
        {"origin": "a\tb", "size": 1, "root": ROOT},
    ]:
        with pytest.raises(CheckpointError) as exc:
            Checkpoint(**kwargs)  # type: ignore[arg-type]
        assert code_of(exc) == CHECKPOINT_MALFORMED, kwargs


def test_extensions_list_is_frozen_to_tuple() -> None:
    cp = Checkpoint("a", 1, ROOT, ["x"])  # type: ignore[arg-type]
    assert cp.extensions == ("x",)
    hash(cp)


ROOT_B64 = base64.b64encode(ROOT).decode()
URLSAFE_ROOT_B64 = base64.urlsafe_b64encode(b"\xfb" * 32).decode()  # has '-' and '_'


@pytest.mark.parametrize(
    "body",
    [
        f"o\n1\n{ROOT_B64}",  # no final newline
        "o\n1\n",  # no root line
        f"\n1\n{ROOT_B64}\n",  # empty origin
        f"o\n01\n{ROOT_B64}\n",  # leading zero
        f"o\n00\n{ROOT_B64}\n",
        f"o\n+1\n{ROOT_B64}\n",
        f"o\n-1\n{ROOT_B64}\n",
        f"o\n 1\n{ROOT_B64}\n",
        f"o\n1 \n{ROOT_B64}\n",
        f"o\n1_000\n{ROOT_B64}\n",
        f"o\n0x10\n{ROOT_B64}\n",
        f"o\n\u0661\n{ROOT_B64}\n",  # ARABIC-INDIC DIGIT ONE
        f"o\n{2**64}\n{ROOT_B64}\n",
        f"o\n{'9' * 30}\n{ROOT_B64}\n",
        "o\n1\nnot base64!\n",
        f"o\n1\n{ROOT_B64.rstrip('=')}\n",  # missing padding
        f"o\n1\n{ROOT_B64[:-2]}J=\n",  # non-canonical trailing bits
        f"o\n1\n{base64.b64encode(ROOT[:31]).decode()}\n",
        f"o\n1\n{base64.b64encode(ROOT + b'x').decode()}\n",
        f"o\n1\n{URLSAFE_ROOT_B64}\n",
        f"o\n1\n{ROOT_B64}\n\next\n",  # empty extension line
    ],
)
def test_malformed_bodies(body: str) -> None:
    with pytest.raises(CheckpointError) as exc:
        parse_checkpoint_body(body)
    assert code_of(exc) == CHECKPOINT_MALFORMED


def test_largest_size_parses() -> None:
    cp = parse_checkpoint_body(f"o\n{2**64 - 1}\n{ROOT_B64}\n")
    assert cp.size == 2**64 - 1


_line_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40
)


@settings(max_examples=60, deadline=None)
@given(
    origin=_line_text,
    size=st.integers(0, 2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(_line_text, max_size=3).map(tuple),
)
def test_body_round_trip(origin: str, size: int, root: bytes, extensions: tuple[str, ...]) -> None:
    cp = Checkpoint(origin, size, root, extensions)
    assert parse_checkpoint_body(cp.body()) == cp
    note = sign_checkpoint(cp, LOG_NAME, LOG_KEY)
    assert verify_checkpoint(note, LOG_VKEY) == cp


# --- sign / verify ----------------------------------------------------------


def test_sign_verify_round_trip() -> None:
    note = sign_checkpoint(CHECKPOINT, LOG_NAME, LOG_KEY)
    body, sig_block = note.split("\n\n")
    assert body + "\n" == CHECKPOINT.body()
    assert sig_block.startswith(f"\u2014 {LOG_NAME} ")
    assert sig_block.endswith("\n") and sig_block.count("\n") == 1
    assert verify_checkpoint(note, LOG_VKEY) == CHECKPOINT
    assert verify_checkpoint(note, LOG_VKEY, expected_origin=LOG_NAME) == CHECKPOINT
    checkpoint, sigs = parse_signed_note(note)
    assert checkpoint == CHECKPOINT
    raw_public = LOG_KEY.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert sigs == [NoteSignature(LOG_NAME, key_id(LOG_NAME, raw_public), sigs[0].signature)]


def test_wrong_origin() -> None:
    note = sign_checkpoint(CHECKPOINT, LOG_NAME, LOG_KEY)
    with pytest.raises(CheckpointError) as exc:
        verify_checkpoint(note, LOG_VKEY, expected_origin="other.example/log")
    assert code_of(exc) == CHECKPOINT_WRONG_ORIGIN


def _tamper_cases() -> list[tuple[str, str, str]]:
    note = sign_checkpoint(Checkpoint(LOG_NAME, 1234, ROOT, ("ext",)), LOG_NAME, LOG_KEY)
    other_root = base64.b64encode(leaf_hash(b"other")).decode()
    sig_b64 = note.rsplit(" ", 1)[1].rstrip("\n")
    raw = bytearray(base64.b64decode(sig_b64))
    raw[10] ^= 1
    bad_sig = base64.b64encode(bytes(raw)).decode()
    return [
        ("size", note.replace("\n1234\n", "\n1235\n"), CHECKPOINT_BAD_SIGNATURE),
        ("root", note.replace(ROOT_B64, other_root), CHECKPOINT_BAD_SIGNATURE),
        ("origin", "x" + note, CHECKPOINT_BAD_SIGNATURE),
        ("extension", note.replace("\next\n", "\nexu\n"), CHECKPOINT_BAD_SIGNATURE),
        ("extension added", note.replace("\next\n", "\next\nmore\n"), CHECKPOINT_BAD_SIGNATURE),
        ("extension removed", note.replace("\next\n", "\n"), CHECKPOINT_BAD_SIGNATURE),
        ("signature", note.replace(sig_b64, bad_sig), CHECKPOINT_BAD_SIGNATURE),
        (
            "key name",
            note.replace(f"\u2014 {LOG_NAME} ", "\u2014 evil.example "),
            CHECKPOINT_UNKNOWN_KEY,
        ),
        ("leading zero", note.replace("\n1234\n", "\n01234\n"), CHECKPOINT_MALFORMED),
        ("ascii dash", note.replace("\u2014 ", "- "), CHECKPOINT_MALFORMED),
        ("crlf", note.replace("\n", "\r\n"), CHECKPOINT_MALFORMED),
        ("no blank line", note.replace("\n\n", "\n"), CHECKPOINT_MALFORMED),
        ("trailing text", note + "trailing\n", CHECKPOINT_MALFORMED),
    ]


@pytest.mark.parametrize(("what", "note", "code"), _tamper_cases(), ids=lambda v: str(v)[:20])
def test_tampering_is_detected(what: str, note: str, code: str) -> None:
    with pytest.raises(CheckpointError) as exc:
        verify_checkpoint(note, LOG_VKEY)
    assert code_of(exc) == code, what


def test_cosignature_keeps_first_verifiable() -> None:
    note = sign_checkpoint(CHECKPOINT, LOG_NAME, LOG_KEY)
    cosigned = add_signature(note, WITNESS_NAME, WITNESS_KEY)
    assert cosigned.startswith(note)  # existing lines kept, in order
    assert verify_checkpoint(cosigned, LOG_VKEY) == CHECKPOINT
    assert verify_checkpoint(cosigned, WITNESS_VKEY) == CHECKPOINT
    _, sigs = parse_signed_note(cosigned)
    assert [s.name for s in sigs] == [LOG_NAME, WITNESS_NAME]
    # Co-signing again replaces rather than duplicates.
    assert add_signature(cosigned, WITNESS_NAME, WITNESS_KEY) == cosigned


def test_unknown_key_signatures_are_ignored() -> None:
    note = sign_checkpoint(CHECKPOINT, LOG_NAME, LOG_KEY)
    stranger = key_from_seed(3)
    # Same name as the log but another key (so another key id): not ours.
    impostor = add_signature(note, LOG_NAME, stranger)
    assert verify_checkpoint(impostor, LOG_VKEY) == CHECKPOINT
    # Lines of other algorithms / lengths parse and are ignored too.
    odd = NoteSignature("witness.example/cosig", b"\x00\x01\x02\x03", b"\x00" * 72).line()
    assert verify_checkpoint(note + odd, LOG_VKEY) == CHECKPOINT
    # Only unknown keys: rejected.
    only_stranger = sign_checkpoint(CHECKPOINT, LOG_NAME, stranger)
    with pytest.raises(CheckpointError) as exc:
        verify_checkpoint(only_stranger, LOG_VKEY)
    assert code_of(exc) == CHECKPOINT_UNKNOWN_KEY
    with pytest.raises(CheckpointError) as exc:
        verify_checkpoint(note, WITNESS_VKEY)
    assert code_of(exc) == CHECKPOINT_UNKNOWN_KEY


def test_known_key_with_one_bad_copy_is_rejected() -> None:
    note = sign_checkpoint(CHECKPOINT, LOG_NAME, LOG_KEY)
    _, sigs = parse_signed_note(note)
    bad = NoteSignature(sigs[0].name, sigs[0].key_id, bytes(64)).line()
    with pytest.raises(CheckpointError) as exc:
        verify_checkpoint(note + bad, LOG_VKEY)
    assert code_of(exc) == CHECKPOINT_BAD_SIGNATURE
    short = NoteSignature(sigs[0].name, sigs[0].key_id, bytes(63)).line()
    with pytest.raises(CheckpointError) as exc:
        verify_checkpoint(note + short, LOG_VKEY)
    assert code_of(exc) == CHECKPOINT_BAD_SIGNATURE


@pytest.mark.parametrize(
    "line",
    [
        "\u2014 name\n",  # no signature
        "\u2014 na+me AAAAAAAA\n",  # '+' in name
        "\u2014  AAAAAAAA\n",  # empty name
        "\u2014 name AAAA\n",  # only 3 bytes
        "\u2014 name AAAAAA==\n",  # only a key id
        "\u2014 name AAAAAAAA \n",  # trailing space
        "\u2014 name AAAA AAAA\n",
        "\u2014name AAAAAAAA\n",
    ],
)
def test_malformed_signature_lines(line: str) -> None:
    with pytest.raises(CheckpointError) as exc:
        parse_signed_note(CHECKPOINT.body() + "\n" + line)
    assert code_of(exc) == CHECKPOINT_MALFORMED


def test_many_signatures_within_limit_are_accepted() -> None:
    note = sign_checkpoint(CHECKPOINT, LOG_NAME, LOG_KEY)
    filler = NoteSignature("witness.example/x", b"\x00" * 4, bytes(64)).line()
    assert verify_checkpoint(note + filler * (MAX_SIGNATURES - 1), LOG_VKEY) == CHECKPOINT


@pytest.mark.parametrize("name", ["", "has space", "has+plus", "tab\tname", "nbsp\u00a0name"])
def test_invalid_key_names(name: str) -> None:
    with pytest.raises(CheckpointError) as exc:
        sign_checkpoint(CHECKPOINT, name, LOG_KEY)
    assert code_of(exc) == KEY_MALFORMED
    with pytest.raises(CheckpointError):
        verifier_key(name, LOG_KEY.public_key())


def test_error_is_value_error_with_code() -> None:
    err = CheckpointError(CHECKPOINT_MALFORMED, "boom")
    assert isinstance(err, ValueError)
    assert err.code == CHECKPOINT_MALFORMED
    assert str(err) == "CHECKPOINT_MALFORMED: boom"


# --- key handling -----------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_save_and_load_private_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "log.pem"
    key = generate_private_key()
    save_private_key(path, key)
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = load_private_key(path)
    assert verifier_key("n", loaded.public_key()) == verifier_key("n", key.public_key())


def test_save_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "log.pem"
    save_private_key(path, generate_private_key())
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        save_private_key(path, generate_private_key())
    assert path.read_bytes() == before


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o660])
def test_load_refuses_group_or_other_access(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "log.pem"
    save_private_key(path, generate_private_key())
    os.chmod(path, mode)
    with pytest.raises(CheckpointError) as exc:
        load_private_key(path)
    assert code_of(exc) == KEY_PERMISSIONS


def test_load_accepts_owner_read_only(tmp_path: Path) -> None:
    path = tmp_path / "log.pem"
    save_private_key(path, LOG_KEY)
    os.chmod(path, 0o400)
    assert verifier_key(LOG_NAME, load_private_key(path).public_key()) == LOG_VKEY


def test_load_refuses_garbage_and_other_algorithms(tmp_path: Path) -> None:
    path = tmp_path / "ec.pem"
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pem = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, pem)
    os.close(fd)
    with pytest.raises(CheckpointError) as exc:
        load_private_key(path)
    assert code_of(exc) == KEY_MALFORMED


def test_private_key_from_env() -> None:
    pem = LOG_KEY.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    seed = LOG_KEY.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    for value in [
        pem,
        "  " + pem + "\n",
        pem.replace("\n", "\\n"),  # flattened by a secret store
        base64.b64encode(seed).decode(),
    ]:
        key = private_key_from_env(value)
        assert verifier_key(LOG_NAME, key.public_key()) == LOG_VKEY


def test_private_key_from_env_matches_go_seed() -> None:
    seed_b64 = base64.b64encode(base64.b64decode(PETER_SKEY.split("+", 4)[4])[1:]).decode()
    key = private_key_from_env(seed_b64)
    assert verifier_key("PeterNeumann", key.public_key()) == PETER_VKEY


def test_private_key_from_env_rejects_bad_values() -> None:
    encrypted = LOG_KEY.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    ).decode()
    for value in [
        "",
        "not a key",
        base64.b64encode(b"\x01" * 31).decode(),
        base64.b64encode(b"\x01" * 64).decode(),
        "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n",
        encrypted,
    ]:
        with pytest.raises(CheckpointError) as exc:
            private_key_from_env(value)
        assert code_of(exc) == KEY_MALFORMED
        assert value not in str(exc.value) or not value


def test_key_id_rejects_bad_public_key() -> None:
    with pytest.raises(CheckpointError):
        key_id("name", b"\x00" * 31)
