"""Mutation.login: credentials, the access token it hands out, rehashing, and its throttles."""

from __future__ import annotations

import time
from datetime import datetime

import jwt
import pytest
from argon2 import PasswordHasher
from sqlalchemy import text
from users_api import LOGIN, ME, PASSWORD, Accounts

from subgraphs.users import repository
from subgraphs.users.passwords import Passwords, Verification


async def test_login_returns_tokens_for_the_account(accounts: Accounts, gql, api) -> None:
    registered = await accounts.register("login@example.com")

    payload = await accounts.login("LOGIN@example.com")

    assert payload["user"] == {
        "id": registered["user"]["id"],
        "email": "login@example.com",
        "roles": ["CUSTOMER"],
    }
    ttl = api.settings["users"].access_token_ttl_seconds
    expires_at = datetime.fromisoformat(payload["expiresAt"]).timestamp()
    assert abs(expires_at - (time.time() + ttl)) < 5
    claims = jwt.decode(payload["accessToken"], options={"verify_signature": False})
    assert claims["exp"] == int(expires_at)
    assert payload["refreshToken"] != registered["refreshToken"]


async def test_access_token_carries_the_contracted_claims_and_header(accounts: Accounts, api) -> None:
    payload = await accounts.register("claims@example.com")

    header = jwt.get_unverified_header(payload["accessToken"])
    claims = jwt.decode(payload["accessToken"], options={"verify_signature": False})

    settings = api.settings["users"]
    assert header["alg"] == "EdDSA"
    assert header["kid"]
    assert claims["iss"] == settings.jwt_issuer
    assert claims["aud"] == settings.jwt_audience
    assert claims["sub"] == payload["user"]["id"]
    assert claims["roles"] == ["CUSTOMER"]
    assert claims["jti"] and claims["iat"] <= time.time() < claims["exp"]


async def test_login_with_a_wrong_password_is_unauthenticated(accounts: Accounts, gql) -> None:
    await accounts.register("wrong@example.com")

    resp = await gql("users", LOGIN, {"email": "wrong@example.com", "password": "not the password"})

    assert resp.status_code == 200
    assert resp.error_codes == ["UNAUTHENTICATED"]


async def test_login_with_an_unknown_or_malformed_email_is_unauthenticated(gql) -> None:
    unknown = await gql("users", LOGIN, {"email": "nobody@example.com", "password": PASSWORD})
    malformed = await gql("users", LOGIN, {"email": "no at sign", "password": PASSWORD})

    assert unknown.error_codes == ["UNAUTHENTICATED"]
    assert malformed.error_codes == ["UNAUTHENTICATED"]


async def test_login_rehashes_a_password_hashed_with_older_parameters(
    accounts: Accounts, users_sessions, api
) -> None:
    # Below any cost the settings accept (m >= 8 MiB) and the tests' stack's (1 MiB): older than both.
    weak = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1)
    async with users_sessions.begin() as session:
        await repository.add(
            session,
            email="old@example.com",
            name="Old Hash",
            password_hash=weak.hash(PASSWORD),
            roles=["CUSTOMER"],
        )

    await accounts.login("old@example.com")

    async with users_sessions() as session:
        stored = await session.scalar(text("SELECT password_hash FROM users WHERE email = 'old@example.com'"))
    settings = api.settings["users"]
    assert f"m={settings.argon2_memory_cost_kib},t={settings.argon2_time_cost}" in stored
    await accounts.login("old@example.com")


async def test_password_verification_flags_hashes_made_with_other_parameters() -> None:
    old = Passwords(time_cost=1, memory_cost_kib=8 * 1024, parallelism=1)
    current = Passwords(time_cost=2, memory_cost_kib=19 * 1024, parallelism=1)
    stored = await old.hash(PASSWORD)

    assert (await current.verify(stored, PASSWORD)).needs_rehash
    assert not (await old.verify(stored, PASSWORD)).needs_rehash
    assert not (await current.verify(stored, "wrong password")).ok
    assert not (await current.verify("not a hash", PASSWORD)).ok


async def test_failed_logins_slow_down_their_address_without_locking_the_account(
    accounts: Accounts, gql, api
) -> None:
    settings = api.settings["users"]
    await accounts.register("slowed@example.com")
    guesser = {"X-Forwarded-For": "203.0.113.20"}
    variables = {"email": "slowed@example.com", "password": "guess guess"}
    for _ in range(settings.login_free_failures + 1):
        assert (await gql("users", LOGIN, variables, headers=guesser)).error_codes == ["UNAUTHENTICATED"]

    # The guesser's address waits, even with the right password and another spelling of the address ...
    right = {"email": "Slowed@Example.com", "password": PASSWORD}
    waiting = await gql("users", LOGIN, right, headers=guesser)
    # ... while the owner elsewhere signs in.
    owner = await gql("users", LOGIN, right, headers={"X-Forwarded-For": "203.0.113.21"})

    assert waiting.error_codes == ["RATE_LIMITED"]
    assert waiting.errors[0]["extensions"]["retryAfter"] == 1
    assert owner.ok()["login"]["user"]["email"] == "slowed@example.com"


async def test_a_successful_login_resets_the_back_off(accounts: Accounts, gql, api) -> None:
    settings = api.settings["users"]
    await accounts.register("reset@example.com")
    for _ in range(settings.login_free_failures - 1):
        await gql("users", LOGIN, {"email": "reset@example.com", "password": "guess guess"})
    await accounts.login("reset@example.com")

    for _ in range(settings.login_free_failures - 1):
        failed = await gql("users", LOGIN, {"email": "reset@example.com", "password": "guess guess"})
        assert failed.error_codes == ["UNAUTHENTICATED"]
    await accounts.login("reset@example.com")


async def test_login_attempts_are_rate_limited_per_client_address(accounts: Accounts, gql, api) -> None:
    settings = api.settings["users"]
    await accounts.register("shared-office@example.com")
    noisy = {"X-Forwarded-For": "203.0.113.9"}
    # Many accounts, each below its own limit: only the address limit can stop this.
    for n in range(settings.login_address_attempts):
        variables = {"email": f"stuffing{n}@example.com", "password": "leaked password"}
        assert (await gql("users", LOGIN, variables, headers=noisy)).error_codes == ["UNAUTHENTICATED"]

    variables = {"email": "shared-office@example.com", "password": PASSWORD}
    limited = await gql("users", LOGIN, variables, headers=noisy)
    elsewhere = await gql("users", LOGIN, variables, headers={"X-Forwarded-For": "203.0.113.10"})

    assert limited.error_codes == ["RATE_LIMITED"]
    assert limited.errors[0]["extensions"]["retryAfter"] > 0
    assert elsewhere.ok()["login"]["user"]["email"] == "shared-office@example.com"


async def test_me_without_a_token_is_unauthenticated(gql) -> None:
    resp = await gql("users", ME)

    assert resp.error_codes == ["UNAUTHENTICATED"]


async def test_login_with_an_unknown_email_still_spends_a_password_verification(
    gql, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[str] = []
    original = Passwords.verify

    async def counting_verify(self: Passwords, password_hash: str, password: str) -> Verification:
        verified.append(password)
        return await original(self, password_hash, password)

    # The server runs in this process (a thread): patching the class patches the server.
    monkeypatch.setattr(Passwords, "verify", counting_verify)
    resp = await gql("users", LOGIN, {"email": "ghost@example.com", "password": "ghost password"})

    assert resp.error_codes == ["UNAUTHENTICATED"]
    assert verified == ["ghost password"]
