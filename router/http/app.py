"""The router's ASGI application: `/graphql` (the HTTP and SSE doors; the WebSocket door for `websocket`
scopes), GraphiQL's assets, `/media/*` (product images passed through, when enabled), `GET /health`,
`GET /health/ready` (each subgraph reachable; in detail, and `GET /metrics`, only with the ops token:
router/ops/access.py), and the lifespan (the supergraph watcher started, everything closed at shutdown).
CORS applies to every route (router/pipeline/edge/cors.py); a WebSocket upgrade from a foreign origin is
refused. Every error answers a GraphQL-shaped body with `extensions.code`, never a stack trace."""

from __future__ import annotations

import asyncio
import logging
import time

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from router.config import RouterConfig
from router.http.asgi import JSON_CONTENT_TYPE, ClientGone, Message, Receive, Scope, Send, respond
from router.http.client_address import ClientAddresses
from router.http.graphiql import ASSET_PREFIX, GraphiQL
from router.http.graphql import GraphQLOverHTTP
from router.http.media import PREFIX as MEDIA_PREFIX
from router.http.media import MediaPassThrough
from router.http.multipart_subscriptions import MultipartSubscriptions
from router.http.readiness import PublicReadiness, Readiness
from router.http.sse import ServerSentEvents
from router.http.websocket import GraphQLOverWebSocket
from router.ops.access import OpsAccess
from router.ops.compression import ResponseCompression
from router.ops.metrics import RequestMetrics, SubscriptionMetrics
from router.ops.reload import SupergraphWatcher
from router.ops.telemetry import RouterTelemetry
from router.pipeline.batch import BatchMetrics
from router.pipeline.edge.cors import CorsPolicy, same_origin
from router.pipeline.entry import Pipeline, ServedGateway
from router.pipeline.errors import Headers, RequestError

logger = logging.getLogger(__name__)

NOT_FOUND = "NOT_FOUND"
UNAUTHORIZED = "UNAUTHORIZED"


class RouterApp:
    def __init__(
        self,
        pipeline: Pipeline,
        config: RouterConfig,
        registry: CollectorRegistry,
        *,
        graphiql: GraphiQL | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.config = config
        self.registry = registry
        self.graphiql = graphiql
        self.requests = RequestMetrics("router", registry)
        self.subscriptions = SubscriptionMetrics(registry)
        self.readiness = Readiness(config.ready_timeout_seconds, config.ready_when)
        self.public_readiness = PublicReadiness(self.readiness)
        self.ops = OpsAccess(config.ops)
        # No origin configured: no CORS header on any answer (and no Origin header read).
        self.cors = CorsPolicy(config.cors) if config.cors.configured else None
        self.compression = ResponseCompression(config.compression)
        self.graphql = GraphQLOverHTTP(
            pipeline,
            ServerSentEvents(pipeline, config, self.subscriptions),
            graphiql,
            ClientAddresses(config.trusted_proxies),
            self.compression,
            config.batching,
            BatchMetrics(registry),
            MultipartSubscriptions(pipeline, config, self.subscriptions),
            config.uploads,
        )
        self.websocket = GraphQLOverWebSocket(pipeline, config, self.subscriptions)
        # `/media/*`: product images from the subgraph that serves them (router/http/media.py).
        self.media = MediaPassThrough(config.media) if config.media.enabled else None
        # Set by create_app when the supergraph file is watched (router/ops/reload.py).
        self.reloader: SupergraphWatcher[ServedGateway] | None = None
        self._reload_task: asyncio.Task[None] | None = None

    @property
    def gateway(self) -> ServedGateway:
        """The gateway new requests run on."""
        return self.pipeline.serving.gateway

    @property
    def telemetry(self) -> RouterTelemetry:
        return self.pipeline.telemetry

    # --- dispatch ---------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            if self._foreign_upgrade(scope):
                # Closing before accepting answers the upgrade 403: a page on another origin cannot open a
                # subscription with the browser's credentials.
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        path: str = scope["path"]
        status_box = [500]
        cors_headers: Headers = ()
        if self.cors is not None:
            preflight, cors_headers = self._cors(scope)
            if preflight:
                await send({"type": "http.response.start", "status": 200, "headers": list(cors_headers)})
                await send({"type": "http.response.body", "body": b""})
                self.requests.observe("OPTIONS", "preflight", 200, time.perf_counter() - started)
                return

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
                if cors_headers:
                    message["headers"] = [*message["headers"], *cors_headers]
            await send(message)

        route = path
        try:
            if path == "/graphql":
                await self.graphql(scope, receive, send_status)
            elif path in ("/health", "/health/"):
                await respond(send_status, 200, b'{"status":"ok"}', JSON_CONTENT_TYPE)
            elif path == "/health/ready":
                await self._ready(scope, send_status)
            elif path == "/metrics":
                await self._metrics(scope, send_status)
            elif path.startswith(MEDIA_PREFIX) and self.media is not None:
                route = MEDIA_PREFIX
                await self.media(scope, receive, send_status, self.gateway.subgraphs)
            elif path.startswith(ASSET_PREFIX) and self.graphiql is not None:
                route = ASSET_PREFIX
                await self._asset(scope, send_status, path[len(ASSET_PREFIX) :])
            else:
                route = "unmatched"  # one label for every unknown path: scanners cannot grow the label set
                await _not_found(send_status, f"no route {path}")
        except ClientGone:
            status_box[0] = 499
        finally:
            self.requests.observe(scope["method"], route, status_box[0], time.perf_counter() - started)

    def _cors(self, scope: Scope) -> tuple[bool, Headers]:
        """(whether the request is a CORS preflight, the CORS headers of its answer)."""
        assert self.cors is not None
        origin: str | None = None
        asks_method = False
        asked_headers = b""
        for key, value in scope["headers"]:
            if key == b"origin":
                origin = value.decode("latin-1")
            elif key == b"access-control-request-method":
                asks_method = True
            elif key == b"access-control-request-headers":
                asked_headers = value
        if origin is not None and asks_method and scope["method"] == "OPTIONS":
            return True, self.cors.preflight_headers(origin, asked_headers)
        return False, self.cors.response_headers(origin)

    def _foreign_upgrade(self, scope: Scope) -> bool:
        """Whether a WebSocket upgrade comes from a browser page on an origin neither the router's own nor
        allowed by CORS. Clients that are not browsers send no Origin."""
        origin = host = None
        for key, value in scope["headers"]:
            if key == b"origin":
                origin = value.decode("latin-1")
            elif key == b"host":
                host = value.decode("latin-1")
        if origin is None or same_origin(origin, host):
            return False
        return self.cors is None or not self.cors.allows(origin)

    async def _ready(self, scope: Scope, send: Send) -> None:
        subgraphs = self.gateway.subgraphs
        if self.ops.allows(scope["headers"]):
            ok, report = await self.readiness.report(subgraphs)
            body = orjson.dumps(report)
        else:  # the public answer: ready or not, no URL or latency
            ok = await self.public_readiness.ready(subgraphs)
            body = b'{"status":"ok"}' if ok else b'{"status":"unavailable"}'
        await respond(send, 200 if ok else 503, body, JSON_CONTENT_TYPE, (_NO_STORE,))

    async def _metrics(self, scope: Scope, send: Send) -> None:
        if not self.ops.allows(scope["headers"]):
            refused = RequestError.of("/metrics needs the ops token", UNAUTHORIZED, 401)
            await respond(send, 401, refused.body(), JSON_CONTENT_TYPE, (_BEARER,))
            return
        accept_encoding = b""
        for key, value in scope["headers"]:
            if key == b"accept-encoding":
                accept_encoding = value
        payload, headers = await self.compression.encode(
            generate_latest(self.registry), accept_encoding.decode("latin-1")
        )
        await respond(send, 200, payload, CONTENT_TYPE_LATEST.encode(), headers)

    async def _asset(self, scope: Scope, send: Send, name: str) -> None:
        assert self.graphiql is not None
        asset = self.graphiql.assets.get(name)
        if asset is None:
            await _not_found(send, f"no asset {name}")
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
        await respond(send, 200, body, asset.content_type.encode(), headers)

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
                    await self.readiness.close()
                    if self.media is not None:
                        await self.media.close()
                    await self.pipeline.close()
                except Exception:
                    logger.exception("closing the router failed")
                await send({"type": "lifespan.shutdown.complete"})
                return


_NO_STORE = (b"cache-control", b"no-store")
_BEARER = (b"www-authenticate", b'Bearer realm="ops"')


async def _not_found(send: Send, message: str) -> None:
    await respond(send, 404, RequestError.of(message, NOT_FOUND, 404).body(), JSON_CONTENT_TYPE)
