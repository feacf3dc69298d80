"""Login throttling without lockout: back-off per (account, client address), a per-account ceiling that spares
the owner's addresses, `retryAfter` in extensions, and refusals that cost no password hash."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from users_api import LOGIN, PASSWORD, Accounts

from subgraphs.users.passwords import Passwords, Verification

GUESSER = {"X-Forwarded-For": "203.0.113.30"}
OWNER = {"X-Forwarded-For": "198.51.100.7"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(users_state, monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(users_state.login_throttle, "clock", clock)
    return clock


@pytest.fixture
def no_address_limit(users_state, monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-address limit (20 per 5 minutes) lifted, to see the per-account back-off alone."""
    monkeypatch.setattr(users_state.settings, "login_address_attempts", 1_000_000)


def wrong(email: str) -> dict[str, str]:
    return {"email": email, "password": "wrong password"}


def right(email: str) -> dict[str, str]:
    return {"email": email, "password": PASSWORD}


async def test_a_hundred_wrong_passwords_from_one_address_never_stop_the_owner_elsewhere(
    accounts: Accounts, gql, no_address_limit
) -> None:
    await accounts.register("target@example.com")
    codes: list[str | None] = []
    for attempt in range(1, 101):
        codes += (await gql("users", LOGIN, wrong("target@example.com"), headers=GUESSER)).error_codes
        if attempt in (1, 5, 6, 50, 100):
            owner = await gql("users", LOGIN, right("target@example.com"), headers=OWNER)
            assert owner.ok()["login"]["user"]["email"] == "target@example.com"

    # The guesser got its free attempts, then waits: every later attempt was refused unheard.
    assert codes[:4] == ["UNAUTHENTICATED"] * 4
    assert codes.count("UNAUTHENTICATED") <= 6
    assert codes[-1] == "RATE_LIMITED"


async def test_the_back_off_doubles_per_attempt_up_to_its_ceiling(
    accounts: Accounts, gql, clock: Clock, api, no_address_limit
) -> None:
    settings = api.settings["users"]
    await accounts.register("curve@example.com")
    # attempt number -> the wait (retryAfter) it imposes on the next one; the fake clock then waits it out.
    curve: dict[int, int] = {}
    attempts = settings.login_free_failures + 14
    while len(curve) <= attempts:
        resp = await gql("users", LOGIN, wrong("curve@example.com"), headers=GUESSER)
        if resp.error_codes == ["RATE_LIMITED"]:
            wait = resp.errors[0]["extensions"]["retryAfter"]
            curve[len(curve)] = wait
            clock.now += wait
            continue
        assert resp.error_codes == ["UNAUTHENTICATED"]
        curve[len(curve) + 1] = 0

    print("attempt -> retryAfter:", curve)
    free = settings.login_free_failures
    waits = [curve[n] for n in range(1, attempts + 1)]
    assert waits[:free] == [0] * free
    assert waits[free : free + 10] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
    assert waits[-1] == settings.login_backoff_max_seconds


async def test_refused_attempts_cost_no_password_hash(
    accounts: Accounts, gql, api, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = api.settings["users"]
    await accounts.register("costly@example.com")
    verified: list[str] = []
    original = Passwords.verify

    async def counting_verify(self: Passwords, password_hash: str, password: str) -> Verification:
        verified.append(password)
        return await original(self, password_hash, password)

    monkeypatch.setattr(Passwords, "verify", counting_verify)
    for _ in range(settings.login_free_failures + 10):
        await gql("users", LOGIN, wrong("costly@example.com"), headers=GUESSER)

    assert len(verified) == settings.login_free_failures + 1


async def test_the_account_ceiling_refuses_unknown_addresses_but_not_the_owners(
    accounts: Accounts, gql, users_state, monkeypatch: pytest.MonkeyPatch
) -> None:
    await accounts.register("ceiling@example.com")
    (await gql("users", LOGIN, right("ceiling@example.com"), headers=OWNER)).ok()
    backoff = dataclasses.replace(users_state.login_throttle.backoff, ceiling_attempts=3)
    monkeypatch.setattr(users_state.login_throttle, "backoff", backoff)
    for n in range(3):
        spread = {"X-Forwarded-For": f"203.0.113.{40 + n}"}
        resp = await gql("users", LOGIN, wrong("ceiling@example.com"), headers=spread)
        assert resp.error_codes == ["UNAUTHENTICATED"]

    stranger = await gql(
        "users", LOGIN, right("ceiling@example.com"), headers={"X-Forwarded-For": "203.0.113.50"}
    )
    owner = await gql("users", LOGIN, right("ceiling@example.com"), headers=OWNER)

    assert stranger.error_codes == ["RATE_LIMITED"]
    assert 0 < stranger.errors[0]["extensions"]["retryAfter"] <= backoff.ceiling_window_seconds
    assert owner.ok()["login"]["user"]["email"] == "ceiling@example.com"


async def test_concurrent_guesses_from_one_address_get_only_the_free_attempts(
    accounts: Accounts, gql, api, no_address_limit
) -> None:
    settings = api.settings["users"]
    await accounts.register("parallel@example.com")

    responses = await asyncio.gather(
        *(gql("users", LOGIN, wrong("parallel@example.com"), headers=GUESSER) for _ in range(12))
    )

    heard = sum(1 for resp in responses if resp.error_codes == ["UNAUTHENTICATED"])
    assert heard == settings.login_free_failures + 1
