"""A subgraph's `/graphql` endpoint: Strawberry's ASGI view, with a short path for the request nearly every
call is (the router's, a peer's): a POST of one JSON operation, answered with JSON.

Strawberry's view does a lot per request that such a call never needs: a request adapter, a sub-response
(a Starlette `Response` built and then copied from), the content type parsed by the standard library's
`email` package, the body decoded by `json`, three nested coroutines around `schema.execute`, a Starlette
`Response` to send the answer. Together they were about a tenth of a search's CPU in the products process
(cProfile, in process). The short path reads the body, decodes it with orjson, runs `schema.execute` with
what Strawberry's view would pass, and sends the JSON itself. Anything else (GET, a batch, a multipart upload,
a body that is not one operation object, a streaming `Accept`) goes to Strawberry's view unchanged, the body
handed on as read; so do the answers Strawberry gives to a malformed request, which are its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import Request
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from shared.context import Context
from shared.graphql_lifecycle import shape_errors

# One router connection may carry many clients' subscriptions.
MAX_OPERATIONS_PER_CONNECTION = 1000

# What a POST may run (Strawberry's `OperationType.from_http("POST")`).
_POST_OPERATIONS = OperationType.from_http("POST")
_JSON_HEADERS = [(b"content-type", b"application/json")]


class _OperationContexts:
    """The schema as a WebSocket handler sees it: every operation of a connection gets a context of its own
    (Strawberry shares one per connection), so concurrent subscriptions never share a session or loaders."""

    def __init__(self, schema: Any) -> None:
        self._schema = schema

    async def stream(self, *args: Any, context_value: Context, **kwargs: Any) -> Any:
        return await self._schema.stream(*args, context_value=context_value.for_operation(), **kwargs)


class SubgraphTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schema = _OperationContexts(self.schema)  # type: ignore[assignment]


class _TextWebSocketAdapter(ASGIWebSocketAdapter):
    """graphql-transport-ws messages go as text frames (Strawberry sends bytes from `encode_json` as binary
    frames, which the router's socket, like the protocol, refuses)."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(self.view.encode_json_string(message))
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class SubgraphGraphQL(GraphQL):
    graphql_transport_ws_handler_class = SubgraphTransportWSHandler
    websocket_adapter_class = _TextWebSocketAdapter  # type: ignore[assignment]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and self._plain_json(scope["headers"]):
            body, messages = await _read(receive)
            operation = _operation(body) if body is not None else None
            # The body read is handed on as it came: to the context's request, or to Strawberry's view.
            if operation is not None:
                if await self._answer(scope, _replaying(messages, receive), send, operation):
                    return
            receive = _replaying(messages, receive)
        await super().__call__(scope, receive, send)

    def _plain_json(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """A JSON body, and no `Accept` asking for a stream Strawberry would answer (none is configured for
        HTTP here: subscriptions go over WebSocket)."""
        content_type = None
        for key, value in headers:
            if key == b"content-type":
                content_type = value
            elif key == b"accept" and self._stream_transport_map:
                return False
        if content_type is None:
            return False
        return content_type.split(b";", 1)[0].strip().lower() == b"application/json"

    async def _answer(self, scope: Any, receive: Any, send: Any, operation: dict[str, Any]) -> bool:
        """Run `operation` and send its JSON answer, as Strawberry's view would; False when the request is
        one Strawberry answers itself (it refuses the operation before running it)."""
        request = Request(scope, receive)
        context = await self.get_context(request, response=None)
        try:
            result = await self.schema.execute(
                operation["query"],
                variable_values=operation.get("variables"),
                context_value=context,
                operation_name=operation.get("operationName"),
                allowed_operation_types=_POST_OPERATIONS,
                operation_extensions=operation.get("extensions"),
            )
        except (CannotGetOperationTypeError, InvalidOperationTypeError, MissingQueryError):
            return False  # nothing ran: Strawberry's view says why, in its words
        if not isinstance(result, ExecutionResult):  # an incremental delivery: Strawberry's to stream
            raise TypeError("incremental delivery is not enabled on subgraphs")
        answer = await self.process_result(request, result)
        encoded = self.encode_json(answer)
        body = encoded if isinstance(encoded, bytes) else encoded.encode()
        headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:  # type: ignore[override]
        # One per HTTP request; over WebSocket one per connection, copied per operation.
        return Context(request.app.state.runtime, request)

    def encode_json(self, data: object) -> bytes | str:
        # orjson: a listing's response is written in a tenth of the standard library's time, as UTF-8 (no
        # \u escapes). What it refuses (an integer past 64 bits) the standard library still writes.
        try:
            return orjson.dumps(data)
        except TypeError:
            return super().encode_json(data)

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        # Errors raised before execution (a syntax error) skip the schema extensions: shape them here.
        if result.errors and any(not (error.extensions or {}).get("code") for error in result.errors):
            shape_errors(result, request.app.state.runtime.metrics)
        return await super().process_result(request, result)


async def _read(receive: Any) -> tuple[bytes | None, list[Any]]:
    """The request's body (None if the client went away first) and the messages it came in."""
    messages = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None, messages
        if not message.get("more_body", False):
            return b"".join(m.get("body", b"") for m in messages), messages


def _operation(body: bytes) -> dict[str, Any] | None:
    """The body as one operation Strawberry's view would run as it is, else None. A body orjson refuses goes
    to Strawberry's view too: the standard library's `json` there also reads an escaped unpaired surrogate,
    which input hygiene then refuses as BAD_USER_INPUT naming its argument (tests/security)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    query, variables, extensions = data.get("query"), data.get("variables"), data.get("extensions")
    name = data.get("operationName")
    if not isinstance(query, str) or not query:
        return None
    if not isinstance(variables, dict | None) or not isinstance(extensions, dict | None):
        return None
    if not isinstance(name, str | None):
        return None
    return data


def _replaying(messages: list[Any], receive: Any) -> Any:
    """`receive` for a request whose body was read already: those messages again, then the connection's."""
    pending = list(messages)

    async def replay() -> Any:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
