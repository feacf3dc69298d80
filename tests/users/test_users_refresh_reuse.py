"""Refresh-token reuse ends the family's access tokens too; a second use within the grace window is none."""

from __future__ import annotations

import asyncio

from users_api import ME, REFRESH, Accounts


async def refresh(gql, token: str):
    return await gql("users", REFRESH, {"token": token})


async def test_reuse_revokes_every_access_token_of_the_family_at_once(
    accounts: Accounts, gql, no_refresh_grace
) -> None:
    signed_in = await accounts.register("reuse.access@example.com")
    renewed = (await refresh(gql, signed_in["refreshToken"])).ok()["refreshToken"]
    for token in (signed_in["accessToken"], renewed["accessToken"]):
        (await gql("users", ME, token=token)).ok()

    replayed = await refresh(gql, signed_in["refreshToken"])
    original = await gql("users", ME, token=signed_in["accessToken"])
    refreshed = await gql("users", ME, token=renewed["accessToken"])

    assert replayed.errors[0]["extensions"]["reason"] == "reused"
    assert original.error_codes == ["UNAUTHENTICATED"]
    assert refreshed.error_codes == ["UNAUTHENTICATED"]


async def test_reuse_leaves_the_access_tokens_of_the_users_other_sessions(
    accounts: Accounts, gql, no_refresh_grace
) -> None:
    first = await accounts.register("reuse.other@example.com")
    second = await accounts.login("reuse.other@example.com")
    (await refresh(gql, first["refreshToken"])).ok()

    replayed = await refresh(gql, first["refreshToken"])

    assert replayed.errors[0]["extensions"]["reason"] == "reused"
    (await gql("users", ME, token=second["accessToken"])).ok()


async def test_two_concurrent_refreshes_of_one_token_both_get_the_same_new_pair(
    accounts: Accounts, gql
) -> None:
    signed_in = await accounts.register("two.tabs@example.com")

    first, second = await asyncio.gather(*(refresh(gql, signed_in["refreshToken"]) for _ in range(2)))

    pair = first.ok()["refreshToken"]
    assert second.ok()["refreshToken"] == pair
    # The session goes on with that pair: its access token works and its refresh token rotates.
    (await gql("users", ME, token=pair["accessToken"])).ok()
    (await refresh(gql, pair["refreshToken"])).ok()


async def test_a_retried_refresh_within_the_window_gets_the_same_pair(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("retry@example.com")

    first = (await refresh(gql, signed_in["refreshToken"])).ok()["refreshToken"]
    retried = (await refresh(gql, signed_in["refreshToken"])).ok()["refreshToken"]

    assert retried == first


async def test_the_window_ends_once_the_new_token_is_used(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("window.closed@example.com")
    renewed = (await refresh(gql, signed_in["refreshToken"])).ok()["refreshToken"]
    newest = (await refresh(gql, renewed["refreshToken"])).ok()["refreshToken"]

    # The old token again: its successor was used, so this is a reuse, grace window or not.
    replayed = await refresh(gql, signed_in["refreshToken"])

    assert replayed.errors[0]["extensions"]["reason"] == "reused"
    assert (await refresh(gql, newest["refreshToken"])).error_codes == ["UNAUTHENTICATED"]
    assert (await gql("users", ME, token=newest["accessToken"])).error_codes == ["UNAUTHENTICATED"]


async def test_the_window_ends_after_its_seconds(accounts: Accounts, gql, users_state, monkeypatch) -> None:
    monkeypatch.setattr(users_state.refresh_tokens, "grace_seconds", 0.3)
    signed_in = await accounts.register("window.expired@example.com")
    (await refresh(gql, signed_in["refreshToken"])).ok()
    await asyncio.sleep(0.5)

    replayed = await refresh(gql, signed_in["refreshToken"])

    assert replayed.errors[0]["extensions"]["reason"] == "reused"


async def test_the_pair_is_kept_sealed_in_redis(accounts: Accounts, gql, redis, api) -> None:
    signed_in = await accounts.register("sealed@example.com")
    renewed = (await refresh(gql, signed_in["refreshToken"])).ok()["refreshToken"]
    prefix = api.settings["users"].redis_prefix

    stored = [
        str(await redis.hgetall(key))
        async for key in redis.scan_iter(match=f"{prefix}users:*:refresh-grace:*")
    ]

    assert len(stored) == 1
    assert renewed["refreshToken"] not in stored[0]
    assert renewed["accessToken"].split(".")[1] not in stored[0]
