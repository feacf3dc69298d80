"""The multipart subscription door: Apollo's HTTP subscriptions (`subscriptionSpec=1.0`, what Apollo Client's
HttpLink speaks) on `/graphql`. A request whose Accept lists `multipart/mixed;subscriptionSpec=1.0` (read by
the HTTP door) goes through the pipeline like any other; a subscription answers

    content-type: multipart/mixed;boundary="graphql";subscriptionSpec=1.0

    \\r\\n--graphql\\r\\ncontent-type: application/json; charset=utf-8\\r\\n\\r\\n{"payload":{"data":...}}
    \\r\\n--graphql\\r\\ncontent-type: application/json; charset=utf-8\\r\\n\\r\\n{}     (a heartbeat)
    \\r\\n--graphql\\r\\ncontent-type: ...\\r\\n\\r\\n{"payload":null,"errors":[...]}
    \\r\\n--graphql--\\r\\n

one `{"payload": ...}` part per event, a heartbeat part `{}` every `multipart_heartbeat_seconds`, a transport
error (the subgraph unreachable or its connection lost) as `{"payload": null, "errors": [...]}` then the end.
A query or mutation with that Accept is answered as JSON, a refusal as the pipeline's RequestError with its
status. Like the SSE door: a client that does not read fills a bounded buffer and its stream is ended."""

from __future__ import annotations

from typing import Any

import orjson

from router.config import RouterConfig
from router.execution.subscription import (
    CONNECTION_LOST,
    PROTOCOL_ERROR,
    SUBGRAPH_UNAVAILABLE,
    SubscriptionRefused,
    SubscriptionStream,
)
from router.http.asgi import Headers, Receive, Send, answer_status, refusal_status, respond
from router.http.multipart import SUBSCRIPTION
from router.http.streaming import ResponseStream, SlowConsumer
from router.ops.metrics import SubscriptionMetrics
from router.pipeline.entry import Pipeline
from router.pipeline.errors import RequestError
from router.pipeline.request import GraphQLRequest

TRANSPORT = "multipart"
_HEADERS = [
    (b"content-type", SUBSCRIPTION.content_type),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # nginx: do not buffer the stream
]
_HEARTBEAT = SUBSCRIPTION.part({})
_END = SUBSCRIPTION.end()
_JSON = b"application/json; charset=utf-8"
# The errors that end a subscription for want of its transport, not GraphQL errors of an event.
_TRANSPORT_ERRORS = frozenset({CONNECTION_LOST, SUBGRAPH_UNAVAILABLE, PROTOCOL_ERROR, "INTERNAL"})


def _is_transport_error(response: dict[str, Any]) -> bool:
    errors = response.get("errors")
    return (
        response.get("data") is None
        and bool(errors)
        and all(
            isinstance(e, dict) and (e.get("extensions") or {}).get("code") in _TRANSPORT_ERRORS
            for e in errors
        )
    )


class MultipartSubscriptions:
    def __init__(self, pipeline: Pipeline, config: RouterConfig, metrics: SubscriptionMetrics) -> None:
        self.pipeline = pipeline
        self.heartbeat_seconds = config.multipart_heartbeat_seconds
        self.buffer_size = config.subscription_send_buffer
        self.metrics = metrics

    async def __call__(
        self, request: GraphQLRequest, receive: Receive, send: Send, extra: Headers, json_type: bytes
    ) -> None:
        """Answers one GraphQL request: a subscription as a multipart stream, anything else as JSON
        (`json_type`: the media type the client negotiated)."""
        try:
            started = await self.pipeline.start(request)
        except RequestError as refused:  # as the HTTP door answers it
            status = refusal_status(refused, json_type == _JSON)
            await respond(send, status, refused.body(), json_type, extra + refused.headers)
            return
        try:
            if started.stream is None:
                await _respond_json(send, started.response, json_type, extra)
                return
            await send({"type": "http.response.start", "status": 200, "headers": [*_HEADERS, *extra]})
            stream = _Stream(self, receive, send)
            await stream.run(stream._produce(started.stream))
        finally:
            await started.close()  # the subgraph subscription, the lease and the request span end here


async def _respond_json(send: Send, response: Any, json_type: bytes, extra: Headers) -> None:
    await respond(send, answer_status(response), orjson.dumps(response), json_type, extra)


class _Stream(ResponseStream):
    """One response's parts, the heartbeat, and the watch for the client going away."""

    def __init__(self, door: MultipartSubscriptions, receive: Receive, send: Send) -> None:
        super().__init__(
            receive, send, door.buffer_size, _HEARTBEAT, door.heartbeat_seconds, "a multipart subscription"
        )
        self.door = door

    async def _produce(self, stream: SubscriptionStream) -> None:
        metrics = self.door.metrics
        metrics.opened(TRANSPORT)
        reason = "disconnect"
        try:
            failed = False
            try:
                async for response in stream:
                    if failed:  # nothing follows a transport error (the stream ends right after it)
                        continue
                    if _is_transport_error(response):
                        failed = True
                        self.buffer.put(SUBSCRIPTION.part({"payload": None, "errors": response["errors"]}))
                        continue
                    self.buffer.put(SUBSCRIPTION.part({"payload": response}))
                    metrics.delivered[TRANSPORT] += 1
                reason = stream.ended_by or ("error" if failed else "complete")
            except SubscriptionRefused as refused:  # the subgraph's own errors: GraphQL errors of the answer
                reason = "error"
                self.buffer.put(SUBSCRIPTION.part({"payload": {"data": None, "errors": refused.errors}}))
            self.buffer.put(_END)
        except SlowConsumer:
            reason = "slow_consumer"
            self._slow_consumer()
        finally:
            metrics.closed(TRANSPORT, reason)
            self.done.set()
