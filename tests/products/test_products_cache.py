"""The product cache (subgraphs/products/cache.py): reads by id come from Redis once cached, a ProductUpdated
event alone drops the entry, the writing request drops it too, a read racing a change never caches the old
row, and with Redis down (or the cache off) reads answer from PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eventually import eventually
from products_helpers import UPDATE, create
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from router.config import RouterConfig
from router.server import build_gateway, create_app
from shared.app import create_subgraph_app
from shared.testing import ServerThread
from subgraphs.products import repository
from subgraphs.products.app import definition
from subgraphs.products.cache import ProductCache
from subgraphs.products.events import GROUP, ProductChange, ProductEvent
from subgraphs.products.models import outbox

SUPERGRAPH = (Path(__file__).resolve().parents[2] / "schema" / "supergraph.graphql").read_text()
PREFIX = os.environ["MYSHOP_REDIS_PREFIX"]

ENTITIES = """
query($r: [_Any!]!) {
  _entities(representations: $r) { ... on Product { id name price { amount currency } } }
}
"""
THROUGH_ROUTER = """
query($id: ID!) { product(id: $id) { id name price { amount currency } stock { available } } }
"""


# --- helpers ------------------------------------------------------------------------------------------------


async def insert_product(products_db, name: str = "Cached Kettle", amount: int = 2500) -> str:
    """A product written with SQL: no event, nothing cached."""
    async with products_db() as session, session.begin():
        row = await repository.insert(
            session,
            {
                "sku": f"C-{uuid.uuid4().hex[:8].upper()}",
                "name": name,
                "description": "",
                "price_amount": amount,
                "price_currency": "USD",
                "category": "Kitchen",
            },
        )
        return str(row.id)


async def rename_underneath(products_db, product_id: str, name: str, *, with_event: bool) -> uuid.UUID | None:
    """Rename a product with raw SQL, with its ProductUpdated written to the outbox when asked (the relay
    publishes it, products' consumer invalidates). Returns the event's id."""
    return await change_underneath(products_db, product_id, {"name": name}, with_event=with_event)


async def change_underneath(
    products_db, product_id: str, values: dict[str, Any], *, with_event: bool
) -> uuid.UUID | None:
    """Change a product's columns with raw SQL, as another replica or a script would."""
    assignments = ", ".join(f"{column} = :{column}" for column in values)
    async with products_db() as session, session.begin():
        await session.execute(
            text(f"UPDATE products SET {assignments}, updated_at = now() WHERE id = :id"),
            {**values, "id": product_id},
        )
        if not with_event:
            return None
        event = await outbox.emit(
            session,
            ProductEvent.PRODUCT_UPDATED,
            {"productId": product_id, "change": ProductChange.UPDATED},
            aggregate_id=product_id,
        )
        return event.id


async def processed(products_db, event_id: uuid.UUID, within: float = 10.0) -> None:
    """Wait until products' consumer group has applied the event (its invalidation is done by then)."""

    async def found() -> object:
        async with products_db() as session:
            return await session.scalar(
                text('SELECT 1 FROM processed_events WHERE "group" = :group AND event_id = :id'),
                {"group": GROUP, "id": event_id},
            )

    await eventually(found, within=within, every=0.02, what=f"event {event_id} consumed")


async def update_event(products_db, product_id: str) -> uuid.UUID:
    """The id of the `updated` ProductUpdated of a product, once written."""
    async with products_db() as session:
        return await session.scalar(
            text(
                "SELECT event_id FROM outbox WHERE aggregate_id = :id AND payload->>'change' = 'updated' "
                "AND event_type = 'ProductUpdated' "
                "ORDER BY id DESC LIMIT 1"
            ),
            {"id": product_id},
        )


async def entity(gql_or_post: Any, product_id: str) -> dict[str, Any]:
    resp = await gql_or_post("products", ENTITIES, {"r": [{"__typename": "Product", "id": product_id}]})
    return resp.ok()["_entities"][0]


async def post(url: str, query: str, variables: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=30) as client:
        resp = await client.post(
            f"{url}/graphql", json={"query": query, "variables": variables}, headers=headers
        )
    body = resp.json()
    assert resp.status_code == 200 and not body.get("errors"), body
    return body["data"]


def start_products(stack: Any, **overrides: Any) -> ServerThread:
    """One more products server on the run's database, with some settings of its own."""
    settings = stack.settings["products"].model_copy(update=overrides)
    return ServerThread(create_subgraph_app(definition, settings)).start()


@pytest.fixture
async def router(api: Any) -> AsyncIterator[ServerThread]:
    config = RouterConfig(
        graphiql=False,
        subgraph_urls={name: f"{server.url}/graphql" for name, server in api.servers.items()},
        jwks_url=f"{api.url('users')}/.well-known/jwks.json",
    )
    server = ServerThread(create_app(build_gateway(SUPERGRAPH, config), config)).start()
    yield server
    await asyncio.to_thread(server.stop)


@pytest.fixture
def cache(redis) -> Iterator[ProductCache]:
    """A cache of its own (own key prefix) on the run's Redis, for driving reads and invalidations by hand."""
    yield ProductCache(redis, f"{PREFIX}unit-{uuid.uuid4().hex[:6]}:", ttl_seconds=300)


# --- reads come from the cache ------------------------------------------------------------------------------


async def test_a_cached_product_is_read_from_redis_not_postgresql(gql, products_db):
    product_id = await insert_product(products_db, name="Before")
    assert (await entity(gql, product_id))["name"] == "Before"  # a miss: read, then cached

    # Changed underneath with no event: only a read that skips PostgreSQL still sees the old name.
    await rename_underneath(products_db, product_id, "After", with_event=False)

    assert (await entity(gql, product_id))["name"] == "Before"


async def test_a_product_updated_event_alone_invalidates_the_cached_product(gql, products_db):
    product_id = await insert_product(products_db, name="Before")
    assert (await entity(gql, product_id))["name"] == "Before"

    event_id = await rename_underneath(products_db, product_id, "After", with_event=True)
    await processed(products_db, event_id)

    assert (await entity(gql, product_id))["name"] == "After"


async def test_a_price_change_is_visible_through_the_router_right_after_its_event(
    gql, router, products_db, admin_token
):
    product = await create(gql, admin_token, price={"amount": 1000, "currency": "USD"})
    before = await post(router.url, THROUGH_ROUTER, {"id": product["id"]})
    assert before["product"]["price"] == {"amount": 1000, "currency": "USD"}
    assert (await entity(gql, product["id"]))["price"]["amount"] == 1000

    changed = {"id": product["id"], "input": {"price": {"amount": 750, "currency": "USD"}}}
    await post(router.url, UPDATE, changed, token=admin_token)
    await processed(products_db, await update_event(products_db, product["id"]))

    after = await post(router.url, THROUGH_ROUTER, {"id": product["id"]})
    assert after["product"]["price"] == {"amount": 750, "currency": "USD"}
    assert after["product"]["stock"] == {"available": 0}
    assert (await entity(gql, product["id"]))["price"] == {"amount": 750, "currency": "USD"}


async def test_a_price_changed_elsewhere_is_visible_through_the_router_right_after_its_event(
    gql, router, products_db
):
    # Changed by SQL with its event (another replica, a script): only the event can drop the cached entry.
    product_id = await insert_product(products_db, amount=1000)
    before = await post(router.url, THROUGH_ROUTER, {"id": product_id})
    assert before["product"]["price"]["amount"] == 1000

    event_id = await change_underneath(products_db, product_id, {"price_amount": 640}, with_event=True)
    await processed(products_db, event_id)

    after = await post(router.url, THROUGH_ROUTER, {"id": product_id})
    assert after["product"]["price"] == {"amount": 640, "currency": "USD"}


async def test_the_writing_request_invalidates_without_waiting_for_the_event(api, products_db, admin_token):
    # A products server on a Redis prefix of its own: no consumer reads its stream, so only the request's own
    # invalidation (after its commit) can drop the entry.
    server = await asyncio.to_thread(
        start_products, api, redis_prefix=f"{PREFIX}solo-{uuid.uuid4().hex[:6]}:"
    )
    try:
        product_id = await insert_product(products_db, amount=1000)
        read = await post(server.url, ENTITIES, {"r": [{"__typename": "Product", "id": product_id}]})
        assert read["_entities"][0]["price"]["amount"] == 1000

        changed = {"id": product_id, "input": {"price": {"amount": 900, "currency": "USD"}}}
        await post(server.url, UPDATE, changed, token=admin_token)

        read = await post(server.url, ENTITIES, {"r": [{"__typename": "Product", "id": product_id}]})
        assert read["_entities"][0]["price"]["amount"] == 900
    finally:
        await asyncio.to_thread(server.stop)


async def cache_reads(http: httpx.AsyncClient, stack: Any) -> dict[str, float]:
    text_format = (await http.get(f"{stack.url('products')}/metrics")).text
    family = next(
        f for f in text_string_to_metric_families(text_format) if f.name == "myshop_products_cache_reads"
    )
    return {
        sample.labels["result"]: sample.value for sample in family.samples if sample.name.endswith("_total")
    }


async def test_reads_by_id_are_counted_as_misses_then_hits(gql, http, api, products_db):
    product_id = await insert_product(products_db)
    before = await cache_reads(http, api)

    await entity(gql, product_id)
    await entity(gql, product_id)
    await entity(gql, product_id)

    after = await cache_reads(http, api)
    assert (after["miss"] - before["miss"], after["hit"] - before["hit"]) == (1, 2)


# --- the race guard -----------------------------------------------------------------------------------------


async def test_a_read_racing_a_change_does_not_cache_the_old_row(api, cache, products_db):
    product_id = uuid.UUID(await insert_product(products_db, amount=1000))

    async def read_then_a_writer_commits(ids: list[uuid.UUID]) -> list[Any]:
        # The reader missed and reads the old row; before it writes back, a writer commits and invalidates.
        async with products_db() as reader:
            rows = await repository.get_many(reader, ids)
        async with products_db() as writer, writer.begin():
            await writer.execute(
                text("UPDATE products SET price_amount = 500 WHERE id = :id"), {"id": product_id}
            )
        await cache.invalidate(ids)
        return rows

    async def read(ids: list[uuid.UUID]) -> list[Any]:
        async with products_db() as session:
            return await repository.get_many(session, ids)

    raced = await cache.get_many([product_id], read_then_a_writer_commits)
    assert raced[product_id].price_amount == 1000  # that read began before the change

    assert (await cache.get_many([product_id], read))[product_id].price_amount == 500
    assert cache.metrics.cache_stale_writes_skipped._value.get() == 1


async def test_a_miss_is_cached_for_the_next_read(api, cache, products_db):
    product_id = uuid.UUID(await insert_product(products_db))
    loads: list[list[uuid.UUID]] = []

    async def read(ids: list[uuid.UUID]) -> list[Any]:
        loads.append(ids)
        async with products_db() as session:
            return await repository.get_many(session, ids)

    first = await cache.get_many([product_id], read)
    second = await cache.get_many([product_id], read)

    assert loads == [[product_id]]
    assert second == first
    assert 0 < await cache.redis.ttl(cache.entry_key(product_id)) <= 300


# --- without the cache --------------------------------------------------------------------------------------


async def test_reads_answer_from_postgresql_when_redis_is_down(api, products_db):
    product_id = await insert_product(products_db, name="Still Here")
    server = await asyncio.to_thread(start_products, api, redis_url="redis://127.0.0.1:1/0")
    try:
        query = {"r": [{"__typename": "Product", "id": product_id}]}
        first = await post(server.url, ENTITIES, query)
        await rename_underneath(products_db, product_id, "Renamed", with_event=False)
        second = await post(server.url, ENTITIES, query)
    finally:
        await asyncio.to_thread(server.stop)

    assert first["_entities"][0]["name"] == "Still Here"
    assert second["_entities"][0]["name"] == "Renamed"


async def test_a_zero_ttl_turns_the_cache_off(api, redis, products_db):
    cache = ProductCache(redis, f"{PREFIX}off-{uuid.uuid4().hex[:6]}:", ttl_seconds=0)
    product_id = uuid.UUID(await insert_product(products_db, name="Before"))

    async def read(ids: list[uuid.UUID]) -> list[Any]:
        async with products_db() as session:
            return await repository.get_many(session, ids)

    await cache.get_many([product_id], read)
    await rename_underneath(products_db, str(product_id), "After", with_event=False)

    assert (await cache.get_many([product_id], read))[product_id].name == "After"
    assert await redis.exists(cache.entry_key(product_id)) == 0
