"""The router's HTTP surface: a lean ASGI app in front of the Gateway pipeline.

`POST/GET /graphql` per the GraphQL-over-HTTP spec (content negotiation, status codes), GraphiQL for
browsers, `GET /health`, `GET /health/ready` (each subgraph reachable), `GET /metrics`. Every error answers a
GraphQL-shaped body with `extensions.code`, never a stack trace. The GraphQL path does no work it can avoid:
header parsing is cached per distinct header value, bodies are read once, JSON goes through orjson.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from router.config import RouterConfig
from router.executor import GATEWAY_TIMEOUT
from router.graphiql import ASSET_PREFIX, GraphiQL
from router.http_metrics import RequestMetrics
from router.persisted import PersistedQueries, PersistedQueryError, has_reference
from router.reload import GatewayMetrics, Lease, SupergraphWatcher
from router.sse import serve_sse
from router.subscriptions import SubscriptionMetrics
from router.telemetry import RequestTelemetry, RouterTelemetry
from router.websocket import serve_websocket
from shared.errors import RATE_LIMITED, Unauthenticated
from shared.keepalive import SERVER_KEEP_ALIVE_SECONDS
from shared.log import configure_logging, request_id_var

if TYPE_CHECKING:
    from router.edge_auth import EdgeAuth
    from router.ratelimit import ClientRateLimit

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
_CONTENT_TYPES = {
    GRAPHQL_RESPONSE: b"application/graphql-response+json; charset=utf-8",
    JSON: b"application/json; charset=utf-8",
}
_HTML = b"text/html; charset=utf-8"

# Codes of the errors this layer answers itself (the pipeline's own codes come from the Gateway).
BAD_REQUEST = "BAD_REQUEST"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
NOT_FOUND = "NOT_FOUND"
INTERNAL = "INTERNAL"

# Request ids made here: unique per process (random prefix) and cheap (a counter, not uuid4 per request).
_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count(1)
# A caller's id is kept only when it is one the subgraphs keep too (shared.app.RequestIdMiddleware).
_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")

# A body this much past the limit is not drained (the connection closes instead): draining a small excess lets
# the client read our 413 instead of a reset, draining gigabytes would let anyone keep us busy.
_DRAIN_FACTOR = 8


class _ClientGone(Exception):
    pass


class _BadRequest(Exception):
    def __init__(self, status: int, code: str, message: str, headers: tuple[tuple[bytes, bytes], ...] = ()):
        super().__init__(message)
        self.status = status
        self.code = code
        self.headers = headers


def _error_body(message: str, code: str) -> bytes:
    return orjson.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})


@lru_cache(maxsize=512)
def negotiate(accept: str) -> tuple[str | None, bool]:
    """(the GraphQL media type to answer with or None for 406, whether the client lists text/html).

    No Accept, `*/*` or `application/*` get `application/json` (what clients before the spec expect); a client
    naming both JSON types gets the one it weighs higher, `application/graphql-response+json` on a tie.
    """
    if not accept.strip():
        return JSON, False
    weights: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = part.split(";")
        media = media.strip().lower()
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        weights[media] = max(q, weights.get(media, 0.0))
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


class RouterApp:
    """The ASGI application. `gateway` follows router.gateway.Gateway's interface."""

    def __init__(
        self,
        gateway: Any,
        config: RouterConfig,
        *,
        graphiql: GraphiQL | None = None,
        request_error: type[Exception] | None = None,
        tracer_provider: Any = None,
    ) -> None:
        """`tracer_provider`: where spans go (tests, benchmarks); by default OTLP/HTTP when the environment
        configures an endpoint, else no spans (router/telemetry.py)."""
        self.gateway = gateway
        # The gateway new requests run on, and how many run on it (a hot reload swaps both: router/reload.py).
        self.lease = Lease(gateway)
        self.reloader: SupergraphWatcher | None = None
        self.persisted = PersistedQueries(config.persisted_queries)
        self._reload_task: asyncio.Task[None] | None = None
        self.config = config
        self.graphiql = graphiql
        if request_error is None:
            from router.gateway import RequestError

            request_error = RequestError
        self.request_error = request_error
        self.max_body = config.max_body_bytes
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = RequestMetrics("router", self.registry)
        self.subscriptions = SubscriptionMetrics(self.registry)
        # Subgraph traffic metrics, when the pipeline exposes them; they follow a reload to the new gateway.
        self.gateway_metrics = GatewayMetrics(gateway)
        self.registry.register(self.gateway_metrics)
        # GraphQL metrics and traces; a reload attaches the new gateway too.
        self.telemetry = RouterTelemetry.create(self.registry, tracer_provider)
        self.telemetry.attach(gateway)
        self._ready_client: Any = None  # an httpx.AsyncClient, made by the first readiness check
        # Edge auth (PyJWT, cryptography, httpx) and the rate limit (redis) are imported only when configured:
        # a router without them keeps those modules out of its memory.
        self.edge_auth: EdgeAuth | None = None
        if config.jwks_url:
            from router.edge_auth import EdgeAuth

            self.edge_auth = EdgeAuth(config)
        self.rate_limit: ClientRateLimit | None = None
        if config.rate_limit.enabled:
            from router.ratelimit import ClientRateLimit

            self.rate_limit = ClientRateLimit(config.rate_limit)

    # --- dispatch ---------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await serve_websocket(self, scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        path: str = scope["path"]
        method: str = scope["method"]
        status_box = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
            await send(message)

        route = path
        try:
            if path == "/graphql":
                await self._graphql(scope, receive, send_status, method)
            elif path in ("/health", "/health/"):
                await self._respond(send_status, 200, b'{"status":"ok"}', _CONTENT_TYPES[JSON])
            elif path == "/health/ready":
                await self._ready(send_status)
            elif path == "/metrics":
                payload = generate_latest(self.registry)
                await self._respond(send_status, 200, payload, CONTENT_TYPE_LATEST.encode())
            elif path.startswith(ASSET_PREFIX) and self.graphiql is not None:
                route = ASSET_PREFIX
                await self._asset(scope, send_status, path[len(ASSET_PREFIX) :])
            else:
                route = "unmatched"  # one label for every unknown path: scanners cannot grow the label set
                await self._respond(
                    send_status, 404, _error_body(f"no route {path}", NOT_FOUND), _CONTENT_TYPES[JSON]
                )
        except _ClientGone:
            status_box[0] = 499
        finally:
            self.requests.observe(method, route, status_box[0], time.perf_counter() - started)

    # --- /graphql ---------------------------------------------------------------------------------------

    async def _graphql(self, scope: Scope, receive: Receive, send: Send, method: str) -> None:
        accept = ""
        content_type = ""
        content_length = -1
        request_id = ""
        headers: dict[str, str] = {}
        for key, value in scope["headers"]:
            headers[key.decode("latin-1")] = value.decode("latin-1")
            if key == b"accept":
                accept = f"{accept},{value.decode('latin-1')}" if accept else value.decode("latin-1")
            elif key == b"content-type":
                content_type = value.decode("latin-1")
            elif key == b"content-length":
                try:
                    content_length = int(value)
                except ValueError:
                    content_length = -1
            elif key == b"x-request-id" and _REQUEST_ID.match(value):
                request_id = value.decode("latin-1")
        request_id = request_id or f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"
        media, wants_html = negotiate(accept)
        extra = ((b"x-request-id", request_id.encode("latin-1")),)
        token = request_id_var.set(request_id)
        try:
            try:
                if method == "POST":
                    body = await self._read_body(receive, content_length)
                    params = self._post_params(content_type, body)
                elif method == "GET":
                    query_string: bytes = scope.get("query_string", b"")
                    if wants_html and self.graphiql is not None and b"query=" not in query_string:
                        await self._respond(send, 200, self.graphiql.page, _HTML, extra)
                        return
                    params = self._get_params(query_string)
                else:
                    raise _BadRequest(
                        405,
                        METHOD_NOT_ALLOWED,
                        f"{method} is not allowed on /graphql; use POST or GET",
                        ((b"allow", b"GET, POST"),),
                    )
                wants_events = "text/event-stream" in accept
                if media is None and not wants_events:
                    raise _BadRequest(
                        406,
                        NOT_ACCEPTABLE,
                        f"cannot answer with any of {accept!r}; accept {GRAPHQL_RESPONSE} or {JSON}",
                    )
            except _BadRequest as exc:
                body_media = media or JSON
                await self._respond(
                    send,
                    exc.status,
                    _error_body(str(exc), exc.code),
                    _CONTENT_TYPES[body_media],
                    extra + exc.headers,
                )
                return
            headers["x-request-id"] = request_id
            if self.persisted.always or "extensions" in params or "documentId" in params:
                try:
                    await self.persisted.resolve(params)
                except PersistedQueryError as exc:
                    # Never cached: a query registered a moment later must not keep answering "not found".
                    no_store = ((b"cache-control", b"private, no-cache, must-revalidate"),)
                    status = 200 if exc.status == 400 and media == JSON else exc.status
                    content_type = _CONTENT_TYPES[media or JSON]
                    await self._respond(send, status, exc.body(), content_type, extra + no_store)
                    return
            principal = None
            if self.edge_auth is not None:
                try:
                    principal = await self.edge_auth.check(headers.get("authorization"))
                except Unauthenticated as exc:
                    body = orjson.dumps({"errors": [{"message": exc.message, "extensions": exc.extensions}]})
                    challenge = ((b"www-authenticate", b'Bearer error="invalid_token"'),)
                    content_type = _CONTENT_TYPES[media or JSON]
                    await self._respond(send, 401, body, content_type, extra + challenge)
                    return
            if self.rate_limit is not None:
                client = f"sub:{principal.subject}" if principal is not None else f"ip:{_peer(scope)}"
                retry_after = await self.rate_limit.retry_after(client)
                if retry_after is not None:
                    body = orjson.dumps(
                        {
                            "errors": [
                                {
                                    "message": f"too many requests; try again in {retry_after} s",
                                    "extensions": {"code": RATE_LIMITED, "retryAfter": retry_after},
                                }
                            ]
                        }
                    )
                    wait = ((b"retry-after", str(retry_after).encode()),)
                    await self._respond(send, 429, body, _CONTENT_TYPES[media or JSON], extra + wait)
                    return
            if wants_events:
                await serve_sse(self, receive, send, headers, params, method, extra)
                return
            status, payload, response_headers = await self._execute(headers, params, method, media)
            await self._respond(send, status, payload, _CONTENT_TYPES[media], extra + response_headers)
        finally:
            request_id_var.reset(token)

    async def _execute(
        self, headers: dict[str, str], params: Mapping[str, Any], method: str, media: str
    ) -> tuple[int, bytes, tuple[tuple[bytes, bytes], ...]]:
        lease = self.lease.enter()
        request = self.telemetry.begin(headers)
        try:
            return await self._execute_on(lease.gateway, headers, params, method, media, request)
        finally:
            lease.exit()
            self.telemetry.end(request)

    async def _execute_on(
        self,
        gateway: Any,
        headers: dict[str, str],
        params: Mapping[str, Any],
        method: str,
        media: str,
        request: RequestTelemetry,
    ) -> tuple[int, bytes, tuple[tuple[bytes, bytes], ...]]:
        try:
            result = await gateway.execute(
                params["query"],
                params.get("variables"),
                params.get("operationName"),
                method=method,
                headers=headers,
            )
        except self.request_error as exc:
            status: int = getattr(exc, "status", 400)
            errors = getattr(exc, "errors", None) or [
                {"message": str(exc), "extensions": {"code": BAD_REQUEST}}
            ]
            request.outcome, request.errors = "rejected", errors
            allow: tuple[tuple[bytes, bytes], ...] = ((b"allow", b"POST"),) if status == 405 else ()
            # application/json answers request errors with 200 (what pre-spec clients expect); the spec's own
            # media type says 400. A mutation over GET is 405 either way.
            if status == 400 and media == JSON:
                status = 200
            return status, orjson.dumps({"errors": errors}), allow
        except Exception:
            logger.exception("the router failed on a request")
            return 500, _error_body("internal error", INTERNAL), ()
        try:
            # Out of time with nothing to show: 504, still a GraphQL body (data null, GATEWAY_TIMEOUT).
            status = 504 if result.get("data") is None and _timed_out(result.get("errors")) else 200
            payload = orjson.dumps(result)
            request.errors = result.get("errors")
            request.outcome = "error" if request.errors else "ok"
            return status, payload, ()
        except TypeError:
            logger.exception("the router produced a response it cannot serialize")
            return 500, _error_body("internal error", INTERNAL), ()

    async def _read_body(self, receive: Receive, content_length: int) -> bytes:
        limit = self.max_body
        too_large = content_length > limit
        if too_large and content_length > limit * _DRAIN_FACTOR:
            # Far too large to drain: answer at once (uvicorn closes the connection behind us).
            raise _BadRequest(413, PAYLOAD_TOO_LARGE, f"the request body is over {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                too_large = True
                if size > limit * _DRAIN_FACTOR:
                    break
            elif chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        if too_large:
            raise _BadRequest(413, PAYLOAD_TOO_LARGE, f"the request body is over {limit} bytes")
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    @staticmethod
    def _post_params(content_type: str, body: bytes) -> dict[str, Any]:
        if not content_type:
            raise _BadRequest(415, UNSUPPORTED_MEDIA_TYPE, f"a POST needs Content-Type: {JSON}")
        if _media_type(content_type) != JSON:
            raise _BadRequest(
                415, UNSUPPORTED_MEDIA_TYPE, f"unsupported Content-Type {content_type!r}; send {JSON}"
            )
        try:
            params = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise _BadRequest(400, BAD_REQUEST, "the request body is not valid JSON") from None
        return _checked(params)

    @staticmethod
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
                    raise _BadRequest(400, BAD_REQUEST, f"the {key} parameter is not valid JSON") from None
        return _checked(params)

    # --- GraphiQL assets --------------------------------------------------------------------------------

    async def _asset(self, scope: Scope, send: Send, name: str) -> None:
        assert self.graphiql is not None
        asset = self.graphiql.assets.get(name)
        if asset is None:
            await self._respond(send, 404, _error_body(f"no asset {name}", NOT_FOUND), _CONTENT_TYPES[JSON])
            return
        if_none_match = b""
        accepts_gzip = False
        for key, value in scope["headers"]:
            if key == b"if-none-match":
                if_none_match = value
            elif key == b"accept-encoding" and b"gzip" in value:
                accepts_gzip = True
        etag = asset.etag.encode()
        headers: tuple[tuple[bytes, bytes], ...] = (
            (b"etag", etag),
            (b"cache-control", b"public, max-age=86400"),
            (b"vary", b"accept-encoding"),
        )
        if if_none_match == etag:
            await send({"type": "http.response.start", "status": 304, "headers": list(headers)})
            await send({"type": "http.response.body", "body": b""})
            return
        if accepts_gzip:
            headers += ((b"content-encoding", b"gzip"),)
            body = await asyncio.to_thread(asset.gzipped) if asset._gzipped is None else asset.gzipped()
        else:
            body = asset.body
        await self._respond(send, 200, body, asset.content_type.encode(), headers)

    # --- health -----------------------------------------------------------------------------------------

    async def _ready(self, send: Send) -> None:
        subgraphs: Mapping[str, str] = self.gateway.subgraphs
        results = await asyncio.gather(*(self._probe(url) for url in subgraphs.values()))
        report = {
            name: {"url": url, **result}
            for (name, url), result in zip(subgraphs.items(), results, strict=True)
        }
        ok = all(result["status"] == "ok" for result in results)
        body = {"status": "ok" if ok else "unavailable", "service": "router", "subgraphs": report}
        await self._respond(send, 200 if ok else 503, orjson.dumps(body), _CONTENT_TYPES[JSON])

    async def _probe(self, url: str) -> dict[str, Any]:
        """One cheap query to a subgraph: reachable and answering GraphQL within the timeout."""
        import httpx  # here: only readiness checks need it

        client = self._ready_client
        if client is None:
            client = self._ready_client = httpx.AsyncClient(timeout=self.config.ready_timeout_seconds)
        started = time.perf_counter()
        try:
            response = await client.post(
                url, content=b'{"query":"{ __typename }"}', headers={"content-type": JSON}
            )
        except httpx.HTTPError as exc:
            return {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:300]}
        latency = round((time.perf_counter() - started) * 1000, 2)
        if response.status_code != 200:
            return {"status": "error", "error": f"HTTP {response.status_code}", "latency_ms": latency}
        return {"status": "ok", "latency_ms": latency}

    # --- plumbing ---------------------------------------------------------------------------------------

    @staticmethod
    async def _respond(
        send: Send,
        status: int,
        body: bytes,
        content_type: bytes,
        headers: tuple[tuple[bytes, bytes], ...] = (),
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.reloader is not None:
                    self._reload_task = asyncio.create_task(self.reloader.run())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    if self._reload_task is not None:
                        self._reload_task.cancel()
                    if self.reloader is not None:
                        await self.reloader.close()
                    await self.persisted.close()
                    if self._ready_client is not None:
                        await self._ready_client.aclose()
                    if self.edge_auth is not None:
                        await self.edge_auth.close()
                    await self.telemetry.close()
                    if self.rate_limit is not None:
                        await self.rate_limit.close()
                    await self.gateway.close()
                except Exception:
                    logger.exception("closing the gateway failed")
                await send({"type": "lifespan.shutdown.complete"})
                return


def _peer(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def _timed_out(errors: Any) -> bool:
    return bool(errors) and any(
        (error.get("extensions") or {}).get("code") == GATEWAY_TIMEOUT for error in errors
    )


def _checked(params: Any) -> dict[str, Any]:
    """The GraphQL-over-HTTP request parameters, their types checked (400 otherwise)."""
    if not isinstance(params, dict):
        raise _BadRequest(400, BAD_REQUEST, "the request body must be a JSON object")
    query = params.get("query")
    if not isinstance(query, str):
        missing = "query" not in params or query is None
        if missing and has_reference(params):
            params.pop("query", None)  # a persisted query: router/persisted.py finds its text
        else:
            message = "the request has no query" if missing else "query must be a string"
            raise _BadRequest(400, BAD_REQUEST, message)
    operation_name = params.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise _BadRequest(400, BAD_REQUEST, "operationName must be a string")
    for key in ("variables", "extensions"):
        value = params.get(key)
        if value is not None and not isinstance(value, dict):
            raise _BadRequest(400, BAD_REQUEST, f"{key} must be an object")
    return params


def create_app(
    gateway: Any, config: RouterConfig, *, supergraph: Path | None = None, **kwargs: Any
) -> RouterApp:
    """The app around a built Gateway; GraphiQL from `config.node_modules` unless turned off. Given the
    `supergraph` file it was built from (and `config.hot_reload`), a changed file is swapped in live."""
    if "graphiql" not in kwargs:
        kwargs["graphiql"] = GraphiQL.try_load(config.node_modules) if config.graphiql else None
    app = RouterApp(gateway, config, **kwargs)
    if supergraph is not None and config.hot_reload:
        app.reloader = SupergraphWatcher(
            app,
            supergraph,
            lambda sdl: build_gateway(sdl, config),
            interval=config.hot_reload_interval_seconds,
            registry=app.registry,
        )
    return app


def build_gateway(supergraph_sdl: str, config: RouterConfig) -> Any:
    from router.gateway import Gateway
    from router.headers import HeaderPropagation

    return Gateway.from_supergraph(
        supergraph_sdl,
        limits=config.limits(),
        subgraph_urls=config.subgraph_urls or None,
        headers=HeaderPropagation(config.headers),
        traffic=config.traffic,
        entity_cache=config.entity_cache,
    )


def serve(supergraph: Path, config: RouterConfig) -> None:
    """Run the router under uvicorn (uvloop, httptools) until SIGINT/SIGTERM; a SIGTERM exits 0. With
    `config.workers` > 1, that many processes serve the one address (router/workers.py)."""
    configure_logging("router", level=config.log_level, json=config.log_json)
    if config.workers > 1:
        from router.workers import serve_workers

        serve_workers(config.workers, lambda listener: _serve_one(supergraph, config, listener), config)
        return
    _serve_one(supergraph, config, None)


def _serve_one(supergraph: Path, config: RouterConfig, listener: Any) -> None:
    """One uvicorn server; on `listener` (a bound socket) when given, else on config's host and port."""
    gateway = build_gateway(supergraph.read_text(), config)
    server = _Server(
        uvicorn.Config(
            create_app(gateway, config, supergraph=supergraph),
            host=config.host,
            port=config.port,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            log_config=None,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_keep_alive=SERVER_KEEP_ALIVE_SECONDS,
        )
    )
    server.run(sockets=[listener] if listener is not None else None)
    if not server.started:
        raise SystemExit(3)  # uvicorn's "startup failed" (the port is taken, ...): it logged why


class _Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        # uvicorn re-raises the signal after its graceful shutdown (exit status 143). SIGTERM is how a process
        # manager stops us on purpose: once drained, exit 0 instead.
        captured = getattr(self, "_captured_signals", None)
        if sig == signal.SIGTERM and captured and captured[-1] == sig:
            captured.pop()
