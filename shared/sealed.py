"""Secrets that travel between services in events (a verification code, a password-reset token), sealed.

An event is stored in the producer's outbox table, published on a Redis stream and kept in consumers' dead
letters: none of those may hold a live secret in the clear, or a database dump or a stream reader could take
over an account. The producer seals the secret with AES-GCM under a key derived (HKDF-SHA256) from the shared
service secret and a purpose; only a process that holds the service secret (a MyShop service) can open it, and
a value sealed for one purpose does not open for another (the purpose is also the associated data).

The sealed form is URL-safe base64 of `nonce (12 bytes) | ciphertext | tag`; a fresh random nonce per seal.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE_BYTES = 12


class SealError(ValueError):
    """The value was not sealed by us for this purpose (or was altered)."""


def _key(service_secret: str, purpose: str) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"myshop sealed v1", info=purpose.encode()
    ).derive(service_secret.encode())
    return AESGCM(derived)


def seal(service_secret: str, purpose: str, plaintext: str) -> str:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = _key(service_secret, purpose).encrypt(nonce, plaintext.encode(), purpose.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(service_secret: str, purpose: str, sealed: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(sealed.encode())
        if len(raw) <= _NONCE_BYTES:
            raise SealError("too short to be sealed")
        nonce, body = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        opened = _key(service_secret, purpose).decrypt(nonce, body, purpose.encode())
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise SealError("not sealed by us for this purpose") from exc
    return opened.decode()
