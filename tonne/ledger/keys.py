"""The registry's Ed25519 signing key: from TONNE_LEDGER_KEY, or a file made
at install with mode 0600."""

from __future__ import annotations

import functools

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

from tonne.ledger.checkpoint import (
    generate_private_key,
    load_private_key,
    private_key_from_env,
    save_private_key,
    verifier_key,
)


def ensure_key() -> bool:
    """Create the key file if no key is configured. True if one was made."""
    if settings.TONNE_LEDGER_KEY or settings.TONNE_LEDGER_KEY_FILE.exists():
        return False
    try:
        save_private_key(settings.TONNE_LEDGER_KEY_FILE, generate_private_key())
    except FileExistsError:  # another process made it first: use that one
        return False
    private_key.cache_clear()
    return True


@functools.cache
def private_key() -> Ed25519PrivateKey:
    if settings.TONNE_LEDGER_KEY:
        return private_key_from_env(settings.TONNE_LEDGER_KEY)
    ensure_key()
    return load_private_key(settings.TONNE_LEDGER_KEY_FILE)


def public_key() -> Ed25519PublicKey:
    return private_key().public_key()


def verifier_key_text() -> str:
    return verifier_key(settings.TONNE_LEDGER_KEY_NAME, public_key())
