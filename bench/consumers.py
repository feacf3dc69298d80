"""Benchmark of the event consumer framework (`shared.consumer`): events per second through a consumer group
with a real handler, and the lag under a burst.

The handler inserts one row per event; the framework adds its bookkeeping (the `processed_events` row in the
same transaction, XREADGROUP, XACK). Consumers run in processes of their own, as replicas of a service would.

1. throughput: N events already in the stream, consumed by one consumer, then by two (a fresh group each
   time): events per second until the group has acknowledged all of them;
2. burst: consumers idle and waiting; N events XADDed as fast as possible (pipelined); the time until the
   group's lag and pending count are back to 0, and the largest lag seen (XINFO GROUPS, sampled every 10 ms);
3. reference, in the same run: the same N rows inserted by a plain loop of one-row transactions, without Redis
   and without bookkeeping. Its ratio to (1) is what the framework costs per event.

    .venv/bin/python bench/consumers.py [--events 10000] [--batch-size 100]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("MYSHOP_LOG_LEVEL", "WARNING")

from redis.asyncio import Redis
from sqlalchemy import BigInteger, Column, Integer, Table, Uuid, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from shared.consumer import Consumer
from shared.db import new_metadata
from shared.outbox import Event, stream_name
from shared.subscriptions import ConsumerSpec, Subscription, processed_events_table
from shared.testing import scratch_database

POSTGRES_URL = os.environ.get("MYSHOP_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("MYSHOP_REDIS_URL", "redis://127.0.0.1:6379/0")
# Fixed by the parent before it spawns the consumer processes (their pid differs).
PREFIX = os.environ.setdefault("MYSHOP_BENCH_PREFIX", f"bench:{os.getpid()}:")
PRODUCER = "benchorders"

metadata = new_metadata()
processed = processed_events_table(metadata)
rows = Table(
    "bench_rows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Uuid, nullable=False),
    Column("n", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),
)


async def insert_row(session: AsyncSession, event: Event) -> None:
    await session.execute(
        rows.insert().values(event_id=event.id, n=event.payload["n"], amount=event.payload["amount"])
    )


def spec(group: str) -> ConsumerSpec:
    return ConsumerSpec(group, [Subscription(PRODUCER, {"OrderPlaced": insert_row})], processed)


def make_events(count: int) -> list[Event]:
    now = datetime.now(UTC)
    return [
        Event(uuid.uuid4(), "OrderPlaced", PRODUCER, 1, now, {"n": n, "amount": 1999 + n, "currency": "EUR"})
        for n in range(count)
    ]


async def publish(redis: Redis, stream: str, events: list[Event], chunk: int = 500) -> None:
    for start in range(0, len(events), chunk):
        async with redis.pipeline(transaction=False) as pipe:
            for event in events[start : start + chunk]:
                pipe.xadd(stream, event.to_fields())
            await pipe.execute()


# --- the consumer processes ---------------------------------------------------------------------------------


def consumer_process(url: str, group: str, batch_size: int, ready: Any, go: Any) -> None:
    asyncio.run(_consume(url, group, batch_size, ready, go))


async def _consume(url: str, group: str, batch_size: int, ready: Any, go: Any) -> None:
    engine = create_async_engine(url, pool_size=5)
    redis = Redis.from_url(REDIS_URL)
    consumer = Consumer(
        spec(group), async_sessionmaker(engine, expire_on_commit=False), redis, PREFIX, batch_size=batch_size
    )
    await consumer.ensure_groups()
    async with engine.connect():  # warm the pool
        pass
    ready.set()
    await asyncio.to_thread(go.wait)
    await consumer.run()


class Consumers:
    """`count` consumer processes of one group, started and waiting for `go`."""

    def __init__(self, url: str, group: str, count: int, batch_size: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.go = context.Event()
        self.ready = [context.Event() for _ in range(count)]
        self.processes = [
            context.Process(
                target=consumer_process, args=(url, group, batch_size, ready, self.go), daemon=True
            )
            for ready in self.ready
        ]

    def __enter__(self) -> Consumers:
        for process in self.processes:
            process.start()
        for ready in self.ready:
            if not ready.wait(60):
                raise RuntimeError("a consumer process did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.join(10)


async def group_state(redis: Redis, stream: str, group: str) -> tuple[int, int]:
    """(lag, pending) of the group on the stream."""
    for info in await redis.xinfo_groups(stream):
        name = info["name"].decode() if isinstance(info["name"], bytes) else info["name"]
        if name == group:
            return int(info["lag"] or 0), int(info["pending"])
    return 0, 0


async def drained(redis: Redis, stream: str, group: str) -> None:
    """Until the group has received and acknowledged everything in the stream."""
    while True:
        if await group_state(redis, stream, group) == (0, 0):
            return
        await asyncio.sleep(0.005)


async def count_rows(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(rows))


async def reset(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        await session.execute(rows.delete())
        await session.execute(processed.delete())


# --- the measurements ---------------------------------------------------------------------------------------


async def reference(sessions: async_sessionmaker[AsyncSession], events: list[Event]) -> float:
    """Rows per second: the same inserts, one transaction each, no Redis, no bookkeeping."""
    started = time.perf_counter()
    for event in events:
        async with sessions() as session, session.begin():
            await insert_row(session, event)
    return len(events) / (time.perf_counter() - started)


async def throughput(
    url: str, redis: Redis, stream: str, events: list[Event], consumers: int, batch: int
) -> float:
    """Events per second through a group of `consumers` from a backlog of `len(events)`."""
    group = f"bench-{uuid.uuid4().hex[:6]}"
    with Consumers(url, group, consumers, batch) as running:
        started = time.perf_counter()
        running.go.set()
        await drained(redis, stream, group)
        return len(events) / (time.perf_counter() - started)


async def burst(
    url: str, redis: Redis, stream: str, events: list[Event], consumers: int, batch: int
) -> dict[str, float]:
    """Consumers idle; the events XADDed at once. Time to lag 0 (and nothing pending), and the largest lag."""
    group = f"bench-{uuid.uuid4().hex[:6]}"
    await redis.xgroup_create(stream, group, id="$")  # only what comes from now on
    with Consumers(url, group, consumers, batch) as running:
        running.go.set()
        await asyncio.sleep(0.5)  # the consumers are blocked in XREADGROUP, waiting
        max_lag = 0
        done = asyncio.Event()

        async def sample() -> None:
            nonlocal max_lag
            while not done.is_set():
                lag, _ = await group_state(redis, stream, group)
                max_lag = max(max_lag, lag)
                await asyncio.sleep(0.01)

        sampler = asyncio.create_task(sample())
        started = time.perf_counter()
        await publish(redis, stream, events)
        published = time.perf_counter() - started
        await asyncio.sleep(0.02)
        await drained(redis, stream, group)
        drain_s = time.perf_counter() - started
        done.set()
        await sampler
    return {"publish_s": published, "drain_s": drain_s, "max_lag": max_lag, "rate": len(events) / drain_s}


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()

    redis = Redis.from_url(REDIS_URL)
    stream = stream_name(PREFIX, PRODUCER)
    async with scratch_database("benchconsumers", POSTGRES_URL) as url:
        engine = create_async_engine(url, pool_size=5)
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        try:
            events = make_events(args.events)
            ref = await reference(sessions, events)
            await reset(sessions)

            await publish(redis, stream, events)
            results: dict[str, Any] = {}
            for consumers in (1, 2):
                results[f"throughput {consumers}"] = await throughput(
                    url, redis, stream, events, consumers, args.batch_size
                )
                applied = await count_rows(sessions)
                assert applied == len(events), f"every event applied once: {applied}"
                await reset(sessions)
            for consumers in (1, 2):
                burst_events = make_events(args.events)
                results[f"burst {consumers}"] = await burst(
                    url, redis, stream, burst_events, consumers, args.batch_size
                )
                assert await count_rows(sessions) == len(burst_events), "every event applied once"
                await reset(sessions)
        finally:
            await engine.dispose()
            await redis.delete(stream)
            await redis.aclose()

    print(
        f"\nconsumer framework, {args.events} events, batch {args.batch_size}, "
        "handler: one INSERT per event\n"
    )
    print(f"{'scenario':<44}{'events/s':>10}{'vs reference':>14}")
    print(f"{'reference: plain loop of 1-row transactions':<44}{ref:>10.0f}{1.0:>13.2f}x")
    for consumers in (1, 2):
        rate = results[f"throughput {consumers}"]
        label = f"backlog through {consumers} consumer{'s' if consumers > 1 else ''}"
        print(f"{label:<44}{rate:>10.0f}{rate / ref:>13.2f}x")
    print(
        f"\n{'burst of ' + str(args.events) + ' events (XADD pipelined)':<44}{'XADD s':>8}{'lag→0 s':>9}"
        f"{'max lag':>9}{'events/s':>10}"
    )
    for consumers in (1, 2):
        b = results[f"burst {consumers}"]
        label = f"  {consumers} consumer{'s' if consumers > 1 else ''}"
        print(f"{label:<44}{b['publish_s']:>8.2f}{b['drain_s']:>9.2f}{b['max_lag']:>9.0f}{b['rate']:>10.0f}")


if __name__ == "__main__":
    asyncio.run(main())
