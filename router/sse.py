"""GraphQL over Server-Sent Events on the router's `/graphql`, "distinct connections mode": a request with
`Accept: text/event-stream` is answered with one `event: next` per result and `event: complete` at the end
(a query or mutation: one result). A comment goes out every `sse_keepalive_seconds` so proxies keep the
stream open; a client that does not read its events fills a bounded buffer and its stream is ended."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

import orjson

from router.subscriptions import SendBuffer, SlowConsumer, SubscriptionMetrics, SubscriptionRefused

logger = logging.getLogger(__name__)

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # nginx: do not buffer the stream
]
_COMPLETE = b"event: complete\ndata:\n\n"
_KEEPALIVE = b":\n\n"
_CLOSE_SECONDS = 2.0


async def serve_sse(
    app: Any,
    receive: Receive,
    send: Send,
    headers: Mapping[str, str],
    params: Mapping[str, Any],
    method: str,
    extra_headers: tuple[tuple[bytes, bytes], ...],
) -> int:
    """Answers one GraphQL request as an event stream; returns the HTTP status sent."""
    # The gateway of the moment, leased (a hot reload closes the previous one once its streams have ended).
    lease = app.lease.enter()
    try:
        return await _serve(app, lease.gateway, receive, send, headers, params, method, extra_headers)
    finally:
        lease.exit()


async def _serve(
    app: Any,
    gateway: Any,
    receive: Receive,
    send: Send,
    headers: Mapping[str, str],
    params: Mapping[str, Any],
    method: str,
    extra_headers: tuple[tuple[bytes, bytes], ...],
) -> int:
    query, variables, name = params["query"], params.get("variables"), params.get("operationName")
    try:
        stream = gateway.subscribe(query, variables, name, headers=headers)
        result = None
        if stream is None:
            result = await gateway.execute(query, variables, name, method=method, headers=headers)
    except app.request_error as exc:
        status: int = getattr(exc, "status", 400)
        errors = getattr(exc, "errors", None) or [
            {"message": str(exc), "extensions": {"code": "BAD_REQUEST"}}
        ]
        body = orjson.dumps({"errors": errors})
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    *extra_headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return status
    await send({"type": "http.response.start", "status": 200, "headers": [*_HEADERS, *extra_headers]})

    async def send_chunk(chunk: bytes) -> None:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})

    metrics: SubscriptionMetrics = app.subscriptions
    buffer = SendBuffer(send_chunk, app.config.subscription_send_buffer)
    gone = asyncio.Event()  # the client disconnected
    done = asyncio.Event()  # nothing more to send: finished, client gone, or too slow
    slow = False

    def client_gone(_: object = None) -> None:
        gone.set()
        done.set()

    def slow_consumer() -> None:
        nonlocal slow
        if not slow:
            slow = True
            logger.warning("ending an event stream whose client does not read its events (send buffer full)")
        done.set()

    buffer.on_failure = client_gone

    async def watch_disconnect() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                client_gone()
                return

    async def keep_alive() -> None:
        try:
            while True:
                await asyncio.sleep(app.config.sse_keepalive_seconds)
                buffer.put(_KEEPALIVE)
        except SlowConsumer:
            slow_consumer()

    async def produce() -> None:
        try:
            if stream is None:
                buffer.put(b"event: next\ndata: " + orjson.dumps(result) + b"\n\n")
            else:
                await _stream_events(stream, buffer, metrics)
            buffer.put(_COMPLETE)
        except SlowConsumer:
            slow_consumer()
        finally:
            done.set()

    buffer.start()
    tasks = [asyncio.create_task(c) for c in (watch_disconnect(), keep_alive(), produce())]
    try:
        await done.wait()
    finally:
        for task in tasks[1:]:
            task.cancel()
        await asyncio.gather(*tasks[1:], return_exceptions=True)
        if not gone.is_set() and not slow:
            await buffer.flush(_CLOSE_SECONDS)
        await buffer.stop()
        tasks[0].cancel()
        await asyncio.gather(tasks[0], return_exceptions=True)
        if not gone.is_set():
            with contextlib.suppress(Exception):
                async with asyncio.timeout(_CLOSE_SECONDS):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
    return 200


async def _stream_events(stream: Any, buffer: SendBuffer, metrics: SubscriptionMetrics) -> None:
    metrics.opened("sse")
    reason = "disconnect"
    try:
        async for response in stream:
            buffer.put(b"event: next\ndata: " + orjson.dumps(response) + b"\n\n")
            metrics.delivered["sse"] += 1
        reason = stream.ended_by or "complete"
    except SubscriptionRefused as refused:
        reason = "error"
        buffer.put(b"event: next\ndata: " + orjson.dumps({"data": None, "errors": refused.errors}) + b"\n\n")
    except SlowConsumer:
        reason = "slow_consumer"
        raise
    finally:
        metrics.closed("sse", reason)
        await stream.aclose()
