"""Profile and credentials: updateMe, changePassword (every other session ends), changeEmail and
confirmEmailChange (a token to the new address; the answer never says whether that address has an account)."""

from __future__ import annotations

import pytest
from users_api import LOGIN, ME, PASSWORD, REFRESH, Accounts

UPDATE_ME = "mutation U($name: String!) { updateMe(name: $name) { id name } }"
CHANGE_PASSWORD = """
mutation P($current: String!, $new: String!) {
  changePassword(currentPassword: $current, newPassword: $new) { accessToken refreshToken user { id email } }
}
"""
CHANGE_EMAIL = "mutation E($email: String!, $pw: String!) { changeEmail(newEmail: $email, password: $pw) }"
CONFIRM = "mutation C($token: String!) { confirmEmailChange(token: $token) { id email emailVerified } }"
NEW_PASSWORD = "another good passphrase"


async def test_update_me_changes_the_name(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("renamed@example.com", name="Old Name")

    updated = (await gql("users", UPDATE_ME, {"name": "  New Name "}, token=signed_in["accessToken"])).ok()

    assert updated["updateMe"] == {"id": signed_in["user"]["id"], "name": "New Name"}
    assert (await gql("users", ME, token=signed_in["accessToken"])).ok()["me"]["name"] == "New Name"


@pytest.mark.parametrize("name", ["", "   ", "n" * 201])
async def test_update_me_refuses_a_blank_or_overlong_name(accounts: Accounts, gql, name: str) -> None:
    signed_in = await accounts.register("blank.name@example.com")

    resp = await gql("users", UPDATE_ME, {"name": name}, token=signed_in["accessToken"])

    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == "name"


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        (UPDATE_ME, {"name": "X"}),
        (CHANGE_PASSWORD, {"current": PASSWORD, "new": NEW_PASSWORD}),
        (CHANGE_EMAIL, {"email": "x@example.com", "pw": PASSWORD}),
    ],
)
async def test_profile_changes_need_a_signed_in_user(gql, document: str, variables: dict) -> None:
    assert (await gql("users", document, variables)).error_codes == ["UNAUTHENTICATED"]


async def test_change_password_ends_every_other_session_and_signs_this_device_in_again(
    accounts: Accounts, gql
) -> None:
    laptop = await accounts.register("rotating@example.com")
    phone = await accounts.login("rotating@example.com")

    variables = {"current": PASSWORD, "new": NEW_PASSWORD}
    changed = (await gql("users", CHANGE_PASSWORD, variables, token=laptop["accessToken"])).ok()[
        "changePassword"
    ]

    for device in (laptop, phone):
        assert (await gql("users", ME, token=device["accessToken"])).error_codes == ["UNAUTHENTICATED"]
        assert (await gql("users", REFRESH, {"token": device["refreshToken"]})).error_codes == [
            "UNAUTHENTICATED"
        ]
    assert (await gql("users", ME, token=changed["accessToken"])).ok()["me"]["id"] == laptop["user"]["id"]
    (await gql("users", REFRESH, {"token": changed["refreshToken"]})).ok()
    await accounts.login("rotating@example.com", NEW_PASSWORD)
    events = await accounts.events("PasswordChanged")
    assert [(e["email"], e["reason"]) for e in events] == [("rotating@example.com", "CHANGED")]
    assert set(events[0]) == {"userId", "email", "name", "at", "reason"}


async def test_change_password_with_a_wrong_current_password_changes_nothing(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("wrong.current@example.com")

    variables = {"current": "not my password", "new": NEW_PASSWORD}
    resp = await gql("users", CHANGE_PASSWORD, variables, token=signed_in["accessToken"])

    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == "currentPassword"
    assert (await gql("users", ME, token=signed_in["accessToken"])).ok()["me"]
    await accounts.login("wrong.current@example.com", PASSWORD)
    assert await accounts.events("PasswordChanged") == []


async def test_change_password_refuses_a_short_new_password(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("short.new@example.com")

    variables = {"current": PASSWORD, "new": "short"}
    resp = await gql("users", CHANGE_PASSWORD, variables, token=signed_in["accessToken"])

    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == "newPassword"


async def test_guessing_the_current_password_is_throttled_like_a_login(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("stolen.session@example.com")
    variables = {"current": "a wrong guess!", "new": NEW_PASSWORD}

    codes = [
        code
        for _ in range(8)
        for code in (
            await gql("users", CHANGE_PASSWORD, variables, token=signed_in["accessToken"])
        ).error_codes
    ]

    assert codes[:4] == ["BAD_USER_INPUT"] * 4
    assert codes[-1] == "RATE_LIMITED"


async def test_change_email_mails_a_token_to_the_new_address_that_switches_the_account(
    accounts: Accounts, gql
) -> None:
    signed_in = await accounts.register("before@example.com", name="Mover")

    variables = {"email": "After@Example.com", "pw": PASSWORD}
    assert (await gql("users", CHANGE_EMAIL, variables, token=signed_in["accessToken"])).ok() == {
        "changeEmail": True
    }
    requested = await accounts.events("EmailChangeRequested")
    assert [(e["email"], e["previousEmail"], e["name"]) for e in requested] == [
        ("After@example.com", "before@example.com", "Mover")
    ]
    token = await accounts.mailed_token("EmailChangeRequested", "After@example.com")

    confirmed = (await gql("users", CONFIRM, {"token": token})).ok()["confirmEmailChange"]

    assert confirmed == {"id": signed_in["user"]["id"], "email": "After@example.com", "emailVerified": True}
    await accounts.login("after@example.com")
    old = await gql("users", LOGIN, {"email": "before@example.com", "password": PASSWORD})
    assert old.error_codes == ["UNAUTHENTICATED"]
    changed = await accounts.events("EmailChanged")
    assert [(e["email"], e["previousEmail"]) for e in changed] == [
        ("After@example.com", "before@example.com")
    ]


async def test_an_email_change_token_works_once(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("once.change@example.com")
    variables = {"email": "once.new@example.com", "pw": PASSWORD}
    (await gql("users", CHANGE_EMAIL, variables, token=signed_in["accessToken"])).ok()
    token = await accounts.mailed_token("EmailChangeRequested", "once.new@example.com")
    (await gql("users", CONFIRM, {"token": token})).ok()

    again = await gql("users", CONFIRM, {"token": token})

    assert again.error_codes == ["BAD_USER_INPUT"]
    assert again.errors[0]["extensions"]["field"] == "token"


async def test_change_email_to_a_taken_address_answers_the_same_and_mails_nothing(
    accounts: Accounts, gql
) -> None:
    await accounts.register("occupant@example.com")
    signed_in = await accounts.register("wants.it@example.com")

    taken = await gql(
        "users",
        CHANGE_EMAIL,
        {"email": "occupant@example.com", "pw": PASSWORD},
        token=signed_in["accessToken"],
    )
    free = await gql(
        "users", CHANGE_EMAIL, {"email": "vacant@example.com", "pw": PASSWORD}, token=signed_in["accessToken"]
    )

    assert taken.http.content == free.http.content == b'{"data":{"changeEmail":true}}'
    assert [e["email"] for e in await accounts.events("EmailChangeRequested")] == ["vacant@example.com"]


async def test_change_email_with_a_wrong_password_is_refused(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("careful@example.com")

    variables = {"email": "elsewhere@example.com", "pw": "not my password"}
    resp = await gql("users", CHANGE_EMAIL, variables, token=signed_in["accessToken"])

    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == "password"
    assert await accounts.events("EmailChangeRequested") == []


@pytest.mark.parametrize(("email", "field"), [("not-an-email", "newEmail"), ("SAME@example.com", "newEmail")])
async def test_change_email_refuses_a_malformed_or_unchanged_address(
    accounts: Accounts, gql, email: str, field: str
) -> None:
    signed_in = await accounts.register("same@example.com")

    resp = await gql("users", CHANGE_EMAIL, {"email": email, "pw": PASSWORD}, token=signed_in["accessToken"])

    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == field


async def test_an_address_taken_before_the_confirmation_is_a_conflict(accounts: Accounts, gql) -> None:
    signed_in = await accounts.register("slow.mover@example.com")
    variables = {"email": "contested@example.com", "pw": PASSWORD}
    (await gql("users", CHANGE_EMAIL, variables, token=signed_in["accessToken"])).ok()
    token = await accounts.mailed_token("EmailChangeRequested", "contested@example.com")
    await accounts.register("contested@example.com")  # someone signs up with it meanwhile

    resp = await gql("users", CONFIRM, {"token": token})

    assert resp.error_codes == ["CONFLICT"]
    assert (await gql("users", ME, token=signed_in["accessToken"])).ok()["me"][
        "email"
    ] == "slow.mover@example.com"


async def test_change_email_is_rate_limited_per_user(accounts: Accounts, gql, api) -> None:
    signed_in = await accounts.register("restless@example.com")
    allowed = api.settings["users"].email_change_attempts
    for n in range(allowed):
        variables = {"email": f"restless{n}@example.com", "pw": PASSWORD}
        (await gql("users", CHANGE_EMAIL, variables, token=signed_in["accessToken"])).ok()

    refused = await gql(
        "users", CHANGE_EMAIL, {"email": "last@example.com", "pw": PASSWORD}, token=signed_in["accessToken"]
    )

    assert refused.error_codes == ["RATE_LIMITED"]


async def test_codes_mailed_to_the_previous_address_stop_working_after_a_change(
    accounts: Accounts, gql
) -> None:
    signed_in = await accounts.register("left.behind@example.com")
    verification = await accounts.mailed_token("UserRegistered", "left.behind@example.com")
    variables = {"email": "moved.on@example.com", "pw": PASSWORD}
    (await gql("users", CHANGE_EMAIL, variables, token=signed_in["accessToken"])).ok()
    (
        await gql(
            "users",
            CONFIRM,
            {"token": await accounts.mailed_token("EmailChangeRequested", "moved.on@example.com")},
        )
    ).ok()

    resp = await gql(
        "users", "mutation V($t: String!) { verifyEmail(token: $t) { id } }", {"t": verification}
    )

    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == "token"
