"""Orders' feed of status changes (`OrderFeed`, what `orderUpdates` reads) resumed from a cursor while orders
keep going through the real stack (saga, outbox, relay): nothing missed, nothing twice.

The feed runs in the test's process, over the run's orders stream and database, so the test can stop a resumed
subscriber exactly at its last catch-up batch, before it joins the reader's live entries, and place orders
right there.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from orders_shop import Shop
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from stream_helpers import wait_until

from subgraphs.orders.feed import OrderChange, OrderFeed, decode_cursor

SAGA = ["PENDING", "INVENTORY_RESERVED", "PAYMENT_AUTHORIZED", "CONFIRMED"]


@dataclass
class _Settings:
    redis_prefix: str


@dataclass
class _FeedRuntime:
    """What an `OrderFeed` takes from the orders process's runtime."""

    redis: Redis
    settings: _Settings
    sessionmaker: async_sessionmaker[AsyncSession]


@pytest.fixture
async def feed(redis: Redis, databases: dict[str, str]) -> AsyncIterator[OrderFeed]:
    engine = create_async_engine(databases["orders"], pool_size=2)
    runtime = _FeedRuntime(
        redis,
        _Settings(os.environ["MYSHOP_REDIS_PREFIX"]),
        async_sessionmaker(engine, expire_on_commit=False),
    )
    feed = OrderFeed(runtime)  # type: ignore[arg-type]
    try:
        yield feed
    finally:
        await feed.close()
        await engine.dispose()


async def changes_of(
    changes: AsyncIterator[list[OrderChange]], wanted: Callable[[str], bool], count: int
) -> list[OrderChange]:
    """The next `count` changes of the wanted orders (others' changes and idle batches skipped)."""
    found: list[OrderChange] = []
    while len(found) < count:
        batch = await anext(changes)
        found += [change for change in batch if wanted(str(change.order.id))]
    return found


async def place_orders(shop: Shop, count: int) -> set[str]:
    product = await shop.product(stock=count)
    customer = shop.customer()
    return {(await shop.place(customer, [(product, 1)])).ok()["placeOrder"]["id"] for _ in range(count)}


def story(changes: list[OrderChange]) -> list[tuple[str, str]]:
    return [(str(change.order.id), change.status) for change in changes]


async def test_orders_placed_while_a_resumed_feed_catches_up_reach_it_once_in_order(
    shop: Shop, feed: OrderFeed
) -> None:
    # Given a live subscriber of the feed (its reader runs), and 3 orders through the saga (12 changes)
    live = feed.changes(feed.subscribe(idle_seconds=0.1))
    await anext(live)
    before = await place_orders(shop, 3)
    seen_live = await changes_of(live, before.__contains__, 12)

    # When a partner resumes after the 2nd change and has its catch-up (the other 10, one batch) in hand,
    resumed = feed.subscribe(after=decode_cursor(seen_live[1].cursor), idle_seconds=0.1)
    changes = feed.changes(resumed)
    received = await changes_of(changes, before.__contains__, 10)
    # and before it joins the live entries, 2 more orders go through, which the reader has passed already
    late = await place_orders(shop, 2)
    seen_live += await changes_of(live, late.__contains__, 8)
    # and once it has joined, 1 more (whose id is not known until its saga is over: any order but the first 3)
    rest = asyncio.create_task(changes_of(changes, lambda order: order not in before, 8 + 4))
    await wait_until(lambda: asyncio.sleep(0, feed.fanout.subscribers), lambda n: n == 2)
    last = await place_orders(shop, 1)
    received += await asyncio.wait_for(rest, 15)
    seen_live += await changes_of(live, last.__contains__, 4)
    assert await anext(changes) == []  # and nothing more (an idle batch)

    # Then it got every change after its cursor exactly once, in stream order, each order's in saga order
    assert story(received) == story(seen_live[2:])
    assert len(set(story(received))) == len(received) == 22
    cursors = [decode_cursor(change.cursor) for change in received]
    assert cursors == sorted(cursors, key=lambda entry: tuple(int(part) for part in entry.split("-")))
    for order_id in late | last:
        assert [status for oid, status in story(received) if oid == order_id] == SAGA
