"""Refresh tokens (rotation, reuse detection, concurrency) and logout."""

from __future__ import annotations

import asyncio
import secrets

import jwt
from sqlalchemy import text
from users_api import LOGOUT, ME, REFRESH, Accounts


async def refresh(gql, token: str):
    return await gql("users", REFRESH, {"token": token})


async def test_refresh_rotates_to_a_new_pair_of_tokens(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("rotate@example.com")

    renewed = (await refresh(gql, signed_in["refreshToken"])).ok()["refreshToken"]

    assert renewed["refreshToken"] != signed_in["refreshToken"]
    assert renewed["accessToken"] != signed_in["accessToken"]
    assert renewed["user"] == {"id": signed_in["user"]["id"], "roles": ["CUSTOMER"]}
    assert (await gql("users", ME, token=renewed["accessToken"])).ok()["me"]["id"] == signed_in["user"]["id"]
    # The chain goes on: the new refresh token is good for one more turn.
    (await refresh(gql, renewed["refreshToken"])).ok()


async def test_refresh_reads_the_current_roles_from_the_database(
    accounts: Accounts, gql, users_sessions
) -> None:
    signed_in = await accounts.register("promoted@example.com")
    async with users_sessions.begin() as session:
        await session.execute(
            text("UPDATE users SET roles = ARRAY['PARTNER'] WHERE id = :id"), {"id": signed_in["user"]["id"]}
        )

    renewed = (await refresh(gql, signed_in["refreshToken"])).ok()["refreshToken"]

    assert renewed["user"]["roles"] == ["PARTNER"]
    assert jwt.decode(renewed["accessToken"], options={"verify_signature": False})["roles"] == ["PARTNER"]


async def test_an_unknown_refresh_token_is_unauthenticated(gql) -> None:
    resp = await refresh(gql, secrets.token_urlsafe(32))

    assert resp.status_code == 200
    assert resp.error_codes == ["UNAUTHENTICATED"]


async def test_reusing_a_refresh_token_revokes_its_whole_family(
    accounts: Accounts, gql, no_refresh_grace
) -> None:
    signed_in = await accounts.register("stolen@example.com")
    newer = (await refresh(gql, signed_in["refreshToken"])).ok()["refreshToken"]["refreshToken"]

    replayed = await refresh(gql, signed_in["refreshToken"])
    after_replay = await refresh(gql, newer)

    assert replayed.error_codes == ["UNAUTHENTICATED"]
    assert replayed.errors[0]["extensions"]["reason"] == "reused"
    assert after_replay.error_codes == ["UNAUTHENTICATED"]


async def test_reuse_revokes_only_that_family_not_the_users_other_sessions(
    accounts: Accounts, gql, no_refresh_grace
) -> None:
    first = await accounts.register("two.devices@example.com")
    second = await accounts.login("two.devices@example.com")
    rotated = (await refresh(gql, first["refreshToken"])).ok()["refreshToken"]["refreshToken"]

    replayed = await refresh(gql, first["refreshToken"])

    # The replay is refused as a reuse, and its family is revoked: the token it was rotated into dies too.
    assert replayed.error_codes == ["UNAUTHENTICATED"]
    assert replayed.errors[0]["extensions"]["reason"] == "reused"
    after_replay = await refresh(gql, rotated)
    assert after_replay.error_codes == ["UNAUTHENTICATED"]
    assert after_replay.errors[0]["extensions"]["reason"] == "invalid"
    # The user's other session (another family) goes on.
    (await refresh(gql, second["refreshToken"])).ok()


async def test_two_concurrent_uses_of_one_refresh_token_succeed_once_without_grace(
    accounts: Accounts, gql, no_refresh_grace
) -> None:
    signed_in = await accounts.register("double@example.com")

    responses = await asyncio.gather(*(refresh(gql, signed_in["refreshToken"]) for _ in range(2)))

    assert sorted(code for resp in responses for code in resp.error_codes) == ["UNAUTHENTICATED"]
    assert sum(1 for resp in responses if not resp.errors) == 1


async def test_many_concurrent_uses_of_one_refresh_token_get_one_pair(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("many@example.com")

    responses = await asyncio.gather(*(refresh(gql, signed_in["refreshToken"]) for _ in range(8)))

    pairs = {(r["accessToken"], r["refreshToken"]) for r in (resp.ok()["refreshToken"] for resp in responses)}
    assert len(pairs) == 1


async def test_logout_makes_the_access_token_and_the_refresh_token_unusable(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("bye@example.com")

    result = await gql("users", LOGOUT, {"token": signed_in["refreshToken"]}, token=signed_in["accessToken"])

    assert result.ok() == {"logout": True}
    assert (await gql("users", ME, token=signed_in["accessToken"])).error_codes == ["UNAUTHENTICATED"]
    assert (await refresh(gql, signed_in["refreshToken"])).error_codes == ["UNAUTHENTICATED"]


async def test_logout_ends_the_refresh_family_even_after_rotation(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("rotated.bye@example.com")
    renewed = (await refresh(gql, signed_in["refreshToken"])).ok()["refreshToken"]

    # The client logs out with its latest pair.
    (await gql("users", LOGOUT, {"token": renewed["refreshToken"]}, token=renewed["accessToken"])).ok()

    assert (await refresh(gql, renewed["refreshToken"])).error_codes == ["UNAUTHENTICATED"]


async def test_logout_without_a_refresh_token_keeps_the_session_refreshable(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("soft.bye@example.com")

    (await gql("users", LOGOUT, token=signed_in["accessToken"])).ok()

    assert (await gql("users", ME, token=signed_in["accessToken"])).error_codes == ["UNAUTHENTICATED"]
    (await refresh(gql, signed_in["refreshToken"])).ok()


async def test_logout_from_all_sessions_ends_every_session_of_the_user(accounts: Accounts, gql) -> None:
    laptop = await accounts.register("everywhere@example.com")
    phone = await accounts.login("everywhere@example.com")

    (await gql("users", LOGOUT, {"all": True}, token=laptop["accessToken"])).ok()

    assert (await refresh(gql, laptop["refreshToken"])).error_codes == ["UNAUTHENTICATED"]
    assert (await refresh(gql, phone["refreshToken"])).error_codes == ["UNAUTHENTICATED"]
    assert (await gql("users", ME, token=phone["accessToken"])).error_codes == ["UNAUTHENTICATED"]
    # Signing in again afterwards works.
    fresh = await accounts.login("everywhere@example.com")
    (await gql("users", ME, token=fresh["accessToken"])).ok()


async def test_logout_leaves_another_users_refresh_token_alone(accounts: Accounts, gql) -> None:
    mallory = await accounts.register("mallory@example.com")
    alice = await accounts.register("alice@example.com")

    (await gql("users", LOGOUT, {"token": alice["refreshToken"]}, token=mallory["accessToken"])).ok()

    (await refresh(gql, alice["refreshToken"])).ok()


async def test_logout_needs_a_valid_access_token(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("anon.bye@example.com")

    resp = await gql("users", LOGOUT, {"token": signed_in["refreshToken"]})

    assert resp.error_codes == ["UNAUTHENTICATED"]
    (await refresh(gql, signed_in["refreshToken"])).ok()


async def test_sessions_are_stored_under_the_run_prefix_by_hash_and_expire(
    accounts: Accounts, redis, api
) -> None:
    signed_in = await accounts.register("hashed.session@example.com")
    settings = api.settings["users"]
    prefix = settings.redis_prefix

    # The login throttle's keys (the sign-in after registering) aside: throttle.py tests those.
    scanned = [key.decode() async for key in redis.scan_iter(match=f"{prefix}users:*")]
    keys = [key for key in scanned if not key.startswith(f"{prefix}users:login:")]
    values = [str(await redis.hgetall(key)) for key in keys if await redis.type(key) == b"hash"]
    ttls = [await redis.ttl(key) for key in keys if ":family-access:" not in key]
    access_ttls = [await redis.ttl(key) for key in keys if ":family-access:" in key]

    # The token's record, its family, the session's record, the user's family index and the family's access
    # tokens (by id).
    assert len(keys) == 5
    assert not any(signed_in["refreshToken"] in item for item in keys + values)
    assert all(
        settings.refresh_token_ttl_seconds - 60 < ttl <= settings.refresh_token_ttl_seconds for ttl in ttls
    )
    assert len(access_ttls) == 1
    assert settings.access_token_ttl_seconds < access_ttls[0] <= settings.access_token_ttl_seconds + 60
