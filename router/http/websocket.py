"""The WebSocket door: GraphQL over WebSocket on `/graphql`, the graphql-transport-ws protocol in full.

`connection_init` (its payload's `Authorization`, or the upgrade request's, checked once by the pipeline's
edge auth), `ping`/`pong`, `subscribe`, `next`, `error`, `complete` both ways. Each `subscribe` is a
GraphQLRequest through the same pipeline as HTTP's (size limit, persisted query, rate limit, request span,
the gateway's stages): a refusal answers `error`, a query or mutation one `next` (with @defer one per part), a
subscription its stream.
Protocol violations close the socket with the protocol's codes (4400, 4401, 4403, 4408, 4409, 4429). Every
frame to the client goes through one bounded send buffer: a client that does not read is closed (1008)
instead of growing the router's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from typing import TYPE_CHECKING, Any

import orjson

from router.config import RouterConfig
from router.execution.subscription import SubscriptionRefused, SubscriptionStream
from router.http.asgi import Receive, Scope, Send
from router.http.client_address import ClientAddresses
from router.http.streaming import SendBuffer, SlowConsumer
from router.ops.metrics import SubscriptionMetrics
from router.pipeline.entry import Pipeline
from router.pipeline.errors import MalformedRequest, RequestError, internal_error
from router.pipeline.request import Door, GraphQLRequest
from router.upstream.sockets import PROTOCOL
from shared.log import request_id_var

if TYPE_CHECKING:
    from shared.auth import Principal  # shared.auth imports PyJWT: only routers with edge auth load it

logger = logging.getLogger(__name__)

# Close codes of graphql-transport-ws, and ours for a client too slow to read its events.
INVALID_MESSAGE = 4400
UNAUTHORIZED = 4401
FORBIDDEN = 4403
INIT_TIMEOUT = 4408
DUPLICATE_ID = 4409
DUPLICATE_INIT = 4429
SLOW_CONSUMER = 1008

SUBSCRIPTION_LIMIT = "SUBSCRIPTION_LIMIT_EXCEEDED"

_ID_PREFIX = "ws" + os.urandom(6).hex()
_ID_COUNTER = itertools.count(1)
_CLOSE_SECONDS = 2.0
_ACK = '{"type":"connection_ack"}'
_PONG = '{"type":"pong"}'


class GraphQLOverWebSocket:
    def __init__(self, pipeline: Pipeline, config: RouterConfig, metrics: SubscriptionMetrics) -> None:
        self.pipeline = pipeline
        self.config = config
        self.metrics = metrics
        self.addresses = ClientAddresses(config.trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """An ASGI `websocket` scope: `/graphql` with the graphql-transport-ws subprotocol, else refused."""
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if scope["path"] != "/graphql" or PROTOCOL not in (scope.get("subprotocols") or ()):
            # Closing before accepting answers the upgrade with HTTP 403.
            await send({"type": "websocket.close", "code": 1002})
            return
        await send({"type": "websocket.accept", "subprotocol": PROTOCOL})
        await _Connection(self, scope, receive, send).run()


class _Connection:
    def __init__(self, door: GraphQLOverWebSocket, scope: Scope, receive: Receive, send: Send) -> None:
        self.pipeline = door.pipeline
        self.config = door.config
        self.metrics = door.metrics
        self.receive = receive
        self.send = send
        self.upgrade_authorization: str | None = None
        for key, value in scope["headers"]:
            if key == b"authorization":
                self.upgrade_authorization = value.decode("latin-1")
        self.peer = door.addresses.of(scope)
        self.request_id = f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"
        # What every operation's subgraph fetches carry (each operation gets its own copy).
        self.headers: dict[str, str] = {"x-request-id": self.request_id}
        self.principal: Principal | None = None
        self.init_received = False
        self.acknowledged = False
        self.operations: dict[str, asyncio.Task[None]] = {}
        self.subscriptions = 0
        self.completed_by_client: set[str] = set()
        self.finished = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason = ""
        self.buffer = SendBuffer(self._send_text, self.config.subscription_send_buffer)
        self.buffer.on_failure = lambda _: self.finished.set()

    async def _send_text(self, text: str) -> None:
        await self.send({"type": "websocket.send", "text": text})

    def close(self, code: int, reason: str) -> None:
        if self.close_code is None and not self.finished.is_set():
            self.close_code, self.close_reason = code, reason
        self.finished.set()

    async def run(self) -> None:
        token = request_id_var.set(self.request_id)
        self.buffer.start()
        reader = asyncio.create_task(self._read())
        timer = asyncio.create_task(self._init_deadline())
        try:
            await self.finished.wait()
        finally:
            reader.cancel()
            timer.cancel()
            tasks = list(self.operations.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(reader, timer, *tasks, return_exceptions=True)
            if self.close_code is not None and self.close_code != SLOW_CONSUMER:
                await self.buffer.flush(_CLOSE_SECONDS)  # an `error` or `complete` queued before the close
            await self.buffer.stop()
            if self.close_code is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(_CLOSE_SECONDS):
                        await self.send(
                            {"type": "websocket.close", "code": self.close_code, "reason": self.close_reason}
                        )
            request_id_var.reset(token)

    async def _init_deadline(self) -> None:
        await asyncio.sleep(self.config.ws_init_timeout_seconds)
        if not self.init_received:
            self.close(INIT_TIMEOUT, "Connection initialisation timeout")

    async def _read(self) -> None:
        try:
            while True:
                message = await self.receive()
                kind = message["type"]
                if kind == "websocket.disconnect":
                    break
                if kind != "websocket.receive":
                    continue
                text = message.get("text")
                if text is None:
                    raw = message.get("bytes") or b""
                    try:
                        text = raw.decode()
                    except UnicodeDecodeError:
                        self.close(INVALID_MESSAGE, "Invalid message received")
                        return
                await self._handle(text)
                if self.finished.is_set():
                    return
        finally:
            self.finished.set()

    def _queue(self, frame: dict[str, Any] | str) -> None:
        text = frame if isinstance(frame, str) else orjson.dumps(frame).decode()
        self.buffer.put(text)

    async def _handle(self, text: str) -> None:
        try:
            frame = orjson.loads(text)
        except orjson.JSONDecodeError:
            frame = None
        kind = frame.get("type") if isinstance(frame, dict) else None
        if not isinstance(kind, str):
            self.close(INVALID_MESSAGE, "Invalid message received")
            return
        assert isinstance(frame, dict)
        try:
            if kind == "connection_init":
                await self._init(frame.get("payload"))
            elif kind == "ping":
                self._queue(_PONG)
            elif kind == "pong":
                pass
            elif kind == "subscribe":
                self._subscribe(frame, text)
            elif kind == "complete":
                self._complete(frame)
            else:
                self.close(INVALID_MESSAGE, f"Unexpected message of type {kind[:40]}")
        except SlowConsumer:
            self._slow_consumer()

    async def _init(self, payload: Any) -> None:
        if self.init_received:
            self.close(DUPLICATE_INIT, "Too many initialisation requests")
            return
        self.init_received = True
        if payload is not None and not isinstance(payload, dict):
            self.close(INVALID_MESSAGE, "Invalid message received")
            return
        # Every credential the client presents is checked, as the HTTP door checks its one header: a good
        # token in the payload must not wave a bad one in the upgrade through, nor one key spelling another.
        presented = [value for key, value in (payload or {}).items() if key.lower() == "authorization"]
        if self.upgrade_authorization is not None:
            presented.append(self.upgrade_authorization)
        if not all(isinstance(value, str) for value in presented) or len(set(presented)) > 1:
            self.close(FORBIDDEN, "Forbidden")
            return
        authorization = presented[0] if presented else None
        if authorization is not None:
            try:  # once per connection; each operation carries the principal on
                self.principal = await self.pipeline.edge.authenticate(authorization)
            except RequestError:
                self.close(FORBIDDEN, "Forbidden")
                return
            self.headers["authorization"] = authorization
        self.acknowledged = True
        self._queue(_ACK)

    def _subscribe(self, frame: dict[str, Any], text: str) -> None:
        if not self.acknowledged:
            self.close(UNAUTHORIZED, "Unauthorized")
            return
        operation_id = frame.get("id")
        if not isinstance(operation_id, str) or not operation_id:
            self.close(INVALID_MESSAGE, "Invalid message received")
            return
        try:
            request = GraphQLRequest.from_params(
                frame.get("payload"),
                door=Door.WEBSOCKET,
                headers=dict(self.headers),
                peer=self.peer,
                size=_size(text, self.pipeline.edge.size_limit.max_bytes),
            )
        except MalformedRequest:
            self.close(INVALID_MESSAGE, "Invalid message received")
            return
        request.principal, request.authenticated = self.principal, True
        if operation_id in self.operations:
            self.close(DUPLICATE_ID, f"Subscriber for {operation_id[:80]} already exists")
            return
        self.operations[operation_id] = asyncio.create_task(self._operation(operation_id, request))

    def _complete(self, frame: dict[str, Any]) -> None:
        operation_id = frame.get("id")
        if not isinstance(operation_id, str):
            self.close(INVALID_MESSAGE, "Invalid message received")
            return
        task = self.operations.get(operation_id)
        if task is not None:
            self.completed_by_client.add(operation_id)
            task.cancel()

    def _slow_consumer(self) -> None:
        if self.close_code is None:
            logger.warning("closing a WebSocket whose client does not read its events (send buffer full)")
        self.close(SLOW_CONSUMER, "Slow consumer: the send buffer is full")

    async def _operation(self, operation_id: str, request: GraphQLRequest) -> None:
        try:
            try:
                started = await self.pipeline.start(request)
            except RequestError as refused:
                self._queue({"id": operation_id, "type": "error", "payload": refused.errors})
                return
            try:
                if started.parts is not None:  # @defer: one `next` per part
                    async for part in started.parts:
                        self._queue({"id": operation_id, "type": "next", "payload": part})
                    self._queue({"id": operation_id, "type": "complete"})
                elif started.stream is None:
                    self._queue({"id": operation_id, "type": "next", "payload": started.response})
                    self._queue({"id": operation_id, "type": "complete"})
                elif self.subscriptions >= self.config.max_subscriptions_per_connection:
                    self._queue({"id": operation_id, "type": "error", "payload": [self._limit_error()]})
                else:
                    await self._stream(operation_id, started.stream)
            finally:
                # The subgraph subscription, the lease (a hot reload closes the previous gateway only once
                # this has ended) and the request span end here.
                await started.close()
        except SlowConsumer:
            self._slow_consumer()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("a WebSocket operation failed")
            with contextlib.suppress(SlowConsumer):
                self._queue({"id": operation_id, "type": "error", "payload": internal_error().errors})
        finally:
            self.operations.pop(operation_id, None)
            self.completed_by_client.discard(operation_id)

    def _limit_error(self) -> dict[str, Any]:
        limit = self.config.max_subscriptions_per_connection
        return {
            "message": f"at most {limit} subscriptions may be open on one connection",
            "extensions": {"code": SUBSCRIPTION_LIMIT},
        }

    async def _stream(self, operation_id: str, stream: SubscriptionStream) -> None:
        metrics = self.metrics
        self.subscriptions += 1
        metrics.opened("websocket")
        reason = "disconnect"
        head = f'{{"id":{orjson.dumps(operation_id).decode()},"type":"next","payload":'
        try:
            async for response in stream:
                self.buffer.put(head + orjson.dumps(response).decode() + "}")
                metrics.delivered["websocket"] += 1
            reason = stream.ended_by or "complete"
            self._queue({"id": operation_id, "type": "complete"})
        except SubscriptionRefused as refused:
            reason = "error"
            self._queue({"id": operation_id, "type": "error", "payload": refused.errors})
        except SlowConsumer:
            reason = "slow_consumer"
            raise
        except asyncio.CancelledError:
            reason = "client" if operation_id in self.completed_by_client else "disconnect"
            if self.close_code == SLOW_CONSUMER:
                reason = "slow_consumer"
            raise
        finally:
            self.subscriptions -= 1
            metrics.closed("websocket", reason)


def _size(text: str, limit: int) -> int:
    """The message's size in bytes (UTF-8), counted only where it could matter: a text this short is within
    `limit` whatever its characters."""
    return len(text) if len(text) * 4 <= limit else len(text.encode())
