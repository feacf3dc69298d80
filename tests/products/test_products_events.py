"""ProductUpdated reaches the stream `<prefix>events:products` through the outbox: on create, on an update
that changes something, on archive; never for a change to nothing, nor for the demo seed."""

from __future__ import annotations

import os
from collections.abc import Callable

from eventually import eventually
from products_helpers import ARCHIVE, UPDATE, create
from sqlalchemy import func, select

from myshop.demo.products import seed
from shared.outbox import Event, stream_name
from subgraphs.products.events import ProductEvent
from subgraphs.products.models import outbox

STREAM = stream_name(os.environ["MYSHOP_REDIS_PREFIX"], "products")


async def published(redis, wanted: Callable[[Event], bool], within: float = 10) -> list[Event]:
    """The events on the products stream that are `wanted`, once there is at least one."""

    async def found() -> list[Event]:
        return [e for e in (Event.from_fields(f) for _, f in await redis.xrange(STREAM)) if wanted(e)]

    return await eventually(found, within=within, what=f"a wanted event on {STREAM}")


def change(kind: str) -> Callable[[Event], bool]:
    return lambda event: event.type == ProductEvent.PRODUCT_UPDATED and event.payload["change"] == kind


async def written_events(products_db) -> int:
    """How many `ProductUpdated` are in the outbox (variant events: test_products_variants.py)."""
    async with products_db() as session:
        return await session.scalar(
            select(func.count())
            .select_from(outbox.table)
            .where(outbox.table.c.event_type == ProductEvent.PRODUCT_UPDATED)
        )


async def test_create_publishes_product_updated_with_the_new_product(gql, admin_token, redis):
    product = await create(gql, admin_token, name="Event Mug", price={"amount": 1500, "currency": "EUR"})

    events = await published(redis, change("created"))

    assert len(events) == 1
    assert (events[0].producer, events[0].version, events[0].aggregate_id) == ("products", 1, product["id"])
    assert events[0].payload == {
        "productId": product["id"],
        "sku": product["sku"],
        "name": "Event Mug",
        "price": {"amount": 1500, "currency": "EUR"},
        "previousPrice": None,
        "category": "Kitchen",
        "active": True,
        "variantIds": [product["id"]],  # its one variant shares its id
        "change": "created",
    }


async def test_a_price_change_publishes_the_previous_price(gql, admin_token, redis):
    product = await create(gql, admin_token, price={"amount": 1500, "currency": "EUR"})

    resp = await gql(
        "products",
        UPDATE,
        {"id": product["id"], "input": {"price": {"amount": 1200, "currency": "EUR"}}},
        token=admin_token,
    )
    resp.ok()
    events = await published(redis, change("updated"))

    assert len(events) == 1
    assert events[0].payload["price"] == {"amount": 1200, "currency": "EUR"}
    assert events[0].payload["previousPrice"] == {"amount": 1500, "currency": "EUR"}


async def test_an_update_of_other_fields_publishes_no_previous_price(gql, admin_token, redis):
    product = await create(gql, admin_token, name="Before")

    resp = await gql("products", UPDATE, {"id": product["id"], "input": {"name": "After"}}, token=admin_token)
    resp.ok()
    events = await published(redis, change("updated"))

    assert [(e.payload["name"], e.payload["previousPrice"]) for e in events] == [("After", None)]


async def test_an_update_that_changes_nothing_writes_no_event(gql, admin_token, products_db):
    product = await create(gql, admin_token, name="Same Name")
    before = await written_events(products_db)

    same = await gql(
        "products",
        UPDATE,
        {"id": product["id"], "input": {"name": "Same Name", "price": product["price"]}},
        token=admin_token,
    )
    empty = await gql("products", UPDATE, {"id": product["id"], "input": {}}, token=admin_token)

    assert same.ok()["updateProduct"] == product
    assert empty.ok()["updateProduct"] == product
    assert (before, await written_events(products_db)) == (1, 1)


async def test_archive_publishes_archived_once(gql, admin_token, redis, products_db):
    product = await create(gql, admin_token)

    (await gql("products", ARCHIVE, {"id": product["id"]}, token=admin_token)).ok()
    (await gql("products", ARCHIVE, {"id": product["id"]}, token=admin_token)).ok()
    events = await published(redis, change("archived"))

    assert [(e.aggregate_id, e.payload["active"]) for e in events] == [(product["id"], False)]
    assert await written_events(products_db) == 2  # created, archived


async def test_the_demo_seed_writes_no_events(products_db):
    async with products_db() as session, session.begin():
        await seed(session, 20)

    assert await written_events(products_db) == 0


async def test_reads_and_searches_reach_analytics_in_batches(gql, admin_token, redis):
    created = await create(gql, admin_token, name="Batch Counted Teapot")
    one = "query($id: ID!) { product(id: $id) { id } }"
    for _ in range(3):
        (await gql("products", one, {"id": created["id"]})).ok()
    found = await gql("products", '{ products(search: "batch counted teapot") { edges { node { id } } } }')
    assert [edge["node"]["id"] for edge in found.ok()["products"]["edges"]] == [created["id"]]

    def viewed(event: Event) -> bool:
        return event.type == ProductEvent.PRODUCT_VIEWED and event.payload["productId"] == created["id"]

    # the reads may straddle two flushes
    views = await eventually(
        lambda: published(redis, viewed), lambda views: sum(e.payload["count"] for e in views) >= 3
    )
    searches = await published(
        redis,
        lambda e: e.type == ProductEvent.PRODUCT_SEARCHED and e.payload["search"] == "batch counted teapot",
    )

    # reads are counted, not written one by one: a batch carries a count (the read path wrote nothing itself)
    assert sum(e.payload["count"] for e in views) == 3
    assert len(views) <= 2
    assert {e.payload["userId"] for e in views} == {None}
    assert [(e.payload["resultCount"], e.payload["productIds"]) for e in searches] == [(1, [created["id"]])]
