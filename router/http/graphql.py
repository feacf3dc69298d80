"""The HTTP door: `POST/GET /graphql` per the GraphQL-over-HTTP spec. It reads the request (content
negotiation, the body within the size limit, GET's query parameters) into a GraphQLRequest, hands it to the
pipeline and writes the answer with the spec's status codes; `Accept: text/event-stream` goes to the SSE door,
a browser asking for the page gets GraphiQL; a POST of a JSON array is a batch (router/pipeline/batch.py), one
request per entry, answered as an array. The path does no work it can avoid: header parsing is cached per
distinct value, the body is read once, JSON goes through orjson."""

from __future__ import annotations

import itertools
import logging
import os
import re
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

import orjson

from router.http.asgi import (
    ClientGone,
    Headers,
    Receive,
    Scope,
    Send,
    answer_status,
    refusal_status,
    respond,
)
from router.http.client_address import ClientAddresses
from router.http.graphiql import GraphiQL
from router.http.incremental import answer_in_parts
from router.http.multipart import DEFER_SPEC, SUBSCRIPTION_SPEC, accepts
from router.http.multipart_subscriptions import MultipartSubscriptions
from router.http.sse import ServerSentEvents
from router.http.uploads import MultipartUploads, is_multipart
from router.ops.compression import CompressionConfig, ResponseCompression, quality_weights
from router.pipeline.batch import (
    BATCH_ENTRY_CANNOT_STREAM,
    BatchingConfig,
    BatchMetrics,
    batch_entries,
    run_batch,
)
from router.pipeline.edge.limits import RequestSizeLimit
from router.pipeline.entry import Pipeline
from router.pipeline.errors import (
    BAD_REQUEST,
    METHOD_NOT_ALLOWED,
    MalformedRequest,
    RequestError,
    internal_error,
)
from router.pipeline.plugins import response_headers
from router.pipeline.request import Door, GraphQLRequest
from router.upstream.uploads import UploadsConfig, request_files
from shared.log import request_id_var

logger = logging.getLogger(__name__)

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
CONTENT_TYPES = {
    GRAPHQL_RESPONSE: b"application/graphql-response+json; charset=utf-8",
    JSON: b"application/json; charset=utf-8",
}
_HTML = b"text/html; charset=utf-8"

UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
NOT_ACCEPTABLE = "NOT_ACCEPTABLE"

# Request ids made here: unique per process (random prefix) and cheap (a counter, not uuid4 per request).
_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count(1)
# A caller's id is kept only when it is one the subgraphs keep too (shared.app.RequestIdMiddleware).
_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")


@lru_cache(maxsize=512)
def negotiate(accept: str) -> tuple[str | None, bool]:
    """(the GraphQL media type to answer with or None for 406, whether the client lists text/html).

    No Accept, `*/*` or `application/*` get `application/json` (what clients before the spec expect); a client
    naming both JSON types gets the one it weighs higher, `application/graphql-response+json` on a tie.
    """
    if not accept.strip():
        return JSON, False
    weights = quality_weights(accept)
    html = weights.get("text/html", 0.0) > 0
    graphql_q = weights.get(GRAPHQL_RESPONSE, 0.0)
    json_q = weights.get(JSON, 0.0)
    if graphql_q > 0 and graphql_q >= json_q:
        return GRAPHQL_RESPONSE, html
    if json_q > 0:
        return JSON, html
    if max(weights.get("application/*", 0.0), weights.get("*/*", 0.0)) > 0:
        return JSON, html
    return None, html


@lru_cache(maxsize=64)
def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


class _Incoming:
    """What the door reads from the request's headers, in one pass."""

    __slots__ = ("accept", "accept_encoding", "content_length", "content_type", "headers", "request_id")

    def __init__(self, scope: Scope) -> None:
        accept = accept_encoding = content_type = request_id = ""
        content_length = -1
        headers: dict[str, str] = {}
        for key, value in scope["headers"]:
            text = value.decode("latin-1")
            headers[key.decode("latin-1")] = text
            if key == b"accept":
                accept = f"{accept},{text}" if accept else text
            elif key == b"content-type":
                content_type = text
            elif key == b"accept-encoding":
                accept_encoding = text
            elif key == b"content-length":
                try:
                    content_length = int(value)
                except ValueError:
                    content_length = -1
            elif key == b"x-request-id" and _REQUEST_ID.match(value):
                request_id = text
        self.request_id = request_id or f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"
        headers["x-request-id"] = self.request_id
        self.headers = headers
        self.accept = accept
        self.accept_encoding = accept_encoding
        self.content_type = content_type
        self.content_length = content_length


class GraphQLOverHTTP:
    def __init__(
        self,
        pipeline: Pipeline,
        sse: ServerSentEvents,
        graphiql: GraphiQL | None,
        addresses: ClientAddresses | None = None,
        compression: ResponseCompression | None = None,
        batching: BatchingConfig | None = None,
        batch_metrics: BatchMetrics | None = None,
        multipart: MultipartSubscriptions | None = None,
        uploads: UploadsConfig | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.multipart = multipart  # Apollo's multipart HTTP subscriptions, when served
        self.addresses = addresses or ClientAddresses()
        self.sse = sse
        self.graphiql = graphiql
        # Whole answers only: the SSE door streams, and is never compressed.
        self.compression = compression or ResponseCompression(CompressionConfig(enabled=False))
        self.size_limit: RequestSizeLimit = pipeline.edge.size_limit
        self.batching = batching or BatchingConfig()
        self.batch_metrics = batch_metrics or BatchMetrics()
        self.uploads = MultipartUploads(uploads or UploadsConfig(), self.size_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        incoming = _Incoming(scope)
        media, wants_html = negotiate(incoming.accept)
        extra: Headers = ((b"x-request-id", incoming.request_id.encode("latin-1")),)
        token = request_id_var.set(incoming.request_id)
        try:
            method: str = scope["method"]
            if method == "GET" and wants_html and self.graphiql is not None:
                if b"query=" not in scope.get("query_string", b""):
                    await respond(send, 200, self.graphiql.page, _HTML, extra)
                    return
            wants_events = "text/event-stream" in incoming.accept
            subscribes = self._multipart_subscription(incoming.accept, wants_events)
            if method == "POST" and is_multipart(incoming.content_type):
                await self._answer_upload(receive, send, incoming, media, extra, self.addresses.of(scope))
                return
            # Apollo Client's Accept for @defer; answered as JSON where the query defers nothing.
            in_parts = not wants_events and accepts(incoming.accept, DEFER_SPEC)
            if in_parts and media is None:
                media = JSON
            try:
                body = await self._read_body(receive, incoming.content_length) if method == "POST" else b""
                peer = self.addresses.of(scope)
                params = self._params(scope, method, body, incoming, media, wants_events or subscribes)
                if isinstance(params, list):
                    entries = self._batch(params, wants_events)
                else:
                    request = self._request(params, method, body, incoming, wants_events, peer, subscribes)
                    request.incremental |= in_parts
            except RequestError as refused:  # not a GraphQL request: the status is the answer's
                content_type = CONTENT_TYPES[media or JSON]
                await respond(send, refused.status, refused.body(), content_type, extra + refused.headers)
                return
            if isinstance(params, list):
                await self._answer_batch(entries, method, body, incoming, peer, send, media or JSON, extra)
            elif wants_events:
                await self.sse(request, receive, send, extra)
            elif subscribes:
                assert self.multipart is not None
                await self.multipart(request, receive, send, extra, CONTENT_TYPES[media or JSON])
            elif in_parts:
                await self._answer_in_parts(
                    request, receive, send, media or JSON, extra, incoming.accept_encoding
                )
            else:
                await self._answer(request, send, media or JSON, extra, incoming.accept_encoding)
        finally:
            request_id_var.reset(token)

    @staticmethod
    def _params(
        scope: Scope, method: str, body: bytes, incoming: _Incoming, media: str | None, wants_events: bool
    ) -> Any:
        """The parameters of a POST's `body` (an object, or a batch's list) or a GET's query string;
        MalformedRequest otherwise."""
        if method == "POST":
            params = _post_params(incoming.content_type, body)
        elif method == "GET":
            params = _get_params(scope.get("query_string", b""))
        else:
            raise MalformedRequest.of(
                f"{method} is not allowed on /graphql; use POST or GET",
                METHOD_NOT_ALLOWED,
                405,
                ((b"allow", b"GET, POST"),),
            )
        if media is None and not wants_events:
            raise MalformedRequest.of(
                f"cannot answer with any of {incoming.accept!r}; accept {GRAPHQL_RESPONSE} or {JSON}",
                NOT_ACCEPTABLE,
                406,
            )
        return params

    @staticmethod
    def _request(
        params: Any,
        method: str,
        body: bytes,
        incoming: _Incoming,
        wants_events: bool,
        peer: str,
        multipart: bool = False,
    ) -> GraphQLRequest:
        return GraphQLRequest.from_params(
            params,
            door=Door.SSE if wants_events else Door.MULTIPART if multipart else Door.HTTP,
            method=method,
            headers=incoming.headers,
            peer=peer,
            size=len(body),
        )

    async def _answer(
        self, request: GraphQLRequest, send: Send, media: str, extra: Headers, accept_encoding: str
    ) -> None:
        try:
            response = await self.pipeline.execute(request)
        except RequestError as refused:
            status = refusal_status(refused, media == JSON)
            await respond(send, status, refused.body(), CONTENT_TYPES[media], extra + refused.headers)
            return
        if request.plugin_context is not None:  # headers router.yaml's plugins add (router/plugins/)
            extra += response_headers(request.plugin_context)
        await self._send_json(send, answer_status(response), response, media, extra, accept_encoding)

    async def _answer_in_parts(
        self, request: GraphQLRequest, receive: Receive, send: Send, media: str, extra: Headers, encoding: str
    ) -> None:
        """A client taking multipart/mixed: @defer's parts (router/http/incremental.py), else as `_answer`."""
        try:
            response = await answer_in_parts(self.pipeline, request, receive, send, extra)
        except RequestError as refused:
            status = refusal_status(refused, media == JSON)
            await respond(send, status, refused.body(), CONTENT_TYPES[media], extra + refused.headers)
            return
        if response is not None:
            await self._send_json(send, answer_status(response), response, media, extra, encoding)

    async def _send_json(
        self, send: Send, status: int, answer: Any, media: str, extra: Headers, accept_encoding: str
    ) -> None:
        """An answer (one operation's, or a batch's array) as JSON, compressed where it pays; 500 with a coded
        body if the router produced something it cannot serialize."""
        try:
            payload = orjson.dumps(answer)
        except TypeError:
            logger.exception("the router produced a response it cannot serialize")
            refused = internal_error()
            await respond(send, 500, refused.body(), CONTENT_TYPES[media], extra)
            return
        if self.compression.applies(payload):
            payload, encoding = await self.compression.encode(payload, accept_encoding)
            extra += encoding
        await respond(send, status, payload, CONTENT_TYPES[media], extra)

    def _multipart_subscription(self, accept: str, wants_events: bool) -> bool:
        """Whether the client asks for Apollo's multipart HTTP subscriptions (and this router serves them)."""
        return self.multipart is not None and not wants_events and accepts(accept, SUBSCRIPTION_SPEC)

    def _batch(self, params: list[Any], wants_events: bool) -> list[dict[str, Any]]:
        if wants_events:
            message = "a batch cannot be answered as an event stream"
            raise MalformedRequest.of(message, BATCH_ENTRY_CANNOT_STREAM)
        return batch_entries(params, self.batching)

    async def _answer_batch(
        self,
        entries: list[dict[str, Any]],
        method: str,
        body: bytes,
        incoming: _Incoming,
        peer: str,
        send: Send,
        media: str,
        extra: Headers,
    ) -> None:
        """A batch's array of answers, 200 whatever each entry's errors (GraphQL over HTTP has no status for
        a mix; Apollo Router answers so too); the body-size limit and compression apply to the whole."""

        async def run(entry: dict[str, Any]) -> dict[str, Any]:
            # Each entry its own copy of the headers (shared by all: one token, one request id): telemetry
            # and the edge write into them.
            headers = dict(incoming.headers)
            request = GraphQLRequest.from_params(
                entry, door=Door.HTTP, method=method, headers=headers, peer=peer, size=len(body)
            )
            return await self.pipeline.execute(request)

        self.batch_metrics.observe(len(entries))
        answers = await run_batch(entries, run, self.batching.concurrency)
        await self._send_json(send, 200, answers, media, extra, incoming.accept_encoding)

    async def _answer_upload(
        self, receive: Receive, send: Send, incoming: _Incoming, media: str | None, extra: Headers, peer: str
    ) -> None:
        """A multipart request (router/http/uploads.py): its `operations` run as a JSON POST's would, its
        files stream to the subgraphs as the plan's fetches send them."""
        try:
            if media is None:
                message = (
                    f"cannot answer with any of {incoming.accept!r}; accept {GRAPHQL_RESPONSE} or {JSON}"
                )
                raise MalformedRequest.of(message, NOT_ACCEPTABLE, 406)
            upload = await self.uploads.read(receive, incoming.content_type, incoming.content_length)
            request = GraphQLRequest.from_params(
                upload.params, door=Door.HTTP, headers=incoming.headers, peer=peer, size=upload.size
            )
        except RequestError as refused:
            await respond(
                send, refused.status, refused.body(), CONTENT_TYPES[media or JSON], extra + refused.headers
            )
            return
        token = request_files.set(upload.files)
        try:
            await self._answer(request, send, media, extra, incoming.accept_encoding)
        finally:
            request_files.reset(token)
            await upload.files.close()
        if upload.files.gone:
            raise ClientGone

    async def _read_body(self, receive: Receive, content_length: int) -> bytes:
        limit = self.size_limit.max_bytes
        unread = self.size_limit.unread_bytes
        too_large = content_length > limit
        if content_length > unread:
            # Far too large to read: answer at once (uvicorn closes the connection behind us).
            raise self.size_limit.refusal()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                too_large = True
                if size > unread:
                    break
            elif chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        if too_large:
            raise self.size_limit.refusal()
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _post_params(content_type: str, body: bytes) -> Any:
    if not content_type:
        raise MalformedRequest.of(f"a POST needs Content-Type: {JSON}", UNSUPPORTED_MEDIA_TYPE, 415)
    if _media_type(content_type) != JSON:
        raise MalformedRequest.of(
            f"unsupported Content-Type {content_type!r}; send {JSON}", UNSUPPORTED_MEDIA_TYPE, 415
        )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise MalformedRequest.of("the request body is not valid JSON", BAD_REQUEST) from None


def _get_params(query_string: bytes) -> dict[str, Any]:
    raw = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    params: dict[str, Any] = {}
    for key in ("query", "operationName", "documentId"):
        if key in raw:
            params[key] = raw[key]
    for key in ("variables", "extensions"):
        if raw.get(key):
            try:
                params[key] = orjson.loads(raw[key])
            except orjson.JSONDecodeError:
                raise MalformedRequest.of(f"the {key} parameter is not valid JSON", BAD_REQUEST) from None
    return params
