"""The router's composition root: `build_gateway` (the stages over one supergraph), `create_app` (the
pipeline, its edge and telemetry, the doors and the supergraph watcher around a gateway) and `serve` (uvicorn,
one process or `--workers N`). Rooms: router/http (the doors), router/pipeline (the one pipeline every door
enters), router/planner, router/supergraph, router/execution, router/upstream (subgraph I/O), router/ops."""

from __future__ import annotations

import logging
import signal
import socket
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn
from prometheus_client import CollectorRegistry

from router.config import RouterConfig
from router.http.app import RouterApp
from router.http.graphiql import GraphiQL
from router.ops.read_timeouts import timed_protocol
from router.ops.reload import GatewayMetrics, Serving, SupergraphWatcher
from router.ops.telemetry import RouterTelemetry
from router.pipeline.authorization import AuthorizationConfig
from router.pipeline.edge import Edge
from router.pipeline.edge.csrf import CsrfPrevention
from router.pipeline.edge.limits import UNREAD_FACTOR, RequestSizeLimit
from router.pipeline.edge.persisted import PersistedQueries
from router.pipeline.entry import Pipeline, ServedGateway
from router.pipeline.gateway import Gateway
from shared.heap import settle_heap
from shared.keepalive import SERVER_KEEP_ALIVE_SECONDS
from shared.log import configure_logging

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

logger = logging.getLogger(__name__)

__all__ = ["build_edge", "build_gateway", "create_app", "serve", "uvicorn_config"]


def build_gateway(supergraph_sdl: str, config: RouterConfig) -> Gateway:
    from router.upstream.headers import HeaderPropagation

    gateway = Gateway.from_supergraph(
        supergraph_sdl,
        limits=config.limits(),
        subgraph_urls=config.subgraph_urls or None,
        headers=HeaderPropagation(config.headers),
        traffic=config.traffic,
        entity_cache=config.entity_cache,
        demand_control=config.demand_control,
        override_labels=config.override_labels,
        authorization=_authorization(config),
    )
    if gateway.authorization is None and config.authorization.enabled and gateway.supergraph.has_access_rules:
        logger.warning(
            "the supergraph's authorization directives are not enforced: edge auth (jwks_url) is off"
        )
    # Set here, not in Gateway: every gateway the router serves (hot reloads too) is built here.
    gateway.execution.introspection = config.introspection.allowed(config.environment)
    plugins = config.plugin_chain()
    if plugins is not None and plugins.at_subgraphs:  # the subgraph stages (router/upstream/hooks.py)
        gateway.client.plugins = gateway.sockets.plugins = plugins
        gateway.client.transport.keep_headers = bool(plugins.subgraph_response)
    # A subgraph-request hook sees (and may refuse or change) each subscription's upstream connection: sharing
    # one upstream among clients would run it for the first client only, so such plugins turn sharing off.
    hooked = plugins is not None and bool(plugins.subgraph_request)
    if hooked and config.subscription_dedup:
        logger.info("subscription dedup is off: a plugin hooks the subgraph requests")
    gateway.execution.shared.enabled = config.subscription_dedup and not hooked
    gateway.execution.shared.queue_size = config.subscription_send_buffer
    return gateway


def _authorization(config: RouterConfig) -> AuthorizationConfig | None:
    """The authorization directives enforced, or None: without edge auth no caller is known at the edge, and
    the subgraphs' own checks are all there is."""
    return config.authorization if config.authorization.enabled and config.jwks_url else None


def build_edge(config: RouterConfig) -> Edge:
    """The edge as the settings ask. Edge auth (PyJWT, cryptography, httpx) and the rate limit (redis) are
    imported only when configured: a router without them keeps those modules out of its memory."""
    auth = rate_limit = None
    if config.jwks_url:
        from router.pipeline.edge.auth import EdgeAuth

        auth = EdgeAuth(
            config.jwks_url,
            issuer=config.jwt_issuer,
            audience=config.jwt_audience,
            leeway_seconds=config.jwt_leeway_seconds,
            jwks_refresh_seconds=config.jwks_refresh_seconds,
        )
    if config.rate_limit.enabled:
        from router.pipeline.edge.rate_limit import ClientRateLimit

        rate_limit = ClientRateLimit(config.rate_limit)
    return Edge(
        RequestSizeLimit(config.max_body_bytes),
        PersistedQueries(config.persisted_queries),
        auth,
        rate_limit,
        CsrfPrevention(config.csrf) if config.csrf.enabled else None,
    )


def create_app(
    gateway: ServedGateway,
    config: RouterConfig,
    *,
    supergraph: Path | None = None,
    tracer_provider: TracerProvider | None = None,
) -> RouterApp:
    """The app around a built gateway; GraphiQL from `config.node_modules` unless turned off.
    `tracer_provider`: where spans go (tests, benchmarks); by default OTLP/HTTP when the environment
    configures an endpoint, else no spans (router/ops/telemetry.py). Given the `supergraph` file it was built
    from (and `config.hot_reload`), a changed file is swapped in live."""
    graphiql = GraphiQL.try_load(config.node_modules) if config.graphiql else None
    registry = CollectorRegistry(auto_describe=True)
    # Subgraph traffic metrics of the gateway serving now; GraphQL metrics and traces.
    gateway_metrics = GatewayMetrics(gateway)
    registry.register(gateway_metrics)
    telemetry = RouterTelemetry.create(registry, tracer_provider)
    gateway.attach_telemetry(telemetry)
    serving: Serving[ServedGateway] = Serving(gateway)
    pipeline = Pipeline(serving, build_edge(config), telemetry)
    pipeline.plugins = config.plugin_chain()  # the router stages (router/pipeline/plugins.py)
    if pipeline.plugins is not None:
        from router.plugins.chain import PluginMetrics

        registry.register(PluginMetrics(pipeline.plugins))
    app = RouterApp(pipeline, config, registry, graphiql=graphiql)
    if supergraph is not None and config.hot_reload:

        def on_swap(new: ServedGateway) -> None:
            gateway_metrics.use(new)
            new.attach_telemetry(telemetry)

        app.reloader = SupergraphWatcher(
            serving,
            supergraph,
            lambda sdl: build_gateway(sdl, config),
            on_swap=on_swap,
            interval=config.hot_reload_interval_seconds,
            registry=registry,
        )
    return app


def serve(supergraph: Path, config: RouterConfig) -> None:
    """Run the router under uvicorn (uvloop, httptools) until SIGINT/SIGTERM; a SIGTERM exits 0. With
    `config.workers` > 1, that many processes serve the one address (router/ops/workers.py)."""
    configure_logging("router", level=config.log_level, json=config.log_json)
    if config.workers > 1:
        from router.ops.workers import serve_workers

        serve_workers(
            config.workers,
            lambda listener: _serve_one(supergraph, config, listener),
            config.host,
            config.port,
        )
        return
    _serve_one(supergraph, config, None)


def _serve_one(supergraph: Path, config: RouterConfig, listener: socket.socket | None) -> None:
    """One uvicorn server; on `listener` (a bound socket) when given, else on config's host and port."""
    gateway = build_gateway(supergraph.read_text(), config)
    server = _Server(uvicorn_config(create_app(gateway, config, supergraph=supergraph), config))
    settle_heap()
    server.run(sockets=[listener] if listener is not None else None)
    if not server.started:
        raise SystemExit(3)  # uvicorn's "startup failed" (the port is taken, ...): it logged why


def uvicorn_config(app: RouterApp, config: RouterConfig, **overrides: Any) -> uvicorn.Config:
    """How the router runs `app` under uvicorn (`overrides`: tests' and benchmarks' own, e.g. a socket's)."""
    options: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "loop": "uvloop",
        # httptools, with a timer closing a client that sends its headers or body too slowly.
        "http": timed_protocol(config.client_timeouts),
        "lifespan": "on",
        "log_config": None,
        "access_log": False,
        "proxy_headers": False,
        "server_header": False,
        "timeout_keep_alive": SERVER_KEEP_ALIVE_SECONDS,
        # A WebSocket message this far past the size limit is not read at all (closed 1009); one past the
        # limit is refused by the pipeline like an HTTP body (router/pipeline/edge/limits.py).
        "ws_max_size": config.max_body_bytes * UNREAD_FACTOR,
    }
    return uvicorn.Config(app, **{**options, **overrides})


class _Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # uvicorn re-raises the signal after its graceful shutdown (exit status 143). SIGTERM is how a process
        # manager stops us on purpose: once drained, exit 0 instead.
        captured = getattr(self, "_captured_signals", None)
        if sig == signal.SIGTERM and captured and captured[-1] == sig:
            captured.pop()
