"""UserRegistered and UserLoggedIn reach the stream `<prefix>events:users` through the outbox."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime

from eventually import eventually
from sqlalchemy import func, select
from users_api import LOGIN, PASSWORD, REGISTER, Accounts

from shared.outbox import Event, stream_name
from subgraphs.users.events import UserEvent
from subgraphs.users.models import outbox

STREAM = stream_name(os.environ["MYSHOP_REDIS_PREFIX"], "users")


async def published(redis, wanted: Callable[[Event], bool], within: float = 10) -> list[Event]:
    """The events on the users stream that are `wanted`, once there is at least one."""

    async def found() -> list[Event]:
        return [e for e in (Event.from_fields(f) for _, f in await redis.xrange(STREAM)) if wanted(e)]

    return await eventually(found, within=within, what=f"a wanted event on {STREAM}")


async def test_register_publishes_user_registered_with_the_new_account(accounts: Accounts, redis) -> None:
    user = (await accounts.register("events.new@example.com", name="Eve Events"))["user"]

    events = await published(redis, lambda e: e.type == UserEvent.USER_REGISTERED)

    assert len(events) == 1
    event = events[0]
    assert (event.producer, event.version, event.aggregate_id) == ("users", 1, user["id"])
    assert set(event.payload) == {
        "userId",
        "email",
        "name",
        "at",
        "verificationToken",
        "verificationExpiresAt",
    }
    assert (event.payload["userId"], event.payload["email"], event.payload["name"]) == (
        user["id"],
        "events.new@example.com",
        "Eve Events",
    )
    assert datetime.fromisoformat(event.payload["at"]) == datetime.fromisoformat(user["createdAt"])


async def test_login_publishes_user_logged_in(accounts: Accounts, gql, redis) -> None:
    account = {"email": "events.login@example.com", "password": PASSWORD, "name": "Lou"}
    (await gql("users", REGISTER, {"input": account})).ok()  # registering signs nobody in

    user = (await accounts.login("events.login@example.com"))["user"]
    events = await published(redis, lambda e: e.type == UserEvent.USER_LOGGED_IN)

    assert len(events) == 1
    assert events[0].aggregate_id == user["id"]
    assert events[0].payload["userId"] == user["id"]
    assert set(events[0].payload) == {"userId", "at"}


async def test_a_refused_login_writes_no_event(gql, users_sessions) -> None:
    account = {"email": "events.refused@example.com", "password": PASSWORD, "name": "Rae"}
    (await gql("users", REGISTER, {"input": account})).ok()

    resp = await gql("users", LOGIN, {"email": "events.refused@example.com", "password": "wrong password!"})

    assert resp.error_codes == ["UNAUTHENTICATED"]
    async with users_sessions() as session:
        logins = await session.scalar(
            select(func.count())
            .select_from(outbox.table)
            .where(outbox.table.c.event_type == UserEvent.USER_LOGGED_IN)
        )
    assert logins == 0
