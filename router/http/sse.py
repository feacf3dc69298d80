"""The SSE door: GraphQL over Server-Sent Events on `/graphql`, "distinct connections mode". A request with
`Accept: text/event-stream` (read by the HTTP door) goes through the pipeline like any other; its answer is
one `event: next` per result and `event: complete` at the end (a query or mutation: one result), a refusal
the pipeline's RequestError as a JSON body with its status. A comment goes out every `sse_keepalive_seconds`
so proxies keep the stream open; a client that does not read its events fills a bounded buffer and its
stream is ended."""

from __future__ import annotations

import orjson

from router.config import RouterConfig
from router.execution.subscription import SubscriptionRefused, SubscriptionStream
from router.http.asgi import JSON_CONTENT_TYPE, Headers, Receive, Send, respond
from router.http.streaming import ResponseStream, SlowConsumer
from router.ops.metrics import SubscriptionMetrics
from router.pipeline.entry import Pipeline, Started
from router.pipeline.errors import RequestError
from router.pipeline.plugins import response_headers
from router.pipeline.request import GraphQLRequest

_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # nginx: do not buffer the stream
]
_COMPLETE = b"event: complete\ndata:\n\n"
_KEEPALIVE = b":\n\n"


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
            stream = _Stream(self, receive, send)
            await stream.run(stream._produce(started))
        finally:
            await started.close()  # the subgraph subscription, the lease and the request span end here


class _Stream(ResponseStream):
    """One response's events, a keep-alive, and the watch for the client going away."""

    def __init__(self, door: ServerSentEvents, receive: Receive, send: Send) -> None:
        super().__init__(
            receive, send, door.buffer_size, _KEEPALIVE, door.keepalive_seconds, "an event stream"
        )
        self.door = door

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
