"""Hot reads on the driver (shared.db.PreparedRead): in a query's reading session a kept statement runs on
asyncpg, with the rows SQLAlchemy would give; anywhere else, and for any statement that needs SQLAlchemy at
execution, it runs through the session as any statement."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import (
    ARRAY,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    any_,
    bindparam,
    event,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase
from test_db_checkout import terminate_backends

from shared.db import (
    PreparedRead,
    ReadingSession,
    ReadOnlyViolation,
    create_engine,
    create_sessionmaker,
    reading_only,
)
from shared.testing import emptied_tables, scratch_database
from shared.unreachable import unavailable

metadata = MetaData()
items = Table("items", metadata, Column("id", Integer, primary_key=True), Column("name", String(20)))

# The names of items over a minimum, with a constant of the statement's own (`tag`) beside each.
OVER = (
    select(items.c.id, items.c.name, literal("kept").label("tag"))
    .where(items.c.id > bindparam("minimum"))
    .order_by(items.c.id)
)


class Base(DeclarativeBase):
    pass


class Item(Base):
    __table__ = items


@pytest.fixture(scope="module")
async def scratch_url() -> AsyncIterator[str]:
    """The module's scratch database with its table; each test empties and fills it again (`engine`)."""
    async with scratch_database("prepared", os.environ["MYSHOP_POSTGRES_URL"]) as url:
        setup = create_engine(url, pool_size=1, max_overflow=0)
        async with setup.begin() as connection:
            await connection.run_sync(metadata.create_all)
        await setup.dispose()
        yield url


@pytest.fixture
async def engine(scratch_url: str) -> AsyncIterator[AsyncEngine]:
    await emptied_tables(scratch_url, [table.name for table in metadata.sorted_tables])
    # One connection: a read that took a second one while its session holds the first would wait forever.
    engine = create_engine(scratch_url, pool_size=1, max_overflow=0)
    async with engine.begin() as connection:
        await connection.execute(insert(items), [{"id": n, "name": f"item {n}"} for n in range(1, 6)])
    try:
        yield engine
    finally:
        await engine.dispose()


def statements_seen(engine: AsyncEngine) -> list[str]:
    """Every statement SQLAlchemy itself sends on `engine` from now on."""
    seen: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


async def test_a_reading_session_runs_it_on_the_driver_with_the_rows_sqlalchemy_gives(
    engine: AsyncEngine,
) -> None:
    # Given a query's reading session, and what SQLAlchemy answers for the statement
    reading = create_sessionmaker(reading_only(engine), reading=True)
    async with create_sessionmaker(engine)() as session:
        expected = [tuple(row) for row in (await session.execute(OVER, {"minimum": 2})).all()]
    seen = statements_seen(engine)
    prepared = PreparedRead(OVER)

    # When it reads, twice with other values
    async with reading() as session:
        assert isinstance(session, ReadingSession)
        first = await prepared.rows(session, {"minimum": 2})
        second = await prepared.rows(session, {"minimum": 4})
        # Then the driver ran it (SQLAlchemy sent nothing), no connection is held between statements, and
        # no SQLAlchemy session was made for it
        assert seen == []
        assert engine.sync_engine.pool.checkedout() == 0
        assert not session.opened
        assert not session.sync_session.in_transaction()

    # And the rows are SQLAlchemy's, indexed alike, with the statement's own constant
    assert (
        [tuple(row) for row in first]
        == expected
        == [(3, "item 3", "kept"), (4, "item 4", "kept"), (5, "item 5", "kept")]
    )
    assert [(row[0], row[2]) for row in second] == [(5, "kept")]


async def test_a_reading_session_makes_its_sqlalchemy_session_when_a_statement_needs_it(
    engine: AsyncEngine,
) -> None:
    # Given a query's reading session that read on the driver only
    reading = create_sessionmaker(reading_only(engine), reading=True)
    async with reading() as session:
        await PreparedRead(OVER).rows(session, {"minimum": 4})
        assert not session.opened

        # When an ORM statement runs in it, and then a prepared read again
        item = await session.get(Item, 2)
        rows = await PreparedRead(select(text("pg_backend_pid()"))).rows(session, {})

        # Then its session is made, as constructed (its bind, autoflush), and reads on its own connection
        assert session.opened and item is not None and item.name == "item 2"
        assert session.bind is reading.kw["bind"] and session.autoflush
        assert rows[0][0] == await session.scalar(text("SELECT pg_backend_pid()"))
    # And closing it returns that connection
    assert engine.sync_engine.pool.checkedout() == 0


async def test_elsewhere_it_runs_through_the_session(engine: AsyncEngine) -> None:
    # Given a session of a transaction (a mutation's), and one for reads with a change not yet flushed
    seen = statements_seen(engine)
    prepared = PreparedRead(OVER)
    async with create_sessionmaker(engine)() as session, session.begin():
        # When it reads in the transaction
        rows = await prepared.rows(session, {"minimum": 4})
        # Then SQLAlchemy sent it, in the transaction
        assert [row[0] for row in rows] == [5]
        assert len(seen) == 1 and session.in_transaction()

    async with create_sessionmaker(reading_only(engine), reading=True)() as session:
        session.add(Item(id=9, name="pending"))
        # When it reads with a change pending, the session flushes it first (autoflush), as any statement:
        # here the reading session refuses the write
        with pytest.raises(ReadOnlyViolation):
            await prepared.rows(session, {"minimum": 4})


async def test_parameters_are_converted_by_their_types_on_the_driver_too(engine: AsyncEngine) -> None:
    # Given a statement taking an array (one parameter whatever the number of ids), in a reading session
    among = (
        select(items.c.id)
        .where(items.c.id == any_(bindparam("ids", type_=ARRAY(Integer))))
        .order_by(items.c.id)
    )
    seen = statements_seen(engine)
    async with create_sessionmaker(reading_only(engine), reading=True)() as session:
        # When it runs with ids of several numbers
        two = await PreparedRead(among).rows(session, {"ids": (2, 4)})
        none = await PreparedRead(among).rows(session, {"ids": []})

    # Then the driver ran it, the ids converted as SQLAlchemy would
    assert [row[0] for row in two] == [2, 4] and none == []
    assert seen == []


async def test_a_session_holding_a_connection_reads_on_that_one(engine: AsyncEngine) -> None:
    # Given a reading session that already read through SQLAlchemy, holding the pool's only connection
    async with create_sessionmaker(reading_only(engine), reading=True)() as session:
        own = await session.scalar(text("SELECT pg_backend_pid()"))
        assert engine.sync_engine.pool.checkedout() == 1

        # When a prepared read runs in it
        rows = await asyncio.wait_for(
            PreparedRead(select(text("pg_backend_pid()"))).rows(session, {}), timeout=10
        )

    # Then it ran on that connection, not waiting for another
    assert rows[0][0] == own


async def test_statements_that_need_sqlalchemy_at_execution_run_through_it(engine: AsyncEngine) -> None:
    # Given a statement expanding a list into the SQL (`IN`), in a reading session
    expanding = (
        select(items.c.id).where(items.c.id.in_(bindparam("ids", expanding=True))).order_by(items.c.id)
    )
    seen = statements_seen(engine)
    async with create_sessionmaker(reading_only(engine), reading=True)() as session:
        # When it runs
        rows = await PreparedRead(expanding).rows(session, {"ids": [2, 4]})

    # Then SQLAlchemy ran it, with the right rows
    assert [row[0] for row in rows] == [2, 4]
    assert len(seen) == 1


async def test_a_write_prepared_as_a_read_is_refused_before_the_server_sees_it(engine: AsyncEngine) -> None:
    # Given a statement that writes
    write = insert(items).values(id=bindparam("id"), name="written").returning(items.c.id)

    # When it runs as a prepared read in a reading session
    async with create_sessionmaker(reading_only(engine), reading=True)() as session:
        with pytest.raises(ReadOnlyViolation):
            await PreparedRead(write).rows(session, {"id": 7})

    # Then nothing was written
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM items WHERE id = 7")) == 0


async def test_a_connection_the_server_cut_is_dropped_and_the_next_read_works(engine: AsyncEngine) -> None:
    # Given the pool's only connection, used once, then terminated by the server mid-idle
    reading = create_sessionmaker(reading_only(engine), reading=True)
    prepared = PreparedRead(select(text("pg_backend_pid()")))
    async with reading() as session:
        first: Any = (await prepared.rows(session, {}))[0][0]
    assert await terminate_backends(engine.url.render_as_string(hide_password=False)) >= 1

    # When reads run again
    async with reading() as session:
        try:
            again: Any = (await prepared.rows(session, {}))[0][0]
        except Exception as exc:  # the checkout check may not have seen it yet: a cut off, said as one
            assert unavailable(exc)
            again = (await prepared.rows(session, {}))[0][0]

    # Then a new connection answers
    assert again != first
    assert engine.sync_engine.pool.checkedout() == 0


async def test_an_overflow_connection_goes_back_closed_without_error(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a pool of one connection and one more in overflow, which is closed when it comes back
    url = engine.url.render_as_string(hide_password=False)
    overflowing = create_engine(url, pool_size=1, max_overflow=1)
    reading = create_sessionmaker(reading_only(overflowing), reading=True)
    slow = PreparedRead(select(text("pg_sleep(0.2)")))

    async def read() -> None:
        async with reading() as session:
            await slow.rows(session, {})

    try:
        # When two reads run at once, twice
        for _ in range(2):
            await asyncio.gather(read(), read())

        # Then both connections came back: the overflow one closed, with no error
        pool = overflowing.sync_engine.pool
        assert pool.checkedout() == 0 and pool.overflow() <= 0  # type: ignore[attr-defined]
        assert not [r for r in caplog.records if "Exception closing connection" in r.getMessage()]
    finally:
        await overflowing.dispose()
