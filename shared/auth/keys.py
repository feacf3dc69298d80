"""Signing keys: loaded from configuration, or generated once into the data directory for development.

Every key file in `<data_dir>/keys/` is published in the JWKS; the newest one signs. Rotating a key is adding
a newer file, then removing the old one once the access tokens it signed have expired.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

PrivateKey = ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
PublicKey = ed25519.Ed25519PublicKey | rsa.RSAPublicKey


@dataclass(frozen=True)
class PublicKeyEntry:
    kid: str
    algorithm: str
    key: PublicKey

    def jwk(self) -> dict[str, Any]:
        jwk = _to_jwk(self.key)
        jwk.update({"kid": self.kid, "alg": self.algorithm, "use": "sig"})
        return jwk


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private_key: PrivateKey

    @classmethod
    def from_private_key(cls, key: PrivateKey) -> SigningKey:
        public = key.public_key()
        return cls(kid=thumbprint(public), algorithm=algorithm_for(public), private_key=key)

    @property
    def public(self) -> PublicKeyEntry:
        return PublicKeyEntry(self.kid, self.algorithm, self.private_key.public_key())


class KeyRing:
    """The current signing key (if this process signs) and every public key still accepted."""

    def __init__(self, signing: SigningKey | None, public: list[PublicKeyEntry]) -> None:
        self.signing = signing
        self.public = {entry.kid: entry for entry in public}
        if signing is not None:
            self.public.setdefault(signing.kid, signing.public)

    @classmethod
    def load(
        cls, *, private_key_pem: str | None, keys_dir: Path, retired_public_pem: str | None, create: bool
    ) -> KeyRing:
        signing: SigningKey | None = None
        public: list[PublicKeyEntry] = []
        if private_key_pem:
            signing = SigningKey.from_private_key(_load_private(private_key_pem.encode()))
        else:
            files = sorted(keys_dir.glob("*.pem")) if keys_dir.is_dir() else []
            if not files and create:
                files = [generate_key_file(keys_dir)]
            keys = [SigningKey.from_private_key(_load_private(path.read_bytes())) for path in files]
            public.extend(key.public for key in keys)
            signing = keys[-1] if keys else None
        if retired_public_pem:
            for pem in _split_pem(retired_public_pem):
                key = serialization.load_pem_public_key(pem.encode())
                if not isinstance(key, ed25519.Ed25519PublicKey | rsa.RSAPublicKey):
                    raise ValueError("retired JWT keys must be Ed25519 or RSA public keys")
                public.append(PublicKeyEntry(thumbprint(key), algorithm_for(key), key))
        return cls(signing, public)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [entry.jwk() for entry in self.public.values()]}


def generate_key_file(keys_dir: Path) -> Path:
    """A new Ed25519 key, private to this user (0600), named so that the newest sorts last."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    path = keys_dir / f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-ed25519.pem"
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # O_EXCL: two processes starting at once must not overwrite each other's key.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return path


def algorithm_for(key: PublicKey) -> str:
    return "EdDSA" if isinstance(key, ed25519.Ed25519PublicKey) else "RS256"


def thumbprint(key: PublicKey) -> str:
    """RFC 7638 JWK thumbprint: a kid that is the same wherever the key is loaded."""
    jwk = _to_jwk(key)
    required = ("crv", "kty", "x") if jwk["kty"] == "OKP" else ("e", "kty", "n")
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def _to_jwk(key: PublicKey) -> dict[str, Any]:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return dict(OKPAlgorithm.to_jwk(key, as_dict=True))
    return dict(RSAAlgorithm.to_jwk(key, as_dict=True))


def _load_private(pem: bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < 2048:
        raise ValueError("RSA JWT keys must have at least 2048 bits")
    if not isinstance(key, ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey):
        raise ValueError("JWT signing keys must be Ed25519 or RSA")
    return key


def _split_pem(text: str) -> list[str]:
    end = "-----END PUBLIC KEY-----"
    return [part.strip() + "\n" + end + "\n" for part in text.split(end) if part.strip()]
