"""Mutation.register: validation, normalization, uniqueness (also under a race) and the address limit."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from users_api import ME, PASSWORD, REGISTER, Accounts

from subgraphs.users import repository


def register_variables(email: str, password: str = PASSWORD, name: str = "Test User") -> dict:
    return {"input": {"email": email, "password": password, "name": name}}


async def test_register_creates_an_unverified_customer_who_then_signs_in(
    accounts: Accounts, gql, users_sessions
) -> None:
    resp = await gql("users", REGISTER, register_variables("new.customer@example.com", name="  Nova  "))

    assert resp.ok()["register"] == {
        "email": "new.customer@example.com",
        "verificationRequired": True,
        "message": resp.data["register"]["message"],
    }
    async with users_sessions() as session:
        user = await repository.get_by_email(session, "new.customer@example.com")
    assert (user.name, user.roles, user.email_verified_at) == ("Nova", ["CUSTOMER"], None)
    # Register signs nobody in; login does, unverified (verification gates actions, not sign-in).
    payload = await accounts.login("new.customer@example.com")
    assert payload["user"]["id"] == str(user.id)
    me = (await gql("users", ME, token=payload["accessToken"])).ok()["me"]
    assert me["id"] == str(user.id)


async def test_register_normalizes_the_email_domain(accounts: Accounts) -> None:
    payload = await accounts.register("  Mixed.Case@EXAMPLE.COM ")

    assert payload["user"]["email"] == "Mixed.Case@example.com"


async def test_register_answers_a_taken_email_byte_for_byte_like_a_new_one(
    accounts: Accounts, gql, users_sessions
) -> None:
    await accounts.register("taken@example.com", name="First Owner")

    taken = await gql("users", REGISTER, register_variables("taken@example.com", name="Someone Else"))
    new = await gql("users", REGISTER, register_variables("fresh@example.com", name="Someone Else"))

    assert taken.status_code == new.status_code == 200
    assert taken.http.content == new.http.content.replace(b"fresh@", b"taken@")
    assert taken.http.headers.get("content-length") == new.http.headers.get("content-length")
    async with users_sessions() as session:
        owner = await repository.get_by_email(session, "taken@example.com")
    assert owner.name == "First Owner"  # the existing account is untouched


async def test_register_with_an_email_taken_in_another_case_answers_the_same_and_adds_nobody(
    accounts: Accounts, gql, users_sessions
) -> None:
    await accounts.register("taken@example.com")

    resp = await gql("users", REGISTER, register_variables("TAKEN@Example.com"))

    assert resp.ok()["register"]["email"] == "TAKEN@example.com"
    async with users_sessions() as session:
        assert await session.scalar(text("SELECT count(*) FROM users")) == 1


async def test_concurrent_registrations_of_one_email_create_one_account_and_answer_alike(
    gql, users_sessions
) -> None:
    # Each tries the insert; the unique index on lower(email) decides, in a savepoint.
    variables = [register_variables("race@example.com")] * 4

    responses = await asyncio.gather(*(gql("users", REGISTER, v) for v in variables))

    assert all(resp.status_code == 200 and not resp.errors for resp in responses)
    assert len({resp.http.content for resp in responses}) == 1
    async with users_sessions() as session:
        assert await session.scalar(text("SELECT count(*) FROM users")) == 1


async def test_the_losers_of_a_sign_up_race_tell_the_winner_by_mail(accounts: Accounts, gql) -> None:
    variables = [register_variables("contested.race@example.com")] * 3

    await asyncio.gather(*(gql("users", REGISTER, v) for v in variables))

    registered = await accounts.events("UserRegistered")
    attempts = await accounts.events("SignUpAttempted")
    assert len(registered) == 1
    assert [e["userId"] for e in attempts] == [registered[0]["userId"]] * 2


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "two@@example.com", "", "x" * 250 + "@example.com"])
async def test_register_refuses_a_malformed_email(gql, email: str) -> None:
    resp = await gql("users", REGISTER, register_variables(email))

    assert resp.status_code == 200
    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == "email"


@pytest.mark.parametrize("password", ["", "seven77", "x" * 129])
async def test_register_refuses_a_password_outside_8_to_128_characters(gql, password: str) -> None:
    resp = await gql("users", REGISTER, register_variables("pw@example.com", password=password))

    assert resp.status_code == 200
    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == "password"


async def test_register_accepts_passwords_of_exactly_8_and_128_characters(accounts: Accounts) -> None:
    await accounts.register("short@example.com", password="8chars!!")
    await accounts.register("long@example.com", password="p" * 128)

    await accounts.login("long@example.com", "p" * 128)


@pytest.mark.parametrize("name", ["", "   ", "n" * 201])
async def test_register_refuses_a_blank_or_overlong_name(gql, name: str) -> None:
    resp = await gql("users", REGISTER, register_variables("name@example.com", name=name))

    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == "name"


async def test_register_stores_an_argon2id_hash_with_the_configured_cost(
    accounts: Accounts, users_sessions, api
) -> None:
    await accounts.register("hashed@example.com")

    async with users_sessions() as session:
        stored = await session.scalar(
            text("SELECT password_hash FROM users WHERE email = 'hashed@example.com'")
        )
    settings = api.settings["users"]  # the stack's (tests/conftest.py configures a cheap cost)
    expected = f"$argon2id$v=19$m={settings.argon2_memory_cost_kib},t={settings.argon2_time_cost},"
    assert stored.startswith(expected + f"p={settings.argon2_parallelism}$")
    assert PASSWORD not in stored


async def test_registrations_are_rate_limited_per_client_address(gql, api) -> None:
    settings = api.settings["users"]
    blocked = {"X-Forwarded-For": "198.51.100.7"}
    # Invalid input still counts: the limit is checked first, so no hashing is spent here.
    for n in range(settings.register_address_attempts):
        resp = await gql("users", REGISTER, register_variables(f"bad{n}"), headers=blocked)
        assert resp.error_codes == ["BAD_USER_INPUT"]

    limited = await gql("users", REGISTER, register_variables("late@example.com"), headers=blocked)
    other_address = await gql(
        "users", REGISTER, register_variables("late@example.com"), headers={"X-Forwarded-For": "198.51.100.8"}
    )

    assert limited.error_codes == ["RATE_LIMITED"]
    assert limited.errors[0]["extensions"]["retryAfter"] > 0
    assert other_address.ok()["register"]["email"] == "late@example.com"
