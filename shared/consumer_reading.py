"""What a consumer (`shared.consumer.Consumer`) reads from Redis Streams: new messages, its retries that are
due, messages abandoned by dead consumers; and what keeps its group tidy: its held messages kept fresh, idle
consumers forgotten, the group's lag."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis

from shared.metrics import ConsumerMetrics
from shared.redis_streams import StreamMessage, read_reply, text

logger = logging.getLogger("shared.consumer")


class StreamReading:
    """The reading half of a consumer: its group, name and streams, the messages it holds."""

    redis: Redis
    group: str
    name: str
    streams: dict[str, Mapping[str, Any]]
    batch_size: int
    claim_idle: float
    read_timeout: float
    metrics: ConsumerMetrics | None
    # Messages this consumer holds pending, waiting for a retry: (stream, id) -> when (monotonic).
    retries: dict[tuple[str, str], float]
    # The message a handler is working on now (kept fresh against claims, like the retries).
    _current: tuple[str, str] | None

    async def read_new(self, block_ms: int | None) -> list[StreamMessage]:
        """New messages of every subscribed stream (XREADGROUP `>`), oldest first per stream.

        The read has a deadline of its own (BLOCK plus `read_timeout`): a hung Redis raises TimeoutError (an
        outage) instead of stalling the consumer. Entries the server delivered to a read cut that way stay
        pending with this consumer and are claimed back after `claim_idle`."""
        async with asyncio.timeout((block_ms or 0) / 1000 + self.read_timeout):
            reply = await self.redis.xreadgroup(
                self.group,
                self.name,
                dict.fromkeys(self.streams, ">"),
                count=self.batch_size,
                block=block_ms,
            )
        return [
            StreamMessage(text(stream), text(message_id), fields)
            for stream, entries in read_reply(reply)
            for message_id, fields in entries
            if fields is not None
        ]

    async def take_due_retries(self) -> list[StreamMessage]:
        """The held messages whose retry is due, claimed again by this consumer (XCLAIM) to read them."""
        now = time.monotonic()
        due: dict[str, list[str]] = {}
        for (stream, message_id), when in sorted(self.retries.items(), key=lambda item: item[1]):
            if when <= now:
                due.setdefault(stream, []).append(message_id)
        messages: list[StreamMessage] = []
        for stream, ids in due.items():
            claimed = await self.redis.xclaim(stream, self.group, self.name, 0, ids)
            found = {text(message_id): fields for message_id, fields in claimed}
            for message_id in ids:
                fields = found.get(message_id)
                if fields is None:  # acknowledged or deleted meanwhile (a Redis restart, a trim)
                    self.retries.pop((stream, message_id), None)
                else:
                    messages.append(StreamMessage(stream, message_id, fields, retried=True))
        messages.sort(key=lambda m: (m.stream, tuple(int(part) for part in m.id.split("-"))))
        return messages

    async def claim_abandoned(self) -> list[StreamMessage]:
        """Messages pending with other (dead) consumers longer than `claim_idle`, now ours (XAUTOCLAIM)."""
        min_idle = int(self.claim_idle * 1000)
        messages: list[StreamMessage] = []
        for stream in self.streams:
            start = "0-0"
            while len(messages) < self.batch_size:
                reply = await self.redis.xautoclaim(
                    stream, self.group, self.name, min_idle, start, count=self.batch_size - len(messages)
                )
                start = text(reply[0])
                for message_id, fields in reply[1]:
                    key = (stream, text(message_id))
                    if fields is None:
                        continue
                    if key in self.retries and self.retries[key] > time.monotonic():
                        continue  # one of ours, waiting for its backoff
                    self.retries.pop(key, None)
                    messages.append(StreamMessage(stream, key[1], fields, retried=True))
                if start == "0-0":
                    break
        if messages:
            logger.info("consumer %s: claimed %d abandoned messages", self.group, len(messages))
        return messages

    async def keep_alive(self) -> None:
        """Reset the idle time of the messages this consumer holds, so no other consumer claims them."""
        held: dict[str, list[str]] = {}
        for stream, message_id in [*self.retries, *([self._current] if self._current else [])]:
            held.setdefault(stream, []).append(message_id)
        for stream, ids in held.items():
            await self.redis.xclaim(stream, self.group, self.name, 0, ids, justid=True)

    async def forget_idle_consumers(self, older_than: float = 3600.0) -> None:
        """Delete consumers that hold nothing and were idle for long (dead processes' names)."""
        for stream in self.streams:
            for info in await self.redis.xinfo_consumers(stream, self.group):
                name = text(info["name"])
                if name != self.name and not info["pending"] and info["idle"] > older_than * 1000:
                    await self.redis.xgroup_delconsumer(stream, self.group, name)

    async def refresh_lag(self) -> dict[str, int]:
        """The group's lag on each stream (entries not yet delivered), into the gauge; returns it."""
        lags: dict[str, int] = {}
        for stream in self.streams:
            for info in await self.redis.xinfo_groups(stream):
                if text(info["name"]) == self.group and info.get("lag") is not None:
                    lags[stream] = int(info["lag"])
        if self.metrics is not None:
            for stream, lag in lags.items():
                self.metrics.lag.labels(self.group, stream).set(lag)
        return lags
