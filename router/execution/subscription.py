"""A subscription's events: one graphql-transport-ws stream to the subgraph owning the root field (the plan's
Primary fetch), each event completed from the other subgraphs (the plan's Rest) and shaped like a query's
answer. `SubscriptionStream` is what a door iterates; `UpstreamSubscription` is the one stream to the
subgraph, which router/execution/shared_subscriptions.py fans out to every client asking the same of the same
subgraph with the same credentials."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from router.execution.executor import Executor
from router.execution.shaper import Shaper
from router.planner.nodes import Subscription
from router.planner.operation import Operation
from router.upstream.sockets import PROTOCOL, SubgraphSockets

logger = logging.getLogger(__name__)

# Codes of the errors a subscription ends with (the subgraph's own errors pass through unchanged).
CONNECTION_LOST = "SUBSCRIPTION_CONNECTION_LOST"  # the subgraph's socket closed without `complete`
SUBGRAPH_UNAVAILABLE = "SUBREQUEST_HTTP_ERROR"  # the subgraph could not be reached or refused the socket
PROTOCOL_ERROR = "SUBSCRIPTION_PROTOCOL_ERROR"  # the subgraph answered something that is not the protocol

_HANDSHAKE_SECONDS = 10.0
_CLOSE_SECONDS = 2.0


def _error(message: str, code: str, **extensions: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code, **extensions}}


class SubscriptionRefused(Exception):
    """The subgraph answered the subscription with `error` (it never started): its errors, unchanged."""

    def __init__(self, errors: list[Any]) -> None:
        super().__init__("the subgraph refused the subscription")
        self.errors = errors


class SlowConsumer(Exception):
    """The client does not read its events as fast as they come: its send buffer (router/http/streaming.py)
    or its queue on a shared subscription is full."""


class SubscriptionStream:
    """One subscriber's event stream: ``async for response in stream`` yields shaped responses until the
    subgraph completes (or fails: a last response with the error); raises SubscriptionRefused when the
    subgraph refuses to start it, SlowConsumer when the client fell too far behind. ``aclose()`` (always
    call it) lets go of the subgraph subscription. ``ended_by`` says why it ended ("complete", "error",
    "connection_lost"; None while open)."""

    ended_by: str | None = None

    def __aiter__(self) -> SubscriptionStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError


class UpstreamSubscription(SubscriptionStream):
    """The subscription on the subgraph: one socket, opened at the first ``__anext__``; ``aclose()``
    completes the subgraph subscription and closes its socket."""

    def __init__(
        self,
        sockets: SubgraphSockets,
        executor: Executor,
        shaper: Shaper,
        operation: Operation,
        plan: Subscription,
        variables: Mapping[str, Any],
        headers: Mapping[str, str] | None,
    ) -> None:
        self._sockets = sockets
        self._executor = executor
        self._shaper = shaper
        self._operation = operation
        self._plan = plan
        self._variables = variables
        self._headers = headers
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._subscribed = False
        self._done = False
        # Why the stream ended ("complete" by the subgraph, "error", "connection_lost"); None while open.
        self.ended_by: str | None = None

    async def __anext__(self) -> dict[str, Any]:
        if self._done:
            raise StopAsyncIteration
        primary = self._plan.primary
        if self._ws is None:
            failure = await self._open()
            if failure is not None:
                self._done = True
                self.ended_by = "error"
                return {"data": None, "errors": [failure]}
        ws = self._ws
        assert ws is not None
        while True:
            message = await ws.receive()
            if message.type is not aiohttp.WSMsgType.TEXT:
                if message.type is aiohttp.WSMsgType.BINARY:
                    continue
                self._done = True
                self.ended_by = "connection_lost"
                return {
                    "data": None,
                    "errors": [
                        _error(
                            f"the connection to subgraph '{primary.service}' was lost",
                            CONNECTION_LOST,
                            service=primary.service,
                        )
                    ],
                }
            try:
                frame = orjson.loads(message.data)
            except orjson.JSONDecodeError:
                frame = None
            kind = frame.get("type") if isinstance(frame, dict) else None
            if kind == "next":
                payload = frame.get("payload")  # type: ignore[union-attr]
                if isinstance(payload, dict):
                    return await self._complete_event(payload)
            elif kind == "ping":
                await ws.send_str('{"type":"pong"}')
            elif kind == "complete":
                self._subscribed = False
                self._done = True
                self.ended_by = "complete"
                raise StopAsyncIteration
            elif kind == "error":
                self._subscribed = False
                self._done = True
                self.ended_by = "error"
                errors = frame.get("payload")  # type: ignore[union-attr]
                if not isinstance(errors, list):
                    errors = [_error(str(errors), PROTOCOL_ERROR, service=primary.service)]
                raise SubscriptionRefused(errors)

    async def _open(self) -> dict[str, Any] | None:
        """Connects and subscribes; the error to answer with when that fails."""
        primary = self._plan.primary
        url = self._sockets.urls[primary.graph]
        init: dict[str, Any] = {"type": "connection_init"}
        headers: dict[str, str] = {}
        if self._headers:
            authorization = self._headers.get("authorization")
            if authorization:
                init["payload"] = {"Authorization": authorization}
            request_id = self._headers.get("x-request-id")
            if request_id:
                headers["x-request-id"] = request_id
            # The client address the router computed (never the client's own header), as on every fetch.
            address = self._headers.get("x-forwarded-for")
            if address:
                headers["x-forwarded-for"] = address
        used = {v: self._variables[v] for v in primary.variable_usages if v in self._variables}
        payload: dict[str, Any] = {"query": primary.operation}
        if used:
            payload["variables"] = used
        if self._sockets.plugins is not None:  # router.yaml's subgraph-request hooks
            refused = await self._sockets.before_connect(primary.service, payload, headers)
            if refused is not None:
                return _error(str(refused), refused.code, service=primary.service)
        try:
            self._ws = await self._sockets.session().ws_connect(
                url,
                protocols=(PROTOCOL,),
                headers=headers,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=_CLOSE_SECONDS),
            )
            ws = self._ws
            await ws.send_str(orjson.dumps(init).decode())
            async with asyncio.timeout(_HANDSHAKE_SECONDS):
                while True:
                    message = await ws.receive()
                    if message.type is not aiohttp.WSMsgType.TEXT:
                        code = ws.close_code
                        return _error(
                            f"subgraph '{primary.service}' refused the subscription socket (close {code})",
                            "FORBIDDEN" if code == 4403 else SUBGRAPH_UNAVAILABLE,
                            service=primary.service,
                        )
                    frame = orjson.loads(message.data)
                    if frame.get("type") == "connection_ack":
                        break
                    if frame.get("type") == "ping":
                        await ws.send_str('{"type":"pong"}')
            await ws.send_str(orjson.dumps({"id": "1", "type": "subscribe", "payload": payload}).decode())
            self._subscribed = True
        except (TimeoutError, aiohttp.ClientError, OSError, orjson.JSONDecodeError, AttributeError) as exc:
            return _error(
                f"cannot subscribe on subgraph '{primary.service}': {type(exc).__name__}",
                SUBGRAPH_UNAVAILABLE,
                service=primary.service,
            )
        return None

    async def _complete_event(self, payload: dict[str, Any]) -> dict[str, Any]:
        """An event as the client sees it: the Rest plan run from the event's data, then shaped."""
        data = payload.get("data")
        errors = [e for e in payload.get("errors") or () if isinstance(e, dict)]
        if not isinstance(data, dict):
            return {"data": None, "errors": errors} if errors else {"data": None}
        if self._plan.rest is not None:
            data, fetch_errors = await self._executor.run(
                self._plan.rest, self._variables, self._headers, data=data
            )
            errors.extend(fetch_errors)
        operation = self._operation
        shaped = self._shaper.shape(
            operation.selections, data, operation.root_type, self._variables, errors=errors
        )
        response: dict[str, Any] = {"data": shaped}
        if errors:
            response["errors"] = errors
        return response

    async def aclose(self) -> None:
        self._done = True
        ws, self._ws = self._ws, None
        if ws is None:
            return
        try:
            if not ws.closed:
                async with asyncio.timeout(_CLOSE_SECONDS):
                    if self._subscribed:
                        self._subscribed = False
                        await ws.send_str('{"id":"1","type":"complete"}')
                    await ws.close()
        except (TimeoutError, aiohttp.ClientError, OSError, RuntimeError):
            pass
        finally:
            # Whatever happened above (a timeout, our own cancellation), the socket does not outlive us.
            ws._response.close()
