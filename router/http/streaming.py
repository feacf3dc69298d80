"""What the streaming doors (SSE and WebSocket) share: a bounded send buffer per client connection, so a
client that does not read its events is let go instead of growing the router's memory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

# Raised by a full send buffer here, and by a shared subscription's full queue for one client.
from router.execution.subscription import SlowConsumer

__all__ = ["SendBuffer", "SlowConsumer"]


class SendBuffer:
    """A bounded queue of frames for one client connection, drained by one writer task. A full buffer
    means the client cannot keep up: ``put`` raises SlowConsumer instead of growing without bound."""

    def __init__(self, send: Callable[[Any], Awaitable[None]], size: int) -> None:
        self._send = send
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=size)
        self._writer: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()  # set while nothing waits to be sent
        self._idle.set()
        self.failed: BaseException | None = None
        self.on_failure: Callable[[BaseException], None] | None = None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._drain())

    def put(self, frame: Any) -> None:
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            raise SlowConsumer from None
        self._idle.clear()

    async def _drain(self) -> None:
        try:
            while True:
                frame = await self._queue.get()
                await self._send(frame)
                if self._queue.empty():
                    self._idle.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the client is gone
            self.failed = exc
            self._idle.set()
            if self.on_failure is not None:
                self.on_failure(exc)

    async def flush(self, seconds: float) -> None:
        """Waits (up to ``seconds``) until every queued frame was sent."""
        if self.failed is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self._idle.wait()

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer
            self._writer = None
