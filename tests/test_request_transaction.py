"""The request's transaction (shared/graphql_lifecycle.py `RequestLifecycle`, shared/context.py `Context`):
whatever ends an operation (a failed field, a cancelled request), its session goes back to the pool, and no
session opens after the request's end. A session never closed holds its connection until the garbage collector
terminates it ("The garbage collector is trying to clean up non-checked-in connection", seen in the fuzz)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from typing import Any

import pytest
import strawberry
from eventually import eventually
from in_process import request_context
from sqlalchemy import text

from shared.app import SubgraphDefinition, build_runtime, close_runtime
from shared.context import RequestEnded, Runtime
from shared.graphql import build_schema
from shared.settings import ServiceSettings
from subgraphs import registry


def _products_pool(api: Any) -> Any:
    return api.servers["products"].server.config.app.state.runtime.engine.pool


def _collected_connections(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What SQLAlchemy's pool logged of connections the garbage collector had to terminate."""
    gc.collect()
    return [
        r.getMessage() for r in caplog.records if "garbage collector is trying to clean up" in r.getMessage()
    ]


@pytest.fixture
async def products_runtime(api: Any) -> AsyncIterator[Runtime[Any]]:
    """The products service's runtime in the test's own event loop, for operations executed in process."""
    runtime = await build_runtime(registry.load("products"), api.settings["products"])
    yield runtime
    await close_runtime(runtime)


# What the in-process operations below do, reported to the test.
reached_the_peer = asyncio.Event()
listing_done = asyncio.Event()


@strawberry.type
class Query:
    @strawberry.field
    async def listing(self, info: strawberry.Info) -> int:
        await asyncio.sleep(0.05)  # still running when its failed sibling nulls the answer
        try:
            return int(await info.context.session.scalar(text("SELECT 1")))
        finally:
            listing_done.set()

    @strawberry.field
    def failing(self) -> int:
        raise ValueError("fails before any await: the answer is nulled at once")

    @strawberry.field
    async def calling_a_peer(self, info: strawberry.Info) -> int:
        await info.context.session.execute(text("SELECT 1"))
        reached_the_peer.set()
        await asyncio.Event().wait()  # a peer that does not answer, with the transaction open
        return 1


schema = build_schema(query=Query)


async def test_a_field_still_running_when_its_sibling_failed_leaves_no_session_open(
    products_runtime: Runtime[Any],
) -> None:
    # Given a field failing synchronously beside one that reads the database a moment later
    context = request_context(products_runtime)
    listing_done.clear()

    # When the operation is answered (nulled by the failure) and the other field has finished
    answer = await schema.execute("{ listing failing }", context_value=context)
    assert answer.data is None
    await asyncio.wait_for(listing_done.wait(), 5)
    await asyncio.sleep(0.05)

    # Then its session was closed: no connection of the pool is still checked out
    assert products_runtime.engine.pool.checkedout() == 0


async def test_a_request_cancelled_while_its_transaction_is_open_returns_its_connection(
    products_runtime: Runtime[Any],
) -> None:
    # Given a request that has read the database and awaits a peer, its transaction open
    context = request_context(products_runtime)
    reached_the_peer.clear()
    operation = asyncio.create_task(schema.execute("{ callingAPeer }", context_value=context))
    await asyncio.wait_for(reached_the_peer.wait(), 5)
    assert products_runtime.engine.pool.checkedout() == 1

    # When the request is cancelled (the server stops, the task is cancelled)
    operation.cancel()
    with pytest.raises(asyncio.CancelledError):
        await operation

    # Then its transaction is rolled back and its connection is back in the pool
    assert products_runtime.engine.pool.checkedout() == 0


async def test_fields_left_running_by_a_failed_non_null_field_return_their_connection(
    gql: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a listing beside `_entities` failing synchronously (a representation without `__typename`):
    # graphql-core nulls the answer at once and settles the listing, already started, in the background.
    query = (
        "{ listing: products(first: 5) { totalCount }"
        ' _entities(representations: [{id: "1"}]) { __typename } }'
    )
    pool = _products_pool(gql.stack)

    # When the operation is answered
    answer = await gql("products", query)
    assert answer.body["data"] is None
    await asyncio.sleep(0.5)  # the listing, had it been left running, has opened its session meanwhile

    # Then the listing's session is closed once it has finished, not left open after the request's end
    await eventually(pool.checkedout, lambda n: n == 0, within=5, what="no products connection checked out")
    assert _collected_connections(caplog) == []


async def test_a_session_asked_for_after_the_request_ended_is_refused(products_runtime: Runtime[Any]) -> None:
    # Given a request whose operation has been answered (a DataLoader batch whose callers were cancelled may
    # still run after it)
    context = request_context(products_runtime)
    answer = await products_runtime.definition.schema.execute(
        "{ categories { name } }", context_value=context
    )
    assert answer.errors is None

    # When something asks for the request's session after its end
    # Then it is refused, rather than opening a session nobody would close
    with pytest.raises(RequestEnded):
        _ = context.session
    assert products_runtime.engine.pool.checkedout() == 0


async def test_a_transaction_finished_mid_request_lets_the_request_open_another(
    products_runtime: Runtime[Any],
) -> None:
    # Given a request that ended its first transaction itself (orders does, before calling its peers)
    context = request_context(products_runtime)
    await context.session.execute(text("SELECT 1"))
    await context.finish(commit=False)

    # When it reads again, then it gets a new session, which the request's end closes
    assert await context.session.scalar(text("SELECT 2")) == 2
    await context.end(commit=False)
    assert products_runtime.engine.pool.checkedout() == 0


@strawberry.type
class ReadingQuery:
    @strawberry.field
    async def in_transaction(self, info: strawberry.Info) -> bool:
        connection = await info.context.session.connection()
        await connection.execute(text("SELECT 1"))
        raw = await connection.get_raw_connection()
        return bool(raw.driver_connection.is_in_transaction())

    @strawberry.field
    async def writes(self, info: strawberry.Info) -> int:
        # A query that (wrongly) writes: a row it inserts, then one it would count.
        await info.context.session.execute(text("INSERT INTO scratch_writes VALUES (1)"))
        return 1


@strawberry.type
class ReadingMutation:
    @strawberry.mutation
    async def in_transaction(self, info: strawberry.Info) -> bool:
        return await ReadingQuery().in_transaction(info)


reading_schema = build_schema(query=ReadingQuery, mutation=ReadingMutation)


@pytest.fixture
async def reading_runtime(
    request: pytest.FixtureRequest, api: Any, databases: dict[str, str]
) -> AsyncIterator[Runtime[Any]]:
    """A service whose queries only read, on the products database reached directly; `db_pgbouncer` as the
    test's parameter says."""
    definition = SubgraphDefinition(
        name="reading",
        settings_class=ServiceSettings,
        schema=reading_schema,
        build_loaders=lambda context: None,
        read_only_queries=True,
    )
    settings = api.settings["products"].model_copy(
        update={"database_url": databases["products"], "db_pgbouncer": request.param}
    )
    runtime = await build_runtime(definition, settings)
    yield runtime
    await close_runtime(runtime)


@pytest.mark.parametrize(
    ("reading_runtime", "operation", "in_transaction"),
    [
        (False, "query", False),
        (False, "mutation", True),
        (True, "query", True),
        (True, "mutation", True),
    ],
    ids=["direct-query", "direct-mutation", "pgbouncer-query", "pgbouncer-mutation"],
    indirect=["reading_runtime"],
)
async def test_queries_of_a_read_only_service_skip_the_transaction_only_outside_pgbouncer(
    reading_runtime: Runtime[Any], operation: str, in_transaction: bool
) -> None:
    # Given a service whose queries only read, reaching PostgreSQL directly or through PgBouncer
    context = request_context(reading_runtime)

    # When an operation reads
    answer = await reading_schema.execute(f"{operation} {{ inTransaction }}", context_value=context)

    # Then a query reads in autocommit (no BEGIN, no COMMIT) unless behind PgBouncer in transaction mode,
    # where a statement outside a transaction can lose its prepared statement; a mutation keeps its
    # transaction
    assert answer.errors is None
    assert answer.data == {"inTransaction": in_transaction}
    assert reading_runtime.engine.pool.checkedout() == 0


@pytest.mark.parametrize("reading_runtime", [False], ids=["direct"], indirect=True)
async def test_a_query_of_a_read_only_service_that_writes_is_refused_before_the_server_sees_it(
    reading_runtime: Runtime[Any],
) -> None:
    # Given a service whose queries read in autocommit, where a write would commit at once
    async with reading_runtime.engine.begin() as connection:
        await connection.execute(text("CREATE TABLE IF NOT EXISTS scratch_writes (n int)"))
        await connection.execute(text("TRUNCATE scratch_writes"))
    try:
        # When one of its queries writes
        answer = await reading_schema.execute("{ writes }", context_value=request_context(reading_runtime))

        # Then the write is refused (a programming error, masked as INTERNAL) and nothing was written;
        # the service's own transactions write as ever
        assert [error.extensions["code"] for error in answer.errors or []] == ["INTERNAL"]
        async with reading_runtime.engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM scratch_writes")) == 0
            await connection.execute(text("INSERT INTO scratch_writes VALUES (2)"))
            assert await connection.scalar(text("SELECT count(*) FROM scratch_writes")) == 1
    finally:
        async with reading_runtime.engine.begin() as connection:
            await connection.execute(text("DROP TABLE scratch_writes"))
