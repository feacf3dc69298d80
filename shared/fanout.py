"""Live reads of a Redis Stream for subscriptions: one reader per process tails the stream and fans its
entries out to in-process subscribers; a subscriber resuming from a cursor catches up with XRANGE first.

Plain XREAD, no consumer group: every subscriber sees the whole stream, and any number of replicas can serve
subscribers because the stream is shared. A subscriber holds a bounded buffer; one that falls that far behind
is ended with SUBSCRIBER_TOO_SLOW (it resumes from its last cursor), so it never holds the others back.

Joining without a gap or a duplicate: a subscriber first catches up alone (XRANGE in batches, registering
nothing), then registers with the reader, reads the stream once more from where its catch-up stopped to
past the reader's position, and from then on takes the reader's entries, dropping those it already had.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from shared.errors import MyShopError
from shared.outbox import Event
from shared.redis_client import REDIS_UNAVAILABLE

logger = logging.getLogger("myshop.fanout")

SUBSCRIBER_TOO_SLOW = "SUBSCRIBER_TOO_SLOW"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"


class SubscriberTooSlow(MyShopError):
    code = SUBSCRIBER_TOO_SLOW


class FeedClosed(MyShopError):
    code = SERVICE_UNAVAILABLE


Position = tuple[int, int]


def parse_entry_id(value: str) -> Position:
    """A stream entry id (`<ms>-<seq>`) as a comparable pair; ValueError when it is not one."""
    ms, sep, seq = value.partition("-")
    if not sep or not ms.isdigit() or not seq.isdigit() or len(ms) > 20 or len(seq) > 20:
        raise ValueError(f"not a stream entry id: {value!r}")
    return int(ms), int(seq)


@dataclass(frozen=True, slots=True)
class StreamEntry:
    id: str
    position: Position
    event: Event


class _Subscriber:
    """One subscriber's buffer, filled by the reader, drained by the subscriber's task."""

    __slots__ = ("entries", "key", "limit", "overflowed", "ready")

    def __init__(self, key: str | None, limit: int) -> None:
        self.key = key
        self.limit = limit
        self.entries: deque[StreamEntry] = deque()
        self.ready = asyncio.Event()
        self.overflowed = False

    def offer(self, entry: StreamEntry) -> bool:
        if len(self.entries) >= self.limit:
            self.overflowed = True
            self.entries.clear()
            self.ready.set()
            return False
        self.entries.append(entry)
        self.ready.set()
        return True

    async def take(self, idle_seconds: float) -> list[StreamEntry]:
        """What arrived (at once), or [] after `idle_seconds` of nothing."""
        if not self.entries and not self.overflowed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ready.wait(), idle_seconds)
        if self.overflowed:
            raise SubscriberTooSlow(
                "This subscriber fell too far behind the stream and was ended; resume from the last cursor."
            )
        batch = list(self.entries)
        self.entries.clear()
        self.ready.clear()
        return batch


class StreamFanout:
    """Fans one Redis Stream out to this process's subscribers; `entries()` is what a subscriber reads."""

    def __init__(
        self,
        redis: Redis,
        stream: str,
        *,
        types: Iterable[str] | None = None,
        buffer_limit: int = 1000,
        batch_size: int = 500,
        block_ms: int = 1000,
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.types = frozenset(types) if types is not None else None
        self.buffer_limit = buffer_limit
        self.batch_size = batch_size
        self.block_ms = block_ms
        self._everything: set[_Subscriber] = set()
        self._by_key: dict[str, set[_Subscriber]] = {}
        self._task: asyncio.Task[None] | None = None
        # The last entry the reader dispatched; None until it knows where the stream ends.
        self._position: str | None = None
        self._started = asyncio.Event()
        self._closed = False

    @property
    def subscribers(self) -> int:
        return len(self._everything) + sum(len(group) for group in self._by_key.values())

    def subscribe(
        self, *, key: str | None = None, after: str | None = None, idle_seconds: float = 5.0
    ) -> StreamSubscription:
        """A subscriber of the stream's entries (of the wanted types, of aggregate `key` when given): every
        entry after `after` (an entry id) when given, else from now on (registered before this returns, so
        what the caller reads next elsewhere cannot miss a later entry). Read it with `batches()`, end it
        with `close()`."""
        return StreamSubscription(self, key, after, idle_seconds)

    async def _range(self, after: str, key: str | None) -> tuple[list[StreamEntry], str, bool]:
        """One XRANGE batch after `after`: its wanted entries, the id to continue after, whether more may
        follow."""
        raw = await self.redis.xrange(self.stream, min=f"({after}", max="+", count=self.batch_size)
        wanted = []
        for entry_id, fields in raw:
            entry = self._decode(entry_id, fields)
            if entry is not None and (key is None or entry.event.aggregate_id == key):
                wanted.append(entry)
        position = _text(raw[-1][0]) if raw else after
        return wanted, position, len(raw) == self.batch_size

    def _decode(self, raw_id: Any, fields: dict[Any, Any]) -> StreamEntry | None:
        entry_id = _text(raw_id)
        kind = fields.get(b"type", fields.get("type"))
        if self.types is not None and (kind is None or _text(kind) not in self.types):
            return None
        try:
            return StreamEntry(entry_id, parse_entry_id(entry_id), Event.from_fields(fields))
        except (ValueError, KeyError) as exc:
            logger.warning("skipping malformed entry %s of %s: %s", entry_id, self.stream, exc)
            return None

    # --- the reader ---

    def _register(self, key: str | None) -> _Subscriber:
        if self._closed:
            raise FeedClosed("The service is shutting down; try again on another replica.")
        subscriber = _Subscriber(key, self.buffer_limit)
        if key is None:
            self._everything.add(subscriber)
        else:
            self._by_key.setdefault(key, set()).add(subscriber)
        if self._task is None or self._task.done():
            self._started = asyncio.Event()
            self._position = None
            self._task = asyncio.create_task(self._read(), name=f"fanout:{self.stream}")
        return subscriber

    def _unregister(self, subscriber: _Subscriber) -> None:
        if subscriber.key is None:
            self._everything.discard(subscriber)
            return
        group = self._by_key.get(subscriber.key)
        if group is not None:
            group.discard(subscriber)
            if not group:
                del self._by_key[subscriber.key]

    async def _wait_started(self) -> None:
        started = self._started
        while not started.is_set():
            task = self._task
            if task is None or task.done():
                raise FeedClosed("The event stream reader stopped; resume from the last cursor.")
            # Redis may be down: look at the reader again every second rather than wait on it forever.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(started.wait(), 1.0)

    async def _read(self) -> None:
        """Tails the stream while anyone listens; stops when the last subscriber leaves."""
        failing = False
        while not self._closed and (self._everything or self._by_key):
            try:
                if self._position is None:
                    newest = await self.redis.xrevrange(self.stream, max="+", min="-", count=1)
                    self._position = _text(newest[0][0]) if newest else "0-0"
                    self._started.set()
                reply = await self.redis.xread(
                    {self.stream: self._position}, count=self.batch_size, block=self.block_ms
                )
            except asyncio.CancelledError:
                raise
            except REDIS_UNAVAILABLE as exc:
                if not failing:
                    logger.warning("reading %s failed, retrying: %s", self.stream, exc)
                failing = True
                await asyncio.sleep(1.0)
                continue
            if failing:
                logger.warning("reading %s again", self.stream)
                failing = False
            for _stream, raw_entries in reply or ():
                for raw_id, fields in raw_entries:
                    self._position = _text(raw_id)
                    entry = self._decode(raw_id, fields)
                    if entry is not None:
                        self._dispatch(entry)

    def _dispatch(self, entry: StreamEntry) -> None:
        overflowed = [subscriber for subscriber in self._everything if not subscriber.offer(entry)]
        if entry.event.aggregate_id is not None:
            group = self._by_key.get(entry.event.aggregate_id)
            if group:
                overflowed.extend(subscriber for subscriber in group if not subscriber.offer(entry))
        for subscriber in overflowed:
            self._unregister(subscriber)

    async def close(self) -> None:
        self._closed = True
        for subscriber in [*self._everything, *(s for group in self._by_key.values() for s in group)]:
            subscriber.ready.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


class StreamSubscription:
    """One subscriber: its catch-up from a cursor, then the reader's live entries."""

    def __init__(self, fanout: StreamFanout, key: str | None, after: str | None, idle_seconds: float) -> None:
        self.fanout = fanout
        self.key = key
        self.after = after
        self.idle_seconds = idle_seconds
        self._subscriber = fanout._register(key) if after is None else None
        self._position = fanout._position if after is None else None

    async def batches(self) -> AsyncIterator[list[StreamEntry]]:
        """Batches of entries in stream order; an empty batch every `idle_seconds` of silence lets the
        caller re-check what it must (its caller's authorization)."""
        fanout = self.fanout
        position = self.after
        if self._subscriber is None:
            assert position is not None
            # Catching up alone while the backlog is long: a far-behind subscriber buffers nothing live.
            while True:
                entries, position, more = await fanout._range(position, self.key)
                if entries:
                    yield entries
                if not more:
                    break
            self._subscriber = fanout._register(self.key)
            await fanout._wait_started()
            # Past the reader's position, so the live entries continue exactly where this stops.
            more = True
            while more:
                entries, position, more = await fanout._range(position, self.key)
                if entries:
                    yield entries
        else:
            await fanout._wait_started()
            # Registered before the reader knew where the stream ends: it starts from there.
            position = self._position or fanout._position
        assert position is not None
        last = parse_entry_id(position)
        while True:
            if fanout._closed:
                raise FeedClosed("The service is shutting down; resume from the last cursor.")
            batch = [
                entry for entry in await self._subscriber.take(self.idle_seconds) if entry.position > last
            ]
            if batch:
                last = batch[-1].position
            yield batch

    def close(self) -> None:
        if self._subscriber is not None:
            self.fanout._unregister(self._subscriber)
            self._subscriber = None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
