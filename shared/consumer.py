"""Event consumers: a service reads other services' Redis Streams through a consumer group, at least once, and
applies each event exactly once to its own database.

For each message: one transaction on the consumer's database inserts `(group, event_id)` into its
`processed_events` table (ON CONFLICT DO NOTHING) and, when that row is new, runs the handler in the same
transaction; after the commit the message is acknowledged (XACK). A redelivered event (the relay published it
twice, a consumer died between commit and XACK) finds its row and is acknowledged without a second effect.

A handler that raises rolls its transaction back; the message stays pending and is retried after an
exponential backoff with full jitter (`shared.backoff`: up to `retry_base * 2**(failures-1)`, capped).
Failures are counted in a Redis hash (so they survive the consumer that saw them); after `max_attempts` the
event goes to `<prefix>{events}:deadletter:<group>` with the error and is acknowledged. Admins list and
replay dead letters (`shared.deadletters`). An outage (Redis or PostgreSQL unreachable) is not the
handler's failure: it counts no attempt, and the consumer backs off.

A consumer that dies leaves its messages pending; another consumer of the group claims those idle for longer
than `claim_idle` (XAUTOCLAIM) and processes them. A living consumer keeps its held messages fresh (XCLAIM
JUSTID, which resets their idle time), so a slow handler or a long backoff is not stolen from it.

A handler declared `Batched` (frequent events whose effect one statement applies) takes a run of consecutive
new messages of its stream at once: their processed rows and its effect in one transaction (`apply_many`);
when that fails, the run's messages are handled one by one as above, so failures, retries and dead letters
stay per message.

Order: one consumer handles the messages it reads one at a time (or a run of them at once), in stream
order. Two consumers of a group split a stream between them, so there is no order across consumers; and a
message waiting for a retry is overtaken by the ones after it. Handlers must therefore not rely on order: use
the envelope's `occurred_at` (or a version in the payload) where order matters.

The only side effect guaranteed to happen once is the handler's database effect. A handler with an effect
outside the database (sending mail) records it (a row with a status) and lets a worker of its own perform it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.backoff import Backoff
from shared.consumer_reading import StreamReading
from shared.metrics import ConsumerMetrics
from shared.outage import Outage
from shared.outbox import EVENT_BUS, Event, stream_name
from shared.redis_client import REDIS_UNAVAILABLE
from shared.redis_streams import StreamMessage, consumer_name, text
from shared.subscriptions import Batched, ConsumerSpec, Handler, dead_letter_stream

if TYPE_CHECKING:
    from shared.context import Runtime

logger = logging.getLogger("myshop.consumer")

# What an unreachable, restarting or hung Redis or PostgreSQL raises: the consumer waits and retries.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = REDIS_UNAVAILABLE


class HandlerFailed(Exception):
    """A handler raised (or its transaction failed): counts as one failed attempt."""


def _raise_if_cancelled() -> None:
    """Stop a loop whose task was cancelled even if a library turned the CancelledError into an error of its
    own (SQLAlchemy's rollback of a connection cut mid-query raises InternalError) that the loop took for an
    outage: without this, a cancelled consumer would go on forever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _is_outage(exc: BaseException) -> bool:
    if isinstance(exc, OUTAGE_ERRORS):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class Consumer(StreamReading):
    """One consumer of a group: `run()` loops forever; `apply()` is the one transaction an event gets (the
    dead-letter replay goes through it too). What it reads from Redis: `StreamReading`."""

    def __init__(
        self,
        spec: ConsumerSpec,
        sessions: async_sessionmaker[AsyncSession] | AsyncEngine,
        redis: Redis,
        redis_prefix: str,
        name: str | None = None,
        *,
        batch_size: int = 100,
        block_ms: int = 1000,
        claim_idle: float = 30.0,
        retry_base: float = 0.5,
        retry_max: float = 60.0,
        max_backoff: float = 5.0,
        read_timeout: float = 5.0,
        metrics_interval: float = 1.0,
        metrics: ConsumerMetrics | None = None,
    ) -> None:
        if spec.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.spec = spec
        self.group = spec.group
        self.sessionmaker = (
            async_sessionmaker(sessions, expire_on_commit=False)
            if isinstance(sessions, AsyncEngine)
            else sessions
        )
        self.redis = redis
        self.prefix = redis_prefix
        self.name = name or consumer_name()
        self.batch_size = batch_size
        self.block_ms = max(int(block_ms), 1)
        self.claim_idle = claim_idle
        # The wait before an event that failed is tried again (`shared.backoff`).
        self.retry_backoff = Backoff(retry_base, retry_max)
        self.read_timeout = read_timeout
        self.metrics_interval = metrics_interval
        self.metrics = metrics
        self.processed = spec.processed
        self.streams: dict[str, Mapping[str, Handler]] = {}
        for subscription in spec.subscriptions:
            stream = stream_name(redis_prefix, subscription.producer)
            self.streams[stream] = {**self.streams.get(stream, {}), **subscription.handlers}
        # The streams with a `Batched` handler: only their messages are looked at for a batch.
        self._batching = {
            stream
            for stream, handlers in self.streams.items()
            if any(isinstance(handler, Batched) for handler in handlers.values())
        }
        self.dead_letters = dead_letter_stream(redis_prefix, spec.group)
        self.failures_key = f"{redis_prefix}{EVENT_BUS}:consumer:{spec.group}:failures"
        # Messages this consumer holds pending, waiting for a retry: (stream, id) -> when (monotonic).
        self.retries: dict[tuple[str, str], float] = {}
        # The message a handler is working on now (kept fresh against claims, like the retries).
        self._current: tuple[str, str] | None = None
        self._groups_ready = False
        self._next_claim = 0.0
        self._next_metrics = 0.0
        self._next_forget = 0.0
        self._outage = Outage(logger, max_backoff=max_backoff)

    # --- setup ----------------------------------------------------------------------------------------------

    async def ensure_groups(self) -> None:
        """Create the group on every subscribed stream (and the stream), reading from the start: a new
        consuming service sees the history."""
        for stream in self.streams:
            try:
                await self.redis.xgroup_create(stream, self.group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._groups_ready = True

    # --- one event ------------------------------------------------------------------------------------------

    async def apply(self, event: Event, handler: Handler) -> bool:
        """Record the event as processed and run its handler, in one transaction. Returns False (and runs
        nothing) when the group has processed it before. Raises `HandlerFailed` when the handler or its commit
        failed; anything else (the database unreachable) is an outage."""
        return await self._apply([event], lambda session, fresh: handler(session, fresh[0])) == 1

    async def apply_many(self, events: list[Event], handler: Batched) -> int:
        """`apply` for several events of one `Batched` handler: their processed rows and the handler's effect
        for those new to the group, in one transaction. Returns how many were new. Raises `HandlerFailed`
        like `apply` (nothing of the batch is then applied)."""
        return await self._apply(events, handler.many)

    async def _apply(
        self, events: list[Event], run: Callable[[AsyncSession, list[Event]], Awaitable[None]]
    ) -> int:
        table = self.processed
        phase = "begin"
        try:
            async with self.sessionmaker() as session, session.begin():
                inserted = await session.execute(
                    pg_insert(table)
                    .values([{"group": self.group, "event_id": event.id} for event in events])
                    .on_conflict_do_nothing()
                    .returning(table.c.event_id)
                )
                new = set(inserted.scalars())
                fresh = []
                for event in events:
                    if event.id in new:
                        new.discard(event.id)  # an event twice in the batch is applied once
                        fresh.append(event)
                if fresh:
                    phase = "handler"
                    await run(session, fresh)
                    phase = "commit"
        except Exception as exc:
            if phase == "begin" or _is_outage(exc):
                raise
            raise HandlerFailed(f"{type(exc).__name__}: {exc}") from exc
        return len(fresh)

    def _batch_at(self, messages: list[StreamMessage], start: int) -> tuple[Batched, list[Event]] | None:
        """The run of messages from `start` that one `Batched` handler takes together: new deliveries (a
        retried message goes alone: its failures are counted per message) of one stream, well formed, of
        one type; None when fewer than two."""
        first = messages[start]
        if first.stream not in self._batching:
            return None
        handlers = self.streams[first.stream]
        events: list[Event] = []
        batched: Batched | None = None
        for message in messages[start:]:
            if message.retried or message.stream != first.stream:
                break
            try:
                event = Event.from_fields(message.fields)
            except Exception:
                break  # handled alone (to the dead letters)
            handler = handlers.get(event.type)
            if not isinstance(handler, Batched) or (events and event.type != events[0].type):
                break
            batched = handler
            events.append(event)
        return (batched, events) if batched is not None and len(events) > 1 else None

    async def _handle_batch(
        self, messages: list[StreamMessage], handler: Batched, events: list[Event]
    ) -> bool:
        """Apply a batch (`_batch_at`); False when it failed, its messages then to be handled one by one."""
        self._current = (messages[0].stream, messages[0].id)
        try:
            applied = await self.apply_many(events, handler)
        except HandlerFailed as exc:
            logger.info(
                "consumer %s: a batch of %d events failed (%s); applying them one by one",
                self.group,
                len(events),
                exc,
            )
            return False
        finally:
            self._current = None
        if applied and self.metrics is not None:
            self.metrics.processed.labels(self.group, events[0].type).inc(applied)
        return True

    async def _handle(self, message: StreamMessage) -> bool:
        """Process one message; True when it may be acknowledged, False when it stays pending for a retry (or
        went to the dead letters). Raises on an outage (the message stays pending, no attempt counted)."""
        try:
            event = Event.from_fields(message.fields)
        except Exception as exc:  # a malformed entry can never succeed: straight to the dead letters
            await self._dead_letter(message, None, exc, attempts=1)
            return False
        handler = self.streams.get(message.stream, {}).get(event.type)
        if handler is None:
            return True
        self._current = (message.stream, message.id)
        try:
            applied = await self.apply(event, handler)
        except HandlerFailed as exc:
            await self._failed(message, event, exc.__cause__ or exc)
            return False
        finally:
            self._current = None
        if applied and self.metrics is not None:
            self.metrics.processed.labels(self.group, event.type).inc()
        return True

    async def _failed(self, message: StreamMessage, event: Event, exc: BaseException) -> None:
        if self.metrics is not None:
            self.metrics.failed.labels(self.group, event.type).inc()
        failures = int(await self.redis.hincrby(self.failures_key, self._failure_field(message), 1))
        if failures >= self.spec.max_attempts:
            await self._dead_letter(message, event, exc, attempts=failures)
            return
        delay = self.retry_backoff.delay(failures)
        self.retries[(message.stream, message.id)] = time.monotonic() + delay
        logger.warning(
            "consumer %s: %s %s failed (attempt %d of %d), retrying in %.2f s: %s: %s",
            self.group,
            event.type,
            event.id,
            failures,
            self.spec.max_attempts,
            delay,
            type(exc).__name__,
            str(exc)[:300],
        )

    async def _dead_letter(
        self, message: StreamMessage, event: Event | None, exc: BaseException, *, attempts: int
    ) -> None:
        fields = dead_letter_entry(
            {text(key): value for key, value in message.fields.items()},
            stream=message.stream,
            message_id=message.id,
            error=f"{type(exc).__name__}: {exc}",
            attempts=attempts,
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self.dead_letters, fields)
            pipe.xack(message.stream, self.group, message.id)
            pipe.hdel(self.failures_key, self._failure_field(message))
            await pipe.execute()
        self.retries.pop((message.stream, message.id), None)
        event_type = event.type if event is not None else text(message.fields.get(b"type", b"?"))
        if self.metrics is not None:
            self.metrics.dead_lettered.labels(self.group, event_type).inc()
        logger.error(
            "consumer %s: %s %s dead-lettered after %d attempts: %s",
            self.group,
            event_type,
            event.id if event is not None else message.id,
            attempts,
            fields["error"][:300],
        )

    @staticmethod
    def _failure_field(message: StreamMessage) -> str:
        return f"{message.stream}|{message.id}"

    async def _process(self, messages: list[StreamMessage]) -> int:
        """Handle messages in order and acknowledge the ones done (after their commits). An outage stops the
        batch: what is left stays pending and is retried once it ends."""
        done: dict[str, list[str]] = {}
        cleared: list[str] = []

        def handled(message: StreamMessage) -> None:
            self.retries.pop((message.stream, message.id), None)
            done.setdefault(message.stream, []).append(message.id)
            if message.retried:
                cleared.append(self._failure_field(message))

        index = 0
        alone_until = 0  # the messages of a batch that failed are handled one by one
        try:
            while index < len(messages):
                try:
                    batch = self._batch_at(messages, index) if index >= alone_until else None
                    if batch is not None:
                        handler, events = batch
                        taken = messages[index : index + len(events)]
                        if await self._handle_batch(taken, handler, events):
                            for message in taken:
                                handled(message)
                            index += len(taken)
                            continue
                        alone_until = index + len(taken)
                    ok = await self._handle(messages[index])
                except BaseException:
                    # Not handled: retried after the outage (or by whoever claims it if we are stopping).
                    for rest in messages[index:]:
                        self.retries.setdefault(
                            (rest.stream, rest.id), time.monotonic() + self._outage.backoff
                        )
                    raise
                if ok:
                    handled(messages[index])
                index += 1
        finally:
            if done:
                await self._ack(done, cleared)
        return len(messages)

    async def _ack(self, done: dict[str, list[str]], cleared: list[str]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for stream, ids in done.items():
                pipe.xack(stream, self.group, *ids)
            if cleared:
                pipe.hdel(self.failures_key, *cleared)
            await pipe.execute()

    # --- the loop -------------------------------------------------------------------------------------------

    async def run_once(self) -> int:
        """One round: claim abandoned messages (when due), retry due ones, read and handle new ones. Returns
        how many messages it handled."""
        if not self._groups_ready:
            await self.ensure_groups()
        handled = 0
        now = time.monotonic()
        if now >= self._next_claim:
            self._next_claim = now + min(max(self.claim_idle / 2, 0.05), 10.0)
            await self.keep_alive()
            handled += await self._process(await self.claim_abandoned())
            if now >= self._next_forget:
                self._next_forget = now + 600.0
                await self.forget_idle_consumers()
        if self.retries:
            handled += await self._process(await self.take_due_retries())
        if time.monotonic() >= self._next_metrics:
            self._next_metrics = time.monotonic() + self.metrics_interval
            await self.refresh_lag()
        # Block no longer than the next due retry or claim round (never 0: that blocks forever).
        wake = min([*self.retries.values(), self._next_claim, self._next_metrics])
        block = int(min(self.block_ms, max((wake - time.monotonic()) * 1000, 0)))
        handled += await self._process(await self.read_new(block if block >= 1 else None))
        return handled

    async def run(self) -> None:
        """Consume forever; ride out Redis and database outages with capped backoff (one WARNING each).
        Cancel it to stop: messages not yet acknowledged are redelivered (or claimed) later."""
        keeper = asyncio.create_task(self._keep_alive_loop(), name=f"{self.group}:keep-alive")
        try:
            while True:
                _raise_if_cancelled()
                try:
                    await self.run_once()
                except ResponseError as exc:
                    if "NOGROUP" not in str(exc):
                        self._down(exc)
                    else:  # the group (or the stream) was deleted under us: create it again
                        logger.warning("consumer %s: group missing on a stream, recreating it", self.group)
                        self._groups_ready = False
                        self.retries.clear()
                    await asyncio.sleep(self._outage.backoff)
                except (*OUTAGE_ERRORS, SQLAlchemyError) as exc:
                    self._down(exc)
                    await asyncio.sleep(self._outage.backoff)
                else:
                    self._recovered()
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)

    async def _keep_alive_loop(self) -> None:
        # In its own task: a handler that runs for long keeps its message while it works.
        interval = min(max(self.claim_idle / 3, 0.02), 10.0)
        while True:
            await asyncio.sleep(interval)
            if self._current is None:
                continue
            try:
                stream, message_id = self._current
                await self.redis.xclaim(stream, self.group, self.name, 0, [message_id], justid=True)
            except REDIS_UNAVAILABLE:
                pass

    def _down(self, exc: BaseException) -> None:
        self._outage.failed(
            "consumer %s (%s) cannot consume (%s: %s); retrying",
            self.group,
            self.name,
            type(exc).__name__,
            str(exc)[:300],
        )

    def _recovered(self) -> None:
        self._outage.recovered("consumer %s consuming again after %.1f s", self.group)


def consumer_for(runtime: Runtime, name: str | None = None) -> Consumer:
    """The consumer of a service's `definition.consumer`, configured from its settings."""
    spec = runtime.definition.consumer
    if spec is None:
        raise RuntimeError(f"{runtime.definition.name} has no consumer")
    if not isinstance(spec, ConsumerSpec):
        spec = spec(runtime)  # built from the runtime: its handlers are bound to the process's objects
    settings = runtime.settings
    return Consumer(
        spec,
        runtime.sessionmaker,
        runtime.redis,
        settings.redis_prefix,
        name,
        batch_size=settings.consumer_batch_size,
        block_ms=settings.consumer_block_ms,
        claim_idle=settings.consumer_claim_idle_seconds,
        retry_base=settings.consumer_retry_base_seconds,
        metrics=ConsumerMetrics.on(runtime.metrics.registry),
    )


async def run_consumer(runtime: Runtime) -> None:
    """The background worker of a service with a consumer (started by `shared.app.start_workers`)."""
    if runtime.definition.consumer is None:
        return
    await consumer_for(runtime).run()


def dead_letter_entry(
    fields: Mapping[str, Any], *, stream: str, message_id: str, error: str, attempts: int
) -> dict[str, Any]:
    """The entry of a consumer group's dead-letter stream for an event given up on: the event's stream fields,
    where it was read (`stream`, `message_id`), the last error (at most 2,000 characters), how many attempts
    it had and when it failed (now)."""
    return {
        **fields,
        "stream": stream,
        "message_id": message_id,
        "error": error[:2000],
        "attempts": str(attempts),
        "failed_at": datetime.now(UTC).isoformat(),
    }
