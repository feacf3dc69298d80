"""Password reset: requestPasswordReset (one answer for every address, rate limited) and resetPassword (a
single-use token valid 1 hour; every session of the account ends at once)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from users_api import LOGIN, ME, PASSWORD, REFRESH, Accounts

REQUEST = "mutation R($email: String!) { requestPasswordReset(email: $email) }"
RESET = "mutation S($token: String!, $new: String!) { resetPassword(token: $token, newPassword: $new) }"
VERIFY = "mutation V($token: String!) { verifyEmail(token: $token) { id } }"
NEW_PASSWORD = "a brand new passphrase"


async def reset_token(accounts: Accounts, gql, email: str) -> str:
    (await gql("users", REQUEST, {"email": email})).ok()
    return await accounts.mailed_token("PasswordResetRequested", email)


async def test_a_reset_request_answers_the_same_for_a_known_and_an_unknown_address(
    accounts: Accounts, gql
) -> None:
    await accounts.register("known@example.com")

    known = await gql("users", REQUEST, {"email": "known@example.com"})
    unknown = await gql("users", REQUEST, {"email": "nobody@example.com"})

    assert known.status_code == unknown.status_code == 200
    assert known.http.content == unknown.http.content == b'{"data":{"requestPasswordReset":true}}'
    events = await accounts.events("PasswordResetRequested")
    assert [e["email"] for e in events] == ["known@example.com"]
    assert set(events[0]) == {"userId", "email", "name", "token", "expiresAt", "at"}


async def test_the_reset_token_sets_the_new_password(accounts: Accounts, gql) -> None:
    await accounts.register("forgot@example.com")
    token = await reset_token(accounts, gql, "forgot@example.com")

    assert (await gql("users", RESET, {"token": token, "new": NEW_PASSWORD})).ok() == {"resetPassword": True}

    await accounts.login("forgot@example.com", NEW_PASSWORD)
    old = await gql("users", LOGIN, {"email": "forgot@example.com", "password": PASSWORD})
    assert old.error_codes == ["UNAUTHENTICATED"]
    changed = await accounts.events("PasswordChanged")
    assert [(e["email"], e["reason"]) for e in changed] == [("forgot@example.com", "RESET")]


async def test_a_reset_token_works_once(accounts: Accounts, gql) -> None:
    await accounts.register("twice.reset@example.com")
    token = await reset_token(accounts, gql, "twice.reset@example.com")
    (await gql("users", RESET, {"token": token, "new": NEW_PASSWORD})).ok()

    again = await gql("users", RESET, {"token": token, "new": "yet another password"})

    assert again.error_codes == ["BAD_USER_INPUT"]
    assert again.errors[0]["extensions"]["field"] == "token"
    await accounts.login("twice.reset@example.com", NEW_PASSWORD)


async def test_an_expired_reset_token_is_refused(accounts: Accounts, gql, users_sessions) -> None:
    await accounts.register("late.reset@example.com")
    token = await reset_token(accounts, gql, "late.reset@example.com")
    async with users_sessions.begin() as session:
        await session.execute(
            text(
                "UPDATE account_tokens SET expires_at = now() - interval '1 second' "
                "WHERE purpose = 'RESET_PASSWORD'"
            )
        )

    resp = await gql("users", RESET, {"token": token, "new": NEW_PASSWORD})

    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == "token"
    await accounts.login("late.reset@example.com", PASSWORD)


async def test_the_reset_token_lives_one_hour(accounts: Accounts, gql, users_sessions) -> None:
    await accounts.register("hour@example.com")
    await reset_token(accounts, gql, "hour@example.com")

    async with users_sessions() as session:
        seconds = await session.scalar(
            text(
                "SELECT extract(epoch FROM expires_at - created_at) FROM account_tokens "
                "WHERE purpose = 'RESET_PASSWORD'"
            )
        )
    assert abs(float(seconds) - 3600) < 5


async def test_a_reset_ends_every_session_and_access_token_at_once(accounts: Accounts, gql) -> None:
    laptop = await accounts.register("stolen.laptop@example.com")
    phone = await accounts.login("stolen.laptop@example.com")
    token = await reset_token(accounts, gql, "stolen.laptop@example.com")

    (await gql("users", RESET, {"token": token, "new": NEW_PASSWORD})).ok()

    for device in (laptop, phone):
        assert (await gql("users", ME, token=device["accessToken"])).error_codes == ["UNAUTHENTICATED"]
        refreshed = await gql("users", REFRESH, {"token": device["refreshToken"]})
        assert refreshed.error_codes == ["UNAUTHENTICATED"]
    fresh = await accounts.login("stolen.laptop@example.com", NEW_PASSWORD)
    assert (await gql("users", ME, token=fresh["accessToken"])).ok()["me"][
        "email"
    ] == "stolen.laptop@example.com"


async def test_a_reset_marks_the_address_verified(accounts: Accounts, gql) -> None:
    await accounts.register("proved@example.com")
    token = await reset_token(accounts, gql, "proved@example.com")

    (await gql("users", RESET, {"token": token, "new": NEW_PASSWORD})).ok()

    signed_in = await accounts.login("proved@example.com", NEW_PASSWORD)
    me = (await gql("users", "{ me { emailVerified } }", token=signed_in["accessToken"])).ok()["me"]
    assert me == {"emailVerified": True}


async def test_a_newer_reset_request_voids_the_earlier_token(accounts: Accounts, gql) -> None:
    await accounts.register("newer@example.com")
    first = await reset_token(accounts, gql, "newer@example.com")
    second = await reset_token(accounts, gql, "newer@example.com")

    assert (await gql("users", RESET, {"token": first, "new": NEW_PASSWORD})).error_codes == [
        "BAD_USER_INPUT"
    ]
    (await gql("users", RESET, {"token": second, "new": NEW_PASSWORD})).ok()


async def test_a_short_new_password_is_refused_and_keeps_the_token(accounts: Accounts, gql) -> None:
    await accounts.register("short.reset@example.com")
    token = await reset_token(accounts, gql, "short.reset@example.com")

    refused = await gql("users", RESET, {"token": token, "new": "short"})

    assert refused.error_codes == ["BAD_USER_INPUT"]
    assert refused.errors[0]["extensions"]["field"] == "newPassword"
    (await gql("users", RESET, {"token": token, "new": NEW_PASSWORD})).ok()


async def test_tokens_of_other_purposes_do_not_reset_a_password(accounts: Accounts, gql) -> None:
    await accounts.register("purpose@example.com")
    verification = await accounts.mailed_token("UserRegistered", "purpose@example.com")

    resp = await gql("users", RESET, {"token": verification, "new": NEW_PASSWORD})

    assert resp.error_codes == ["BAD_USER_INPUT"]
    (await gql("users", VERIFY, {"token": verification})).ok()  # still a good verification token


async def test_past_the_per_account_limit_the_answer_stays_true_and_no_mail_leaves(
    accounts: Accounts, gql, api
) -> None:
    await accounts.register("flooded@example.com")
    mails = api.settings["users"].password_reset_account_mails

    answers = [await gql("users", REQUEST, {"email": "flooded@example.com"}) for _ in range(mails + 2)]

    assert all(a.ok() == {"requestPasswordReset": True} for a in answers)
    assert len(await accounts.events("PasswordResetRequested")) == mails


async def test_reset_requests_are_rate_limited_per_client_address(gql, api) -> None:
    attempts = api.settings["users"].password_reset_address_attempts
    prober = {"X-Forwarded-For": "198.51.100.9"}
    for n in range(attempts):
        (await gql("users", REQUEST, {"email": f"probe{n}@example.com"}, headers=prober)).ok()

    limited = await gql("users", REQUEST, {"email": "probe@example.com"}, headers=prober)
    elsewhere = await gql(
        "users", REQUEST, {"email": "probe@example.com"}, headers={"X-Forwarded-For": "198.51.100.10"}
    )

    assert limited.error_codes == ["RATE_LIMITED"]
    assert limited.errors[0]["extensions"]["retryAfter"] > 0
    assert elsewhere.ok() == {"requestPasswordReset": True}


@pytest.mark.parametrize("email", ["not-an-email", ""])
async def test_a_malformed_address_is_bad_input(gql, email: str) -> None:
    resp = await gql("users", REQUEST, {"email": email})

    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == "email"


async def test_one_reset_token_sent_twice_at_once_works_once(accounts: Accounts, gql) -> None:
    await accounts.register("racing.reset@example.com")
    token = await reset_token(accounts, gql, "racing.reset@example.com")

    answers = await asyncio.gather(
        gql("users", RESET, {"token": token, "new": NEW_PASSWORD}),
        gql("users", RESET, {"token": token, "new": "the other new password"}),
    )

    assert sorted(str(a.error_codes) for a in answers) == ["['BAD_USER_INPUT']", "[]"]
    assert len(await accounts.events("PasswordChanged")) == 1
