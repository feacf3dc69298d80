"""The pool's checkout check (shared.db.check_checkouts): no round trip for a connection used recently, a real
ping after a long idle, and never a connection the server closed; directly and through PgBouncer."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine
from shared.testing import scratch_database

BACKEND_PID = text("SELECT pg_backend_pid()")


@pytest.fixture
async def database() -> AsyncIterator[str]:
    async with scratch_database("checkout", os.environ["MYSHOP_POSTGRES_URL"]) as url:
        yield url


def bounced(url: str) -> str:
    port = os.environ.get("MYSHOP_TESTS_PGBOUNCER_PORT")
    if not port:
        pytest.skip("the run has no PgBouncer (Debian's pgbouncer missing, or an embedded server)")
    return make_url(url).set(host="127.0.0.1", port=int(port)).render_as_string(hide_password=False)


def engine_of(url: str, *, pgbouncer: bool = False, ping_after_idle: float = 10.0) -> AsyncEngine:
    return create_engine(
        url, pool_size=1, max_overflow=0, pgbouncer=pgbouncer, ping_after_idle=ping_after_idle
    )


async def terminate_backends(url: str) -> int:
    """Terminates every other backend of the database (waiting until each is gone); returns how many."""
    direct = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(direct)
    try:
        return len(
            await admin.fetch(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    finally:
        await admin.close()


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every real ping the pool sends (SQLAlchemy's asyncpg adapter: BEGIN, `;`, ROLLBACK)."""
    sent: list[object] = []
    ping = AsyncAdapt_asyncpg_connection.ping

    def counted(self: AsyncAdapt_asyncpg_connection) -> None:
        sent.append(self)
        ping(self)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counted)
    return sent


async def _three_checkouts(engine: AsyncEngine) -> None:
    """Three checkouts of the pool's one connection, each reading, then the engine disposed."""
    try:
        for _ in range(3):
            async with engine.connect() as conn:
                assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()


async def test_a_connection_used_recently_is_handed_out_without_a_round_trip(
    database: str, pings: list[object]
) -> None:
    await _three_checkouts(engine_of(database))
    assert pings == []


async def test_a_connection_idle_past_the_limit_is_pinged_before_it_is_handed_out(
    database: str, pings: list[object]
) -> None:
    await _three_checkouts(engine_of(database, ping_after_idle=0.0))
    # The first checkout opened the connection: nothing to check.
    assert len(pings) == 2


@pytest.mark.parametrize("ping_after_idle", [10.0, 0.0], ids=["socket-check", "ping"])
async def test_a_connection_the_server_terminated_is_not_handed_out(
    database: str, ping_after_idle: float
) -> None:
    engine = engine_of(database, ping_after_idle=ping_after_idle)
    try:
        async with engine.connect() as conn:
            terminated = await conn.scalar(BACKEND_PID)
        assert await terminate_backends(database) == 1
        async with engine.connect() as conn:
            assert await conn.scalar(BACKEND_PID) != terminated
    finally:
        await engine.dispose()


@pytest.mark.parametrize("ping_after_idle", [10.0, 0.0], ids=["socket-check", "ping"])
async def test_through_pgbouncer_in_transaction_mode_checkouts_survive_terminated_servers(
    database: str, ping_after_idle: float
) -> None:
    engine = engine_of(bounced(database), pgbouncer=True, ping_after_idle=ping_after_idle)
    try:
        for _ in range(3):
            async with engine.connect() as conn:
                assert await conn.scalar(text("SELECT 1")) == 1
            await terminate_backends(database)
        async with engine.begin() as conn:
            assert await conn.scalar(text("SELECT 2")) == 2
    finally:
        await engine.dispose()
