"""The per-test reset (tests/db_reset.py): every table emptied, children first, races retried."""

from __future__ import annotations

import asyncio
import os

from db_reset import DatabaseReset
from eventually import eventually
from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.testing import scratch_database

TABLES = ("customers", "orders")
SCHEMA = [
    "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)",
    "CREATE TABLE customers (id int PRIMARY KEY, referrer int REFERENCES customers (id))",
    "CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL REFERENCES customers (id))",
    "CREATE TABLE lines (id int PRIMARY KEY, ord int NOT NULL REFERENCES orders (id))",
    "INSERT INTO alembic_version VALUES ('head')",
    "INSERT INTO customers VALUES (1, NULL), (2, 1)",
    "INSERT INTO orders VALUES (10, 2)",
    "INSERT INTO lines VALUES (100, 10), (101, 10)",
]


async def test_a_reset_empties_every_table_through_the_foreign_keys_and_keeps_alembics() -> None:
    async with scratch_database("reset", os.environ["MYSHOP_POSTGRES_URL"]) as url:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        try:
            async with engine.begin() as conn:
                for statement in SCHEMA:
                    await conn.execute(text(statement))

            await DatabaseReset(engine)()

            async with engine.connect() as conn:
                counts = {
                    table: await conn.scalar(text(f"SELECT count(*) FROM {table}"))
                    for table in ("customers", "orders", "lines", "alembic_version")
                }
        finally:
            await engine.dispose()

    assert counts == {"customers": 0, "orders": 0, "lines": 0, "alembic_version": 1}


async def test_a_row_written_meanwhile_that_points_at_a_parent_makes_the_reset_try_again() -> None:
    async with scratch_database("reset", os.environ["MYSHOP_POSTGRES_URL"]) as url:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        try:
            async with engine.begin() as conn:
                for statement in SCHEMA:
                    await conn.execute(text(statement))
            # Given a writer (a consumer of the stack, say) that added an order for customer 1, not committed
            async with engine.connect() as writer:
                await writer.execute(text("INSERT INTO orders VALUES (11, 1)"))

                # When a reset runs meanwhile: it empties orders (not seeing 11), then waits for customer 1
                reset = asyncio.create_task(DatabaseReset(engine)())
                await eventually(lambda: blocked_on_a_lock(engine), what="the reset waiting for the writer")
                await writer.commit()  # and the writer commits: customer 1 is still pointed at
                await asyncio.wait_for(reset, 30)

            # Then the reset went round again and left nothing behind
            async with engine.connect() as conn:
                counts = [await conn.scalar(text(f"SELECT count(*) FROM {t}")) for t in TABLES]
        finally:
            await engine.dispose()

    assert counts == [0, 0]


async def blocked_on_a_lock(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        waiting = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE '%DELETE FROM%'"
            )
        )
    return bool(waiting)
