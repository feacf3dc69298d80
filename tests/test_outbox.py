"""The outbox relay against real PostgreSQL and Redis: order, the envelope, one publisher at a time,
rollbacks, a Redis outage (a redis-server of the test's own, stopped and started again) and a relay restart.

Each test has a scratch database holding only an outbox table, so none depends on a service.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eventually import eventually
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from stream_helpers import RedisProcess, stop

from shared.db import new_metadata
from shared.outbox import Event, Outbox, stream_name
from shared.relay import OutboxRelay, RelayMetrics
from shared.testing import emptied_tables, scratch_database

PRODUCER = "relaytest"


@dataclass
class OutboxDb:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    outbox: Outbox

    async def commit_events(
        self, count: int, event_type: str = "ThingHappened", **payload: Any
    ) -> list[Event]:
        """`count` events written and committed in one transaction."""
        async with self.sessions() as session, session.begin():
            return [
                await self.outbox.emit(session, event_type, {"n": n, **payload}, aggregate_id=f"thing-{n}")
                for n in range(count)
            ]

    async def unpublished(self) -> int:
        table = self.outbox.table
        async with self.sessions() as session:
            return await session.scalar(
                select(func.count()).select_from(table).where(table.c.published_at.is_(None))
            )

    async def published(self) -> int:
        table = self.outbox.table
        async with self.sessions() as session:
            return await session.scalar(
                select(func.count()).select_from(table).where(table.c.published_at.is_not(None))
            )


@pytest.fixture(scope="module")
async def scratch_outbox() -> AsyncIterator[tuple[str, Outbox]]:
    """The module's scratch database with the outbox table; each test empties it (`outbox_db`)."""
    async with scratch_database("outbox", os.environ["MYSHOP_POSTGRES_URL"]) as url:
        metadata = new_metadata()
        outbox = Outbox(metadata, PRODUCER)
        engine = create_async_engine(url, poolclass=NullPool)
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        await engine.dispose()
        yield url, outbox


@pytest.fixture
async def outbox_db(scratch_outbox: tuple[str, Outbox]) -> AsyncIterator[OutboxDb]:
    """The outbox emptied, and an engine of the test's own: whatever it leaves open is closed at its end."""
    url, outbox = scratch_outbox
    await emptied_tables(url, [table.name for table in outbox.table.metadata.sorted_tables])
    engine = create_async_engine(url, pool_size=10)
    try:
        yield OutboxDb(engine, async_sessionmaker(engine, expire_on_commit=False), outbox)
    finally:
        await engine.dispose()


@pytest.fixture
def stream() -> str:
    # Under the run's prefix: the session's `redis` fixture deletes it at the end.
    return stream_name(os.environ["MYSHOP_REDIS_PREFIX"], f"{PRODUCER}-{uuid.uuid4().hex[:8]}")


def relay_for(db: OutboxDb, redis: Redis, stream: str, **options: Any) -> OutboxRelay:
    options.setdefault("poll_interval", 0.01)
    return OutboxRelay(db.outbox, db.sessions, redis, stream, **options)


async def stream_events(redis: Redis, stream: str) -> list[Event]:
    return [Event.from_fields(fields) for _, fields in await redis.xrange(stream)]


# --- publishing ---------------------------------------------------------------------------------------------


async def test_relay_publishes_committed_events_in_order_with_the_full_envelope(outbox_db, redis, stream):
    first = await outbox_db.commit_events(3, "ThingMade", colour="red")
    second = await outbox_db.commit_events(2, "ThingSold")

    published = await relay_for(outbox_db, redis, stream).publish_batch()

    assert published == 5
    received = await stream_events(redis, stream)
    assert received == first + second  # id, type, producer, version, time, aggregate and payload
    assert received[0].producer == PRODUCER
    assert received[0].payload == {"n": 0, "colour": "red"}
    assert received[0].aggregate_id == "thing-0"


async def test_a_batch_written_in_one_statement_is_published_whole_and_in_the_order_given(
    outbox_db, redis, stream
):
    events = [
        outbox_db.outbox.event("ThingMade", {"n": n, "at": datetime(2026, 1, 1, tzinfo=UTC)}, aggregate_id=n)
        for n in range(5)
    ]
    async with outbox_db.sessions() as session, session.begin():
        await outbox_db.outbox.write_many(session, events)
        await outbox_db.outbox.write_many(session, [])  # nothing to write: no statement, no error

    published = await relay_for(outbox_db, redis, stream).publish_batch()

    assert published == 5
    assert await stream_events(redis, stream) == events
    assert events[2].payload == {"n": 2, "at": "2026-01-01T00:00:00+00:00"}


async def test_published_events_are_marked_and_not_published_again(outbox_db, redis, stream):
    await outbox_db.commit_events(4)
    relay = relay_for(outbox_db, redis, stream)

    await relay.publish_batch()
    again = await relay.publish_batch()

    assert again == 0
    assert await outbox_db.unpublished() == 0
    assert await redis.xlen(stream) == 4


async def test_a_round_publishes_at_most_a_batch_in_id_order(outbox_db, redis, stream):
    events = await outbox_db.commit_events(7)
    relay = relay_for(outbox_db, redis, stream, batch_size=3)

    rounds = [await relay.publish_batch() for _ in range(4)]

    assert rounds == [3, 3, 1, 0]
    assert [event.id for event in await stream_events(redis, stream)] == [event.id for event in events]


async def test_events_of_a_rolled_back_transaction_are_never_published(outbox_db, redis, stream):
    async with outbox_db.sessions() as session:
        await session.begin()
        await outbox_db.outbox.emit(session, "ThingMade", {"n": -1})
        await session.rollback()
    kept = await outbox_db.commit_events(1)

    await relay_for(outbox_db, redis, stream).publish_batch()
    await relay_for(outbox_db, redis, stream).publish_batch()

    assert await stream_events(redis, stream) == kept


async def test_two_relays_of_one_producer_running_together_publish_each_event_once_in_order(
    outbox_db, redis, stream
):
    relays = [relay_for(outbox_db, redis, stream, batch_size=7, poll_interval=0.001) for _ in range(2)]
    tasks = [asyncio.create_task(relay.run()) for relay in relays]
    written: list[Event] = []
    try:
        # Committed one transaction after another while both relays compete for the work.
        for _ in range(40):
            written += await outbox_db.commit_events(4)
        await eventually(outbox_db.unpublished, lambda n: n == 0)
    finally:
        for task in tasks:
            await stop(task)

    assert [event.id for event in await stream_events(redis, stream)] == [event.id for event in written]


# --- outages and restarts -----------------------------------------------------------------------------------


@pytest.fixture
async def redis_process(tmp_path: Path) -> AsyncIterator[RedisProcess]:
    server = RedisProcess(tmp_path)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_with_redis_stopped_changes_commit_and_wait_then_all_are_published_in_order_once_it_returns(
    outbox_db, redis_process, caplog
):
    caplog.set_level(logging.INFO, logger="myshop.outbox")
    # No client-side retries (redis-py's default spends ~3.4 s per failed command): the relay's own backoff.
    client = Redis(
        port=redis_process.port, socket_connect_timeout=1, socket_timeout=2, retry=Retry(NoBackoff(), 0)
    )
    stream = stream_name("outage:", PRODUCER)
    registry = CollectorRegistry()
    relay = relay_for(outbox_db, client, stream, max_backoff=0.2, metrics=RelayMetrics(registry, PRODUCER))

    async def failures() -> float:
        return registry.get_sample_value("myshop_outbox_publish_failures_total", {"service": PRODUCER}) or 0

    task = asyncio.create_task(relay.run())
    try:
        # Given a relay publishing normally,
        before = await outbox_db.commit_events(3, "BeforeOutage")
        await eventually(lambda: client.xlen(stream), lambda n: n == 3)

        # when Redis stops, changes still commit and their events wait in the outbox,
        await redis_process.stop()
        during: list[Event] = []
        for _ in range(5):
            during += await outbox_db.commit_events(2, "DuringOutage")
        await eventually(failures, lambda n: n >= 3)
        assert await outbox_db.unpublished() == 10
        assert not task.done()
        warnings = [r for r in caplog.records if r.name == "myshop.outbox" and r.levelno == logging.WARNING]
        assert len(warnings) == 1  # one line for the outage, not one per retry

        # and once it is back, every waiting event arrives, in order, exactly once.
        await redis_process.start()
        await eventually(outbox_db.unpublished, lambda n: n == 0)
        received = await stream_events(client, stream)
    finally:
        await stop(task)
        await client.aclose()

    assert [event.id for event in received] == [event.id for event in before + during]
    assert received == before + during
    assert any(r.levelno == logging.INFO and "again" in r.getMessage() for r in caplog.records)


class RelayStoppedInItsBatch(OutboxRelay):
    """A relay whose `stop_at`-th batch lingers between its XADD and its commit, where the test stops it."""

    def __init__(self, *args: Any, stop_at: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batches = 0
        self.stop_at = stop_at
        self.between_xadd_and_commit = asyncio.Event()

    async def _xadd(self, events: list[Event]) -> bytes | str:
        last = await super()._xadd(events)
        self.batches += 1
        if self.batches == self.stop_at:
            self.between_xadd_and_commit.set()
            await asyncio.sleep(0.2)
        return last


async def test_a_restarted_relay_continues_where_the_old_one_stopped(outbox_db, redis, stream):
    written = await outbox_db.commit_events(100)
    first = RelayStoppedInItsBatch(
        outbox_db.outbox, outbox_db.sessions, redis, stream, batch_size=2, stop_at=20
    )
    first_task = asyncio.create_task(first.run())
    await asyncio.wait_for(first.between_xadd_and_commit.wait(), 15)

    await stop(first_task)
    stopped_at = await outbox_db.published()
    second = asyncio.create_task(relay_for(outbox_db, redis, stream, batch_size=2).run())
    try:
        await eventually(outbox_db.unpublished, lambda n: n == 0)
    finally:
        await stop(second)

    # Stopped in its 20th batch, the first relay finished that batch (so it is not published again).
    assert stopped_at == 40
    assert [event.id for event in await stream_events(redis, stream)] == [event.id for event in written]


class RelayFailingAfterItsXadd(OutboxRelay):
    """A relay whose first batch reaches the stream, then its transaction fails before the commit (PostgreSQL
    lost there): the batch is in the stream and still unpublished in the outbox."""

    failed = False

    async def _xadd(self, events: list[Event]) -> bytes | str:
        last = await super()._xadd(events)
        if not self.failed:
            self.failed = True
            raise SQLAlchemyError("the connection was lost before the commit")
        return last


@pytest.mark.parametrize("next_relay", ["the same relay retrying", "another replica's relay"])
async def test_a_batch_whose_commit_never_came_is_not_published_again(outbox_db, redis, stream, next_relay):
    written = await outbox_db.commit_events(7)
    first = RelayFailingAfterItsXadd(outbox_db.outbox, outbox_db.sessions, redis, stream, batch_size=5)
    with pytest.raises(SQLAlchemyError):
        await first.publish_batch()
    assert await outbox_db.published() == 0
    assert len(await stream_events(redis, stream)) == 5

    relay = (
        first
        if next_relay == "the same relay retrying"
        else relay_for(outbox_db, redis, stream, batch_size=5)
    )
    while await relay.publish_batch():
        pass

    assert await outbox_db.published() == 7
    assert [event.id for event in await stream_events(redis, stream)] == [event.id for event in written]


async def test_a_relay_that_published_before_another_died_mid_batch_leaves_that_batch_out(
    outbox_db, redis, stream
):
    first = await outbox_db.commit_events(3)
    survivor = relay_for(outbox_db, redis, stream, batch_size=5)
    assert await survivor.publish_batch() == 3
    then = await outbox_db.commit_events(4)
    dying = RelayFailingAfterItsXadd(outbox_db.outbox, outbox_db.sessions, redis, stream, batch_size=5)
    with pytest.raises(SQLAlchemyError):
        await dying.publish_batch()

    while await survivor.publish_batch():
        pass

    assert [event.id for event in await stream_events(redis, stream)] == [event.id for event in first + then]


# --- housekeeping and metrics -------------------------------------------------------------------------------


async def test_prune_deletes_only_published_events_older_than_the_retention(outbox_db, redis, stream):
    old_published, recent_published, old_unpublished = await outbox_db.commit_events(3)
    table = outbox_db.outbox.table
    async with outbox_db.sessions() as session, session.begin():
        for event, published_at in (
            (old_published, func.now() - timedelta(days=8)),
            (recent_published, func.now() - timedelta(days=6)),
        ):
            await session.execute(
                update(table).where(table.c.event_id == event.id).values(published_at=published_at)
            )
        await session.execute(
            update(table)
            .where(table.c.event_id == old_unpublished.id)
            .values(occurred_at=func.now() - timedelta(days=30))
        )

    deleted = await relay_for(outbox_db, redis, stream, retention=timedelta(days=7)).prune()

    async with outbox_db.sessions() as session:
        left = set((await session.execute(select(table.c.event_id))).scalars())
    assert deleted == 1
    assert left == {recent_published.id, old_unpublished.id}


async def test_prune_trims_stream_entries_older_than_the_stream_retention(outbox_db, redis, stream):
    # Given a stream holding an entry of eight days ago, one of six days ago, and one of now
    now_ms = int(time.time() * 1000)
    eight_days_ago = f"{now_ms - 8 * 86_400_000}-0"
    six_days_ago = f"{now_ms - 6 * 86_400_000}-0"
    for entry_id in (eight_days_ago, six_days_ago):
        await redis.xadd(stream, {"type": "Old"}, id=entry_id)
    await redis.xadd(stream, {"type": "New"})

    # When the relay prunes with a seven-day stream retention
    await relay_for(outbox_db, redis, stream, stream_retention=timedelta(days=7)).prune()

    # Then only the entry past the retention is gone
    left = [entry_id.decode() for entry_id, _ in await redis.xrange(stream)]
    assert eight_days_ago not in left
    assert six_days_ago in left and len(left) == 2


async def test_without_a_stream_retention_prune_leaves_the_stream_whole(outbox_db, redis, stream):
    old = f"{int(time.time() * 1000) - 30 * 86_400_000}-0"
    await redis.xadd(stream, {"type": "Old"}, id=old)

    await relay_for(outbox_db, redis, stream).prune()

    assert [entry_id.decode() for entry_id, _ in await redis.xrange(stream)] == [old]


async def test_metrics_count_published_events_by_type_and_report_the_backlog(outbox_db, redis, stream):
    registry = CollectorRegistry()
    relay = relay_for(outbox_db, redis, stream, metrics=RelayMetrics(registry, PRODUCER))

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"service": PRODUCER, **labels})

    await outbox_db.commit_events(2, "ThingMade")
    await outbox_db.commit_events(1, "ThingSold")

    await relay.refresh_gauges()
    backlog_before = sample("myshop_outbox_unpublished_events")
    age_before = sample("myshop_outbox_oldest_unpublished_age_seconds")
    await relay.publish_batch()
    await relay.refresh_gauges()

    assert backlog_before == 3
    assert age_before is not None and age_before > 0
    assert sample("myshop_outbox_events_published_total", type="ThingMade") == 2
    assert sample("myshop_outbox_events_published_total", type="ThingSold") == 1
    assert sample("myshop_outbox_unpublished_events") == 0
    assert sample("myshop_outbox_oldest_unpublished_age_seconds") == 0
