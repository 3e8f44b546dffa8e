"""C2SP tlog-checkpoint bodies in C2SP signed notes, signed with Ed25519.

A checkpoint (c2sp.org/tlog-checkpoint) is the note text::

    <origin>\\n<tree size>\\n<base64 root hash>\\n[<extension line>\\n ...]

and a signed note (c2sp.org/signed-note) is that text, a blank line, then one
or more signature lines ``— <key name> <base64(key id || signature)>\\n``.
Ed25519 key ids are SHA-256(name || 0x0A || 0x01 || public key)[:4], and the
verifier key string is ``<name>+<hex key id>+<base64(0x01 || public key)>``,
both compatible with golang.org/x/mod/sumdb/note.

Parsing is strict: anything a conforming signer would not produce is refused
with :class:`CheckpointError` rather than normalised, so two parties can never
disagree about what a signature covered. Apart from the key-file helpers this
module does no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

__all__ = [
    "CHECKPOINT_BAD_SIGNATURE",
    "CHECKPOINT_MALFORMED",
    "CHECKPOINT_UNKNOWN_KEY",
    "CHECKPOINT_WRONG_ORIGIN",
    "KEY_MALFORMED",
    "KEY_PERMISSIONS",
    "MAX_SIGNATURES",
    "Checkpoint",
    "CheckpointError",
    "NoteSignature",
    "add_signature",
    "generate_private_key",
    "key_id",
    "load_private_key",
    "parse_checkpoint_body",
    "parse_note",
    "parse_signed_note",
    "parse_verifier_key",
    "private_key_from_env",
    "save_private_key",
    "sign_checkpoint",
    "sign_note",
    "verifier_key",
    "verify_checkpoint",
    "verify_note",
]

# Stable error codes (callers and the API match on these, never on messages).
CHECKPOINT_MALFORMED = "CHECKPOINT_MALFORMED"
CHECKPOINT_BAD_SIGNATURE = "CHECKPOINT_BAD_SIGNATURE"
CHECKPOINT_UNKNOWN_KEY = "CHECKPOINT_UNKNOWN_KEY"
CHECKPOINT_WRONG_ORIGIN = "CHECKPOINT_WRONG_ORIGIN"
KEY_MALFORMED = "KEY_MALFORMED"
KEY_PERMISSIONS = "KEY_PERMISSIONS"

# The signed-note spec requires accepting at least 16; Go's note package
# stops at 100. Bounding it bounds the work an untrusted note can cause.
MAX_SIGNATURES = 100

_ALG_ED25519 = b"\x01"
_ED25519_KEY_SIZE = 32
_ED25519_SIG_SIZE = 64
_KEY_ID_SIZE = 4
_ROOT_SIZE = 32
_MAX_TREE_SIZE = 2**64 - 1  # checkpoints carry uint64 sizes
_SIG_PREFIX = "\u2014 "  # EM DASH, space
_SIZE_RE = re.compile(r"0|[1-9][0-9]{0,19}")
_KEY_ID_RE = re.compile(r"[0-9a-fA-F]{8}")


class CheckpointError(ValueError):
    """A checkpoint, note or key that must not be trusted, with a stable code."""

    def __init__(self, code: str, message: str) -> None:
        # Both in args so the exception survives pickling (e.g. in workers).
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def _malformed(message: str) -> CheckpointError:
    return CheckpointError(CHECKPOINT_MALFORMED, message)


def _has_bad_chars(text: str) -> bool:
    """True if text breaks the note rules: UTF-8 only, no controls but newline."""
    if any(c < " " and c != "\n" for c in text):
        return True
    try:
        text.encode("utf-8")  # lone surrogates cannot be encoded
    except UnicodeEncodeError:
        return True
    return False


def _is_valid_name(name: str) -> bool:
    """Key names: non-empty, no Unicode spaces, no '+', no control characters."""
    return (
        bool(name) and not any(c.isspace() or c == "+" for c in name) and not _has_bad_chars(name)
    )


def _b64decode_strict(text: str) -> bytes | None:
    """Standard padded base64, canonical encodings only (no malleable variants)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error, or non-ASCII input
        return None
    if base64.b64encode(raw).decode("ascii") != text:
        return None
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# --------------------------------------------------------------------------
# Checkpoint body
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, tree size, RFC 6962 root and extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Validate on construction so body() can never frame a different
        # checkpoint (e.g. an origin containing "\n1\n..." would reparse).
        if not isinstance(self.origin, str) or not self.origin:
            raise _malformed("origin must be a non-empty string")
        if "\n" in self.origin or _has_bad_chars(self.origin):
            raise _malformed("origin must be one line of valid text without control characters")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise _malformed("tree size must be an integer")
        if not 0 <= self.size <= _MAX_TREE_SIZE:
            raise _malformed(f"tree size {self.size} is outside 0..2^64-1")
        if not isinstance(self.root, bytes) or len(self.root) != _ROOT_SIZE:
            raise _malformed(f"root hash must be {_ROOT_SIZE} bytes")
        if not isinstance(self.extensions, tuple):
            object.__setattr__(self, "extensions", tuple(self.extensions))
        for line in self.extensions:
            if not isinstance(line, str) or not line:
                raise _malformed("extension lines must be non-empty strings")
            if "\n" in line or _has_bad_chars(line):
                raise _malformed("extension lines must be single lines without control characters")

    def body(self) -> str:
        """The note text that gets signed, ending in a newline."""
        lines = [self.origin, str(self.size), _b64(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)


def parse_checkpoint_body(body: str) -> Checkpoint:
    """Parse note text as a checkpoint, refusing anything non-canonical."""
    if not body.endswith("\n"):
        raise _malformed("checkpoint text must end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise _malformed("checkpoint needs origin, tree size and root hash lines")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise _malformed("origin line is empty")
    if not _SIZE_RE.fullmatch(size_text):
        raise _malformed("tree size must be decimal without sign or leading zeroes")
    size = int(size_text)
    if size > _MAX_TREE_SIZE:
        raise _malformed("tree size does not fit in 64 bits")
    root = _b64decode_strict(root_text)
    if root is None:
        raise _malformed("root hash is not canonical standard base64")
    if len(root) != _ROOT_SIZE:
        raise _malformed(f"root hash is {len(root)} bytes, expected {_ROOT_SIZE}")
    if any(not line for line in extensions):
        raise _malformed("extension lines must be non-empty")
    return Checkpoint(origin=origin, size=size, root=root, extensions=tuple(extensions))


# --------------------------------------------------------------------------
# Signed notes
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key id, signature bytes.

    ``signature`` is whatever followed the key id; it is only required to be
    64 bytes when checked as Ed25519, so other algorithms' lines (such as
    witness cosignatures) parse and can be ignored.
    """

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """The signature line, with its trailing newline."""
        return f"{_SIG_PREFIX}{self.name} {_b64(self.key_id + self.signature)}\n"


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_SIG_PREFIX):
        raise _malformed("signature line must start with an em dash and a space")
    name, sep, encoded = line[len(_SIG_PREFIX) :].partition(" ")
    if not sep or not _is_valid_name(name):
        raise _malformed("signature line has an invalid key name")
    raw = _b64decode_strict(encoded)
    if raw is None:
        raise _malformed(f"signature by {name} is not canonical standard base64")
    if len(raw) <= _KEY_ID_SIZE:
        raise _malformed(f"signature by {name} is too short")
    return NoteSignature(name=name, key_id=raw[:_KEY_ID_SIZE], signature=raw[_KEY_ID_SIZE:])


def parse_note(text: str) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and signature lines (not verified)."""
    if _has_bad_chars(text):
        raise _malformed("note must be valid UTF-8 without control characters")
    # The spec splits at the *last* blank line: the text may contain others.
    split = text.rfind("\n\n")
    if split < 0:
        raise _malformed("missing blank line between text and signatures")
    body, sig_block = text[: split + 1], text[split + 2 :]
    if not sig_block or not sig_block.endswith("\n"):
        raise _malformed("signature block must be non-empty and end with a newline")
    lines = sig_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise _malformed(f"more than {MAX_SIGNATURES} signatures")
    return body, [_parse_signature_line(line) for line in lines]


def parse_signed_note(text: str) -> tuple[Checkpoint, list[NoteSignature]]:
    """Parse a signed checkpoint note. Signatures are returned unverified."""
    body, signatures = parse_note(text)
    return parse_checkpoint_body(body), signatures


# --------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------


def _public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _check_name(name: str) -> None:
    if not _is_valid_name(name):
        raise CheckpointError(
            KEY_MALFORMED, f"invalid key name {name!r}: must be non-empty, no spaces or '+'"
        )


def key_id(name: str, public_key: bytes) -> bytes:
    """Ed25519 note key id: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    _check_name(name)
    if len(public_key) != _ED25519_KEY_SIZE:
        raise CheckpointError(
            KEY_MALFORMED, f"Ed25519 public key must be {_ED25519_KEY_SIZE} bytes"
        )
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + _ALG_ED25519 + public_key).digest()
    return digest[:_KEY_ID_SIZE]


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The ``<name>+<hex key id>+<base64(0x01 || key)>`` verifier key string."""
    raw = _public_bytes(public_key)
    return f"{name}+{key_id(name, raw).hex()}+{_b64(_ALG_ED25519 + raw)}"


def parse_verifier_key(text: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """Parse a verifier key string into (name, key id, public key)."""
    # Split at the first two '+' only: the base64 key may itself contain '+'.
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise CheckpointError(KEY_MALFORMED, "verifier key must be <name>+<key id>+<key>")
    name, id_hex, key_b64 = parts
    if not _is_valid_name(name):
        raise CheckpointError(KEY_MALFORMED, "verifier key has an invalid name")
    if not _KEY_ID_RE.fullmatch(id_hex):
        raise CheckpointError(KEY_MALFORMED, "verifier key id must be 8 hex digits")
    raw = _b64decode_strict(key_b64)
    if raw is None or len(raw) != 1 + _ED25519_KEY_SIZE or raw[:1] != _ALG_ED25519:
        raise CheckpointError(KEY_MALFORMED, "verifier key is not an Ed25519 (type 0x01) key")
    kid = bytes.fromhex(id_hex)
    if kid != key_id(name, raw[1:]):
        raise CheckpointError(KEY_MALFORMED, "verifier key id does not match its name and key")
    try:
        public_key = Ed25519PublicKey.from_public_bytes(raw[1:])
    except ValueError:
        raise CheckpointError(KEY_MALFORMED, "verifier key is not a valid Ed25519 key") from None
    return name, kid, public_key


# --------------------------------------------------------------------------
# Signing and verification
# --------------------------------------------------------------------------


def _signature_for(body: str, name: str, private_key: Ed25519PrivateKey) -> NoteSignature:
    _check_name(name)
    kid = key_id(name, _public_bytes(private_key.public_key()))
    return NoteSignature(name, kid, private_key.sign(body.encode("utf-8")))


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """Sign arbitrary note text (which must end in a newline)."""
    if not text.endswith("\n") or _has_bad_chars(text):
        raise _malformed("note text must end with a newline and have no control characters")
    return text + "\n" + _signature_for(text, name, private_key).line()


def sign_checkpoint(checkpoint: Checkpoint, name: str, private_key: Ed25519PrivateKey) -> str:
    """The full signed note for a checkpoint. ``name`` SHOULD equal its origin."""
    return sign_note(checkpoint.body(), name, private_key)


def add_signature(note_text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """Co-sign an existing note, keeping its other signature lines.

    A previous signature by the same key (name and key id) is replaced, so
    co-signing is idempotent. This does not verify the existing signatures:
    a co-signer must verify the note before adding its own.
    """
    body, signatures = parse_note(note_text)
    new = _signature_for(body, name, private_key)
    kept = [s for s in signatures if (s.name, s.key_id) != (new.name, new.key_id)]
    if len(kept) + 1 > MAX_SIGNATURES:
        raise _malformed(f"more than {MAX_SIGNATURES} signatures")
    return body + "\n" + "".join(s.line() for s in [*kept, new])


def _check_signatures(
    body: str, signatures: list[NoteSignature], key: tuple[str, bytes, Ed25519PublicKey]
) -> None:
    name, kid, public_key = key
    # Only (name, key id) together identify a key; lines matching just one of
    # them belong to someone else and are ignored, as the spec requires.
    ours = [s for s in signatures if s.name == name and s.key_id == kid]
    if not ours:
        raise CheckpointError(CHECKPOINT_UNKNOWN_KEY, f"no signature by key {name}+{kid.hex()}")
    message = body.encode("utf-8")
    # A known key whose signature fails means tampering: reject the whole
    # note even if another copy of the signature verifies.
    for sig in ours:
        if len(sig.signature) != _ED25519_SIG_SIZE:
            raise CheckpointError(CHECKPOINT_BAD_SIGNATURE, f"bad signature length for {name}")
        try:
            public_key.verify(sig.signature, message)
        except InvalidSignature:
            raise CheckpointError(
                CHECKPOINT_BAD_SIGNATURE, f"invalid signature for key {name}+{kid.hex()}"
            ) from None


def verify_note(text: str, verifier_key_text: str) -> str:
    """Verify a signed note against one verifier key and return its text."""
    key = parse_verifier_key(verifier_key_text)
    body, signatures = parse_note(text)
    _check_signatures(body, signatures, key)
    return body


def verify_checkpoint(
    text: str, verifier_key_text: str, *, expected_origin: str | None = None
) -> Checkpoint:
    """Parse a signed checkpoint and verify it against one verifier key.

    Signatures by other keys are ignored (they may be witnesses); at least
    one signature by the given key must exist and all of them must verify.
    Pass ``expected_origin`` to also pin the log identity.
    """
    key = parse_verifier_key(verifier_key_text)  # a bad configured key is reported first
    body, signatures = parse_note(text)
    checkpoint = parse_checkpoint_body(body)
    _check_signatures(body, signatures, key)
    if expected_origin is not None and checkpoint.origin != expected_origin:
        raise CheckpointError(
            CHECKPOINT_WRONG_ORIGIN,
            f"checkpoint origin {checkpoint.origin!r} is not {expected_origin!r}",
        )
    return checkpoint


# --------------------------------------------------------------------------
# Private key storage
# --------------------------------------------------------------------------


def generate_private_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 signing key."""
    return Ed25519PrivateKey.generate()


def _private_pem(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_pem(data: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # TypeError: the PEM is encrypted. Never echo key material back.
        raise CheckpointError(KEY_MALFORMED, "not an unencrypted PKCS8 PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(KEY_MALFORMED, "private key is not an Ed25519 key")
    return key


def save_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    """Write ``key`` as unencrypted PKCS8 PEM to a new file with mode 0600.

    The file is created with O_EXCL so it is never readable by others, not
    even briefly, and an existing key is never overwritten (FileExistsError).
    A missing parent directory is created with mode 0700.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, mode=0o700)
    except FileExistsError:
        pass
    data = _private_pem(key)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        # Do not leave a truncated key that a later load would trip over.
        path.unlink(missing_ok=True)
        raise


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Load a PEM key file, refusing one that group or others can access."""
    fd = os.open(Path(path), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as fh:
        # fstat the open file, not the path, so the checked file is the one read.
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise CheckpointError(KEY_MALFORMED, f"{path} is not a regular file")
        if st.st_mode & 0o077:
            raise CheckpointError(
                KEY_PERMISSIONS,
                f"{path} has mode {stat.S_IMODE(st.st_mode):04o}; "
                "a signing key must not be accessible by group or others (chmod 600)",
            )
        data = fh.read()
    return _load_pem(data)


def private_key_from_env(value: str) -> Ed25519PrivateKey:
    """Key from an environment variable: PEM text or base64 of the 32-byte seed."""
    value = value.strip()
    if value.startswith("-----BEGIN"):
        # Many secret stores flatten newlines to a literal "\n".
        if "\n" not in value and "\\n" in value:
            value = value.replace("\\n", "\n")
        return _load_pem(value.encode("utf-8"))
    raw = _b64decode_strict(value)
    if raw is None or len(raw) != _ED25519_KEY_SIZE:
        raise CheckpointError(
            KEY_MALFORMED, "expected a PEM private key or base64 of a 32-byte Ed25519 seed"
        )
    return Ed25519PrivateKey.from_private_bytes(raw)
