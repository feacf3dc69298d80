"""Input hygiene (issue 13, item 4): a string PostgreSQL cannot store (a NUL; an unpaired surrogate) in any
argument of the public API answers BAD_USER_INPUT naming the argument, never INTERNAL, and writes nothing.

The calls are generated from the router's API schema (tests/security/hygiene_calls.py), sent through a real
router in front of the real subgraphs, as an admin so that authorization never answers first.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from eventually import eventually
from graphql import execute, parse, validate
from hygiene_calls import REPO, Call, Values, api_schema, calls, root_owners, subscription_calls
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from ws_client import GraphQLWebSocket

from myshop.demo.users import DEMO_PASSWORD, seed
from router.config import RouterConfig
from router.server import build_gateway, create_app
from shared.db import create_engine
from shared.log import JsonFormatter, TextFormatter
from shared.testing import ServerThread

SUPERGRAPH = (REPO / "schema" / "supergraph.graphql").read_text()
CONCURRENCY = 8  # requests in flight: the stack's pools hold 4 connections per service
LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken user { id } } }"
CREATE = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }"
ADJUST = 'mutation($id: ID!) { adjustStock(productId: $id, delta: 5, reason: "hygiene") { id } }'


@pytest.fixture(scope="module")
def router(stack: Any) -> Iterator[ServerThread]:
    """The router over the MyShop supergraph in front of the test stack, verifying tokens at the edge."""
    config = RouterConfig(
        graphiql=False,
        subgraph_urls={name: f"{server.url}/graphql" for name, server in stack.servers.items()},
        jwks_url=f"{stack.url('users')}/.well-known/jwks.json",
    )
    server = ServerThread(create_app(build_gateway(SUPERGRAPH, config), config)).start()
    yield server
    server.stop()


@pytest.fixture
async def client(router: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=router.url, timeout=30) as client:
        yield client


async def graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any],
    token: str | None = None,
    *,
    url: str = "/graphql",
) -> httpx.Response:
    # json.dumps escapes what is not ASCII (an unpaired surrogate too); httpx's own encoder would refuse it.
    body = json.dumps({"query": query, "variables": variables}).encode()
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return await client.post(url, content=body, headers=headers)


def codes(response: httpx.Response) -> list[Any]:
    return [(error.get("extensions") or {}).get("code") for error in response.json().get("errors") or []]


@pytest.fixture
async def shop(api: Any, engines: dict[str, AsyncEngine], client: httpx.AsyncClient) -> dict[str, str]:
    """The demo admin signed in through the router, and a product with stock: the ids every call uses."""
    async with async_sessionmaker(engines["users"], expire_on_commit=False).begin() as session:
        await seed(session)
    signed_in = (await graphql(client, LOGIN, {"e": "admin@myshop.dev", "p": DEMO_PASSWORD})).json()
    token = signed_in["data"]["login"]["accessToken"]
    product = {
        "sku": "HYG-SEED",
        "name": "Seed",
        "description": "",
        "price": {"amount": 100, "currency": "USD"},
    }
    created = (await graphql(client, CREATE, {"input": {**product, "category": "Seeds"}}, token)).json()
    product_id = created["data"]["createProduct"]["id"]
    assert "errors" not in (await graphql(client, ADJUST, {"id": product_id}, token)).json()
    # The setup's own events (the login, the product, its stock) reach analytics first: a consumer riding out
    # a Redis hiccup can take longer than the settling's quiet spell, and its late rows are not the calls'.
    await eventually(
        lambda: analytics_counts(engines["analytics"]),
        lambda counts: all(counts.values()),
        what="analytics to record the setup's login, product and stock",
    )
    return {"token": token, "user": signed_in["data"]["login"]["user"]["id"], "product": product_id}


async def analytics_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            table: (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            for table in ("user_events", "product_facts", "stock_levels")
        }


async def row_counts(engines: dict[str, AsyncEngine]) -> dict[str, int]:
    """Every table of every subgraph database and its row count, but Alembic's and the consumers' records of
    the events they processed: a consumer may still be catching up on the events of the test's own setup (a
    late one was seen to land after a quiet spell); a write the calls made shows in its own table. One query
    per database, the databases at once (a settling reads them every second)."""
    counted = await asyncio.gather(*(database_row_counts(engine) for engine in engines.values()))
    return {
        f"{service}.{table}": count
        for service, counts in zip(engines, counted, strict=True)
        for table, count in counts.items()
    }


async def database_row_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        tables = (
            await conn.execute(
                text(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                    "AND table_type = 'BASE TABLE' "
                    "AND table_name NOT IN ('alembic_version', 'processed_events') ORDER BY table_name"
                )
            )
        ).scalars()
        counts = ", ".join(f'(SELECT count(*) FROM "{table}") AS "{table}"' for table in tables)
        return dict((await conn.execute(text(f"SELECT {counts}"))).one()._mapping)


async def settled_counts(
    engines: dict[str, AsyncEngine], *, quiet: float = 1.0, limit: float = 15.0
) -> dict[str, int]:
    """The row counts once the stack stopped writing (relays, consumers, activity flushes run behind the
    requests that caused them): the same for `quiet` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    counts = await row_counts(engines)
    while True:
        await asyncio.sleep(quiet)
        again = await row_counts(engines)
        if again == counts or loop.time() > deadline:
            return again
        counts = again


async def send_all(
    client: httpx.AsyncClient, token: str, made: list[Call], url: Callable[[Call], str] = lambda _: "/graphql"
) -> list[tuple[Call, httpx.Response]]:
    """Every call, `CONCURRENCY` at a time (each of its own: no call depends on another's answer)."""
    slots = asyncio.Semaphore(CONCURRENCY)

    async def send(call: Call) -> tuple[Call, httpx.Response]:
        async with slots:
            return call, await graphql(client, call.document, call.variables, token, url=url(call))

    return await asyncio.gather(*(send(call) for call in made))


def misanswered(answers: list[tuple[Call, httpx.Response]]) -> list[str]:
    """Each String or ID call not answered by exactly one BAD_USER_INPUT naming its argument. A custom scalar
    (DateTime) refuses the value itself, as the client's input: BAD_USER_INPUT for a variable, a validation
    error for a literal (graphql-core's rules; no argument named), never INTERNAL."""
    wrong = []
    for call, response in answers:
        errors = response.json().get("errors") or []
        fields = [(error.get("extensions") or {}).get("field") for error in errors]
        if call.scalar in ("String", "ID"):
            right = codes(response) == ["BAD_USER_INPUT"] and fields == [call.path]
        else:
            right = codes(response) in (["BAD_USER_INPUT"], ["GRAPHQL_VALIDATION_FAILED"])
        if response.status_code >= 500 or not right:
            wrong.append(f"{call.name}: {response.status_code} {codes(response)} {fields}")
    return wrong


@pytest.mark.parametrize("literal", [False, True], ids=["variables", "literals"])
async def test_a_nul_in_any_string_argument_answers_bad_user_input_and_writes_nothing(
    literal: bool, shop: dict[str, str], client: httpx.AsyncClient, engines: dict[str, AsyncEngine]
) -> None:
    # Given every string argument of the public schema, each in a call of its own with a NUL in it
    made = calls(api_schema(), Values(shop, "\x00"), literal=literal)
    assert len(made) >= 45  # the walk found the schema's arguments (49 when this was written)
    before = await settled_counts(engines)

    # When each is sent through the router as an admin
    answers = await send_all(client, shop["token"], made)

    # Then each is answered BAD_USER_INPUT naming its argument
    assert misanswered(answers) == []
    # and no database holds a row more or less
    assert await settled_counts(engines) == before


async def test_an_unpaired_surrogate_is_refused_by_the_router_as_a_body_that_is_not_json(
    shop: dict[str, str], client: httpx.AsyncClient, engines: dict[str, AsyncEngine]
) -> None:
    # Given every string argument with an unpaired surrogate (JSON can carry one: "\\ud800"; UTF-8 cannot)
    made = calls(api_schema(), Values(shop, "\ud800"), literal=False)
    before = await settled_counts(engines)

    # When each is sent through the router
    answers = await send_all(client, shop["token"], made)

    # Then the router refuses each body as no JSON it reads (RFC 8259 text is Unicode), before any subgraph
    assert {(r.status_code, tuple(codes(r))) for _, r in answers} == {(400, ("BAD_REQUEST",))}
    assert await settled_counts(engines) == before


async def test_each_subgraph_refuses_an_unpaired_surrogate_in_any_string_argument_itself(
    shop: dict[str, str], stack: Any, http: httpx.AsyncClient, engines: dict[str, AsyncEngine]
) -> None:
    # Given every string argument of a root field with an unpaired surrogate, for the subgraph that owns it
    # (a subgraph reads JSON with Python's json, which keeps the surrogate: defence behind the router)
    owners = root_owners()
    made = [call for call in calls(api_schema(), Values(shop, "\ud800"), literal=False) if not call.via]
    before = await settled_counts(engines)

    # When each is sent straight to its subgraph
    answers = await send_all(
        http, shop["token"], made, lambda call: f"{stack.url(owners[call.field])}/graphql"
    )

    # Then each is answered BAD_USER_INPUT naming its argument, and nothing is written
    assert misanswered(answers) == []
    assert await settled_counts(engines) == before


async def test_a_logged_database_error_names_the_failure_but_never_the_values(
    databases: dict[str, str],
) -> None:
    # Given a statement PostgreSQL refuses with a message that quotes its value, on a service's engine
    secret = "hygiene-secret-4711"
    engine = create_engine(databases["products"], pool_size=1)
    assert engine.sync_engine.hide_parameters  # SQLAlchemy's "[parameters: ...]" line is left out
    try:
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError) as caught:
                await conn.execute(text("SELECT CAST(CAST(:value AS text) AS integer)"), {"value": secret})
    finally:
        await engine.dispose()
    assert secret in str(caught.value.orig)  # what a plain traceback would have printed

    # When it is logged as the INTERNAL error of a request is (shared.graphql: logger.error with exc_info)
    exc = caught.value
    record = logging.LogRecord(
        "myshop.graphql",
        logging.ERROR,
        __file__,
        1,
        "unexpected error in %s",
        ("products",),
        (type(exc), exc, None),
    )
    lines = [formatter.format(record) for formatter in (TextFormatter("products"), JsonFormatter("products"))]

    # Then neither log format holds the value, and both name the failure: its SQLSTATE and its statement
    for line in lines:
        assert secret not in line
        assert "sqlstate=22P02" in line
        assert "SELECT CAST(CAST($1 AS text) AS integer)" in line


async def test_a_nul_in_a_subscription_argument_ends_it_with_bad_user_input_over_the_routers_websocket(
    shop: dict[str, str], router: ServerThread
) -> None:
    # Given every string argument of the Subscription fields, each with a NUL
    made = subscription_calls(api_schema(), Values(shop, "\x00"))
    assert made  # orderStatusChanged(orderId), orderUpdates(after)

    # When each is subscribed to through the router's WebSocket, as an admin
    async with GraphQLWebSocket(router, token=shop["token"]) as ws:
        answers = []
        for call in made:
            operation_id = await ws.subscribe(call.document, call.variables)
            answers.append((call, await ws.until_complete(operation_id)))

    # Then each ends with one error: BAD_USER_INPUT naming its argument
    assert {call.name: outcome(messages) for call, messages in answers} == {
        call.name: [("error", [("BAD_USER_INPUT", call.path)])] for call, _ in answers
    }


async def raw_post(url: str, header: bytes) -> bytes:
    """An HTTP server's answer to a GraphQL POST with `header` sent as is (no client library sends a NUL)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    body = b'{"query":"{ __typename }"}'
    writer.write(
        b"POST /graphql HTTP/1.1\r\nHost: myshop\r\nContent-Type: application/json\r\n" + header + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
    )
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


@pytest.mark.parametrize(
    "header",
    [b"Authorization: Bearer abc\x00def", b"X-Forwarded-For: 203.0.113.7\x00", b"X-Request-Id: a\x00b"],
)
async def test_a_nul_in_a_header_is_refused_by_the_http_server_of_the_router_and_of_a_subgraph(
    header: bytes, router: ServerThread, stack: Any
) -> None:
    # Given the router and a subgraph (users reads Authorization and X-Forwarded-For)
    for url in (router.url, stack.url("users")):
        # When a request carries a header with a NUL
        answer = await raw_post(url, header)

        # Then the HTTP server refuses it before any GraphQL runs (RFC 9110: a field value has no NUL)
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]


def outcome(messages: list[dict[str, Any]]) -> list[tuple[str, list[tuple[Any, Any]]]]:
    """Each graphql-transport-ws message of an operation: its type and its errors' codes and fields."""
    shaped = []
    for message in messages:
        payload = message.get("payload")
        errors = payload if message["type"] == "error" else (payload or {}).get("errors") or []
        shaped.append(
            (message["type"], [(e["extensions"].get("code"), e["extensions"].get("field")) for e in errors])
        )
    return shaped


@pytest.mark.parametrize(
    ("service", "document", "variables", "field"),
    [
        # a literal inside a fragment
        (
            "products",
            "query { ...F } fragment F on Query { products(search: $NUL) { totalCount } }",
            {},
            "search",
        ),
        # a variable's default, when the request sends none
        ("products", "query($s: String = $NUL) { products(category: $s) { totalCount } }", {}, "category"),
        # a variable inside a list inside an input object literal
        (
            "orders",
            "mutation($p: ID!) { placeOrder(input: {items: [{productId: $p, quantity: 1}], paymentMethod: "
            '"tok_approve", idempotencyKey: "k1"}) { id } }',
            {"p": "\x00"},
            "input.items.0.productId",
        ),
        # a mapping key of an entity representation (`_Any` carries any JSON)
        (
            "orders",
            "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }",
            {"r": [{"__typename": "Order", "id\x00": "1"}]},
            "representations.0",
        ),
    ],
    ids=["fragment literal", "variable default", "variable in a literal list", "representation key"],
)
def test_every_way_a_string_reaches_an_argument_is_checked(
    service: str, document: str, variables: dict[str, Any], field: str
) -> None:
    # Given a subgraph's schema (made by shared.graphql.build_schema) and a valid operation for it
    schema = importlib.import_module(f"subgraphs.{service}.schema").schema
    parsed = parse(document.replace("$NUL", '"a\\u0000"'))
    assert validate(schema._schema, parsed) == []

    # When the operation carries a NUL that way (refused before any resolver: no context, no database needed)
    result = execute(
        schema._schema, parsed, variable_values=variables, executor_class=schema.execution_context_class
    )

    # Then it is refused with BAD_USER_INPUT naming the argument
    assert not isinstance(result, Awaitable)
    assert [(e.extensions or {}).get("code") for e in result.errors or []] == ["BAD_USER_INPUT"]
    assert [(e.extensions or {}).get("field") for e in result.errors or []] == [field]
