"""KYC documents at rest: AES-256-GCM with the installation's document key,
each file bound to its document id (associated data), so a file swapped
between documents fails to decrypt."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from tonne.core.errors import RegistryError

MAGIC = b"TKYC1"


def _key() -> bytes:
    if settings.TONNE_KYC_KEY:
        key = base64.b64decode(settings.TONNE_KYC_KEY)
    else:
        path = Path(settings.TONNE_KYC_KEY_FILE)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(base64.b64encode(AESGCM.generate_key(bit_length=256)))
        key = base64.b64decode(path.read_bytes().strip())
    if len(key) != 32:
        raise RuntimeError("The KYC document key must be 32 bytes (base64).")
    return key


def _path(uid: str) -> Path:
    return Path(settings.TONNE_KYC_DIR) / uid[:2] / f"{uid}.bin"


def store(uid: str, content: bytes) -> None:
    nonce = secrets.token_bytes(12)
    sealed = MAGIC + nonce + AESGCM(_key()).encrypt(nonce, content, uid.encode())
    path = _path(uid)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(sealed)


def load(uid: str) -> bytes:

    sealed = _path(uid).read_bytes()
    if not sealed.startswith(MAGIC):
        raise RegistryError("KYC_DOCUMENT_CORRUPT", "The stored document is not in the expected form.", status=500)
    nonce, body = sealed[len(MAGIC) : len(MAGIC) + 12], sealed[len(MAGIC) + 12 :]
    try:
        return AESGCM(_key()).decrypt(nonce, body, uid.encode())
    except InvalidTag:
        raise RegistryError("KYC_DOCUMENT_CORRUPT", "The stored document fails its integrity check.", status=500) from None


def stored_path(uid: str) -> Path:
    return _path(uid)
