"""Mutation.register: validation, normalization, uniqueness (also under a race) and the address limit."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from users_api import ME, PASSWORD, REGISTER, Accounts

from subgraphs.users import repository
from subgraphs.users.settings import UsersSettings


def register_variables(email: str, password: str = PASSWORD, name: str = "Test User") -> dict:
    return {"input": {"email": email, "password": password, "name": name}}


async def test_register_signs_the_new_customer_in(accounts: Accounts, gql) -> None:
    payload = await accounts.register("new.customer@example.com", name="  Nova Customer  ")

    assert payload["user"]["email"] == "new.customer@example.com"
    assert payload["user"]["name"] == "Nova Customer"
    assert payload["user"]["roles"] == ["CUSTOMER"]
    assert payload["refreshToken"]
    me = (await gql("users", ME, token=payload["accessToken"])).ok()["me"]
    assert me["id"] == payload["user"]["id"]


async def test_register_normalizes_the_email_domain(accounts: Accounts) -> None:
    payload = await accounts.register("  Mixed.Case@EXAMPLE.COM ")

    assert payload["user"]["email"] == "Mixed.Case@example.com"


async def test_register_with_an_email_taken_in_another_case_is_a_conflict(accounts: Accounts, gql) -> None:
    await accounts.register("taken@example.com")

    resp = await gql("users", REGISTER, register_variables("TAKEN@Example.com"))

    assert resp.error_codes == ["CONFLICT"]
    assert resp.errors[0]["extensions"]["field"] == "email"
    assert resp.data is None


async def test_concurrent_registrations_of_one_email_create_one_account(gql, users_sessions) -> None:
    # Both pass the "already taken?" read; the unique index on lower(email) decides.
    variables = [register_variables(email) for email in ("race@example.com", "Race@example.com") * 2]

    responses = await asyncio.gather(*(gql("users", REGISTER, v) for v in variables))

    codes = sorted(code for resp in responses for code in resp.error_codes)
    assert codes == ["CONFLICT"] * 3
    assert sum(1 for resp in responses if not resp.errors) == 1
    assert all(resp.status_code == 200 for resp in responses)


async def test_a_duplicate_that_slips_past_the_check_is_a_conflict_from_the_unique_index(
    accounts: Accounts, gql, monkeypatch: pytest.MonkeyPatch
) -> None:
    await accounts.register("slipped@example.com")

    async def nobody(session, email):  # the race: the other sign-up is not committed when we look
        return None

    # The server runs in this process (a thread): patching the module patches the server.
    monkeypatch.setattr(repository, "account_with_address", nobody)
    resp = await gql("users", REGISTER, register_variables("SLIPPED@example.com"))

    assert resp.status_code == 200
    assert resp.error_codes == ["CONFLICT"]


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
    accounts: Accounts, users_sessions
) -> None:
    await accounts.register("hashed@example.com")

    async with users_sessions() as session:
        stored = await session.scalar(
            text("SELECT password_hash FROM users WHERE email = 'hashed@example.com'")
        )
    settings = UsersSettings()
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
    assert other_address.ok()["register"]["user"]["email"] == "late@example.com"
