"""What a plugin sees: the four stages' objects, the per-request context they share, and `Refusal`, a
hook's way to answer in the router's place. Plain classes over the pipeline's own objects (no copies on the
request path); nothing here imports the rooms above, so the pipeline (router stages) and the subgraph client
(subgraph stages) both can."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

# A hook that raised (anything but a Refusal): the request, or that fetch, answers this code; the stack is
# logged, never sent.
PLUGIN_ERROR = "PLUGIN_ERROR"


class _Request(Protocol):
    """What the context reads of the pipeline's GraphQLRequest (router/pipeline/request.py)."""

    headers: dict[str, str]
    principal: Any
    operation: Any
    operation_name: str | None
    door: Any
    peer: str


class Refusal(Exception):
    """Returned (or raised) by a router-request or subgraph-request hook: answer with this error instead of
    going on. At the router request: the request answers `{"errors": [...]}` with HTTP `status`. At a
    subgraph request: that fetch is not sent and answers this error (its data null, like a failed fetch);
    the rest of the request goes on."""

    def __init__(self, message: str, code: str = "FORBIDDEN", status: int = 403, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.extensions = extensions

    def error(self) -> dict[str, Any]:
        """The GraphQL error it answers."""
        return {"message": self.message, "extensions": {**self.extensions, "code": self.code}}


class RequestContext(dict):  # type: ignore[type-arg]
    """One request's context: a dict the plugins share across the four stages of that request (anything
    they put there), plus read-only facts the router learned: `principal` (the verified token's, None for
    an anonymous request), `operation_name`, `operation_type` ("query", "mutation", "subscription"; None
    before the operation is selected), `door` ("http", "sse", "websocket"), `client_address`, `request_id`.
    """

    __slots__ = ("_request", "response_headers")

    def __init__(self, request: _Request) -> None:
        super().__init__()
        self._request = request
        # Headers the router-response hooks add to the client's HTTP response (name -> value).
        self.response_headers: dict[str, str] = {}

    @property
    def principal(self) -> Any:
        return self._request.principal

    @property
    def operation_name(self) -> str | None:
        operation = self._request.operation
        if operation is not None and operation.name is not None:
            return str(operation.name.value)
        return self._request.operation_name

    @property
    def operation_type(self) -> str | None:
        operation = self._request.operation
        return str(operation.operation.value) if operation is not None else None

    @property
    def door(self) -> str:
        return str(self._request.door)

    @property
    def client_address(self) -> str:
        return self._request.peer

    @property
    def request_id(self) -> str | None:
        return self._request.headers.get("x-request-id")


class RouterRequest:
    """The router-request stage: after the edge admitted the request (size, persisted query, token, rate
    limit), before it is parsed. `headers` are the client's (lower-case names) and what the subgraphs get
    through router.yaml's header rules: a hook may change them."""

    __slots__ = ("_request", "context")

    def __init__(self, request: Any, context: RequestContext) -> None:
        self._request = request
        self.context = context

    @property
    def headers(self) -> dict[str, str]:
        return self._request.headers  # type: ignore[no-any-return]

    @property
    def query(self) -> str | None:
        return self._request.query  # type: ignore[no-any-return]

    @property
    def operation_name(self) -> str | None:
        return self._request.operation_name  # type: ignore[no-any-return]

    @property
    def variables(self) -> Mapping[str, Any]:
        return self._request.variables or {}

    @property
    def extensions(self) -> Mapping[str, Any]:
        return self._request.extensions or {}


class SubgraphRequest:
    """The subgraph-request stage, once per fetch: `subgraph` (its name), `body` (`query`, `variables`; the
    operation sent), `headers` (router.yaml's rules applied, lower-case names; a hook may change them),
    `mutation`, and `transport` ("http", or "websocket" for a subscription's connection, whose handshake
    carries `headers`)."""

    __slots__ = ("body", "context", "headers", "mutation", "subgraph", "transport")

    def __init__(
        self,
        subgraph: str,
        body: dict[str, Any],
        headers: dict[str, str],
        context: RequestContext,
        *,
        mutation: bool = False,
        transport: str = "http",
    ) -> None:
        self.subgraph = subgraph
        self.body = body
        self.headers = headers
        self.context = context
        self.mutation = mutation
        self.transport = transport


class SubgraphResponse:
    """The subgraph-response stage, once per answered fetch: `body` (the subgraph's GraphQL response:
    change it in place or assign a new dict, e.g. to strip an error or a field), `headers` (the subgraph's
    response headers, lower-case names) and the `request` it answers."""

    __slots__ = ("body", "context", "headers", "request")

    def __init__(self, request: SubgraphRequest, body: dict[str, Any], headers: Mapping[str, str]) -> None:
        self.request = request
        self.body = body
        self.headers = dict(headers)
        self.context = request.context

    @property
    def subgraph(self) -> str:
        return self.request.subgraph


class RouterResponse:
    """The router-response stage, once per answer (a refusal too): `body` (`data`, `errors`,
    `extensions`: change it in place or assign a new dict), `headers` (added to the client's HTTP
    response; a WebSocket message has none), `status` (the HTTP status the answer goes with, read-only)."""

    __slots__ = ("body", "context", "status")

    def __init__(self, body: dict[str, Any], context: RequestContext, status: int = 200) -> None:
        self.body = body
        self.context = context
        self.status = status

    @property
    def headers(self) -> dict[str, str]:
        return self.context.response_headers

    @property
    def extensions(self) -> dict[str, Any]:
        """The answer's `extensions`, made on first use."""
        extensions = self.body.get("extensions")
        if not isinstance(extensions, dict):
            extensions = self.body["extensions"] = {}
        return extensions


class Plugin:
    """The base of a plugin (optional: any class with some of these methods will do). The router builds it
    once at start with router.yaml's `config:` mapping and calls the hooks it defines, in the order the
    plugins are listed; each hook may be `def` or `async def`. Hooks run on the event loop: no blocking
    I/O."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    # The four hooks (define only those you need; an undefined one costs nothing):
    #   def router_request(self, request: RouterRequest) -> Refusal | None
    #   def subgraph_request(self, request: SubgraphRequest) -> Refusal | None
    #   def subgraph_response(self, response: SubgraphResponse) -> None
    #   def router_response(self, response: RouterResponse) -> None
    # and `async def close(self)`, called when the router stops.
