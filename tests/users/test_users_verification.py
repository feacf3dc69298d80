"""Email verification: the token mailed at registration (sealed in UserRegistered), verifyEmail,
resendVerification, User.emailVerified and the access token's `email_verified` claim."""

from __future__ import annotations

import hashlib

import jwt
import pytest
from sqlalchemy import text
from users_api import ME, PASSWORD, REFRESH, REGISTER, Accounts

from myshop.demo.users import DEMO_ACCOUNTS

VERIFY = "mutation V($token: String!) { verifyEmail(token: $token) { id email emailVerified } }"
RESEND = "mutation { resendVerification }"
ME_VERIFIED = "{ me { id emailVerified } }"
USER_VERIFIED = "query U($id: ID!) { user(id: $id) { emailVerified } }"
ENTITY_VERIFIED = """
query E($r: [_Any!]!) { _entities(representations: $r) { ... on User { emailVerified } } }
"""


def claims(access_token: str) -> dict:
    return jwt.decode(access_token, options={"verify_signature": False})


async def test_the_registration_token_verifies_the_account(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("verify.me@example.com")
    token = await accounts.mailed_token("UserRegistered", "verify.me@example.com")

    verified = (await gql("users", VERIFY, {"token": token})).ok()["verifyEmail"]

    assert verified == {
        "id": signed_in["user"]["id"],
        "email": "verify.me@example.com",
        "emailVerified": True,
    }
    me = (await gql("users", ME_VERIFIED, token=signed_in["accessToken"])).ok()["me"]
    assert me["emailVerified"] is True
    events = await accounts.events("EmailVerified")
    assert [(e["userId"], e["email"]) for e in events] == [(signed_in["user"]["id"], "verify.me@example.com")]


async def test_a_new_account_is_unverified_and_signs_in_with_a_token_saying_so(
    accounts: Accounts, gql
) -> None:
    signed_in = await accounts.register("unverified@example.com")

    assert signed_in["user"]["emailVerified"] is False
    assert claims(signed_in["accessToken"])["email_verified"] is False


async def test_the_next_refresh_after_verifying_carries_the_claim(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("claim@example.com")
    token = await accounts.mailed_token("UserRegistered", "claim@example.com")
    (await gql("users", VERIFY, {"token": token})).ok()

    renewed = (await gql("users", REFRESH, {"token": signed_in["refreshToken"]})).ok()["refreshToken"]

    assert claims(renewed["accessToken"])["email_verified"] is True


async def test_the_token_travels_sealed_and_is_stored_only_as_its_hash(
    accounts: Accounts, users_sessions
) -> None:
    await accounts.register("sealed.token@example.com")
    token = await accounts.mailed_token("UserRegistered", "sealed.token@example.com")

    event = (await accounts.events("UserRegistered", email="sealed.token@example.com"))[0]
    async with users_sessions() as session:
        rows = (await session.execute(text("SELECT purpose, token_hash, email FROM account_tokens"))).all()
    assert token not in str(event)
    assert rows == [("VERIFY_EMAIL", hashlib.sha256(token.encode()).hexdigest(), "sealed.token@example.com")]


async def test_a_verification_token_works_once(accounts: Accounts, gql) -> None:
    await accounts.register("once@example.com")
    token = await accounts.mailed_token("UserRegistered", "once@example.com")
    (await gql("users", VERIFY, {"token": token})).ok()

    again = await gql("users", VERIFY, {"token": token})

    assert again.error_codes == ["BAD_USER_INPUT"]
    assert again.errors[0]["extensions"]["field"] == "token"
    assert len(await accounts.events("EmailVerified")) == 1


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 500])
async def test_a_wrong_token_answers_like_a_used_one(gql, token: str) -> None:
    resp = await gql("users", VERIFY, {"token": token})

    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == "token"


async def test_an_expired_verification_token_is_refused(accounts: Accounts, gql, users_sessions) -> None:
    signed_in = await accounts.register("expired@example.com")
    token = await accounts.mailed_token("UserRegistered", "expired@example.com")
    async with users_sessions.begin() as session:
        await session.execute(text("UPDATE account_tokens SET expires_at = now() - interval '1 second'"))

    resp = await gql("users", VERIFY, {"token": token})

    assert resp.error_codes == ["BAD_USER_INPUT"]
    me = (await gql("users", ME_VERIFIED, token=signed_in["accessToken"])).ok()["me"]
    assert me["emailVerified"] is False


async def test_the_verification_token_lives_48_hours(accounts: Accounts, users_sessions) -> None:
    await accounts.register("ttl@example.com")

    async with users_sessions() as session:
        hours = await session.scalar(
            text("SELECT extract(epoch FROM expires_at - created_at) / 3600 FROM account_tokens")
        )
    assert round(float(hours)) == 48


async def test_resend_mails_a_new_token_and_the_earlier_one_stops_working(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("resend@example.com", name="Re Send")
    first = await accounts.mailed_token("UserRegistered", "resend@example.com")

    assert (await gql("users", RESEND, token=signed_in["accessToken"])).ok() == {"resendVerification": True}
    second = await accounts.mailed_token("EmailVerificationRequested", "resend@example.com")

    assert (await gql("users", VERIFY, {"token": first})).error_codes == ["BAD_USER_INPUT"]
    assert (await gql("users", VERIFY, {"token": second})).ok()["verifyEmail"]["emailVerified"] is True
    event = (await accounts.events("EmailVerificationRequested"))[0]
    assert set(event) == {"userId", "email", "name", "token", "expiresAt", "at"}
    assert event["name"] == "Re Send"


async def test_resend_for_a_verified_address_answers_false_and_mails_nothing(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("done@example.com")
    (
        await gql(
            "users", VERIFY, {"token": await accounts.mailed_token("UserRegistered", "done@example.com")}
        )
    ).ok()

    resp = await gql("users", RESEND, token=signed_in["accessToken"])

    assert resp.ok() == {"resendVerification": False}
    assert await accounts.events("EmailVerificationRequested") == []


async def test_resend_is_rate_limited_per_user(accounts: Accounts, gql, api) -> None:
    signed_in = await accounts.register("spammy@example.com")
    allowed = api.settings["users"].verification_resend_attempts
    for _ in range(allowed):
        (await gql("users", RESEND, token=signed_in["accessToken"])).ok()

    refused = await gql("users", RESEND, token=signed_in["accessToken"])

    assert refused.error_codes == ["RATE_LIMITED"]
    assert len(await accounts.events("EmailVerificationRequested")) == allowed


async def test_resend_needs_a_signed_in_user(gql) -> None:
    assert (await gql("users", RESEND)).error_codes == ["UNAUTHENTICATED"]


async def test_email_verified_is_hidden_from_anonymous_callers(accounts: Accounts, gql) -> None:
    user_id = (await accounts.register("hidden@example.com"))["user"]["id"]

    resp = await gql("users", ENTITY_VERIFIED, {"r": [{"__typename": "User", "id": user_id}]})

    assert resp.error_codes == ["UNAUTHENTICATED"]


async def test_an_admin_reads_whether_a_user_is_verified(accounts: Accounts, gql) -> None:
    user_id = (await accounts.register("audited@example.com"))["user"]["id"]
    admin = (await accounts.seed_demo())["admin"]

    resp = await gql("users", USER_VERIFIED, {"id": user_id}, token=admin["accessToken"])

    assert resp.ok() == {"user": {"emailVerified": False}}


async def test_the_demo_accounts_are_verified(accounts: Accounts, gql) -> None:
    demo = await accounts.seed_demo()

    for role in ("admin", "customer", "partner"):
        assert claims(demo[role]["accessToken"])["email_verified"] is True
    assert len(demo) == len(DEMO_ACCOUNTS)


async def test_registering_a_taken_address_tells_its_owner_and_issues_no_token(
    accounts: Accounts, gql, users_sessions
) -> None:
    owner = (await accounts.register("owner@example.com", name="Olive Owner"))["user"]
    variables = {"input": {"email": "OWNER@example.com", "password": PASSWORD, "name": "Intruder"}}

    (await gql("users", REGISTER, variables)).ok()

    attempts = await accounts.events("SignUpAttempted")
    assert [(e["userId"], e["email"], e["name"]) for e in attempts] == [
        (owner["id"], "owner@example.com", "Olive Owner")
    ]
    assert set(attempts[0]) == {"userId", "email", "name", "at"}
    async with users_sessions() as session:
        assert await session.scalar(text("SELECT count(*) FROM account_tokens")) == 1  # the owner's own


async def test_me_is_reachable_with_the_token_of_an_unverified_account(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("gated@example.com")

    assert (await gql("users", ME, token=signed_in["accessToken"])).ok()["me"]["email"] == "gated@example.com"
