"""The event consumer framework against real PostgreSQL and Redis: at least once with one effect,
acknowledgement only after the commit, retries, dead letters and their replay, claiming from a killed
consumer, a deleted group, a Redis outage, and the metrics.

The module has a scratch database holding only `processed_events` and an `effects` table its handlers write
to, emptied before each test; each test has streams and a group of its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eventually import eventually
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy import Column, Integer, Table, Uuid, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from stream_helpers import RedisProcess, stop

from shared.backoff import Backoff
from shared.consumer import Consumer
from shared.db import new_metadata
from shared.deadletters import DeadLetterQueue
from shared.errors import NotFound
from shared.metrics import ConsumerMetrics
from shared.outbox import Event, stream_name
from shared.subscriptions import Batched, ConsumerSpec, Subscription, processed_events_table
from shared.testing import emptied_tables, scratch_database

metadata = new_metadata()
processed = processed_events_table(metadata)
effects = Table(
    "effects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Uuid, nullable=False),
    Column("n", Integer, nullable=False, unique=True),
)


@dataclass
class Db:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    async def count(self, table: Table) -> int:
        async with self.sessions() as session:
            return await session.scalar(select(func.count()).select_from(table))

    async def effect_numbers(self) -> list[int]:
        async with self.sessions() as session:
            return list(await session.scalars(select(effects.c.n).order_by(effects.c.n)))


@pytest.fixture(scope="module")
async def scratch_url() -> AsyncIterator[str]:
    """The module's scratch database with its tables; each test empties them (`db`)."""
    async with scratch_database("consumer", os.environ["MYSHOP_POSTGRES_URL"]) as url:
        engine = create_async_engine(url, poolclass=NullPool)
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        await engine.dispose()
        yield url


@pytest.fixture
async def db(scratch_url: str) -> AsyncIterator[Db]:
    """The tables emptied, and an engine of the test's own: whatever it leaves open is closed at its end."""
    await emptied_tables(scratch_url, [table.name for table in metadata.sorted_tables])
    engine = create_async_engine(scratch_url, pool_size=10)
    try:
        yield Db(engine, async_sessionmaker(engine, expire_on_commit=False))
    finally:
        await engine.dispose()


@dataclass
class Script:
    """What the test handler does: fail its first `failures` calls, or every call while `broken`, or wait on
    a gate that is never opened while `stuck` (a consumer killed in its handler)."""

    failures: int = 0
    broken: bool = False
    broken_numbers: set[int] = field(default_factory=set)
    stuck: bool = False
    calls: int = 0
    entered: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, session: AsyncSession, event: Event) -> None:
        self.calls += 1
        self.entered.set()
        # The effect is written first, so a failure below must roll it back.
        await session.execute(effects.insert().values(event_id=event.id, n=event.payload["n"]))
        if self.stuck:
            await asyncio.Event().wait()
        if self.broken or self.calls <= self.failures or event.payload["n"] in self.broken_numbers:
            raise RuntimeError(f"handler failed on call {self.calls}")


@dataclass
class Setup:
    """A producer's stream, a consumer group on it, and a way to build consumers of that group."""

    db: Db
    redis: Redis
    prefix: str
    producer: str
    script: Script
    registry: CollectorRegistry
    max_attempts: int = 5

    @property
    def stream(self) -> str:
        return stream_name(self.prefix, self.producer)

    @property
    def group(self) -> str:
        return f"group-{self.producer}"

    @property
    def spec(self) -> ConsumerSpec:
        return ConsumerSpec(
            group=self.group,
            subscriptions=[Subscription(self.producer, {"ThingHappened": self.script.handle})],
            processed=processed,
            max_attempts=self.max_attempts,
        )

    def consumer(self, name: str | None = None, **options: Any) -> Consumer:
        options.setdefault("block_ms", 20)
        options.setdefault("read_timeout", 1.0)
        options.setdefault("retry_base", 0.02)
        options.setdefault("metrics", ConsumerMetrics.on(self.registry))
        return Consumer(self.spec, self.db.sessions, self.redis, self.prefix, name, **options)

    async def publish(self, *numbers: int, event_type: str = "ThingHappened") -> list[Event]:
        events = [
            Event(
                id=uuid.uuid4(),
                type=event_type,
                producer=self.producer,
                version=1,
                occurred_at=datetime.now(UTC),
                payload={"n": n},
                aggregate_id=f"thing-{n}",
            )
            for n in numbers
        ]
        for event in events:
            await self.redis.xadd(self.stream, event.to_fields())
        return events

    async def pending(self) -> int:
        return (await self.redis.xpending(self.stream, self.group))["pending"]

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, {"group": self.group, **labels}) or 0.0


@pytest.fixture
async def setup(db: Db, redis: Redis) -> AsyncIterator[Setup]:
    # A client of its own (the session's `redis` fixture deletes the run's keys at the end).
    producer = f"c{uuid.uuid4().hex[:8]}"
    client = Redis.from_url(os.environ["MYSHOP_REDIS_URL"])
    try:
        yield Setup(db, client, os.environ["MYSHOP_REDIS_PREFIX"], producer, Script(), CollectorRegistry())
    finally:
        await client.aclose()


async def drain(consumer: Consumer, rounds: int = 50) -> None:
    """Rounds until one handles nothing and no retry waits."""
    for _ in range(rounds):
        if not await consumer.run_once() and not consumer.retries:
            return
    raise AssertionError("the consumer still had work")


# --- at least once, one effect ------------------------------------------------------------------------------


async def test_an_event_delivered_twice_has_one_effect(setup):
    # Given one event XADDed twice (a relay that died between its XADD and its commit publishes again),
    (event,) = await setup.publish(1)
    await setup.redis.xadd(setup.stream, event.to_fields())

    # when the group consumes both messages,
    await drain(setup.consumer())

    # the handler ran once, one event is recorded as processed, and both messages are acknowledged.
    assert setup.script.calls == 1
    assert await setup.db.effect_numbers() == [1]
    assert await setup.db.count(processed) == 1
    assert await setup.pending() == 0


async def test_two_consumers_of_a_group_share_a_stream_and_apply_each_event_once(setup):
    await setup.publish(*range(200))

    first = asyncio.create_task(setup.consumer(batch_size=10).run())
    second = asyncio.create_task(setup.consumer(batch_size=10).run())
    try:
        await eventually(setup.db.effect_numbers, lambda numbers: len(numbers) == 200)
        await eventually(setup.pending, lambda n: n == 0)
    finally:
        await stop(first)
        await stop(second)

    assert await setup.db.effect_numbers() == list(range(200))
    consumers = await setup.redis.xinfo_consumers(setup.stream, setup.group)
    assert all(info["pending"] == 0 for info in consumers)
    assert len(consumers) == 2


async def test_one_consumer_applies_a_streams_events_in_stream_order(setup):
    order: list[int] = []

    async def record(session: AsyncSession, event: Event) -> None:
        order.append(event.payload["n"])

    spec = ConsumerSpec(setup.group, [Subscription(setup.producer, {"ThingHappened": record})], processed)
    await setup.publish(*range(50))

    await drain(Consumer(spec, setup.db.sessions, setup.redis, setup.prefix, block_ms=20, batch_size=7))

    assert order == list(range(50))


async def test_a_resp3_client_consumes_like_a_resp2_one(setup):
    setup.redis = Redis.from_url(os.environ["MYSHOP_REDIS_URL"], protocol=3)
    try:
        await setup.publish(1, 2)
        await drain(setup.consumer())
        assert await setup.db.effect_numbers() == [1, 2]
        assert await setup.pending() == 0
    finally:
        await setup.redis.aclose()


async def test_events_of_types_without_a_handler_are_acknowledged_and_skipped(setup):
    await setup.publish(1, event_type="SomethingElse")

    await drain(setup.consumer())

    assert setup.script.calls == 0
    assert await setup.pending() == 0
    assert await setup.db.count(processed) == 0


async def test_a_new_group_reads_the_streams_history(setup):
    # Events published before the consuming service ever started are still consumed.
    await setup.publish(1, 2, 3)

    await drain(setup.consumer())

    assert await setup.db.effect_numbers() == [1, 2, 3]


def batched_spec(setup: Setup, batches: list[list[int]]) -> ConsumerSpec:
    """The setup's group with the script's handler declared `Batched`: each call's numbers in `batches`."""

    async def handle_many(session: AsyncSession, events: Sequence[Event]) -> None:
        batches.append([event.payload["n"] for event in events])
        for event in events:
            await setup.script.handle(session, event)

    return ConsumerSpec(
        group=setup.group,
        subscriptions=[Subscription(setup.producer, {"ThingHappened": Batched(handle_many)})],
        processed=processed,
        max_attempts=setup.max_attempts,
    )


async def test_a_batched_handler_takes_a_run_of_new_events_at_once_and_each_event_once(setup):
    # Given five events, the third delivered twice (a relay that published it again), and one already applied,
    batches: list[list[int]] = []
    events = await setup.publish(1, 2, 3, 4, 5)
    await setup.redis.xadd(setup.stream, events[2].to_fields())
    async with setup.db.sessions() as session, session.begin():
        await session.execute(processed.insert().values(group=setup.group, event_id=events[4].id))

    # when a Batched handler's group consumes them in one read,
    consumer = Consumer(
        batched_spec(setup, batches), setup.db.sessions, setup.redis, setup.prefix, block_ms=20
    )
    await drain(consumer)

    # it was called once, with each event new to the group once, in stream order; all are acknowledged.
    assert batches == [[1, 2, 3, 4]]
    assert await setup.db.effect_numbers() == [1, 2, 3, 4]
    assert await setup.db.count(processed) == 5
    assert await setup.pending() == 0


async def test_a_failed_batch_is_applied_one_by_one_so_only_its_bad_event_fails(setup):
    # Given a Batched handler that fails on event 3,
    setup.max_attempts = 2
    setup.script.broken_numbers = {3}
    batches: list[list[int]] = []
    consumer = Consumer(
        batched_spec(setup, batches),
        setup.db.sessions,
        setup.redis,
        setup.prefix,
        block_ms=20,
        retry_base=0.02,
    )
    await setup.publish(1, 2, 3, 4)

    await drain(consumer, rounds=500)

    # the batch rolled back whole, then each event went alone: the others applied once, event 3 retried and
    # dead-lettered.
    assert batches[0] == [1, 2, 3, 4]
    assert batches[1:] == [[1], [2], [3], [4], [3]]
    assert await setup.db.effect_numbers() == [1, 2, 4]
    assert await setup.pending() == 0
    (dead,) = await DeadLetterQueue(consumer).list()
    assert dead.attempts == 2


# --- acknowledgement after the commit, retries --------------------------------------------------------------


async def test_a_handler_whose_transaction_fails_leaves_the_message_pending_until_a_retry_succeeds(setup):
    consumer = setup.consumer(retry_base=0.05)
    # Given a row that makes the handler's insert violate a unique constraint (its transaction fails),
    await consumer.ensure_groups()
    async with setup.db.sessions() as session, session.begin():
        await session.execute(effects.insert().values(event_id=uuid.uuid4(), n=7))
    (event,) = await setup.publish(7)

    # when the consumer handles it, nothing is committed and the message stays pending (not acknowledged),
    await consumer.run_once()
    assert setup.script.calls == 1
    assert await setup.db.count(processed) == 0
    assert await setup.pending() == 1
    assert consumer.retries

    # and once the obstacle is gone, the retry applies it and acknowledges it.
    async with setup.db.sessions() as session, session.begin():
        await session.execute(effects.delete())
    await drain(consumer)
    assert setup.script.calls == 2
    async with setup.db.sessions() as session:
        assert await session.scalar(select(effects.c.event_id)) == event.id
    assert await setup.pending() == 0


async def test_a_handler_that_raises_is_rolled_back_and_retried_with_backoff(setup):
    setup.script.failures = 2
    consumer = setup.consumer(retry_base=0.1)
    # The longest waits the consumer's full jitter may draw, so the waiting is measurable.
    consumer.retry_backoff = Backoff(0.1, 60.0, jitter=False)
    await setup.publish(1)

    started = asyncio.get_running_loop().time()
    await drain(consumer, rounds=500)
    elapsed = asyncio.get_running_loop().time() - started

    # Two failures: waits of 0.1 s then 0.2 s before the third call succeeds.
    assert setup.script.calls == 3
    assert await setup.db.effect_numbers() == [1]
    assert elapsed >= 0.29
    assert await setup.pending() == 0


# --- dead letters ------------------------------------------------------------------------------------------


async def test_a_handler_that_keeps_raising_is_dead_lettered_after_max_attempts(setup):
    setup.max_attempts = 3
    setup.script.broken = True
    consumer = setup.consumer()
    (event,) = await setup.publish(1)

    await drain(consumer, rounds=500)

    assert setup.script.calls == 3
    assert await setup.pending() == 0
    (dead,) = await DeadLetterQueue(consumer).list()
    assert dead.event_id == str(event.id)
    assert (dead.type, dead.producer, dead.attempts) == ("ThingHappened", setup.producer, 3)
    assert dead.error.startswith("RuntimeError: ")
    assert Event.from_fields((await setup.redis.xrange(consumer.dead_letters))[0][1]) == event
    assert await setup.db.effect_numbers() == []
    assert not await setup.redis.hlen(consumer.failures_key)


async def test_a_replay_after_the_fix_applies_the_dead_letter_once_and_removes_it(setup):
    setup.max_attempts = 2
    setup.script.broken = True
    consumer = setup.consumer()
    await setup.publish(1)
    await drain(consumer, rounds=500)
    queue = DeadLetterQueue(consumer)
    (dead,) = await queue.list()

    setup.script.broken = False
    assert await queue.replay(dead.id) is True

    assert await setup.db.effect_numbers() == [1]
    assert await setup.db.count(processed) == 1
    assert await queue.list() == []
    with pytest.raises(NotFound):
        await queue.replay(dead.id)


async def test_a_replay_of_an_event_already_processed_removes_the_dead_letter_without_a_second_effect(setup):
    setup.max_attempts = 1
    setup.script.broken = True
    consumer = setup.consumer()
    (event,) = await setup.publish(1)
    await drain(consumer, rounds=500)
    # The same event, published again, is applied by the group meanwhile.
    setup.script.broken = False
    await setup.redis.xadd(setup.stream, event.to_fields())
    await drain(consumer)
    queue = DeadLetterQueue(consumer)

    assert await queue.replay_all() == 1

    assert await setup.db.effect_numbers() == [1]
    assert await queue.list() == []


async def test_a_replay_that_fails_again_stays_dead_lettered_with_the_new_error(setup):
    setup.max_attempts = 1
    setup.script.broken = True
    consumer = setup.consumer()
    await setup.publish(1)
    await drain(consumer, rounds=500)
    queue = DeadLetterQueue(consumer)
    (dead,) = await queue.list()

    assert await queue.replay(dead.id) is False

    (again,) = await queue.list()
    assert again.event_id == dead.event_id
    assert again.attempts == 2
    assert "call 2" in again.error and "call 1" in dead.error
    assert await setup.db.effect_numbers() == []


async def test_replay_all_replays_every_dead_letter_and_counts_the_successes(setup):
    setup.max_attempts = 1
    setup.script.broken = True
    consumer = setup.consumer()
    await setup.publish(1, 2, 3)
    await drain(consumer, rounds=500)
    queue = DeadLetterQueue(consumer)
    assert len(await queue.list()) == 3

    setup.script.broken = False
    assert await queue.replay_all() == 3

    assert await setup.db.effect_numbers() == [1, 2, 3]
    assert await queue.list() == []


# --- dead consumers, deleted groups, outages ---------------------------------------------------------------


async def test_messages_pending_with_a_killed_consumer_are_claimed_and_processed_by_another(setup):
    # Given a consumer killed inside its handler, with the messages it read still pending,
    setup.script.stuck = True
    killed = setup.consumer("killed", claim_idle=0.3, batch_size=10)
    await setup.publish(1, 2, 3)
    task = asyncio.create_task(killed.run())
    await asyncio.wait_for(setup.script.entered.wait(), 10)
    await stop(task)
    assert await setup.pending() == 3
    assert await setup.db.effect_numbers() == []

    # when another consumer of the group runs,
    setup.script.stuck = False
    survivor = asyncio.create_task(setup.consumer("survivor", claim_idle=0.3).run())
    try:
        # it claims them once idle and processes them, once each.
        await eventually(setup.db.effect_numbers, lambda numbers: numbers == [1, 2, 3])
        await eventually(setup.pending, lambda n: n == 0)
    finally:
        await stop(survivor)
    assert await setup.db.count(processed) == 3


async def test_a_living_consumer_keeps_a_slow_message_from_being_claimed(setup):
    release = asyncio.Event()
    calls: list[str] = []

    async def slow(session: AsyncSession, event: Event) -> None:
        calls.append(str(event.id))
        await release.wait()

    # Given a consumer whose handler works on a message for 6 times the claim idle time,
    spec = ConsumerSpec(setup.group, [Subscription(setup.producer, {"ThingHappened": slow})], processed)
    first = Consumer(spec, setup.db.sessions, setup.redis, setup.prefix, "first", claim_idle=0.5, block_ms=20)
    other = Consumer(spec, setup.db.sessions, setup.redis, setup.prefix, "other", claim_idle=0.5, block_ms=20)
    await setup.publish(1)
    tasks = [asyncio.create_task(first.run())]
    try:
        await eventually(lambda: asyncio.sleep(0, len(calls)), lambda n: n == 1)
        # when another consumer of the group looks for abandoned messages all that time,
        tasks.append(asyncio.create_task(other.run()))
        loop = asyncio.get_running_loop()
        until = loop.time() + 6 * first.claim_idle
        owners: set[str] = set()
        while loop.time() < until:
            pending = await setup.redis.xpending_range(setup.stream, setup.group, "-", "+", 10)
            owners |= {entry["consumer"].decode() for entry in pending}
            await asyncio.sleep(0.05)
        # then the message stayed with the first consumer (XPENDING names its owner; a claim would move it),
        assert owners == {"first"}
        release.set()
        await eventually(setup.pending, lambda n: n == 0)
    finally:
        for task in tasks:
            await stop(task)
    # and was handled once.
    assert len(calls) == 1


async def test_a_group_deleted_under_a_running_consumer_is_recreated(setup):
    consumer = setup.consumer()
    task = asyncio.create_task(consumer.run())
    try:
        await setup.publish(1)
        await eventually(setup.db.effect_numbers, lambda numbers: numbers == [1])

        await setup.redis.xgroup_destroy(setup.stream, setup.group)
        await setup.publish(2)

        # The new group reads the stream from the start: event 1 again, absorbed by processed_events.
        await eventually(setup.db.effect_numbers, lambda numbers: numbers == [1, 2])
        await eventually(setup.pending, lambda n: n == 0)
    finally:
        await stop(task)
    assert setup.script.calls == 2


@pytest.fixture
async def redis_process(tmp_path: Path) -> AsyncIterator[RedisProcess]:
    server = RedisProcess(tmp_path)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_a_consumer_rides_out_a_redis_restart_with_one_warning(setup, redis_process, caplog):
    caplog.set_level(logging.INFO, logger="myshop.consumer")
    client = Redis(
        port=redis_process.port, socket_connect_timeout=1, socket_timeout=2, retry=Retry(NoBackoff(), 0)
    )
    setup.redis = client
    consumer = setup.consumer(max_backoff=0.2)

    def recovered() -> bool:
        return any(r.levelno == logging.INFO and "again" in r.getMessage() for r in caplog.records)

    task = asyncio.create_task(consumer.run())
    try:
        await setup.publish(1)
        await eventually(setup.db.effect_numbers, lambda numbers: numbers == [1])

        await redis_process.stop()
        await asyncio.sleep(1.0)
        assert not task.done()
        await redis_process.start()

        await setup.publish(2)
        await eventually(setup.db.effect_numbers, lambda numbers: numbers == [1, 2])
        await eventually(lambda: asyncio.sleep(0, recovered()), bool)
    finally:
        await stop(task)
        await client.aclose()
    warnings = [r for r in caplog.records if r.name == "myshop.consumer" and r.levelno == logging.WARNING]
    assert len(warnings) == 1


async def test_a_database_outage_counts_no_attempt(setup):
    setup.max_attempts = 1
    consumer = setup.consumer()
    await setup.publish(1)
    await setup.db.engine.dispose()
    # The consumer's database is gone: connecting fails like a stopped server.
    broken = create_async_engine("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    consumer.sessionmaker = async_sessionmaker(broken, expire_on_commit=False)
    try:
        with pytest.raises(OSError):
            await consumer.run_once()
    finally:
        await broken.dispose()
    consumer.sessionmaker = setup.db.sessions

    await drain(consumer, rounds=500)

    assert await setup.db.effect_numbers() == [1]
    assert await setup.redis.xlen(consumer.dead_letters) == 0


# --- metrics ------------------------------------------------------------------------------------------------


async def test_metrics_count_processed_failed_and_dead_lettered_events_and_report_the_lag(setup):
    setup.max_attempts = 2
    consumer = setup.consumer(batch_size=2)
    await consumer.ensure_groups()
    await setup.publish(1, 2, 3, 4)
    assert await consumer.refresh_lag() == {setup.stream: 4}
    assert setup.metric("myshop_consumer_lag", stream=setup.stream) == 4

    setup.script.broken_numbers = {1}  # the first event fails twice: dead-lettered
    await drain(consumer, rounds=500)
    await consumer.refresh_lag()

    by_type = {"type": "ThingHappened"}
    assert setup.metric("myshop_consumer_processed_total", **by_type) == 3
    assert setup.metric("myshop_consumer_failed_total", **by_type) == 2
    assert setup.metric("myshop_consumer_dead_lettered_total", **by_type) == 1
    assert setup.metric("myshop_consumer_lag", stream=setup.stream) == 0


async def test_consumers_that_hold_nothing_and_are_idle_for_long_are_forgotten(setup):
    consumer = setup.consumer("alive")
    await consumer.ensure_groups()
    await setup.redis.xgroup_createconsumer(setup.stream, setup.group, "gone")
    await setup.redis.xgroup_createconsumer(setup.stream, setup.group, "alive")
    await asyncio.sleep(0.01)

    await consumer.forget_idle_consumers(older_than=0)

    names = [info["name"] for info in await setup.redis.xinfo_consumers(setup.stream, setup.group)]
    assert names in (["alive"], [b"alive"])


# --- the GraphQL operations -----------------------------------------------------------------------------


def test_each_service_gets_its_own_named_admin_operations_on_a_shareable_dead_letter_type():
    import strawberry

    from shared.deadletters import dead_letter_mutation, dead_letter_query
    from shared.graphql import build_schema

    @strawberry.federation.type(name="Query")
    class Query(dead_letter_query("analytics")):
        pass

    @strawberry.federation.type(name="Mutation")
    class Mutation(dead_letter_mutation("analytics")):
        pass

    sdl = build_schema(query=Query, mutation=Mutation).as_str()

    assert "analyticsDeadLetters(first: Int = 50): [DeadLetter!]!" in sdl
    assert "replayAnalyticsDeadLetter(id: ID!): Boolean!" in sdl
    assert "replayAnalyticsDeadLetters: Int!" in sdl
    assert "type DeadLetter @shareable" in sdl
