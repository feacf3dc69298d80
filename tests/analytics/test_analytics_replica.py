"""Analytics on a real streaming replica: a PostgreSQL primary and hot standby of this module's own
(`myshop.servers`), the consumer writing to the primary and reports reading the standby; with replay paused,
readiness and metrics report the lag, and reports either wait for the replica (within the limit) or read the
primary (past it)."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from analytics_helpers import EVER, SALES, AnalyticsServer, money, order_event, quick_settings
from eventually import eventually
from redis.asyncio import Redis
from sqlalchemy import pool, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from myshop.servers import Postgres, ServerError, postgres_bindir
from myshop.testing import scratch_database
from shared.app import create_subgraph_app
from shared.auth import KeyRing, TokenIssuer
from shared.auth.keys import generate_key_file
from shared.testing import ServerThread
from subgraphs.analytics.app import definition
from subgraphs.analytics.settings import AnalyticsSettings


@pytest.fixture(scope="module")
def standby(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    """A hot standby streaming from a primary of its own (`standby.primary`)."""
    try:
        postgres_bindir()
    except ServerError as exc:
        pytest.skip(str(exc))
    primary = Postgres(tmp_path_factory.mktemp("replica") / "primary")
    standby = primary.standby()
    try:
        primary.start()
        yield standby.start()
    finally:
        standby.close()
        primary.close()


@pytest.fixture(scope="module")
def admin_keys() -> Iterator[Path]:
    """A data directory with a signing key of the module's own (no need for the run's stack)."""
    with tempfile.TemporaryDirectory(prefix="myshop-replica-") as data_dir:
        generate_key_file(Path(data_dir) / "keys")
        yield Path(data_dir)


class Replicated:
    """An analytics server consuming into a database on the primary and reporting from its standby copy."""

    def __init__(self, server: AnalyticsServer, standby: AsyncEngine) -> None:
        self.server = server
        self.standby = standby

    async def confirmed_orders(self) -> tuple[int, Any]:
        summary = (await self.server.query(SALES, EVER))["salesSummary"]
        return summary["confirmedOrders"], summary["grossRevenue"]

    async def order(self, amount: int) -> None:
        """An order confirmed, applied by the consumer to the primary."""
        lines = [(str(uuid.uuid4()), 1, amount)]
        await self.server.publish(order_event("OrderConfirmed", str(uuid.uuid4()), items=lines))
        await self.server.caught_up("orders", within=10)

    async def readiness(self) -> tuple[int, dict[str, Any]]:
        response = await self.server.http.get(f"{self.server.url}/health/ready")
        return response.status_code, response.json()["checks"]["read_database"]

    async def gauge(self, name: str) -> float:
        text_ = (await self.server.http.get(f"{self.server.url}/metrics")).text
        found = re.search(rf"^{name} (\S+)$", text_, re.MULTILINE)
        assert found, f"{name} not in /metrics"
        return float(found.group(1))

    async def replay(self, paused: bool) -> None:
        async with self.standby.connect() as conn:
            await conn.execute(text(f"SELECT pg_wal_replay_{'pause' if paused else 'resume'}()"))


@pytest.fixture
async def start(
    standby: Postgres, admin_keys: Path, redis: Redis, http: httpx.AsyncClient
) -> AsyncIterator[Any]:
    keys = KeyRing.load(
        private_key_pem=None, keys_dir=admin_keys / "keys", retired_public_pem=None, create=False
    )
    defaults = AnalyticsSettings()
    admin = TokenIssuer(keys, issuer=defaults.jwt_issuer, audience=defaults.jwt_audience, ttl_seconds=900)
    async with AsyncExitStack() as exits:

        async def launch(**overrides: Any) -> Replicated:
            assert standby.primary is not None
            primary_url = await exits.enter_async_context(scratch_database("analytics", standby.primary.url))
            standby_url = standby.database_url(make_url(primary_url).database or "")
            replica = create_async_engine(standby_url, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
            exits.push_async_callback(replica.dispose)
            exits.push_async_callback(_resume, replica)  # a failed test must not leave replay paused
            prefix = f"{os.environ['MYSHOP_REDIS_PREFIX']}replica-{uuid.uuid4().hex[:8]}:"
            overrides = {"replica_check_seconds": 0.2, **overrides}
            settings = quick_settings(
                primary_url, prefix, read_database_url=standby_url, data_dir=admin_keys, **overrides
            )
            server = ServerThread(create_subgraph_app(definition, settings)).start()
            exits.push_async_callback(asyncio.to_thread, server.stop)
            engine = create_async_engine(primary_url, poolclass=pool.NullPool)
            exits.push_async_callback(engine.dispose)
            token = admin.issue(str(uuid.uuid4()), ["ADMIN"]).token
            sessions = async_sessionmaker(engine, expire_on_commit=False)
            return Replicated(AnalyticsServer(server.url, prefix, sessions, redis, http, token), replica)

        yield launch


async def _resume(standby: AsyncEngine) -> None:
    async with standby.connect() as conn:
        await conn.execute(text("SELECT pg_wal_replay_resume()"))


async def test_reports_read_the_replica_and_readiness_reports_its_lag(start: Any) -> None:
    shop: Replicated = await start(max_replica_lag_seconds=3600)
    await shop.order(1250)
    await eventually(
        shop.confirmed_orders, lambda seen: seen[0] == 1, within=10, what="the replica caught up"
    )
    status, check = await eventually(shop.readiness, lambda r: r[1].get("lag_bytes") == 0, within=10)
    assert (status, check["status"], check["replica"], check["standby"]) == (200, "ok", "current", True)
    assert (check["reads_from"], check["lag_seconds"]) == ("replica", 0)

    # Replay paused: the primary has the next order, the replica receives its WAL and keeps it unapplied.
    await shop.replay(paused=True)
    await shop.order(700)
    status, check = await eventually(
        shop.readiness, lambda r: r[1]["lag_bytes"] > 0 and r[1]["lag_seconds"] > 0, within=10
    )
    assert (status, check["status"], check["replica"], check["replay_paused"]) == (
        200,
        "ok",
        "current",
        True,
    )
    assert await shop.gauge("myshop_analytics_replica_lag_seconds") > 0
    assert await shop.gauge("myshop_analytics_replica_lag_bytes") > 0
    # Within the limit, reports keep reading the replica: the second order is not there yet.
    assert await shop.confirmed_orders() == (1, money((1250, "USD")))

    await shop.replay(paused=False)
    status, check = await eventually(shop.readiness, lambda r: r[1]["lag_bytes"] == 0, within=10)
    assert (status, check["lag_seconds"], check["replay_paused"]) == (200, 0, False)
    assert await shop.confirmed_orders() == (2, money((1950, "USD")))
    assert await shop.gauge("myshop_analytics_replica_lag_seconds") == 0


async def test_past_the_lag_limit_reports_read_the_primary_and_say_so(start: Any) -> None:
    shop: Replicated = await start(max_replica_lag_seconds=0.3)
    await shop.order(1250)
    await eventually(shop.confirmed_orders, lambda seen: seen[0] == 1, within=10)

    await shop.replay(paused=True)
    await shop.order(700)
    status, check = await eventually(shop.readiness, lambda r: r[1]["replica"] == "lagging", within=10)

    # Still ready (the answers are right), but the check and the metrics say where reports read and why.
    assert (status, check["status"], check["reads_from"]) == (200, "ok", "primary")
    assert check["lag_seconds"] > 0.3
    assert await shop.gauge("myshop_analytics_reports_from_primary") == 1
    assert await shop.confirmed_orders() == (2, money((1950, "USD")))

    await shop.replay(paused=False)
    await eventually(shop.readiness, lambda r: r[1]["replica"] == "current", within=10)
    assert await shop.gauge("myshop_analytics_reports_from_primary") == 0


async def test_reports_read_the_primary_while_the_replica_is_down(start: Any, standby: Postgres) -> None:
    # The watcher looks once a minute: only the report's own fallback keeps the first report from failing.
    shop: Replicated = await start(replica_check_seconds=60)
    await shop.order(1250)
    await eventually(shop.confirmed_orders, lambda seen: seen[0] == 1, within=10)

    await asyncio.to_thread(standby.stop)
    try:
        assert await shop.confirmed_orders() == (1, money((1250, "USD")))
        status, check = await shop.readiness()
        assert (status, check["status"], check["replica"], check["reads_from"]) == (
            200,
            "ok",
            "unreachable",
            "primary",
        )
        assert await shop.gauge("myshop_analytics_replica_up") == 0
    finally:
        # From this thread, not a worker thread: the server gets SIGTERM when the thread that started it ends.
        standby.start()
    status, check = await eventually(shop.readiness, lambda r: r[1]["replica"] == "current", within=10)
    assert await shop.gauge("myshop_analytics_replica_up") == 1
