"""Access tokens the users server refuses (all UNAUTHENTICATED), and the JWKS that publishes its keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from users_api import ME, Accounts

from shared.auth import TokenIssuer
from shared.auth.keys import thumbprint


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(issuer: TokenIssuer, subject: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "sub": subject,
        "roles": ["ADMIN"],
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return claims


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"


def signed_with_run_key(issuer: TokenIssuer, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, issuer.key.private_key, algorithm="EdDSA", headers={"kid": issuer.key.kid})


async def refusal(gql, token: str) -> tuple[str, str]:
    """The code and the verifier's reason (which check refused the token) of `me` called with `token`."""
    resp = await gql("users", ME, token=token)
    assert resp.status_code == 200
    assert resp.data is None or resp.data.get("me") is None
    [error] = resp.errors
    return error["extensions"]["code"], error["extensions"].get("reason")


@pytest.fixture
async def user_id(accounts: Accounts) -> str:
    return (await accounts.register("token.owner@example.com"))["user"]["id"]


async def test_a_token_signed_with_the_run_key_is_accepted(gql, issuer: TokenIssuer, user_id: str) -> None:
    # The control for every refusal below: only the one thing each test changes makes it fail.
    token = signed_with_run_key(issuer, claims_for(issuer, user_id))

    assert (await gql("users", ME, token=token)).ok()["me"]["id"] == user_id


async def test_an_expired_token_is_unauthenticated(gql, issuer: TokenIssuer, user_id: str) -> None:
    # Expired a minute ago: beyond the verifier's leeway.
    token = issuer.issue(user_id, ["CUSTOMER"], ttl_seconds=-60).token

    assert await refusal(gql, token) == ("UNAUTHENTICATED", "expired")


async def test_a_token_with_a_tampered_signature_is_unauthenticated(
    gql, issuer: TokenIssuer, user_id: str
) -> None:
    head, payload, signature = issuer.issue(user_id, ["CUSTOMER"]).token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[10] ^= 0x01

    assert await refusal(gql, f"{head}.{payload}.{b64(bytes(raw))}") == ("UNAUTHENTICATED", "signature")


async def test_a_token_with_tampered_claims_is_unauthenticated(
    gql, issuer: TokenIssuer, user_id: str
) -> None:
    head, _, signature = issuer.issue(user_id, ["CUSTOMER"]).token.split(".")
    promoted = b64(json.dumps(claims_for(issuer, user_id, roles=["ADMIN"])).encode())

    assert await refusal(gql, f"{head}.{promoted}.{signature}") == ("UNAUTHENTICATED", "signature")


async def test_an_unsigned_alg_none_token_is_unauthenticated(gql, issuer: TokenIssuer, user_id: str) -> None:
    token = unsigned({"alg": "none", "typ": "JWT", "kid": issuer.key.kid}, claims_for(issuer, user_id)) + "."

    assert await refusal(gql, token) == ("UNAUTHENTICATED", "algorithm")


async def test_an_hs256_token_keyed_with_the_public_key_is_unauthenticated(
    gql, issuer: TokenIssuer, user_id: str
) -> None:
    # The classic key confusion: the public key (which anyone can fetch) used as an HMAC secret.
    public_pem = issuer.key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = unsigned(
        {"alg": "HS256", "typ": "JWT", "kid": issuer.key.kid}, claims_for(issuer, user_id)
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()

    assert await refusal(gql, f"{signing_input}.{b64(signature)}") == ("UNAUTHENTICATED", "algorithm")


async def test_a_token_from_another_issuer_is_unauthenticated(gql, issuer: TokenIssuer, user_id: str) -> None:
    token = signed_with_run_key(issuer, claims_for(issuer, user_id, iss="https://evil.example/users"))

    assert await refusal(gql, token) == ("UNAUTHENTICATED", "issuer")


async def test_a_token_for_another_audience_is_unauthenticated(
    gql, issuer: TokenIssuer, user_id: str
) -> None:
    token = signed_with_run_key(issuer, claims_for(issuer, user_id, aud="another-shop"))

    assert await refusal(gql, token) == ("UNAUTHENTICATED", "audience")


async def test_a_token_signed_by_an_unknown_key_is_unauthenticated(
    gql, issuer: TokenIssuer, user_id: str
) -> None:
    stranger = ed25519.Ed25519PrivateKey.generate()
    kid = thumbprint(stranger.public_key())
    token = jwt.encode(claims_for(issuer, user_id), stranger, algorithm="EdDSA", headers={"kid": kid})

    assert await refusal(gql, token) == ("UNAUTHENTICATED", "unknown_key")


async def test_a_token_naming_the_run_kid_but_signed_by_another_key_is_unauthenticated(
    gql, issuer: TokenIssuer, user_id: str
) -> None:
    stranger = ed25519.Ed25519PrivateKey.generate()
    token = jwt.encode(
        claims_for(issuer, user_id), stranger, algorithm="EdDSA", headers={"kid": issuer.key.kid}
    )

    assert await refusal(gql, token) == ("UNAUTHENTICATED", "signature")


async def test_a_malformed_authorization_header_is_unauthenticated(gql) -> None:
    garbage = await gql("users", ME, token="not.a.jwt")
    wrong_scheme = await gql("users", ME, headers={"Authorization": "Basic dXNlcjpwYXNz"})

    assert garbage.error_codes == ["UNAUTHENTICATED"]
    assert wrong_scheme.error_codes == ["UNAUTHENTICATED"]


async def test_jwks_publishes_the_signing_key_with_a_short_cache_lifetime(
    http, api, issuer: TokenIssuer
) -> None:
    response = await http.get(f"{api.url('users')}/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.headers["cache-control"] == f"public, max-age={api.settings['users'].jwks_cache_seconds}"
    keys = response.json()["keys"]
    assert [key["kid"] for key in keys] == [issuer.key.kid]
    assert keys[0]["alg"] == "EdDSA" and keys[0]["use"] == "sig" and keys[0]["kty"] == "OKP"
    assert "d" not in keys[0]  # never the private part


async def test_a_login_token_verifies_against_the_published_jwks(accounts: Accounts, http, api) -> None:
    payload = await accounts.register("jwks@example.com")
    jwks = (await http.get(f"{api.url('users')}/.well-known/jwks.json")).json()
    settings = api.settings["users"]

    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(payload["accessToken"])["kid"]]
    claims = jwt.decode(
        payload["accessToken"],
        key.key,
        algorithms=[key.algorithm_name],
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )

    assert claims["sub"] == payload["user"]["id"]
