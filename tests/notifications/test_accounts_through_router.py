"""The account's life end to end, as a shopper lives it: every call through the router over MyShop's
supergraph, every code read from the mail the real SMTP server received (users' outbox → relay →
notifications → SMTP).

- register → the verification mail arrives → verify → login;
- forgot password → mail → reset → every old session dead at once (access tokens refused, refresh refused);
- change email → a code to the new address and a notice to the old → confirm → the new address signs in;
- register with an address that has an account answers byte for byte as with a new one; the owner is mailed.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from mail_catcher import MailCatcher, Received

from shared.testing import ServerThread

PASSWORD = "correct horse battery"

REGISTER = """
mutation Register($input: RegisterInput!) { register(input: $input) { email verificationRequired message } }
"""
VERIFY = "mutation Verify($token: String!) { verifyEmail(token: $token) { id emailVerified } }"
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken refreshToken user { id email emailVerified } }
}
"""
REFRESH = "mutation Refresh($token: String!) { refreshToken(refreshToken: $token) { accessToken } }"
ME = "{ me { id email emailVerified } }"
FORGOT = "mutation Forgot($email: String!) { requestPasswordReset(email: $email) }"
RESET = """
mutation Reset($token: String!, $password: String!) { resetPassword(token: $token, newPassword: $password) }
"""
CHANGE_EMAIL = """
mutation ChangeEmail($email: String!, $password: String!) {
  changeEmail(newEmail: $email, password: $password)
}
"""
CONFIRM_CHANGE = """
mutation Confirm($token: String!) { confirmEmailChange(token: $token) { id email } }
"""


@pytest.fixture
async def client(myshop_router: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=myshop_router.url, timeout=30) as client:
        yield client


async def call(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, token: str | None = None
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token is not None else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def data(client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, token=None):
    body = await call(client, query, variables, token)
    assert "errors" not in body, body
    return body["data"]


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


def address(tag: str) -> str:
    return f"e2e-{tag}-{uuid.uuid4().hex[:10]}@example.com"


def token_in(mail: Received, page: str) -> str:
    """The code of a mail's link `<base>/<page>?token=…`, as the shopper would click or paste it."""
    found = re.search(rf"/{page}\?token=([A-Za-z0-9_-]+)", mail.part("text/plain"))
    assert found is not None, mail.part("text/plain")
    return found.group(1)


async def mailed_token(mail: MailCatcher, to: str, page: str) -> str:
    [received] = await mail.wait_for(to, lambda m: f"/{page}?token=" in m.part("text/plain"))
    return token_in(received, page)


async def sign_up(client: httpx.AsyncClient, mail: MailCatcher, email: str) -> dict[str, Any]:
    """Register, confirm the address with the mailed code, sign in: the signed-in payload."""
    await data(client, REGISTER, {"input": {"email": email, "password": PASSWORD, "name": "E2E Shopper"}})
    await data(client, VERIFY, {"token": await mailed_token(mail, email, "verify-email")})
    return (await data(client, LOGIN, {"email": email, "password": PASSWORD}))["login"]


async def test_a_new_account_is_verified_by_the_mailed_code_then_signs_in(
    client: httpx.AsyncClient, mail: MailCatcher
) -> None:
    email = address("verify")

    registered = await data(
        client, REGISTER, {"input": {"email": email, "password": PASSWORD, "name": "Ada"}}
    )
    unverified = (await data(client, LOGIN, {"email": email, "password": PASSWORD}))["login"]
    code = await mailed_token(mail, email, "verify-email")
    verified = (await data(client, VERIFY, {"token": code}))["verifyEmail"]
    reused = await call(client, VERIFY, {"token": code})
    signed_in = (await data(client, LOGIN, {"email": email, "password": PASSWORD}))["login"]

    assert registered["register"]["email"] == email and registered["register"]["verificationRequired"]
    assert unverified["user"]["emailVerified"] is False
    assert verified == {"id": unverified["user"]["id"], "emailVerified": True}
    assert codes(reused) == ["BAD_USER_INPUT"]  # single use
    assert signed_in["user"]["emailVerified"] is True
    assert (await data(client, ME, token=signed_in["accessToken"]))["me"]["emailVerified"] is True


async def test_a_password_reset_by_mail_ends_every_old_session_at_once(
    client: httpx.AsyncClient, mail: MailCatcher
) -> None:
    email = address("reset")
    laptop = await sign_up(client, mail, email)
    phone = (await data(client, LOGIN, {"email": email, "password": PASSWORD}))["login"]
    unknown = await call(client, FORGOT, {"email": address("nobody")})

    assert (await data(client, FORGOT, {"email": email})) == {"requestPasswordReset": True}
    code = await mailed_token(mail, email, "reset-password")
    assert await data(client, RESET, {"token": code, "password": "a brand new secret"}) == {
        "resetPassword": True
    }

    # Every access token of before is refused now (not when it expires), every refresh token too
    for session in (laptop, phone):
        assert codes(await call(client, ME, token=session["accessToken"])) == ["UNAUTHENTICATED"]
        assert codes(await call(client, REFRESH, {"token": session["refreshToken"]})) == ["UNAUTHENTICATED"]
    old = await call(client, LOGIN, {"email": email, "password": PASSWORD})
    new = await data(client, LOGIN, {"email": email, "password": "a brand new secret"})
    assert codes(old) == ["UNAUTHENTICATED"] and new["login"]["user"]["email"] == email
    assert codes(await call(client, RESET, {"token": code, "password": "yet another one"})) == [
        "BAD_USER_INPUT"
    ]
    # The same answer for an address nobody has, and the owner hears of the change
    assert unknown == {"data": {"requestPasswordReset": True}}
    await mail.wait_for(email, lambda m: "password was changed" in m.subject)


async def test_an_email_change_mails_a_code_to_the_new_address_and_a_notice_to_the_old(
    client: httpx.AsyncClient, mail: MailCatcher
) -> None:
    old_email, new_email = address("old"), address("new")
    signed_in = await sign_up(client, mail, old_email)
    token = signed_in["accessToken"]

    asked = await data(client, CHANGE_EMAIL, {"email": new_email, "password": PASSWORD}, token)
    code = await mailed_token(mail, new_email, "confirm-email-change")
    notices = await mail.wait_for(old_email, lambda m: new_email in m.part("text/plain"))
    confirmed = (await data(client, CONFIRM_CHANGE, {"token": code}))["confirmEmailChange"]

    assert asked == {"changeEmail": True}
    assert all(
        "token=" not in notice.part("text/plain") for notice in notices
    )  # the code went to the new one
    assert confirmed == {"id": signed_in["user"]["id"], "email": new_email}
    assert (await data(client, LOGIN, {"email": new_email, "password": PASSWORD}))["login"]["user"][
        "email"
    ] == new_email
    assert codes(await call(client, LOGIN, {"email": old_email, "password": PASSWORD})) == ["UNAUTHENTICATED"]
    # Once confirmed, the old address is told it no longer signs in
    await mail.wait_for(old_email, lambda m: m not in notices and new_email in m.part("text/plain"))


async def test_registering_a_taken_address_answers_exactly_as_a_new_one_and_mails_the_owner(
    client: httpx.AsyncClient, mail: MailCatcher
) -> None:
    taken = address("taken")
    await sign_up(client, mail, taken)
    fresh = address("fresh")

    def variables(email: str) -> dict[str, Any]:
        return {
            "query": REGISTER,
            "variables": {"input": {"email": email, "password": PASSWORD, "name": "Eve"}},
        }

    # Same length local parts, so the echoed address differs in its letters only
    again = await client.post("/graphql", json=variables(taken))
    new = await client.post("/graphql", json=variables(fresh))

    assert again.status_code == new.status_code == 200
    assert again.content.replace(taken.encode(), b"ADDRESS") == new.content.replace(
        fresh.encode(), b"ADDRESS"
    )
    assert again.headers.get("content-type") == new.headers.get("content-type")
    await mail.wait_for(taken, lambda m: "tried to create" in m.subject)
