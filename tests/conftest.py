"""Test fixtures: real PostgreSQL and Redis, one database per service per test run, real HTTP servers.

Every test run gets its own database names (`myshop_t<run>_<service>`) and Redis key prefix, built with
`alembic upgrade head` and dropped at the end, so runs never see each other's data.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

RUN_ID = uuid.uuid4().hex[:8]
_DATA_DIR = Path(tempfile.mkdtemp(prefix=f"myshop-test-{RUN_ID}-"))

# Before any settings object is built: everything this run touches is its own.
os.environ.setdefault("MYSHOP_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
os.environ.setdefault("MYSHOP_REDIS_URL", "redis://127.0.0.1:6379/0")
# Where no PostgreSQL or Redis answers, the tests use embedded ones, as `myshop up` does.
from myshop.embedded import ensure_infrastructure  # noqa: E402

_INFRA = ensure_infrastructure(
    os.environ["MYSHOP_POSTGRES_URL"],
    os.environ["MYSHOP_REDIS_URL"],
    Path(__file__).resolve().parent.parent / ".myshop" / "test-servers",
    log=lambda line: print(f"[tests] {line}"),
)
os.environ["MYSHOP_POSTGRES_URL"], os.environ["MYSHOP_REDIS_URL"] = _INFRA.postgres_url, _INFRA.redis_url
os.environ["MYSHOP_DATABASE_PREFIX"] = f"myshop_t{RUN_ID}_"
os.environ["MYSHOP_REDIS_PREFIX"] = f"test:{RUN_ID}:"
os.environ["MYSHOP_DATA_DIR"] = str(_DATA_DIR)
os.environ["MYSHOP_ENV"] = "test"
os.environ["MYSHOP_LOG_JSON"] = "false"
os.environ["MYSHOP_LOG_LEVEL"] = "WARNING"
# Tests never mail a real server: nothing listens on port 9 (tests/notifications points it at its own).
os.environ["MYSHOP_NOTIFICATIONS_SMTP_PORT"] = "9"

from myshop import migrations  # noqa: E402
from shared.app import SubgraphDefinition, create_subgraph_app  # noqa: E402
from shared.auth import KeyRing, TokenIssuer  # noqa: E402
from shared.auth.keys import generate_key_file  # noqa: E402
from shared.settings import ServiceSettings  # noqa: E402
from shared.testing import ServerThread  # noqa: E402
from subgraphs import registry  # noqa: E402

# `MYSHOP_TEST_SUBGRAPHS=users` runs a subset (for working on one service); all of them by default.
TEST_SUBGRAPHS: tuple[str, ...] = tuple(
    name for name in os.environ.get("MYSHOP_TEST_SUBGRAPHS", ",".join(registry.SUBGRAPHS)).split(",") if name
)


# Timings of the stack's services in tests.
TEST_OVERRIDES: dict[str, dict[str, Any]] = {
    # Reads and searches reach the outbox within a quarter second.
    "products": {"activity_flush_seconds": 0.25},
    # `tok_timeout` hangs past what an impatient saga waits (tests/orders/conftest.py), not for minutes.
    "payments": {"sandbox_hang_seconds": 5.0},
    # Patient steps (a loaded CI machine must not fail a saga), quick retries and recovery.
    "orders": {
        "step_timeout_seconds": 10.0,
        "step_deadline_seconds": 20.0,
        "retry_max_seconds": 0.5,
        "saga_lease_seconds": 3.0,
        "recovery_interval_seconds": 0.5,
    },
}


def peer_urls(stack: Stack) -> dict[str, str]:
    """The GraphQL URLs orders and notifications call, pointing at this run's servers."""
    return {
        f"{name}_url": f"{stack.url(name)}/graphql"
        for name in ("users", "products", "inventory", "payments")
        if name in stack.servers
    }


def settings_for(name: str, **overrides: Any) -> ServiceSettings:
    return registry.load(name).settings_class(**overrides)


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    yield _DATA_DIR
    shutil.rmtree(_DATA_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
async def databases() -> AsyncIterator[dict[str, str]]:
    """Every service's database, created and migrated to head; dropped after the run."""
    urls: dict[str, str] = {}
    for name in TEST_SUBGRAPHS:
        settings = settings_for(name)
        await migrations.ensure_database(settings.postgres_url, settings.database_name)
        await migrations.upgrade_async(name, settings.effective_database_url)
        urls[name] = settings.effective_database_url
    yield urls
    for name in TEST_SUBGRAPHS:
        settings = settings_for(name)
        await migrations.drop_database(settings.postgres_url, settings.database_name)


@pytest.fixture(scope="session")
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(os.environ["MYSHOP_REDIS_URL"])
    yield client
    keys = [key async for key in client.scan_iter(match=f"test:{RUN_ID}:*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


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


@pytest.fixture(scope="session")
async def stack(databases: dict[str, str], redis: Redis, data_dir: Path) -> AsyncIterator[Stack]:
    stack = Stack()
    # The run's signing key exists before any server starts: the users server signs with it, and when users is
    # not part of the run the others verify with it directly (an empty JWKS URL means "the local key ring").
    generate_key_file(data_dir / "keys")
    common: dict[str, Any] = {"jwks_url": "", "service_token_url": ""}
    for name in TEST_SUBGRAPHS:
        overrides = {**common, **TEST_OVERRIDES.get(name, {})}
        if name in ("orders", "notifications"):
            overrides.update(peer_urls(stack))
        settings = settings_for(name, **overrides)
        server = start_service(registry.load(name), settings)
        stack.servers[name], stack.settings[name] = server, settings
        if name == "users":
            common["jwks_url"] = f"{server.url}/.well-known/jwks.json"
            common["service_token_url"] = f"{server.url}/oauth/token"
    yield stack
    for server in reversed(stack.servers.values()):
        await asyncio.to_thread(server.stop)


async def reset_state(databases: dict[str, str], redis: Redis) -> None:
    """Empty every table (but Alembic's) and this run's Redis keys."""
    for url in databases.values():
        engine = create_async_engine(url)
        try:
            await _truncate_all(engine)
        finally:
            await engine.dispose()
    keys = [key async for key in redis.scan_iter(match=f"test:{RUN_ID}:*", count=1000)]
    if keys:
        await redis.delete(*keys)


async def _truncate_all(engine: AsyncEngine, attempts: int = 5) -> None:
    # The stack's background workers (consumers, relays) write while a test starts: PostgreSQL may pick this
    # TRUNCATE as a deadlock's victim, which only means "try again".
    for attempt in range(attempts):
        try:
            async with engine.begin() as conn:
                tables = (
                    await conn.execute(
                        text(
                            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                            "AND tablename <> 'alembic_version'"
                        )
                    )
                ).scalars()
                names = ", ".join(f'"{t}"' for t in tables)
                if names:
                    await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            return
        except DBAPIError as exc:
            if "deadlock detected" not in str(exc) or attempt == attempts - 1:
                raise
            await asyncio.sleep(0.1 * (attempt + 1))


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
async def api(stack: Stack, databases: dict[str, str], redis: Redis) -> AsyncIterator[Stack]:
    """The running stack, with every table and this run's Redis keys emptied before the test."""
    await reset_state(databases, redis)
    yield stack


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
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
