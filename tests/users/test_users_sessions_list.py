"""A user's sessions: `mySessions` (devices, addresses, times, the current one), `endSession(id)`, and the
logouts that end sessions with their access tokens."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import jwt
from users_api import LOGIN, LOGOUT, ME, PASSWORD, REFRESH, Accounts

MY_SESSIONS = """
{ mySessions { id userAgent ipAddress createdAt lastUsedAt signInUserAgent signInIpAddress current } }
"""
END_SESSION = "mutation End($id: ID!) { endSession(id: $id) }"
LAPTOP = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0", "X-Forwarded-For": "203.0.113.40"}
PHONE = {"User-Agent": "MyShop-iOS/2.1 (iPhone; iOS 18.1)", "X-Forwarded-For": "198.51.100.7"}


async def login(gql, email: str, headers: dict[str, str]) -> dict:
    return (await gql("users", LOGIN, {"email": email, "password": PASSWORD}, headers=headers)).ok()["login"]


async def two_devices(accounts: Accounts, gql, email: str) -> tuple[dict, dict]:
    """A user signed in on a laptop and then on a phone (their registration's session ended)."""
    registered = await accounts.register(email)
    (await gql("users", LOGOUT, {"token": registered["refreshToken"]}, token=registered["accessToken"])).ok()
    return await login(gql, email, LAPTOP), await login(gql, email, PHONE)


async def sessions_of(gql, access_token: str) -> list[dict]:
    return (await gql("users", MY_SESSIONS, token=access_token)).ok()["mySessions"]


def sid(access_token: str) -> str:
    return jwt.decode(access_token, options={"verify_signature": False})["sid"]


async def test_two_devices_show_two_sessions_with_their_device_and_address(accounts: Accounts, gql) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    laptop, phone = await two_devices(accounts, gql, "two.devices.list@example.com")

    listed = await sessions_of(gql, laptop["accessToken"])

    # Last used first: the phone signed in last.
    assert [(s["userAgent"], s["ipAddress"], s["current"]) for s in listed] == [
        (PHONE["User-Agent"], "198.51.100.7", False),
        (LAPTOP["User-Agent"], "203.0.113.40", True),
    ]
    assert [(s["signInUserAgent"], s["signInIpAddress"]) for s in listed] == [
        (PHONE["User-Agent"], "198.51.100.7"),
        (LAPTOP["User-Agent"], "203.0.113.40"),
    ]
    for session in listed:
        created = datetime.fromisoformat(session["createdAt"])
        assert before < created <= datetime.now(UTC)
        assert session["lastUsedAt"] == session["createdAt"]
    # From the phone, the phone's session is the current one.
    assert [s["current"] for s in await sessions_of(gql, phone["accessToken"])] == [True, False]


async def test_a_session_id_is_the_access_tokens_sid_and_names_no_redis_key(
    accounts: Accounts, gql, redis, api
) -> None:
    laptop, phone = await two_devices(accounts, gql, "opaque.ids@example.com")
    prefix = api.settings["users"].redis_prefix

    listed = await sessions_of(gql, laptop["accessToken"])
    keys = [key.decode() async for key in redis.scan_iter(match=f"{prefix}*")]

    assert {s["id"] for s in listed} == {sid(laptop["accessToken"]), sid(phone["accessToken"])}
    assert not any(s["id"] in key for s in listed for key in keys)


async def test_a_refresh_moves_last_used_and_records_where_from(accounts: Accounts, gql) -> None:
    laptop, _ = await two_devices(accounts, gql, "moves@example.com")
    first = {s["id"]: s for s in await sessions_of(gql, laptop["accessToken"])}[sid(laptop["accessToken"])]
    await asyncio.sleep(0.05)
    elsewhere = {"User-Agent": "Mozilla/5.0 Firefox/134.0", "X-Forwarded-For": "192.0.2.99"}

    resp = await gql("users", REFRESH, {"token": laptop["refreshToken"]}, headers=elsewhere)
    renewed = resp.ok()["refreshToken"]
    listed = await sessions_of(gql, renewed["accessToken"])

    # The refreshed session went first, with the same id, and the refreshed access token knows it.
    session = listed[0]
    assert session["id"] == first["id"] == sid(renewed["accessToken"])
    assert session["current"] is True
    assert datetime.fromisoformat(session["lastUsedAt"]) > datetime.fromisoformat(first["lastUsedAt"])
    assert session["createdAt"] == first["createdAt"]
    assert (session["userAgent"], session["ipAddress"]) == (elsewhere["User-Agent"], "192.0.2.99")
    assert (session["signInUserAgent"], session["signInIpAddress"]) == (LAPTOP["User-Agent"], "203.0.113.40")


async def test_end_session_kills_the_other_devices_refresh_and_access_tokens(accounts: Accounts, gql) -> None:
    laptop, phone = await two_devices(accounts, gql, "end.other@example.com")
    # The phone's session has two live access tokens: its sign-in's and its refresh's.
    renewed = (await gql("users", REFRESH, {"token": phone["refreshToken"]})).ok()["refreshToken"]

    ended = await gql("users", END_SESSION, {"id": sid(phone["accessToken"])}, token=laptop["accessToken"])
    refused = [
        await gql("users", ME, token=phone["accessToken"]),
        await gql("users", ME, token=renewed["accessToken"]),
        await gql("users", REFRESH, {"token": renewed["refreshToken"]}),
    ]

    assert ended.ok() == {"endSession": True}
    assert [resp.error_codes for resp in refused] == [["UNAUTHENTICATED"]] * 3
    # The laptop goes on, and sees one session left: its own.
    assert [s["current"] for s in await sessions_of(gql, laptop["accessToken"])] == [True]
    (await gql("users", REFRESH, {"token": laptop["refreshToken"]})).ok()


async def test_ending_the_current_session_signs_this_device_out(accounts: Accounts, gql) -> None:
    laptop, phone = await two_devices(accounts, gql, "end.self@example.com")

    (await gql("users", END_SESSION, {"id": sid(laptop["accessToken"])}, token=laptop["accessToken"])).ok()

    assert (await gql("users", ME, token=laptop["accessToken"])).error_codes == ["UNAUTHENTICATED"]
    assert (await gql("users", REFRESH, {"token": laptop["refreshToken"]})).error_codes == ["UNAUTHENTICATED"]
    assert [s["id"] for s in await sessions_of(gql, phone["accessToken"])] == [sid(phone["accessToken"])]


async def test_another_users_session_id_is_not_found_and_ends_nothing(accounts: Accounts, gql) -> None:
    alice = await accounts.register("alice.sessions@example.com")
    mallory = await accounts.register("mallory.sessions@example.com")

    theirs = await gql("users", END_SESSION, {"id": sid(alice["accessToken"])}, token=mallory["accessToken"])
    unknown = await gql("users", END_SESSION, {"id": "bm90IGEgc2Vzc2lvbiBpZA"}, token=mallory["accessToken"])

    assert theirs.error_codes == ["NOT_FOUND"]
    assert unknown.error_codes == ["NOT_FOUND"]
    assert theirs.errors[0]["extensions"] == unknown.errors[0]["extensions"]
    (await gql("users", ME, token=alice["accessToken"])).ok()
    assert len(await sessions_of(gql, alice["accessToken"])) == 1
    (await gql("users", REFRESH, {"token": alice["refreshToken"]})).ok()


async def test_sessions_need_a_signed_in_user(accounts: Accounts, gql, issuer) -> None:
    anonymous = await gql("users", MY_SESSIONS)
    service = await gql("users", MY_SESSIONS, token=issuer.issue_service_token("orders").token)
    end = await gql("users", END_SESSION, {"id": "x"})

    assert anonymous.error_codes == ["UNAUTHENTICATED"]
    assert service.error_codes == ["FORBIDDEN"]
    assert end.error_codes == ["UNAUTHENTICATED"]


async def test_logout_from_all_sessions_empties_the_list_and_refuses_every_access_token(
    accounts: Accounts, gql
) -> None:
    laptop, phone = await two_devices(accounts, gql, "logout.all.list@example.com")
    renewed = (await gql("users", REFRESH, {"token": phone["refreshToken"]})).ok()["refreshToken"]

    (await gql("users", LOGOUT, {"all": True}, token=laptop["accessToken"])).ok()

    for token in (laptop["accessToken"], phone["accessToken"], renewed["accessToken"]):
        assert (await gql("users", ME, token=token)).error_codes == ["UNAUTHENTICATED"]
    fresh = await login(gql, "logout.all.list@example.com", LAPTOP)
    assert [s["id"] for s in await sessions_of(gql, fresh["accessToken"])] == [sid(fresh["accessToken"])]


async def test_logout_with_a_refresh_token_ends_every_access_token_of_that_session(
    accounts: Accounts, gql
) -> None:
    laptop, phone = await two_devices(accounts, gql, "logout.one@example.com")
    # The phone's older access token is still live when it logs out with its newer pair.
    renewed = (await gql("users", REFRESH, {"token": phone["refreshToken"]})).ok()["refreshToken"]

    logout = {"token": renewed["refreshToken"]}
    (await gql("users", LOGOUT, logout, token=renewed["accessToken"])).ok()

    assert (await gql("users", ME, token=phone["accessToken"])).error_codes == ["UNAUTHENTICATED"]
    assert (await gql("users", ME, token=renewed["accessToken"])).error_codes == ["UNAUTHENTICATED"]
    (await gql("users", ME, token=laptop["accessToken"])).ok()
    assert [s["id"] for s in await sessions_of(gql, laptop["accessToken"])] == [sid(laptop["accessToken"])]


async def test_an_expired_session_leaves_the_list_and_the_users_index(
    accounts: Accounts, gql, redis, api
) -> None:
    laptop, phone = await two_devices(accounts, gql, "expired.list@example.com")
    prefix = api.settings["users"].redis_prefix
    of_user = f"{prefix}users:{{{laptop['user']['id']}}}:"
    index = f"{of_user}user-families"
    token_key = f"{of_user}refresh:{hashlib.sha256(phone['refreshToken'].encode()).hexdigest()}"
    phone_family = (await redis.hget(token_key, "family")).decode()
    families = {member.decode() for member in await redis.smembers(index)}
    # The phone's family times out (its key expires after 14 idle days; the index outlives it).
    await redis.delete(f"{of_user}family:{phone_family}")

    listed = await sessions_of(gql, laptop["accessToken"])

    assert [s["id"] for s in listed] == [sid(laptop["accessToken"])]
    assert phone_family in families
    assert {member.decode() for member in await redis.smembers(index)} == families - {phone_family}


async def test_a_long_user_agent_is_cut_and_a_missing_one_is_null(accounts: Accounts, gql) -> None:
    await accounts.register("agents@example.com")
    long = await login(gql, "agents@example.com", {"User-Agent": "A" * 5000})
    await login(gql, "agents@example.com", {"User-Agent": ""})

    listed = await sessions_of(gql, long["accessToken"])

    agents = {s["id"]: s["userAgent"] for s in listed}
    assert agents[sid(long["accessToken"])] == "A" * 256
    assert None in agents.values()


async def test_an_access_token_without_a_session_id_still_works(accounts: Accounts, gql, issuer) -> None:
    signed_in = await accounts.register("old.token@example.com")
    # As issued before access tokens named their session.
    old = issuer.issue(signed_in["user"]["id"], ["CUSTOMER"]).token

    (await gql("users", ME, token=old)).ok()
    listed = await sessions_of(gql, old)

    assert [s["current"] for s in listed] == [False]


async def test_a_sign_in_beyond_the_session_cap_ends_the_least_recently_used_session(
    accounts: Accounts, gql, users_state, monkeypatch
) -> None:
    # Given a cap of 3 sessions and a user signed in on 3 devices, the first of them used again since
    monkeypatch.setattr(users_state.settings, "max_sessions_per_user", 3)
    email = "capped.sessions@example.com"
    registered = await accounts.register(email)  # its register-then-login is session 1
    second, third = await login(gql, email, LAPTOP), await login(gql, email, PHONE)
    await asyncio.sleep(0.01)
    renewed = (await gql("users", REFRESH, {"token": registered["refreshToken"]})).ok()["refreshToken"]

    # When a fourth sign-in comes
    fourth = await login(gql, email, LAPTOP)

    # Then the least recently used session (the second) ended, its access token with it; the others live
    listed = await sessions_of(gql, fourth["accessToken"])
    assert {s["id"] for s in listed} == {
        sid(t) for t in (renewed["accessToken"], third["accessToken"], fourth["accessToken"])
    }
    assert (await gql("users", ME, token=second["accessToken"])).error_codes == ["UNAUTHENTICATED"]
    assert (await gql("users", REFRESH, {"token": second["refreshToken"]})).error_codes == ["UNAUTHENTICATED"]
    assert (await gql("users", ME, token=renewed["accessToken"])).ok()["me"]["email"] == email
