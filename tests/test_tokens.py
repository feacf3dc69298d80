"""Access tokens: what the shared verifier accepts and refuses (every refusal is UNAUTHENTICATED)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from redis.asyncio import Redis

from shared.auth import KeyRing, LocalKeySource, RevocationStore, TokenIssuer, TokenVerifier
from shared.auth.keys import generate_key_file
from shared.errors import Unauthenticated

ISSUER, AUDIENCE = "https://myshop.test/users", "myshop"


@pytest.fixture
def keys(tmp_path: Path) -> KeyRing:
    return KeyRing.load(
        private_key_pem=None, keys_dir=tmp_path / "keys", retired_public_pem=None, create=True
    )


@pytest.fixture
def issuer(keys: KeyRing) -> TokenIssuer:
    return TokenIssuer(keys, issuer=ISSUER, audience=AUDIENCE, ttl_seconds=60)


@pytest.fixture
async def revocations(redis: Redis) -> AsyncIterator[RevocationStore]:
    yield RevocationStore(redis, f"test:tokens:{time.time_ns()}:")


def verifier(keys: KeyRing, revocations: RevocationStore | None = None, **kw: object) -> TokenVerifier:
    options = {"issuer": ISSUER, "audience": AUDIENCE, "leeway_seconds": 0, **kw}
    return TokenVerifier(LocalKeySource(keys), revocations=revocations, **options)  # type: ignore[arg-type]


async def reason_refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(Unauthenticated) as refused:
        await verifier.verify(token)
    assert refused.value.code == "UNAUTHENTICATED"
    return refused.value.extensions["reason"]


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def forge_claims() -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u1", "roles": ["ADMIN"], "iat": now, "exp": now + 60}
    return json.dumps({**claims, "jti": "j1"})


def forge(keys: KeyRing, **changes: object) -> str:
    """A token signed with the real key but with claims changed."""
    assert keys.signing is not None
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u1", "roles": ["CUSTOMER"], "iat": now, "exp": now + 60}
    claims["jti"] = "j1"
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, keys.signing.private_key, algorithm="EdDSA", headers={"kid": keys.signing.kid})


async def test_a_fresh_token_gives_its_subject_and_roles(keys: KeyRing, issuer: TokenIssuer) -> None:
    token = issuer.issue("user-1", ["CUSTOMER", "PARTNER"])
    principal = await verifier(keys).verify(token.token)
    assert principal.subject == "user-1"
    assert principal.roles == {"CUSTOMER", "PARTNER"}
    assert principal.token_id == token.token_id
    header = jwt.get_unverified_header(token.token)
    assert header["alg"] == "EdDSA" and header["kid"] == keys.signing.kid  # type: ignore[union-attr]


@pytest.mark.parametrize(("claim", "verified"), [(True, True), (False, False), (None, False)])
async def test_the_email_verified_claim_reaches_the_principal_and_its_absence_means_unverified(
    keys: KeyRing, issuer: TokenIssuer, claim: bool | None, verified: bool
) -> None:
    token = issuer.issue("user-1", ["CUSTOMER"], email_verified=claim)

    principal = await verifier(keys).verify(token.token)

    assert principal.email_verified is verified
    assert ("email_verified" in jwt.decode(token.token, options={"verify_signature": False})) is (
        claim is not None
    )


async def test_a_service_token_carries_no_email_verified_claim(issuer: TokenIssuer) -> None:
    token = issuer.issue_service_token("orders")

    assert "email_verified" not in jwt.decode(token.token, options={"verify_signature": False})


async def test_an_expired_token_is_refused(keys: KeyRing) -> None:
    assert await reason_refused(verifier(keys), forge(keys, exp=int(time.time()) - 5)) == "expired"


async def test_a_tampered_token_is_refused(keys: KeyRing, issuer: TokenIssuer) -> None:
    token = issuer.issue("user-1", ["CUSTOMER"]).token
    header, _, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["roles"] = ["ADMIN"]
    assert (
        await reason_refused(verifier(keys), f"{header}.{b64(json.dumps(claims))}.{signature}") == "signature"
    )


async def test_alg_none_is_refused(keys: KeyRing) -> None:
    unsigned = jwt.encode({"sub": "u1", "roles": ["ADMIN"]}, key=None, algorithm="none", headers={"kid": "x"})
    assert await reason_refused(verifier(keys), unsigned) == "algorithm"


async def test_an_hmac_token_keyed_with_the_public_key_is_refused(keys: KeyRing) -> None:
    assert keys.signing is not None
    public_pem = keys.signing.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # The classic confusion attack: HS256 with the (public) verification key as the shared secret.
    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'kid': keys.signing.kid}))}.{b64(forge_claims())}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert await reason_refused(verifier(keys), forged) == "algorithm"


async def test_tokens_of_another_issuer_or_audience_are_refused(keys: KeyRing) -> None:
    assert await reason_refused(verifier(keys), forge(keys, iss="https://evil.example")) == "issuer"
    assert await reason_refused(verifier(keys), forge(keys, aud="another-api")) == "audience"


async def test_a_token_without_a_required_claim_is_refused(keys: KeyRing) -> None:
    assert await reason_refused(verifier(keys), forge(keys, jti=None)) == "invalid"


async def test_a_token_signed_by_an_unknown_key_is_refused(keys: KeyRing) -> None:
    stranger = ed25519.Ed25519PrivateKey.generate()
    token = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "u", "exp": int(time.time()) + 60, "jti": "j", "iat": 1},
        stranger,
        algorithm="EdDSA",
        headers={"kid": "stranger"},
    )
    assert await reason_refused(verifier(keys), token) == "unknown_key"
    assert await reason_refused(verifier(keys), "not-a-jwt") == "malformed"


async def test_a_revoked_token_is_refused_and_others_still_pass(
    keys: KeyRing, issuer: TokenIssuer, revocations: RevocationStore
) -> None:
    revoked, kept = issuer.issue("user-1", ["CUSTOMER"]), issuer.issue("user-1", ["CUSTOMER"])
    await revocations.revoke_token(revoked.token_id, revoked.expires_at.timestamp())
    check = verifier(keys, revocations)
    assert await reason_refused(check, revoked.token) == "revoked"
    assert (await check.verify(kept.token)).subject == "user-1"


async def test_revoking_a_user_ends_older_tokens_but_not_newer_ones(
    keys: KeyRing, issuer: TokenIssuer, revocations: RevocationStore
) -> None:
    older = issuer.issue("user-2", ["ADMIN"])
    await asyncio.sleep(0.01)
    await revocations.revoke_user("user-2", keep_seconds=60)
    await asyncio.sleep(0.01)
    newer = issuer.issue("user-2", ["CUSTOMER"])
    check = verifier(keys, revocations)
    assert await reason_refused(check, older.token) == "revoked"
    assert (await check.verify(newer.token)).roles == {"CUSTOMER"}


async def test_after_a_rotation_tokens_of_the_retired_key_still_verify(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    old = KeyRing.load(private_key_pem=None, keys_dir=keys_dir, retired_public_pem=None, create=True)
    token = TokenIssuer(old, issuer=ISSUER, audience=AUDIENCE, ttl_seconds=60).issue("u", ["CUSTOMER"])
    await asyncio.sleep(1.1)  # key files sort by their UTC second
    generate_key_file(keys_dir)
    rotated = KeyRing.load(private_key_pem=None, keys_dir=keys_dir, retired_public_pem=None, create=False)
    assert rotated.signing is not None and old.signing is not None
    assert rotated.signing.kid != old.signing.kid
    assert {entry["kid"] for entry in rotated.jwks()["keys"]} == {rotated.signing.kid, old.signing.kid}
    assert (await verifier(rotated).verify(token.token)).subject == "u"
