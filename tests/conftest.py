"""Test fixtures: real PostgreSQL and Redis, one database per service per test worker, real HTTP servers.

Every test run, and under pytest-xdist every worker of it (`gw0`, `gw1`, ...), gets its own database names
(`myshop_t<run>_<worker>_<service>`), Redis key prefix, data directory and servers on free ports, built with
`alembic upgrade head` and dropped at the end, so neither runs nor workers ever see each other's data.
"""

from __future__ import annotations

import ast
import asyncio
import atexit
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import httpx._transports.default as _httpx_transports
import pytest
from db_reset import DatabaseReset
from redis.asyncio import Redis
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# The servers of a test run are threads of its process. CPython keeps one AST recursion counter per process,
# so two threads parsing at once (pytest formatting a failure while a server logs a traceback, whose carets
# parse the failing line) break it: "SystemError: AST constructor recursion depth mismatch", and pytest stops
# with an INTERNALERROR (python/cpython#106905, pytest-dev/pytest#10763). Seen under a second load on the same
# PostgreSQL ("too many clients" logged in every server). One parse at a time in this process.
_parse = ast.parse
_parsing = threading.Lock()


def _parse_one_at_a_time(*args: Any, **kwargs: Any) -> Any:
    with _parsing:
        return _parse(*args, **kwargs)


ast.parse = _parse_one_at_a_time  # type: ignore[assignment]

# httpx builds a new SSL context for every client it makes (loading certifi's CA bundle: 18.5 ms here), even
# for a client that only ever speaks plain HTTP to loopback; the tests make a client per test and more, which
# cost over 20 s of a run. One default context, built once, serves every client that asks for the default.
_DEFAULT_SSL_CONTEXT = httpx.create_ssl_context()


def _default_ssl_context_once(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
    if verify is True and cert is None and trust_env:
        return _DEFAULT_SSL_CONTEXT
    return httpx.create_ssl_context(verify=verify, cert=cert, trust_env=trust_env)


_httpx_transports.create_ssl_context = _default_ssl_context_once  # type: ignore[attr-defined]

# The workers of one xdist run share its id; a run without xdist is one worker of its own.
RUN_ID = (os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex)[:8]
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "solo")
_DATA_DIR = Path(tempfile.mkdtemp(prefix=f"myshop-test-{RUN_ID}-{WORKER}-"))

# Before any settings object is built: everything this run touches is its own.
os.environ.setdefault("MYSHOP_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
os.environ.setdefault("MYSHOP_REDIS_URL", "redis://127.0.0.1:6379/0")
# Where no PostgreSQL or Redis answers, the tests use embedded ones, as `myshop up` does. Under xdist the
# controller process decides first and its workers inherit the URLs it found (so only one starts them).
from myshop.embedded import ensure_infrastructure  # noqa: E402
from myshop.servers import PgBouncer, pgbouncer_binary  # noqa: E402

_INFRA = ensure_infrastructure(
    os.environ["MYSHOP_POSTGRES_URL"],
    os.environ["MYSHOP_REDIS_URL"],
    Path(__file__).resolve().parent.parent / ".myshop" / "test-servers",
    log=lambda line: print(f"[tests] {line}"),
)
os.environ["MYSHOP_POSTGRES_URL"], os.environ["MYSHOP_REDIS_URL"] = _INFRA.postgres_url, _INFRA.redis_url


# The run's connection budget. Two runs and a `myshop up` (18, README "Connection budget") share one
# PostgreSQL of 100 connections. Directly, each worker's stack and the tests' engines keep a connection per
# database each (2 workers x 8 databases x 2 = 32) and burst beyond; so the stack's services and the tests'
# engines reach the run's databases through one PgBouncer per run, in transaction mode (as production does,
# deploy/kubernetes): a service and the tests' engine of one database share its server connections, and
# the run holds at most SUITE_SERVER_CONNECTIONS, however many its pools ask for (a client waits in
# PgBouncer's queue, it is never refused). What still goes direct: creating, migrating and dropping
# databases, and the few tests that start servers or scratch databases of their own (a handful each).
# Without Debian's pgbouncer, or on an embedded server (the run's own, on a Unix socket), all goes direct.
SUITE_SERVER_CONNECTIONS = 20
_BOUNCER_ENV = "MYSHOP_TESTS_PGBOUNCER_PORT"


def _start_run_bouncer() -> str:
    """The xdist controller (or a run without xdist) starts the PgBouncer; the workers inherit its port."""
    if pgbouncer_binary() is None or make_url(os.environ["MYSHOP_POSTGRES_URL"]).host is None:
        return ""
    directory = _DATA_DIR / "pgbouncer"
    bouncer = PgBouncer(
        directory,
        os.environ["MYSHOP_POSTGRES_URL"],
        # A race test holds a row, two or three requests wait on it and the test polls pg_locks: 6 at once.
        default_pool_size=6,
        max_user_connections=SUITE_SERVER_CONNECTIONS,
        server_idle_timeout=10,
    ).start()
    atexit.register(bouncer.stop)
    return str(bouncer.port)


if _BOUNCER_ENV not in os.environ:
    os.environ[_BOUNCER_ENV] = _start_run_bouncer()
BOUNCER_PORT = os.environ[_BOUNCER_ENV]


def through_bouncer(url: str) -> str:
    """`url` (a database on the test server) through the run's PgBouncer, when it has one."""
    if not BOUNCER_PORT:
        return url
    return make_url(url).set(host="127.0.0.1", port=int(BOUNCER_PORT)).render_as_string(hide_password=False)


os.environ["MYSHOP_DATABASE_PREFIX"] = f"myshop_t{RUN_ID}_{WORKER}_"
os.environ["MYSHOP_REDIS_PREFIX"] = REDIS_PREFIX = f"test:{RUN_ID}:{WORKER}:"
os.environ["MYSHOP_DATA_DIR"] = str(_DATA_DIR)
os.environ["MYSHOP_ENV"] = "test"
os.environ["MYSHOP_LOG_JSON"] = "false"
os.environ["MYSHOP_LOG_LEVEL"] = "WARNING"
# Small pools (the run's budget is below): each service keeps two connections open and opens up to two more
# for a burst (concurrency tests race 4 wide).
os.environ["MYSHOP_DB_POOL_SIZE"] = "2"
os.environ["MYSHOP_DB_MAX_OVERFLOW"] = "2"
# Tests never mail a real server: nothing listens on port 9 (tests/notifications points it at its own).
os.environ["MYSHOP_NOTIFICATIONS_SMTP_PORT"] = "9"

from myshop import migrations  # noqa: E402
from router.config import RouterConfig  # noqa: E402
from router.server import build_gateway, create_app  # noqa: E402
from shared.app import SubgraphDefinition, create_subgraph_app  # noqa: E402
from shared.auth import KeyRing, TokenIssuer  # noqa: E402
from shared.auth.keys import generate_key_file  # noqa: E402
from shared.db import pgbouncer_safe  # noqa: E402
from shared.settings import ServiceSettings  # noqa: E402
from shared.testing import SCRATCH, ServerThread, without_durable_commits  # noqa: E402
from subgraphs import registry  # noqa: E402

# `MYSHOP_TEST_SUBGRAPHS=users` runs a subset (for working on one service); all of them by default.
TEST_SUBGRAPHS: tuple[str, ...] = tuple(
    name for name in os.environ.get("MYSHOP_TEST_SUBGRAPHS", ",".join(registry.SUBGRAPHS)).split(",") if name
)


# Timings of the stack's services in tests.
TEST_OVERRIDES: dict[str, dict[str, Any]] = {
    # argon2id at one pass (t=1; its memory is below, under the settings' floor): the suite registers and
    # signs in hundreds of accounts. The tests of the hashing itself read the configured cost from the
    # settings (tests/users/test_users_register.py, test_users_login.py).
    "users": {"argon2_time_cost": 1},
    # Reads and searches reach the outbox within a quarter second.
    "products": {"activity_flush_seconds": 0.25},
    # `tok_timeout` hangs past what an impatient saga waits (tests/orders/conftest.py), not for minutes.
    "payments": {"sandbox_hang_seconds": 2.5},
    # Patient steps (a loaded CI machine must not fail a saga), quick retries and recovery.
    "orders": {
        "step_timeout_seconds": 10.0,
        "step_deadline_seconds": 20.0,
        "retry_max_seconds": 0.5,
        "saga_lease_seconds": 3.0,
        "recovery_interval_seconds": 0.5,
    },
}


# Set past the settings' validation: values under a floor that guards production. argon2id's memory at 1 MiB,
# not the floor's 8: at 8 MiB the hashing was 18% of the CPU of tests/users (py-spy) and 5-30 ms a hash
# (more under load), at 1 MiB 0.5 ms. What the floor protects (a leaked table's resistance to cracking) is
# no test's subject; the hashing tests read whatever cost is configured.
BELOW_THE_FLOOR: dict[str, dict[str, Any]] = {"users": {"argon2_memory_cost_kib": 1024}}


def peer_urls(stack: Stack) -> dict[str, str]:
    """The GraphQL URLs orders and notifications call, pointing at this run's servers."""
    return {
        f"{name}_url": f"{stack.url(name)}/graphql"
        for name in ("users", "products", "inventory", "payments", "shipping")
        if name in stack.servers
    }


def settings_for(name: str, **overrides: Any) -> ServiceSettings:
    return registry.load(name).settings_class(**overrides)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests (processes of their own, a minute or so each) first. Under `make test` (xdist, `--dist
    loadfile`) this orders the tests of a file only: xdist hands out the files with most tests first, which
    spreads the slow files over the run. Handed out in this order instead (`--no-loadscope-reorder`), they all
    ran together on 2 cores, 3-5x slower, and a SIGKILL test's orders process missed its readiness wait."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_unconfigure(config: pytest.Config) -> None:
    # Every process that loaded this file made a data directory (the xdist controller too, left empty).
    shutil.rmtree(_DATA_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return _DATA_DIR


@pytest.fixture(scope="session", autouse=True)
def scratch_server() -> Iterator[None]:
    """Scratch databases on the run's server are copies of templates migrated once per worker, and are
    dropped after the run with the templates (shared.testing.ScratchServer; a sync fixture: the tests that
    need none may be sync)."""
    SCRATCH.use(os.environ["MYSHOP_POSTGRES_URL"])
    yield
    asyncio.run(SCRATCH.drop())


@pytest.fixture(scope="session")
async def databases() -> AsyncIterator[dict[str, str]]:
    """Every service's database, created and migrated to head; dropped after the run."""
    urls: dict[str, str] = {}
    for name in TEST_SUBGRAPHS:
        settings = settings_for(name)
        await migrations.ensure_database(settings.postgres_url, settings.database_name)
        await without_durable_commits(settings.postgres_url, settings.database_name)
        await migrations.upgrade_async(name, settings.effective_database_url)
        urls[name] = settings.effective_database_url
    yield urls
    await asyncio.gather(
        *(
            migrations.drop_database(settings.postgres_url, settings.database_name)
            for settings in map(settings_for, TEST_SUBGRAPHS)
        )
    )


@pytest.fixture(scope="session")
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(os.environ["MYSHOP_REDIS_URL"])
    yield client
    await delete_keys(client)
    await client.aclose()


async def delete_keys(redis: Redis) -> None:
    """Every Redis key of this run's worker."""
    keys = [key async for key in redis.scan_iter(match=f"{REDIS_PREFIX}*", count=1000)]
    if keys:
        await redis.unlink(*keys)


@dataclass
class Stack:
    """The running subgraphs of this test run."""

    servers: dict[str, ServerThread] = field(default_factory=dict)
    settings: dict[str, ServiceSettings] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return self.servers[name].url


def start_service(definition: SubgraphDefinition, settings: ServiceSettings) -> ServerThread:
    server = ServerThread(create_subgraph_app(definition, settings))
    server.start()
    return server


class LateApp:
    """An ASGI app given after its server's port is bound: a service started earlier can be told its URL."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@pytest.fixture(scope="session")
async def stack(databases: dict[str, str], redis: Redis, data_dir: Path) -> AsyncIterator[Stack]:
    stack = Stack()
    # The run's signing key exists before any server starts: the users server signs with it, and when users is
    # not part of the run the others verify with it directly (an empty JWKS URL means "the local key ring").
    generate_key_file(data_dir / "keys")
    common: dict[str, Any] = {"jwks_url": "", "service_token_url": ""}
    # Orders and shipping call each other: orders' port is bound first, so shipping (started before orders,
    # whose checkout reads shipping's methods) is told where orders will answer.
    late_orders = LateApp()
    orders_server = ServerThread(late_orders) if "orders" in TEST_SUBGRAPHS else None
    for name in TEST_SUBGRAPHS:
        overrides = {**common, **TEST_OVERRIDES.get(name, {})}
        if name in ("orders", "notifications"):
            overrides.update(peer_urls(stack))
        if name == "shipping" and orders_server is not None:
            overrides["orders_url"] = f"{orders_server.url}/graphql"
        if BOUNCER_PORT:
            overrides.update(database_url=through_bouncer(databases[name]), db_pgbouncer=True)
        settings = settings_for(name, **overrides).model_copy(update=BELOW_THE_FLOOR.get(name, {}))
        if name == "orders" and orders_server is not None:
            late_orders.app = create_subgraph_app(registry.load(name), settings)
            server = orders_server.start()
        else:
            server = start_service(registry.load(name), settings)
        stack.servers[name], stack.settings[name] = server, settings
        if name == "users":
            common["jwks_url"] = f"{server.url}/.well-known/jwks.json"
            common["service_token_url"] = f"{server.url}/oauth/token"
    yield stack
    await asyncio.gather(*(asyncio.to_thread(server.stop) for server in stack.servers.values()))


@pytest.fixture(scope="session")
async def engines(databases: dict[str, str]) -> AsyncIterator[dict[str, AsyncEngine]]:
    """An engine per service database for the whole session: the tests' own reads and writes, and the reset.
    One connection stays open per database; a few more open while a test needs them at once."""
    connect_args: dict[str, Any] = {"server_settings": {"application_name": "tests"}}
    if BOUNCER_PORT:
        connect_args.update(pgbouncer_safe())
    engines = {
        name: create_async_engine(through_bouncer(u), pool_size=1, max_overflow=4, connect_args=connect_args)
        for name, u in databases.items()
    }
    yield engines
    for engine in engines.values():
        await engine.dispose()


@pytest.fixture(scope="session")
def resets(engines: dict[str, AsyncEngine]) -> list[DatabaseReset]:
    return [DatabaseReset(engine) for engine in engines.values()]


@pytest.fixture(scope="session")
def reset(resets: list[DatabaseReset], redis: Redis) -> Callable[[], Awaitable[None]]:
    """What `api` does before each test, for a fixture that builds a module's own shop on the stack: rows and
    keys earlier tests of this worker left (analytics' sales of products since deleted) are not its."""
    return lambda: reset_state(resets, redis)


async def reset_state(resets: list[DatabaseReset], redis: Redis) -> None:
    """Empty every table (but Alembic's) of every database (db_reset.py) and this worker's Redis keys, all at
    once (the Redis scan waited for the databases: 5 ms more per test)."""
    await asyncio.gather(*(reset() for reset in resets), delete_keys(redis))


class GraphQLResponse:
    def __init__(self, http: httpx.Response) -> None:
        self.http = http
        self.status_code = http.status_code
        self.body: dict[str, Any] = http.json()

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.body.get("errors") or []

    @property
    def error_codes(self) -> list[str | None]:
        return [(error.get("extensions") or {}).get("code") for error in self.errors]

    def ok(self) -> Any:
        """The data of a response that must have no errors."""
        assert self.status_code == 200, self.body
        assert not self.errors, self.errors
        return self.data


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient, stack: Stack) -> None:
        self.http = http
        self.stack = stack

    async def __call__(
        self,
        service: str,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> GraphQLResponse:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        response = await self.http.post(
            f"{self.stack.url(service)}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=sent,
        )
        return GraphQLResponse(response)


@pytest.fixture
async def api(stack: Stack, resets: list[DatabaseReset], redis: Redis) -> AsyncIterator[Stack]:
    """The running stack, with every table and this worker's Redis keys emptied before the test."""
    await reset_state(resets, redis)
    yield stack


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    # Generous: a hundred concurrent orders on a loaded two-core machine took over 30 s once (the answers, not
    # their time, are what tests assert).
    async with httpx.AsyncClient(timeout=90) as client:
        yield client


@pytest.fixture
async def gql(api: Stack, http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http, api)


@pytest.fixture
def issuer(api: Stack) -> TokenIssuer:
    """Mints access tokens with the run's key ring (users signs with it), for any subject and roles."""
    settings = next(iter(api.settings.values()))
    keys = KeyRing.load(
        private_key_pem=None, keys_dir=settings.keys_dir, retired_public_pem=None, create=False
    )
    return TokenIssuer(keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl_seconds=900)


# MyShop's committed supergraph, as `myshop router` serves it.
SUPERGRAPH = (Path(__file__).resolve().parent.parent / "schema" / "supergraph.graphql").read_text()


@pytest.fixture(scope="module")
def start_router() -> Iterator[Callable[..., ServerThread]]:
    """`start_router(supergraph, **config)` serves `supergraph` as `myshop router` does (GraphiQL off unless
    asked), on a free loopback port; `app_options` go to `create_app`. Every router started stops after the
    module's tests (a test may stop one sooner)."""
    started: list[ServerThread] = []

    def start(supergraph: str, *, app_options: dict[str, Any] | None = None, **settings: Any) -> ServerThread:
        config = RouterConfig(**{"graphiql": False, **settings})
        app = create_app(build_gateway(supergraph, config), config, **(app_options or {}))
        server = ServerThread(app).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def myshop_router(stack: Stack, start_router: Callable[..., ServerThread]) -> ServerThread:
    """The router over MyShop's supergraph and this run's subgraphs."""
    return start_router(
        SUPERGRAPH, subgraph_urls={name: f"{s.url}/graphql" for name, s in stack.servers.items()}
    )
