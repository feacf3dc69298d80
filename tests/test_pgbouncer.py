"""MyShop behind Debian's PgBouncer in transaction mode (MYSHOP_DB_PGBOUNCER=true): a burst of order sagas,
the outbox relays and the event consumers all go through a PgBouncer of five server connections per database,
with no prepared-statement error and every count right.

Each process's pools ask PgBouncer for up to 20 connections; PostgreSQL sees at most `default_pool_size`
per database, which is the point of running many replicas through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eventually import eventually
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from myshop.servers import PgBouncer, pgbouncer_binary
from myshop.testing import scratch_database
from shared.app import create_subgraph_app
from shared.auth import KeyRing, TokenIssuer
from shared.auth.keys import generate_key_file
from shared.settings import ServiceSettings
from shared.testing import ServerThread
from subgraphs import registry

# `from conftest import` would find whichever conftest was imported last in a whole-suite run.
REDIS_PREFIX = os.environ["MYSHOP_REDIS_PREFIX"]
# The stack's patient saga and quick recovery (tests/conftest.py's TEST_OVERRIDES).
OVERRIDES: dict[str, dict[str, Any]] = {
    "orders": {"step_timeout_seconds": 10.0, "step_deadline_seconds": 20.0, "retry_max_seconds": 0.5}
}

SERVICES = ("products", "inventory", "payments", "analytics", "orders")
# PgBouncer's default_pool_size: server connections per database (small: the suite shares one server).
SERVER_POOL = 2
PRODUCTS, STOCK, ORDERS_PER_PRODUCT = 3, 5, 7  # 21 sagas at once race for 15 units


@pytest.fixture(scope="module")
def pgbouncer() -> Iterator[int]:
    """PgBouncer in transaction mode in front of the test server; yields its port."""
    if pgbouncer_binary() is None:
        pytest.skip("Debian's pgbouncer is not installed (make test installs it: apt-get install pgbouncer)")
    if make_url(os.environ["MYSHOP_POSTGRES_URL"]).host is None:
        pytest.skip("the test server is an embedded one on a Unix socket; PgBouncer here forwards TCP")
    directory = Path(tempfile.mkdtemp(prefix="myshop-pgbouncer-"))
    bouncer = PgBouncer(directory, os.environ["MYSHOP_POSTGRES_URL"], default_pool_size=SERVER_POOL)
    try:
        yield bouncer.start().port
    finally:
        bouncer.stop()
        shutil.rmtree(directory, ignore_errors=True)


class Bounced:
    """The services of this module, each on a scratch database reached through PgBouncer."""

    def __init__(self) -> None:
        self.servers: dict[str, ServerThread] = {}
        self.direct: dict[str, str] = {}

    def url(self, name: str) -> str:
        return self.servers[name].url


@pytest.fixture
async def bounced(pgbouncer: int, tmp_path: Path) -> AsyncIterator[Bounced]:
    server_url = os.environ["MYSHOP_POSTGRES_URL"]
    stack = Bounced()
    generate_key_file(tmp_path / "keys")
    redis_prefix = f"{REDIS_PREFIX}bouncer:{uuid.uuid4().hex[:6]}:"
    async with contextlib.AsyncExitStack() as exits:
        # One at a time: Alembic's migration context is a module global, so upgrades cannot overlap.
        for name in SERVICES:
            stack.direct[name] = await exits.enter_async_context(scratch_database(name, server_url))
        for name in SERVICES:
            database = make_url(stack.direct[name]).database
            overrides: dict[str, Any] = {
                **OVERRIDES.get(name, {}),
                "database_url": f"postgresql+asyncpg://postgres@127.0.0.1:{pgbouncer}/{database}",
                "db_pgbouncer": True,
                # Pools bigger than PgBouncer's: PostgreSQL must still see at most SERVER_POOL.
                "db_pool_size": 10,
                "db_max_overflow": 10,
                "data_dir": tmp_path,
                "jwks_url": "",
                "service_token_url": "",
                # Streams and consumer groups of their own: the session's stack may run beside.
                "redis_prefix": redis_prefix,
            }
            if name == "orders":
                overrides.update({f"{peer}_url": f"{stack.url(peer)}/graphql" for peer in stack.servers})
            settings: ServiceSettings = registry.load(name).settings_class(**overrides)
            stack.servers[name] = ServerThread(create_subgraph_app(registry.load(name), settings)).start()
        try:
            yield stack
        finally:
            await asyncio.gather(*(asyncio.to_thread(server.stop) for server in stack.servers.values()))
            redis = Redis.from_url(os.environ["MYSHOP_REDIS_URL"])
            keys = [key async for key in redis.scan_iter(match=f"{redis_prefix}*", count=1000)]
            if keys:
                await redis.unlink(*keys)
            await redis.aclose()


async def test_a_burst_of_sagas_relays_and_consumers_through_pgbouncer_in_transaction_mode(
    bounced: Bounced, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keys = KeyRing.load(
        private_key_pem=None, keys_dir=tmp_path / "keys", retired_public_pem=None, create=False
    )
    common = registry.load("orders").settings_class()
    issuer = TokenIssuer(keys, issuer=common.jwt_issuer, audience=common.jwt_audience, ttl_seconds=900)
    admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token
    # The checks' own engines hold no connection between checks: the suite shares one server (and two suites
    # run this test at the same moment).
    direct = {
        name: create_async_engine(
            url, poolclass=NullPool, connect_args={"server_settings": {"application_name": "tests-pgbouncer"}}
        )
        for name, url in bounced.direct.items()
    }
    caplog.set_level(logging.WARNING)
    async with httpx.AsyncClient(timeout=30) as http:
        gql = GraphQLClient(http, bounced)
        products = [await create_product(gql, admin) for _ in range(PRODUCTS)]
        watcher = asyncio.create_task(peak_server_connections(bounced.direct))

        placed = await asyncio.gather(
            *(place(gql, issuer, product) for product in products for _ in range(ORDERS_PER_PRODUCT))
        )

        watcher.cancel()
        peak = await watcher
    statuses = [order["status"] for order in placed]
    assert statuses.count("CONFIRMED") == PRODUCTS * STOCK
    assert statuses.count("CANCELLED") == PRODUCTS * (ORDERS_PER_PRODUCT - STOCK)
    for product in products:
        assert await scalar(direct["inventory"], STOCK_SQL, id=uuid.UUID(product)) == (0, 0)
    # The relays published everything; analytics' consumer saw every confirmation, inventory's every product.
    await eventually(lambda: unpublished(direct), lambda count: count == 0, what="every event published")
    await eventually(
        lambda: scalar(direct["analytics"], "SELECT count(confirmed_at) FROM order_facts"),
        lambda count: count == PRODUCTS * STOCK,
        what="analytics' consumer saw every confirmation",
    )
    assert max(peak.values()) <= SERVER_POOL, peak
    assert not [r for r in caplog.records if "prepared statement" in r.getMessage().lower()]
    for engine in direct.values():
        await engine.dispose()


class GraphQLClient:
    """POSTs a document to one of the module's services; `.ok()` is the data of an answer without errors."""

    def __init__(self, http: httpx.AsyncClient, stack: Bounced) -> None:
        self.http, self.stack = http, stack

    async def __call__(self, service: str, query: str, variables: dict[str, Any], *, token: str) -> Answer:
        response = await self.http.post(
            f"{self.stack.url(service)}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        return Answer(response.json())


class Answer:
    def __init__(self, body: dict[str, Any]) -> None:
        self.data, self.errors = body.get("data"), body.get("errors") or []

    @property
    def error_codes(self) -> list[str | None]:
        return [(error.get("extensions") or {}).get("code") for error in self.errors]

    def ok(self) -> Any:
        assert not self.errors, self.errors
        return self.data


CREATE_PRODUCT = "mutation C($input: CreateProductInput!) { createProduct(input: $input) { id } }"
ADJUST = (
    'mutation A($id: ID!, $delta: Int!) { adjustStock(productId: $id, delta: $delta, reason: "t") { id } }'
)
PLACE = "mutation P($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }"
# Every unit sold: none left on hand, none reserved.
STOCK_SQL = (
    "SELECT coalesce(sum(delta_on_hand), 0), coalesce(sum(delta_reserved), 0) "
    "FROM stock_movements WHERE variant_id = :id"
)


async def create_product(gql: GraphQLClient, admin: str) -> str:
    sku = f"PGB-{uuid.uuid4().hex[:10].upper()}"
    product = {"sku": sku, "name": sku, "description": "", "price": {"amount": 500, "currency": "USD"}}
    created = (
        await gql("products", CREATE_PRODUCT, {"input": {**product, "category": "Tests"}}, token=admin)
    ).ok()
    product_id = created["createProduct"]["id"]
    (await gql("inventory", ADJUST, {"id": product_id, "delta": STOCK}, token=admin)).ok()
    return product_id


async def place(gql: GraphQLClient, issuer: TokenIssuer, product: str) -> dict[str, Any]:
    token = issuer.issue(str(uuid.uuid4()), ["CUSTOMER"]).token
    order = {"items": [{"productId": product, "quantity": 1}], "paymentMethod": "tok_approve"}
    answer = await gql("orders", PLACE, {"input": {**order, "idempotencyKey": uuid.uuid4().hex}}, token=token)
    if answer.errors:  # the losers of the race: told so, their order cancelled
        assert answer.error_codes == ["OUT_OF_STOCK"], answer.errors
        return {"status": answer.errors[0]["extensions"]["status"]}
    return answer.ok()["placeOrder"]


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        row = (await conn.execute(text(sql), params)).one()
    return row[0] if len(row) == 1 else tuple(row)


async def unpublished(direct: dict[str, AsyncEngine]) -> int:
    counts = [
        await scalar(engine, "SELECT count(*) FROM outbox WHERE published_at IS NULL")
        for name, engine in direct.items()
        if name != "analytics"
    ]
    return sum(counts)


async def peak_server_connections(direct: dict[str, str]) -> dict[str, int]:
    """The most connections PostgreSQL saw on each database until cancelled."""
    databases = [make_url(url).database for url in direct.values()]
    peak = dict.fromkeys(databases, 0)
    engine = create_async_engine(os.environ["MYSHOP_POSTGRES_URL"], pool_size=1)
    sql = text("SELECT datname, count(*) FROM pg_stat_activity WHERE datname = ANY(:names) GROUP BY datname")
    try:
        async with engine.connect() as conn:
            while True:
                for name, count in (await conn.execute(sql, {"names": databases})).all():
                    peak[name] = max(peak[name], count)
                await asyncio.sleep(0.02)
    except asyncio.CancelledError:
        return peak
    finally:
        await engine.dispose()
