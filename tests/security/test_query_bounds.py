"""The work of an operation is bounded before it is done (issue 13, item 1): fragment bombs, operations too
wide or too repetitive to validate cheaply, refused with a code before validation; documents not seen
before prepared off the event loop. A router over the MyShop supergraph, no subgraph needed: every query
here is refused or answered by the router itself. (The time targets are bench/edge_bombs.py's.)"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query

from router.config import RouterConfig
from router.http.graphql import GRAPHQL_RESPONSE
from router.pipeline.errors import RequestError
from router.pipeline.gateway import Gateway, RouterLimits
from router.server import build_gateway, create_app
from shared.testing import ServerThread

REPO = Path(__file__).resolve().parents[2]
SUPERGRAPH = (REPO / "schema" / "supergraph.graphql").read_text()


def fragment_bomb(power: int, on: str = "Query", leaf: str = "__typename", around: str = "{}") -> str:
    """`fragment F0 on Query { __typename } fragment F1 on Query { ...F0 ...F0 } ...`: 2^power fields in
    a few hundred bytes; `around` places the top spread (`{}`) in the operation. A random comment makes
    each text new to every cache."""
    fragments = [f"fragment F0 on {on} {{ {leaf} }}"] + [
        f"fragment F{i} on {on} {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, power + 1)
    ]
    return f"# {uuid.uuid4()}\n" + " ".join(fragments) + " query { " + around.format(f"...F{power}") + " }"


@contextmanager
def serving(**settings: Any) -> Iterator[str]:
    """A router as `myshop router` runs it with `settings`; its URL."""
    config = RouterConfig(**{"graphiql": False, **settings})
    server = ServerThread(create_app(build_gateway(SUPERGRAPH, config), config)).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def router_url() -> Iterator[str]:
    with serving() as url:
        yield url


async def post(url: str, query: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return await client.post("/graphql", json={"query": query}, headers={"accept": GRAPHQL_RESPONSE})


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json().get("errors", [])]


async def still_serving(url: str) -> None:
    assert (await post(url, "{ __typename }")).json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("power", [16, 20, 30])
async def test_a_fragment_bomb_is_refused_for_its_root_fields(router_url: str, power: int) -> None:
    response = await post(router_url, fragment_bomb(power))
    assert response.status_code == 400
    assert codes(response) == ["MAX_ROOT_FIELDS_EXCEEDED"]
    assert "data" not in response.json()
    await still_serving(router_url)


async def test_a_fragment_bomb_under_a_field_is_refused_for_its_height(router_url: str) -> None:
    query = fragment_bomb(20, on="Product", leaf="id name", around="products(first: 1) {{ nodes {{ {} }} }}")
    response = await post(router_url, query)
    assert response.status_code == 400
    assert codes(response) == ["MAX_HEIGHT_EXCEEDED"]


async def test_aliases_count_once_per_spread(router_url: str) -> None:
    response = await post(router_url, fragment_bomb(10, leaf="a: __typename"))  # 1 written, 1,024 spread
    assert codes(response) == ["MAX_ALIASES_EXCEEDED"]


async def test_same_named_fields_too_many_to_compare_are_refused_before_validation(router_url: str) -> None:
    # 72 x 2 fields: within the height and root-field limits, but validation would compare 2,556 pairs of
    # `products` down their subfields (quadratic: 250 copies take it a quarter of a second).
    query = "{ " + "products(first: 1) { totalCount } " * 72 + "}"
    response = await post(router_url, query)
    assert response.status_code == 400
    assert codes(response) == ["MAX_FIELD_MERGES_EXCEEDED"]


async def test_fragments_spread_side_by_side_count_their_pairs(router_url: str) -> None:
    fragments = " ".join(f"fragment A{i} on Product {{ id name }}" for i in range(60))
    spreads = " ".join(f"...A{i}" for i in range(60))
    response = await post(router_url, f'{{ product(id: "1") {{ {spreads} }} }} {fragments}')
    assert codes(response) == ["MAX_FIELD_MERGES_EXCEEDED"]


@pytest.mark.parametrize(
    ("settings", "code"),
    [({"max_root_fields": 8}, "MAX_ROOT_FIELDS_EXCEEDED"), ({"max_height": 8}, "MAX_HEIGHT_EXCEEDED")],
    ids=["root-fields", "height"],
)
async def test_each_limit_is_configurable_and_an_operation_at_it_runs(
    settings: dict[str, int], code: str
) -> None:
    with serving(**settings) as url:
        at_limit = await post(url, fragment_bomb(3))  # 8 x `__typename`, merged into one
        over = await post(url, fragment_bomb(4))
    assert at_limit.json() == {"data": {"__typename": "Query"}}
    assert codes(over) == [code]


def test_router_yaml_sets_the_limits() -> None:
    limits = RouterConfig.load(REPO / "router.yaml").limits()
    assert (limits.max_root_fields, limits.max_height, limits.max_field_merges) == (100, 1000, 5000)


async def test_graphiqls_introspection_query_passes_the_default_limits(router_url: str) -> None:
    response = await post(
        router_url, get_introspection_query(descriptions=True, input_value_deprecation=True)
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"


@pytest.mark.parametrize(
    "query",
    [
        "fragment A on Query { ...B __typename } fragment B on Query { ...A ...A } { ...A }",
        # 1,000 fragments each spreading the one before: counted without recursion (graphql-core's
        # validation gives up on it: a validation error, not an internal one).
        " ".join(
            ["fragment F0 on Query { __typename }"]
            + [f"fragment F{i} on Query {{ ...F{i - 1} }}" for i in range(1, 1000)]
        )
        + " { ...F999 }",
    ],
    ids=["cycle", "chain-of-1000"],
)
async def test_fragment_cycles_and_chains_are_validation_errors(router_url: str, query: str) -> None:
    response = await post(router_url, query)
    assert response.status_code == 400
    assert set(codes(response)) == {"GRAPHQL_VALIDATION_FAILED"}
    await still_serving(router_url)


async def test_a_document_not_seen_before_is_prepared_off_the_event_loop(router_url: str) -> None:
    """A document of 14,990 fields of 100-character names (1.5 MB, under both the token and body limits) takes
    the parser a fifth of a second or more (then max_root_fields refuses it); a cached `{ __typename }` sent
    while it is being parsed is answered before it (on the loop, it would wait for the parse to end and be
    answered after). With `__typename` as the field, an optimized interpreter parsed it in 80-120 ms: the
    light request, which shares the GIL with the parsing thread, lost the race on a loaded CI run."""
    await still_serving(router_url)

    async def finished(query: str) -> tuple[float, httpx.Response]:
        response = await post(router_url, query)
        return time.perf_counter(), response

    heavy = asyncio.create_task(finished(f"# {uuid.uuid4()}\n{{ " + ("f" * 100 + " ") * 14_990 + "}"))
    await asyncio.sleep(0.03)
    light_at, light = await finished("{ __typename }")
    heavy_at, refused = await heavy
    assert light.json() == {"data": {"__typename": "Query"}}
    assert codes(refused) == ["MAX_ROOT_FIELDS_EXCEEDED"]
    assert light_at < heavy_at


async def test_a_new_operation_sent_by_many_clients_at_once_is_prepared_once() -> None:
    gateway = Gateway.from_supergraph(SUPERGRAPH)
    query = f"# {uuid.uuid4()}\n{{ __typename }}"
    try:
        answers = await asyncio.gather(*(gateway.execute(query) for _ in range(5)))
    finally:
        await gateway.close()
    assert answers == [{"data": {"__typename": "Query"}}] * 5
    assert (gateway.plans.misses, gateway.plans.hits) == (1, 4)


async def test_refused_bombs_do_not_evict_the_documents_in_use() -> None:
    gateway = Gateway.from_supergraph(SUPERGRAPH, limits=RouterLimits(plan_cache_size=2))
    try:
        assert await gateway.execute("{ __typename }") == {"data": {"__typename": "Query"}}
        for _ in range(5):
            with pytest.raises(RequestError) as refused:
                await gateway.execute(fragment_bomb(20))
            assert refused.value.code == "MAX_ROOT_FIELDS_EXCEEDED"
    finally:
        await gateway.close()
    assert gateway.documents.cached("{ __typename }")
