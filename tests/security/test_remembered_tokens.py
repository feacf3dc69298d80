"""A verifier remembers a token it verified (its signature and claims), never past its expiry, its revocation
or its key: a remembered token is refused exactly when a fresh verification would refuse it."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest

from shared.auth import KeyRing, LocalKeySource, Principal, TokenIssuer, TokenVerifier
from shared.auth import tokens as tokens_module
from shared.errors import Unauthenticated

ISSUER, AUDIENCE = "https://myshop.test/users", "myshop"


class Revocations:
    """Revokes what it is told to (the Redis store's answer, without Redis)."""

    def __init__(self) -> None:
        self.revoked: set[str] = set()

    async def is_revoked(self, principal: Principal) -> bool:
        return principal.token_id in self.revoked


@pytest.fixture
def keys(tmp_path: Path) -> KeyRing:
    return KeyRing.load(
        private_key_pem=None, keys_dir=tmp_path / "keys", retired_public_pem=None, create=True
    )


@pytest.fixture
def issuer(keys: KeyRing) -> TokenIssuer:
    return TokenIssuer(keys, issuer=ISSUER, audience=AUDIENCE, ttl_seconds=60)


@pytest.fixture
def revocations() -> Revocations:
    return Revocations()


@pytest.fixture
def verifier(keys: KeyRing, revocations: Revocations) -> TokenVerifier:
    return TokenVerifier(
        LocalKeySource(keys),
        issuer=ISSUER,
        audience=AUDIENCE,
        leeway_seconds=0,
        revocations=revocations,  # type: ignore[arg-type]
    )


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token PyJWT decodes."""
    seen: list[str] = []
    decode = jwt.decode

    def counting(token: str, *args: object, **kwargs: object) -> object:
        seen.append(token)
        return decode(token, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tokens_module.jwt, "decode", counting)
    return seen


async def test_a_token_sent_again_is_not_decoded_again(
    verifier: TokenVerifier, issuer: TokenIssuer, decodes: list[str]
) -> None:
    token = issuer.issue("alice", ["CUSTOMER"]).token

    first = await verifier.verify(token)
    again = await verifier.verify(token)

    assert first == again and first.subject == "alice"
    assert decodes == [token]


async def test_a_remembered_token_is_refused_once_revoked(
    verifier: TokenVerifier, issuer: TokenIssuer, revocations: Revocations
) -> None:
    access = issuer.issue("alice", ["CUSTOMER"])
    await verifier.verify(access.token)

    revocations.revoked.add(access.token_id)

    with pytest.raises(Unauthenticated) as refused:
        await verifier.verify(access.token)
    assert refused.value.extensions["reason"] == "revoked"


async def test_a_remembered_token_is_refused_once_expired(
    verifier: TokenVerifier, issuer: TokenIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = issuer.issue("alice", ["CUSTOMER"]).token
    await verifier.verify(token)

    later = time.time() + 61
    monkeypatch.setattr(tokens_module.time, "time", lambda: later)

    with pytest.raises(Unauthenticated) as refused:
        await verifier.verify(token)
    assert refused.value.extensions["reason"] == "expired"


async def test_a_remembered_token_is_refused_once_its_key_is_gone(
    verifier: TokenVerifier, issuer: TokenIssuer, keys: KeyRing
) -> None:
    token = issuer.issue("alice", ["CUSTOMER"]).token
    await verifier.verify(token)

    keys.public.clear()  # the key was withdrawn (compromised)

    with pytest.raises(Unauthenticated) as refused:
        await verifier.verify(token)
    assert refused.value.extensions["reason"] == "unknown_key"


async def test_the_verifier_remembers_a_bounded_number_of_tokens(
    verifier: TokenVerifier, issuer: TokenIssuer, monkeypatch: pytest.MonkeyPatch, decodes: list[str]
) -> None:
    monkeypatch.setattr(tokens_module, "VERIFIED_TOKENS_KEPT", 2)
    oldest, *others = [issuer.issue(f"user-{n}", ["CUSTOMER"]).token for n in range(3)]
    for token in [oldest, *others]:
        await verifier.verify(token)

    await verifier.verify(oldest)

    assert decodes == [oldest, *others, oldest]
