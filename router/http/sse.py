"""The SSE door: GraphQL over Server-Sent Events on `/graphql`, "distinct connections mode". A request with
`Accept: text/event-stream` (read by the HTTP door) goes through the pipeline like any other; its answer is
one `event: next` per result and `event: complete` at the end (a query or mutation: one result), a refusal
the pipeline's RequestError as a JSON body with its status. A comment goes out every `sse_keepalive_seconds`
so proxies keep the stream open; a client that does not read its events fills a bounded buffer and its
stream is ended."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson

from router.config import RouterConfig
from router.execution.subscription import SubscriptionRefused, SubscriptionStream
from router.http.asgi import JSON_CONTENT_TYPE, Headers, Receive, Send, respond
from router.http.streaming import SendBuffer, SlowConsumer
from router.ops.metrics import SubscriptionMetrics
from router.pipeline.entry import Pipeline, Started
from router.pipeline.errors import RequestError
from router.pipeline.plugins import response_headers
from router.pipeline.request import GraphQLRequest

logger = logging.getLogger(__name__)

_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # nginx: do not buffer the stream
]
_COMPLETE = b"event: complete\ndata:\n\n"
_KEEPALIVE = b":\n\n"
_CLOSE_SECONDS = 2.0


def _event(response: object) -> bytes:
    return b"event: next\ndata: " + orjson.dumps(response) + b"\n\n"


class ServerSentEvents:
    def __init__(self, pipeline: Pipeline, config: RouterConfig, metrics: SubscriptionMetrics) -> None:
        self.pipeline = pipeline
        self.keepalive_seconds = config.sse_keepalive_seconds
        self.buffer_size = config.subscription_send_buffer
        self.metrics = metrics

    async def __call__(self, request: GraphQLRequest, receive: Receive, send: Send, extra: Headers) -> None:
        """Answers one GraphQL request as an event stream (or its refusal as JSON)."""
        try:
            started = await self.pipeline.start(request)
        except RequestError as refused:
            await respond(send, refused.status, refused.body(), JSON_CONTENT_TYPE, extra + refused.headers)
            return
        if request.plugin_context is not None:  # headers router.yaml's plugins add (router/plugins/)
            extra += response_headers(request.plugin_context)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": [*_HEADERS, *extra]})
            await _Stream(self, receive, send).run(started)
        finally:
            await started.close()  # the subgraph subscription, the lease and the request span end here


class _Stream:
    """One response's events, a keep-alive, and the watch for the client going away."""

    def __init__(self, door: ServerSentEvents, receive: Receive, send: Send) -> None:
        self.door = door
        self.receive = receive
        self.send = send
        self.buffer = SendBuffer(self._send_chunk, door.buffer_size)
        self.buffer.on_failure = self._client_gone
        self.gone = asyncio.Event()  # the client disconnected
        self.done = asyncio.Event()  # nothing more to send: finished, client gone, or too slow
        self.slow = False

    async def _send_chunk(self, chunk: bytes) -> None:
        await self.send({"type": "http.response.body", "body": chunk, "more_body": True})

    def _client_gone(self, _: object = None) -> None:
        self.gone.set()
        self.done.set()

    def _slow_consumer(self) -> None:
        if not self.slow:
            self.slow = True
            logger.warning("ending an event stream whose client does not read its events (send buffer full)")
        self.done.set()

    async def run(self, started: Started) -> None:
        self.buffer.start()
        watcher = asyncio.create_task(self._watch_disconnect())
        tasks = [asyncio.create_task(self._keep_alive()), asyncio.create_task(self._produce(started))]
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

    async def _keep_alive(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.door.keepalive_seconds)
                self.buffer.put(_KEEPALIVE)
        except SlowConsumer:
            self._slow_consumer()

    async def _produce(self, started: Started) -> None:
        try:
            if started.parts is not None:  # @defer: one event per part
                async for part in started.parts:
                    self.buffer.put(_event(part))
            elif started.stream is None:
                self.buffer.put(_event(started.response))
            else:
                await self._events(started.stream)
            self.buffer.put(_COMPLETE)
        except SlowConsumer:
            self._slow_consumer()
        finally:
            self.done.set()

    async def _events(self, stream: SubscriptionStream) -> None:
        metrics = self.door.metrics
        metrics.opened("sse")
        reason = "disconnect"
        try:
            async for response in stream:
                self.buffer.put(_event(response))
                metrics.delivered["sse"] += 1
            reason = stream.ended_by or "complete"
        except SubscriptionRefused as refused:
            reason = "error"
            self.buffer.put(_event({"data": None, "errors": refused.errors}))
        except SlowConsumer:
            reason = "slow_consumer"
            raise
        finally:
            metrics.closed("sse", reason)
