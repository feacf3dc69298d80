"""A GraphQL request as the pipeline sees it, whichever door it came through: its parameters (checked here,
once), the headers the subgraphs get, who sent it and how big it was. The stages fill in what they learn (the
persisted query's text, the verified principal, the selected operation)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from router.pipeline.errors import BAD_REQUEST, MalformedRequest
from shared.client_address import FORWARDED_FOR, UNKNOWN

if TYPE_CHECKING:
    from graphql import OperationDefinitionNode

    from router.plugins import RequestContext
    from shared.auth import Principal


class Door(StrEnum):
    """How the request came in; SSE, WebSocket and multipart HTTP can carry a subscription's stream of
    answers."""

    HTTP = "http"
    SSE = "sse"
    WEBSOCKET = "websocket"
    MULTIPART = "multipart"  # Apollo's multipart HTTP subscriptions (router/http/multipart_subscriptions.py)


class GraphQLRequest:
    __slots__ = (
        "authenticated",
        "document_id",
        "door",
        "extensions",
        "headers",
        "incremental",
        "method",
        "operation",
        "operation_name",
        "peer",
        "plugin_context",
        "principal",
        "query",
        "size",
        "streams",
        "variables",
    )

    def __init__(
        self,
        query: str | None,
        variables: dict[str, Any] | None = None,
        operation_name: str | None = None,
        *,
        door: Door = Door.HTTP,
        method: str = "POST",
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
        document_id: object = None,
        peer: str = UNKNOWN,
        size: int = 0,
    ) -> None:
        self.query = query  # None until the persisted-query stage finds the text a request names
        self.variables = variables
        self.operation_name = operation_name
        self.extensions = extensions
        self.document_id = document_id  # the GraphQL-over-HTTP persisted documents proposal's `documentId`
        self.door = door
        self.streams = door is not Door.HTTP  # whether the door can carry a subscription's stream
        # Whether the client takes @defer's parts (SSE, WebSocket; HTTP when it accepts multipart/mixed).
        self.incremental = self.streams
        self.method = method
        # What the subgraphs get (router.yaml's header rules applied per subgraph): the client's headers, the
        # request id, and the trace context the telemetry sets.
        self.headers: dict[str, str] = headers if headers is not None else {}
        # The client's address (router/http/client_address.py): the rate limit's key for an anonymous request,
        # and the `X-Forwarded-For` the subgraphs get, over whatever the client sent (upstream/headers.py).
        self.peer = peer
        if peer != UNKNOWN:
            self.headers[FORWARDED_FOR] = peer
        elif FORWARDED_FOR in self.headers:
            del self.headers[FORWARDED_FOR]
        self.size = size  # bytes of the body or WebSocket message: the size limit's measure
        self.principal: Principal | None = None  # the verified token's, set by edge auth
        # Edge auth has run: per request, or once for a WebSocket connection (its `connection_init`).
        self.authenticated = False
        self.operation: OperationDefinitionNode | None = None  # set when the operation is selected
        # router.yaml's plugins' context for this request (router/plugins/); None without plugins.
        self.plugin_context: RequestContext | None = None

    @classmethod
    def from_params(cls, params: Any, **context: Any) -> GraphQLRequest:
        """A request from GraphQL-over-HTTP parameters (a POST body, a GET query, a WebSocket `subscribe`
        payload), their types checked; MalformedRequest (400 BAD_REQUEST) otherwise. `context`: the keyword
        arguments of the constructor (door, method, headers, peer, size)."""
        if not isinstance(params, dict):
            raise MalformedRequest.of("the request body must be a JSON object", BAD_REQUEST)
        query = params.get("query")
        extensions = params.get("extensions")
        document_id = params.get("documentId")
        if not isinstance(query, str):
            missing = query is None
            if not (missing and (document_id is not None or _names_persisted(extensions))):
                message = "the request has no query" if missing else "query must be a string"
                raise MalformedRequest.of(message, BAD_REQUEST)
            query = None  # a persisted query: router/pipeline/edge/persisted.py finds its text
        operation_name = params.get("operationName")
        if operation_name is not None and not isinstance(operation_name, str):
            raise MalformedRequest.of("operationName must be a string", BAD_REQUEST)
        variables = params.get("variables")
        if variables is not None and not isinstance(variables, dict):
            raise MalformedRequest.of("variables must be an object", BAD_REQUEST)
        if extensions is not None and not isinstance(extensions, dict):
            raise MalformedRequest.of("extensions must be an object", BAD_REQUEST)
        return cls(
            query, variables, operation_name, extensions=extensions, document_id=document_id, **context
        )

    @property
    def client(self) -> str:
        """Who the rate limit counts this request against: the verified subject, else the address."""
        principal = self.principal
        return f"sub:{principal.subject}" if principal is not None else f"ip:{self.peer}"

    def names_persisted_query(self) -> bool:
        return self.document_id is not None or _names_persisted(self.extensions)


def _names_persisted(extensions: Mapping[str, Any] | None) -> bool:
    return isinstance(extensions, Mapping) and "persistedQuery" in extensions
