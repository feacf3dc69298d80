"""What the streaming doors (SSE, multipart subscriptions and WebSocket) share: a bounded send buffer per
client connection, so a client that does not read its events is let go instead of growing the router's memory,
and (for the doors that stream one HTTP response) the life of such a response."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

# SlowConsumer: raised by a full send buffer here, and by a shared subscription's full queue for one client.
from router.execution.subscription import SlowConsumer
from router.http.asgi import Receive, Send

__all__ = ["ResponseStream", "SendBuffer", "SlowConsumer"]

logger = logging.getLogger(__name__)
_CLOSE_SECONDS = 2.0


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


class ResponseStream:
    """One streamed HTTP response (an SSE stream, a multipart subscription): chunks go through a bounded
    buffer; a `beat` chunk goes out every `beat_seconds` so proxies keep the response open; the client
    going away or not reading ends it. A door's subclass writes its chunks and sets `done` at the end."""

    def __init__(
        self, receive: Receive, send: Send, buffer_size: int, beat: bytes, beat_seconds: float, what: str
    ) -> None:
        self.receive = receive
        self.send = send
        self.buffer = SendBuffer(self._send_chunk, buffer_size)
        self.buffer.on_failure = self._client_gone
        self.gone = asyncio.Event()  # the client disconnected
        self.done = asyncio.Event()  # nothing more to send: finished, client gone, or too slow
        self.slow = False
        self._beat_chunk = beat
        self._beat_seconds = beat_seconds
        self._what = what  # for the log: "an event stream", "a multipart subscription"

    async def _send_chunk(self, chunk: bytes) -> None:
        await self.send({"type": "http.response.body", "body": chunk, "more_body": True})

    def _client_gone(self, _: object = None) -> None:
        self.gone.set()
        self.done.set()

    def _slow_consumer(self) -> None:
        if not self.slow:
            self.slow = True
            logger.warning("ending %s whose client does not read (send buffer full)", self._what)
        self.done.set()

    async def run(self, produce: Coroutine[Any, Any, None]) -> None:
        """Streams what `produce` puts in the buffer until it is done, the client leaves or cannot keep up;
        then flushes what is left (a client still there) and ends the response."""
        self.buffer.start()
        watcher = asyncio.create_task(self._watch_disconnect())
        tasks = [asyncio.create_task(self._beat()), asyncio.create_task(produce)]
        try:
            await self.done.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if not self.gone.is_set() and not self.slow:
                await self.buffer.flush(_CLOSE_SECONDS)
            await self.buffer.stop()
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            if not self.gone.is_set():
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(_CLOSE_SECONDS):
                        await self.send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _watch_disconnect(self) -> None:
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self._client_gone()
                return

    async def _beat(self) -> None:
        try:
            while True:
                await asyncio.sleep(self._beat_seconds)
                self.buffer.put(self._beat_chunk)
        except SlowConsumer:
            self._slow_consumer()
