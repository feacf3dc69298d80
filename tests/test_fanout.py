"""shared.fanout on a real Redis: one reader per process fanning a stream out to subscribers, catch-up from
a cursor joined to the live entries without a gap or a duplicate, and a slow subscriber ended."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis
from stream_helpers import wait_until

from shared.fanout import StreamEntry, StreamFanout, SubscriberTooSlow
from shared.outbox import Event


@pytest.fixture
async def stream(redis: Redis) -> AsyncIterator[str]:
    name = f"{os.environ['MYSHOP_REDIS_PREFIX']}fanout-test:{uuid.uuid4().hex}"
    yield name
    await redis.delete(name)


async def publish(redis: Redis, stream: str, aggregate: str = "a") -> str:
    event = Event(uuid.uuid4(), "OrderStatusChanged", "orders", 1, datetime.now(UTC), {}, aggregate)
    entry_id = await redis.xadd(stream, event.to_fields())
    return entry_id.decode()


async def collect(batches: AsyncIterator[list[StreamEntry]], count: int) -> list[str]:
    ids: list[str] = []
    async with asyncio.timeout(10):
        while len(ids) < count:
            ids += [entry.id for entry in await anext(batches)]
    return ids


async def test_resuming_from_a_cursor_joins_the_live_entries_without_gap_or_duplicate(
    redis: Redis, stream: str
) -> None:
    # Given 10 entries, and a reader already serving another subscriber
    fanout = StreamFanout(redis, stream, batch_size=4)
    written = [await publish(redis, stream) for _ in range(10)]
    other = fanout.subscribe(idle_seconds=0.1)
    await anext(other.batches())

    # When a subscriber resumes after the 3rd while 40 more are being written
    async def write_more() -> None:
        for _ in range(40):
            written.append(await publish(redis, stream))

    writer = asyncio.create_task(write_more())
    await asyncio.sleep(0.005)
    subscription = fanout.subscribe(after=written[2], idle_seconds=0.1)
    received = await collect(subscription.batches(), 47)
    await writer

    # Then it gets every entry after the cursor exactly once, in order
    assert received == written[3:]
    subscription.close()
    other.close()
    await fanout.close()


async def test_entries_written_between_the_last_catch_up_read_and_the_live_registration_are_not_lost(
    redis: Redis, stream: str
) -> None:
    # Given 10 entries, and a reader already serving another subscriber
    fanout = StreamFanout(redis, stream, batch_size=4)
    written = [await publish(redis, stream) for _ in range(10)]
    other = fanout.subscribe(idle_seconds=0.1)
    other_batches = other.batches()
    await anext(other_batches)

    # When a subscriber resumes after the 3rd and has read its last catch-up batch (7 left: 4, then 3)
    subscription = fanout.subscribe(after=written[2], idle_seconds=0.1)
    batches = subscription.batches()
    received = [entry.id for entry in await anext(batches)]
    received += [entry.id for entry in await anext(batches)]
    assert received == written[3:]
    # and, before it registers with the reader, 5 more are written and the reader has already passed them
    late = [await publish(redis, stream) for _ in range(5)]
    assert await collect(other_batches, 5) == late
    # (and once it is registered, 2 more reach it live)
    rest = asyncio.create_task(collect(batches, 7))
    await wait_until(lambda: asyncio.sleep(0, fanout.subscribers), lambda n: n == 2)
    live = [await publish(redis, stream) for _ in range(2)]
    received += await rest

    # Then it gets every entry after the cursor exactly once, in order: the late ones from its re-read
    assert received == written[3:] + late + live
    subscription.close()
    other.close()
    await fanout.close()


async def test_a_subscriber_of_one_aggregate_gets_only_its_entries(redis: Redis, stream: str) -> None:
    fanout = StreamFanout(redis, stream)
    subscription = fanout.subscribe(key="mine", idle_seconds=0.1)
    batches = subscription.batches()
    await anext(batches)  # idle: the reader runs

    mine = [await publish(redis, stream, "mine"), await publish(redis, stream, "other")][:1]
    mine.append(await publish(redis, stream, "mine"))

    assert await collect(batches, 2) == mine
    subscription.close()
    await fanout.close()


async def test_a_subscriber_that_falls_too_far_behind_is_ended(redis: Redis, stream: str) -> None:
    # Given a subscriber whose buffer holds 3 entries, not reading
    fanout = StreamFanout(redis, stream, buffer_limit=3)
    subscription = fanout.subscribe(idle_seconds=0.1)
    batches = subscription.batches()
    await anext(batches)

    # When 5 entries arrive
    for _ in range(5):
        await publish(redis, stream)
    await asyncio.sleep(0.3)

    # Then its next read ends it with SUBSCRIBER_TOO_SLOW, and the reader no longer serves it
    with pytest.raises(SubscriberTooSlow) as raised:
        await anext(batches)
    assert raised.value.extensions["code"] == "SUBSCRIBER_TOO_SLOW"
    assert fanout.subscribers == 0
    await fanout.close()
