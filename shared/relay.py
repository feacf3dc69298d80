"""The outbox relay: publishes a service's committed outbox rows to its Redis Stream, in id order, at least
once.

One batch is one database transaction: take the producer's advisory lock (so one relay of a service publishes
at a time, however many replicas run), lock the oldest unpublished rows, XADD them in one MULTI/EXEC, mark
them published, commit. Redis failing rolls the transaction back and the events wait in the outbox. A batch
XADDed whose commit never came (PostgreSQL or Redis lost after the XADD, or the process killed there) is still
unpublished in the outbox; the relay that publishes next (this one after its error, or another replica that
takes the lock) first reads the stream's tail and leaves out the events already there, so a stream holds
each event once: partners reading the stream itself (`orderUpdates`) see each change once, and consumers
deduplicate on the event id besides. A relay that is cancelled (shutdown) lets its batch finish first.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import weakref
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from redis.asyncio import Redis
from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.outage import Outage
from shared.outbox import Event, Outbox, stream_name
from shared.redis_client import REDIS_UNAVAILABLE

if TYPE_CHECKING:
    from shared.context import Runtime

logger = logging.getLogger("myshop.outbox")

# What an unreachable, restarting or hung Redis or PostgreSQL raises: the relay waits and retries.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (*REDIS_UNAVAILABLE, SQLAlchemyError)

# Published rows deleted per statement when pruning: short transactions, no long lock on the table.
PRUNE_CHUNK = 5000

# Entries read past a batch's size when checking the stream's tail for an unconfirmed batch: room for the few
# entries another writer may have put after it (privacy's redaction re-adds an entry at the tail).
TAIL_SLACK = 32


def relay_lock_key(producer: str) -> int:
    """The advisory lock (a signed 64-bit key) that one relay of `producer` holds while it publishes."""
    digest = hashlib.sha256(f"myshop:outbox-relay:{producer}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class RelayMetrics:
    """The relay's Prometheus metrics, created once per registry (a restarted relay reuses them)."""

    _by_registry: weakref.WeakKeyDictionary[CollectorRegistry, RelayMetrics] = weakref.WeakKeyDictionary()

    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.service = service
        self.published = Counter(
            "myshop_outbox_events_published_total",
            "Outbox events published to Redis Streams, by event type.",
            ["service", "type"],
            registry=registry,
        )
        self.failures = Counter(
            "myshop_outbox_publish_failures_total",
            "Relay rounds that failed (Redis or the database unavailable); the events wait in the outbox.",
            ["service"],
            registry=registry,
        )
        self.backlog = Gauge(
            "myshop_outbox_unpublished_events",
            "Outbox events committed but not yet published.",
            ["service"],
            registry=registry,
        )
        self.oldest_age = Gauge(
            "myshop_outbox_oldest_unpublished_age_seconds",
            "Age of the oldest unpublished outbox event (0 when none waits).",
            ["service"],
            registry=registry,
        )

    @classmethod
    def on(cls, registry: CollectorRegistry, service: str) -> RelayMetrics:
        metrics = cls._by_registry.get(registry)
        if metrics is None:
            metrics = cls._by_registry[registry] = cls(registry, service)
        return metrics


class OutboxRelay:
    """Moves one service's outbox rows onto its stream. `publish_batch()` does one round; `run()` loops."""

    def __init__(
        self,
        outbox: Outbox,
        sessions: async_sessionmaker[AsyncSession] | AsyncEngine,
        redis: Redis,
        stream: str,
        *,
        batch_size: int = 200,
        poll_interval: float = 0.2,
        stream_maxlen: int = 0,
        retention: timedelta = timedelta(days=7),
        stream_retention: timedelta | None = None,
        prune_interval: float = 600.0,
        max_backoff: float = 5.0,
        publish_timeout: float = 10.0,
        metrics_interval: float = 1.0,
        metrics: RelayMetrics | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.outbox = outbox
        self.table = outbox.table
        self.sessionmaker = (
            async_sessionmaker(sessions, expire_on_commit=False)
            if isinstance(sessions, AsyncEngine)
            else sessions
        )
        bind = self.sessionmaker.kw["bind"]
        self._engine: AsyncEngine = bind
        self._waiting = select(self.table.c.id).where(self.table.c.published_at.is_(None)).limit(1)
        self.redis = redis
        self.stream = stream
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        # 0: never trim. Consumer groups read at their own pace; a trim could drop what one has not read yet.
        self.stream_maxlen = stream_maxlen
        self.retention = retention
        # None: the stream keeps its entries (but for `stream_maxlen`).
        self.stream_retention = stream_retention
        self.prune_interval = prune_interval
        # A hung Redis (accepting connections, never answering) must not hold the batch's transaction forever.
        self.publish_timeout = publish_timeout
        self.metrics_interval = metrics_interval
        self.metrics = metrics
        self.lock_key = relay_lock_key(outbox.producer)
        # The current outage: when it began (monotonic), None while publishing works.
        self._outage = Outage(logger, max_backoff=max_backoff)
        # The stream entry this relay's last committed batch ended with. While the stream still ends there,
        # nothing was XADDed since (no batch of ours failed after its XADD, no other relay of the producer
        # published or died mid-batch), and a batch goes out without reading the tail.
        self._last_entry: bytes | str | None = None

    @property
    def producer(self) -> str:
        return self.outbox.producer

    # --- one round ------------------------------------------------------------------------------------------

    async def publish_batch(self, *, look_first: bool = True) -> int:
        """Publish up to `batch_size` unpublished events in id order and mark them, in one transaction.

        Returns how many were published: 0 when there is nothing to do or another relay of this producer holds
        the lock. Raises when Redis or the database fails; the transaction is then rolled back. `look_first`:
        a cheap look for waiting events first (`_has_work`), worth it when the last round found none.
        """
        table = self.table
        published: list[Event] = []
        if look_first and not await self._has_work():
            return 0
        async with self.sessionmaker() as session, session.begin():
            if not await session.scalar(select(func.pg_try_advisory_xact_lock(self.lock_key))):
                return 0
            rows = (
                await session.execute(
                    select(
                        table.c.id,
                        table.c.event_id,
                        table.c.event_type,
                        table.c.aggregate_id,
                        table.c.version,
                        table.c.payload,
                        table.c.occurred_at,
                    )
                    .where(table.c.published_at.is_(None))
                    .order_by(table.c.id)
                    .limit(self.batch_size)
                    .with_for_update()
                )
            ).all()
            if not rows:
                return 0
            published = [
                Event(
                    id=row.event_id,
                    type=row.event_type,
                    producer=self.producer,
                    version=row.version,
                    occurred_at=row.occurred_at,
                    payload=row.payload,
                    aggregate_id=row.aggregate_id,
                )
                for row in rows
            ]
            fresh = await self._not_in_stream(published)
            last_entry = self._last_entry
            if fresh:
                last_entry = await asyncio.wait_for(self._xadd(fresh), self.publish_timeout)
            await session.execute(
                update(table).where(table.c.id.in_([row.id for row in rows])).values(published_at=func.now())
            )
        self._last_entry = last_entry
        if self.metrics is not None:
            for event in published:
                self.metrics.published.labels(self.metrics.service, event.type).inc()
        return len(published)

    async def _has_work(self) -> bool:
        """Whether an event waits: one round trip in autocommit, an index-only look at the unpublished rows.
        An idle relay asks five times a second; a whole round (a transaction, its advisory lock, a locking
        read) for that cost each idle service about 3% of a core (py-spy of bench/catalog_cache.py's
        stack)."""
        try:
            async with self._engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                return (await autocommit.scalar(self._waiting)) is not None
        except SQLAlchemyError:
            # Only a shortcut: a failed look goes on to the round itself, which says what failed (an outage
            # waits, a transient error does not). Seen once in a whole test run: a statement SQLAlchemy's
            # adapter had prepared "does not exist" any more, which held the stack's events for a backoff.
            logger.debug("outbox of %s: the look for waiting events failed", self.producer, exc_info=True)
            return True

    async def _not_in_stream(self, events: list[Event]) -> list[Event]:
        """`events` but those already among the stream's last entries (a batch whose commit never came). One
        XREVRANGE of one entry while the stream ends where this relay's last batch did (the usual case); the
        tail is read only when something else happened since."""
        ends = await asyncio.wait_for(self.redis.xrevrange(self.stream, count=1), self.publish_timeout)
        if not ends or (self._last_entry is not None and ends[0][0] == self._last_entry):
            return events
        entries = await asyncio.wait_for(
            self.redis.xrevrange(self.stream, count=len(events) + TAIL_SLACK), self.publish_timeout
        )
        there = {fields.get(b"id", fields.get("id")) for _, fields in entries}
        there = {value.decode() if isinstance(value, bytes) else value for value in there}
        fresh = [event for event in events if str(event.id) not in there]
        if len(fresh) < len(events):
            logger.info(
                "outbox: %d events of %s already in the stream (a batch whose commit never came); not "
                "published again",
                len(events) - len(fresh),
                self.producer,
            )
        return fresh

    async def _xadd(self, events: list[Event]) -> bytes | str:
        """XADD `events` in one MULTI/EXEC (the batch lands in the stream whole or not at all); the last
        entry's id."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for event in events:
                if self.stream_maxlen > 0:
                    pipe.xadd(self.stream, event.to_fields(), maxlen=self.stream_maxlen, approximate=True)
                else:
                    pipe.xadd(self.stream, event.to_fields())
            ids = await pipe.execute()
        return ids[-1]

    async def prune(self) -> int:
        """Delete published rows older than the retention, then trim the stream by age; returns how many rows.
        Unpublished rows are never touched, however old. Skipped (0) while another relay of this producer
        holds the lock."""
        table = self.table
        deleted = 0
        while True:
            async with self.sessionmaker() as session, session.begin():
                if not await session.scalar(select(func.pg_try_advisory_xact_lock(self.lock_key))):
                    return deleted
                doomed = (
                    select(table.c.id)
                    .where(table.c.published_at < func.now() - self.retention)
                    .limit(PRUNE_CHUNK)
                    .scalar_subquery()
                )
                result: Any = await session.execute(table.delete().where(table.c.id.in_(doomed)))
                count = result.rowcount or 0
            deleted += count
            if count < PRUNE_CHUNK:
                await self.trim_stream()
                return deleted

    async def trim_stream(self) -> int:
        """Entries older than the stream retention leave the stream (their personal data with them); how
        many. Stream ids start with their time in milliseconds, so the cut is one XTRIM MINID."""
        if self.stream_retention is None:
            return 0
        cutoff_ms = int((time.time() - self.stream_retention.total_seconds()) * 1000)
        return int(await self.redis.xtrim(self.stream, minid=f"{max(cutoff_ms, 0)}-0", approximate=False))

    async def refresh_gauges(self) -> None:
        """The backlog gauges, read from the outbox (they keep moving while Redis is down)."""
        if self.metrics is None:
            return
        async with self.sessionmaker() as session:
            oldest_age = func.extract("epoch", func.clock_timestamp() - func.min(self.table.c.occurred_at))
            backlog, age = (
                await session.execute(
                    select(func.count(), oldest_age).where(self.table.c.published_at.is_(None))
                )
            ).one()
        self.metrics.backlog.labels(self.metrics.service).set(backlog)
        self.metrics.oldest_age.labels(self.metrics.service).set(max(float(age or 0), 0.0))

    # --- the loop -------------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Publish while there is work, else wait `poll_interval`; ride out outages with capped backoff. Never
        returns; cancel it to stop (an in-flight batch finishes first)."""
        next_prune = time.monotonic()
        next_gauges = time.monotonic()
        published: int | None = 0
        while True:
            try:
                # After a round that published, more events are likely: straight to the round, no look first.
                published = await self._publish_to_the_end(look_first=not published)
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + self.prune_interval
                    pruned = await self.prune()
                    if pruned:
                        logger.info(
                            "outbox of %s: %d published events past retention deleted", self.producer, pruned
                        )
            except OUTAGE_ERRORS as exc:
                published = None
                self._failed(exc)
            else:
                self._recovered()
            if time.monotonic() >= next_gauges:
                next_gauges = time.monotonic() + self.metrics_interval
                try:
                    await self.refresh_gauges()
                except OUTAGE_ERRORS:
                    pass  # the database is down: the publish round has already said so
            if published is None:
                await asyncio.sleep(self._outage.backoff)
            elif published < self.batch_size:
                await asyncio.sleep(self.poll_interval)
            else:
                await asyncio.sleep(0)  # more work waits; let the process breathe between batches

    async def _publish_to_the_end(self, *, look_first: bool) -> int:
        """One batch, which a cancellation lets finish: cut between its XADD and its commit, it would be
        published twice by the next relay."""
        batch = asyncio.ensure_future(self.publish_batch(look_first=look_first))
        try:
            return await asyncio.shield(batch)
        except asyncio.CancelledError:
            done, _ = await asyncio.wait({batch}, timeout=self.publish_timeout + 5.0)
            if not done:
                batch.cancel()
            elif not batch.cancelled():
                batch.exception()  # retrieved: its failure is not worth a "never retrieved" warning
            raise

    def _failed(self, exc: BaseException) -> None:
        if self.metrics is not None:
            self.metrics.failures.labels(self.metrics.service).inc()
        # Events wait in the outbox until the outage ends.
        self._outage.failed(
            "outbox relay of %s cannot publish to %s (%s: %s); events wait in the outbox, retrying",
            self.producer,
            self.stream,
            type(exc).__name__,
            str(exc)[:300],
        )

    def _recovered(self) -> None:
        self._outage.recovered("outbox relay of %s publishing again after %.1f s", self.producer)


async def run_relay(runtime: Runtime) -> None:
    """The background worker of a service with an outbox (started by `shared.app.start_workers`)."""
    outbox = runtime.definition.outbox
    if outbox is None:
        return
    settings = runtime.settings
    relay = OutboxRelay(
        outbox,
        runtime.sessionmaker,
        runtime.redis,
        stream_name(settings.redis_prefix, outbox.producer),
        batch_size=settings.outbox_batch_size,
        poll_interval=settings.outbox_poll_interval,
        stream_maxlen=settings.event_stream_maxlen,
        retention=timedelta(hours=settings.outbox_retention_hours),
        stream_retention=(
            timedelta(hours=settings.event_stream_retention_hours)
            if settings.event_stream_retention_hours
            else None
        ),
        metrics=RelayMetrics.on(runtime.metrics.registry, runtime.metrics.service),
    )
    await relay.run()
