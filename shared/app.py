"""The subgraph app factory: a Strawberry federation schema becomes a FastAPI app served by uvicorn.

Every service gets the same surface: `POST/GET /graphql`, `GET /health`, `GET /health/ready` (JSON naming
each check), `GET /metrics`, a request id on every request, and structured logs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.routing import Route, WebSocketRoute
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from shared.auth import JwksKeySource, KeyRing, LocalKeySource, RevocationStore, TokenVerifier
from shared.auth.service_tokens import ServiceTokens
from shared.connection_budget import BudgetExceeded, check_service_start
from shared.consumer import run_consumer
from shared.context import Context, Runtime, StateT
from shared.db import create_engine, create_sessionmaker, reading_only
from shared.edge import EdgeMiddleware
from shared.graphql import Schema
from shared.graphql_http import MAX_OPERATIONS_PER_CONNECTION, SubgraphGraphQL
from shared.heap import settle_heap
from shared.keepalive import SERVER_KEEP_ALIVE_SECONDS
from shared.log import configure_logging
from shared.metrics import Metrics
from shared.outbox import Outbox
from shared.redis_client import create_redis
from shared.settings import DEV_SERVICE_SECRET, ServiceSettings
from shared.subscriptions import ConsumerSpec
from shared.telemetry import provider_from_env, tracer_of

if TYPE_CHECKING:
    import uvicorn

logger = logging.getLogger(__name__)

# A readiness check raises when its part is not ready; it may return details for its entry of the report
# (e.g. analytics' replica lag), which never override `status`.
ReadinessCheck = Callable[[Runtime], Awaitable[dict[str, Any] | None]]
REDIS_MAX_CONNECTIONS = 100
REDIS_POOL_WAIT_SECONDS = 5.0
Worker = Callable[[Runtime], Awaitable[None]]


@dataclass
class SubgraphDefinition(Generic[StateT]):
    """What makes one service: its name, settings, schema, loaders and the few things it adds."""

    name: str
    settings_class: type[ServiceSettings]
    schema: Schema
    build_loaders: Callable[[Context], Any]
    # users signs tokens, so it loads (and in development creates) the key ring and verifies locally.
    signs_tokens: bool = False
    # Builds the service's own per-process state (its `<Name>State`), kept as `runtime.state`.
    setup: Callable[[Runtime[StateT]], Awaitable[StateT]] | None = None
    teardown: Callable[[Runtime[StateT]], Awaitable[None]] | None = None
    add_routes: Callable[[FastAPI], None] | None = None
    # Whether `/graphql` takes multipart requests (the GraphQL multipart request spec: `Upload` arguments).
    uploads: bool = False
    readiness_checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    # The service's transactional outbox; when set, the process runs its relay (`shared.relay`).
    outbox: Outbox | None = None
    # The events it consumes from other services; when set, the process runs a consumer (`shared.consumer`).
    # A function of the runtime when the handlers need the process's objects (peers, settings).
    consumer: ConsumerSpec | Callable[[Runtime], ConsumerSpec] | None = None
    # Long-running background loops (sweepers, recovery): started after setup, cancelled at shutdown.
    workers: list[Worker] = field(default_factory=list)
    # Its queries never write: outside PgBouncer they read in autocommit (`Runtime.query_sessionmaker`),
    # where a write is refused (`shared.db.reading_only`). A service whose queries write says False.
    read_only_queries: bool = True


async def build_runtime(
    definition: SubgraphDefinition, settings: ServiceSettings, *, tracer: Any = None
) -> Runtime:
    engine = create_engine(
        settings.effective_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        application_name=definition.name,
        pgbouncer=settings.db_pgbouncer,
    )
    # A burst (hundreds of subscribers verifying their tokens at once) waits for a pooled connection instead
    # of failing with "Too many connections" (redis-py's plain pool raises past 100).
    redis = create_redis(
        settings.redis_url,
        cluster=settings.redis_cluster,
        max_connections=REDIS_MAX_CONNECTIONS,
        pool_timeout=REDIS_POOL_WAIT_SECONDS,
        socket_connect_timeout=5,
        health_check_interval=30,
    )
    http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
    revocations = RevocationStore(redis, settings.redis_prefix)
    keys: KeyRing | None = None
    if definition.signs_tokens or not settings.jwks_url or not settings.service_token_url:
        keys = KeyRing.load(
            private_key_pem=settings.jwt_private_key,
            keys_dir=settings.keys_dir,
            retired_public_pem=settings.jwt_retired_public_keys,
            create=definition.signs_tokens and not settings.is_production,
        )
    source: Any = (
        JwksKeySource(settings.jwks_url, http)
        if settings.jwks_url and not definition.signs_tokens
        else LocalKeySource(keys)
    )
    verifier = TokenVerifier(
        source,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        leeway_seconds=settings.jwt_leeway_seconds,
        revocations=revocations,
    )
    if settings.service_token_url:
        service_tokens = ServiceTokens(
            definition.name, url=settings.service_token_url, secret=settings.service_secret, http=http
        )
    elif keys is not None and keys.signing is not None:
        service_tokens = ServiceTokens.local(
            definition.name, keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience
        )
    else:
        service_tokens = None
    runtime = Runtime(
        definition=definition,
        settings=settings,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        query_sessionmaker=_query_sessionmaker(definition, settings, engine),
        redis=redis,
        http=http,
        verifier=verifier,
        metrics=Metrics(definition.name),
        keys=keys,
        service_tokens=service_tokens,
        tracer=tracer,
    )
    if definition.setup is not None:
        runtime.state = await definition.setup(runtime)
    return runtime


def _query_sessionmaker(
    definition: SubgraphDefinition, settings: ServiceSettings, engine: AsyncEngine
) -> async_sessionmaker[AsyncSession] | None:
    """Sessions in autocommit for the queries of a service whose queries only read: each statement is its own
    transaction, so no BEGIN and no COMMIT round trip (two of a search's three). Never through PgBouncer in
    transaction mode: there a statement outside a transaction may be prepared on one server connection and
    executed on another ("prepared statement does not exist")."""
    if not definition.read_only_queries or settings.db_pgbouncer:
        return None
    return create_sessionmaker(reading_only(engine), reading=True)


async def close_runtime(runtime: Runtime) -> None:
    if runtime.definition.teardown is not None:
        await runtime.definition.teardown(runtime)
    await runtime.http.aclose()
    await runtime.redis.aclose()
    await runtime.engine.dispose()


def start_workers(runtime: Runtime) -> list[asyncio.Task[None]]:
    """The process's background loops: the outbox relay (when the service has an outbox), the event consumer
    (when it consumes events) and its workers."""
    definition = runtime.definition
    workers = list(definition.workers)
    if definition.outbox is not None:
        from shared.relay import run_relay

        workers.insert(0, run_relay)
    if definition.consumer is not None:
        workers.insert(1 if definition.outbox is not None else 0, run_consumer)
    return [
        asyncio.create_task(_supervised(worker, runtime), name=f"{definition.name}:{worker.__name__}")
        for worker in workers
    ]


async def _supervised(worker: Worker, runtime: Runtime) -> None:
    """A worker that crashes is logged and started again after a pause, never left dead."""
    while True:
        try:
            await worker(runtime)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("worker %s crashed; restarting in 1 s", worker.__name__)
            await asyncio.sleep(1.0)


async def stop_workers(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def check_settings(definition: SubgraphDefinition, settings: ServiceSettings) -> None:
    """A production start refuses what is only fit for a laptop (a generated key, no way to verify tokens)."""
    if not settings.is_production:
        return
    if definition.signs_tokens and not settings.jwt_private_key:
        raise RuntimeError(
            f"{definition.name}: production needs MYSHOP_JWT_PRIVATE_KEY (a key generated into the data "
            "directory is for development only)"
        )
    if not definition.signs_tokens and not settings.jwks_url and not settings.jwt_private_key:
        raise RuntimeError(f"{definition.name}: production needs MYSHOP_JWKS_URL to verify tokens")
    if settings.service_secret == DEV_SERVICE_SECRET:
        raise RuntimeError(f"{definition.name}: production needs its own MYSHOP_SERVICE_SECRET")


def create_subgraph_app(
    definition: SubgraphDefinition, settings: ServiceSettings | None = None, *, tracer_provider: Any = None
) -> FastAPI:
    """`tracer_provider`: where spans go (tests, benchmarks); by default OTLP/HTTP when the environment
    configures an endpoint (`shared.telemetry`), else no spans at all."""
    settings = settings or definition.settings_class()
    check_settings(definition, settings)
    provider = tracer_provider or provider_from_env(definition.name)
    tracer = tracer_of(provider)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await build_runtime(definition, settings, tracer=tracer)
        app.state.runtime = runtime
        tasks = start_workers(runtime)
        logger.info("%s ready on %s:%s", definition.name, settings.host, settings.port)
        try:
            yield
        finally:
            await stop_workers(tasks)
            await close_runtime(runtime)
            if provider is not None and tracer_provider is None:  # ours: flush what is left to export
                await asyncio.to_thread(provider.shutdown)

    app = SubgraphApp(title=f"MyShop {definition.name}", lifespan=lifespan, docs_url=None, redoc_url=None)

    # No GraphiQL here: Strawberry's loads from a CDN; admins use the router's.
    graphql = SubgraphGraphQL(
        definition.schema,
        graphql_ide=None,
        # Subscriptions (the router's, partners') speak graphql-transport-ws only; the token comes in
        # `connection_init`'s payload or the upgrade request's `Authorization` header (see `Context`).
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        max_subscriptions_per_connection=MAX_OPERATIONS_PER_CONNECTION,
        multipart_uploads_enabled=definition.uploads,
    )
    # Strawberry's ASGI app on plain routes, first in the list: FastAPI's router ran its dependency injection
    # for every request (a fifth of a trivial request's CPU, measured in process), for a context alone.
    app.router.routes[:0] = [Route("/graphql", graphql), WebSocketRoute("/graphql", graphql)]
    # ... and `/graphql` itself skips the app's stack (see `SubgraphApp`) behind the same `EdgeMiddleware`.
    app.graphql = EdgeMiddleware(graphql, tracer)

    @app.get("/health")
    @app.get("/health/", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": definition.name}

    @app.get("/health/ready")
    async def ready(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        checks = {"database": _check_database, "redis": _check_redis, **definition.readiness_checks}
        results = await asyncio.gather(*(_run_check(check, runtime) for check in checks.values()))
        report = dict(zip(checks, results, strict=True))
        ok = all(result["status"] == "ok" for result in results)
        body = {"status": "ok" if ok else "unavailable", "service": definition.name, "checks": report}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        payload, content_type = request.app.state.runtime.metrics.render()
        return Response(payload, media_type=content_type)

    if definition.add_routes is not None:
        definition.add_routes(app)

    app.add_middleware(EdgeMiddleware, tracer=tracer)
    return app


class SubgraphApp(FastAPI):
    """A subgraph's FastAPI app whose `/graphql` (HTTP and WebSocket) goes straight to Strawberry behind our
    own middlewares. Starlette's stack around it (its error and exception middlewares, FastAPI's body-limit
    and telemetry wrappers, the router's matching, four wrappers of `send`) was a sixth of a search's server
    CPU (py-spy, bench/products_search.py) and does nothing for that route: Strawberry answers its own
    errors, and an exception that escapes still gets uvicorn's plain 500. Everything else (health,
    metrics, a service's own routes, the lifespan) goes through FastAPI as before."""

    graphql: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.graphql is not None and scope["type"] != "lifespan" and scope["path"] == "/graphql":
            scope["app"] = self  # what `request.app` reads (the runtime is on its state)
            await self.graphql(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


async def _check_database(runtime: Runtime) -> None:
    async with runtime.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _check_redis(runtime: Runtime) -> None:
    await runtime.redis.ping()


async def _run_check(check: ReadinessCheck, runtime: Runtime, limit: float = 2.0) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        details = await asyncio.wait_for(check(runtime), limit)
    except Exception as exc:
        return {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:300]}
    result: dict[str, Any] = {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
    return result | {key: value for key, value in (details or {}).items() if key not in result}


def checked_settings(
    definition: SubgraphDefinition, settings: ServiceSettings | None = None
) -> ServiceSettings:
    """`settings` (or the environment's) once the service's connection budget holds; otherwise one line and a
    failed exit, before any port is bound: a supervisor's log shows the arithmetic."""
    settings = settings or definition.settings_class()
    try:
        asyncio.run(check_service_start(settings))
    except BudgetExceeded as exc:
        raise SystemExit(f"{definition.name}: {exc}") from None
    return settings


def server_config(definition: SubgraphDefinition, settings: ServiceSettings) -> uvicorn.Config:
    """The uvicorn server of one service (uvloop and httptools when installed)."""
    import uvicorn

    return uvicorn.Config(
        create_subgraph_app(definition, settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=SERVER_KEEP_ALIVE_SECONDS,
        # Subscription events are small JSON messages to the router: compressing each one cost more CPU than
        # the rest of its delivery (measured: bench/order_subscriptions.py).
        ws_per_message_deflate=False,
    )


def serve(definition: SubgraphDefinition, settings: ServiceSettings | None = None) -> None:
    """Run one service under uvicorn, as the only one of its process."""
    import uvicorn

    settings = settings or definition.settings_class()
    configure_logging(definition.name, level=settings.log_level, json=settings.log_json)
    server = uvicorn.Server(server_config(definition, checked_settings(definition, settings)))
    settle_heap()
    server.run()
