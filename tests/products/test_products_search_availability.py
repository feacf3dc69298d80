"""Availability kept from inventory's `StockChanged`: per variant (`variantId`, else `productId` for events
from before variants), never overwritten by an older event, unknown variants ignored; and how stale it is."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from eventually import eventually
from products_helpers import create
from search_helpers import Variant, product_with_variants, search
from sqlalchemy import select

from shared.outbox import Event, stream_name
from subgraphs.products.events import stock_changed
from subgraphs.products.models import ProductVariant

INVENTORY_STREAM = stream_name(os.environ["MYSHOP_REDIS_PREFIX"], "inventory")
ADJUST = """
mutation Adjust($productId: ID!, $delta: Int!) {
  adjustStock(productId: $productId, delta: $delta, reason: "test") { id }
}
"""
# Where the staleness bound is written down (search.py's docstring says "about a quarter of a second").
STALENESS_BOUND_SECONDS = 5.0


def stock_event(payload: dict, at: datetime | None = None) -> Event:
    return Event(
        uuid.uuid4(),
        "StockChanged",
        "inventory",
        1,
        at or datetime.now(UTC),
        {"reserved": 0, "previousAvailable": 0, "reason": "test", **payload},
        payload.get("variantId") or payload.get("productId"),
    )


async def availability(products_db, variant_id) -> tuple[int, datetime | None]:
    async with products_db() as session:
        row = (
            await session.execute(
                select(ProductVariant.available_units, ProductVariant.availability_at).where(
                    ProductVariant.id == variant_id
                )
            )
        ).one()
    return row[0], row[1]


async def apply(products_db, event: Event) -> None:
    async with products_db() as session, session.begin():
        await stock_changed(session, event)


async def two_variant_product(gql, admin_token, products_db) -> list[Variant]:
    variants = [Variant({"Size": "S"}), Variant({"Size": "L"})]
    await product_with_variants(gql, admin_token, products_db, variants, options={"Size": ["S", "L"]})
    return variants


async def test_a_variant_event_sets_that_variant_only(gql, admin_token, products_db):
    small, large = await two_variant_product(gql, admin_token, products_db)
    at = datetime.now(UTC)

    await apply(
        products_db, stock_event({"variantId": str(large.id), "productId": str(small.id), "available": 7}, at)
    )

    assert await availability(products_db, large.id) == (7, at)
    assert await availability(products_db, small.id) == (0, None)


async def test_an_event_from_before_variants_names_the_variant_by_product_id(gql, admin_token, products_db):
    product = await create(gql, admin_token)

    await apply(products_db, stock_event({"productId": product["id"], "available": 4}))

    assert (await availability(products_db, uuid.UUID(product["id"])))[0] == 4


async def test_an_older_event_never_overwrites_a_newer_one(gql, admin_token, products_db):
    small, _ = await two_variant_product(gql, admin_token, products_db)
    now = datetime.now(UTC)

    await apply(products_db, stock_event({"variantId": str(small.id), "available": 2}, now))
    await apply(
        products_db, stock_event({"variantId": str(small.id), "available": 9}, now - timedelta(seconds=1))
    )

    assert await availability(products_db, small.id) == (2, now)


async def test_a_burst_of_events_keeps_each_variants_newest_level_in_one_go(gql, admin_token, products_db):
    # Given one burst (the consumer's batch) with two variants' events, the small one's out of order and its
    # newest level then restated at the same moment, and an event of a variant products does not know,
    small, large = await two_variant_product(gql, admin_token, products_db)
    now = datetime.now(UTC)
    burst = [
        stock_event({"variantId": str(small.id), "available": 5}, now),
        stock_event({"variantId": str(large.id), "available": 8}, now - timedelta(seconds=2)),
        stock_event({"variantId": str(small.id), "available": 9}, now - timedelta(seconds=1)),
        stock_event({"variantId": str(uuid.uuid4()), "available": 1}, now),
        stock_event({"variantId": str(small.id), "available": 4}, now),
    ]

    async with products_db() as session, session.begin():
        await stock_changed.many(session, burst)

    # each known variant keeps its newest event's level (of one moment, the later in the stream).
    assert await availability(products_db, small.id) == (4, now)
    assert await availability(products_db, large.id) == (8, now - timedelta(seconds=2))


async def test_a_burst_never_overwrites_a_newer_kept_level(gql, admin_token, products_db):
    small, _ = await two_variant_product(gql, admin_token, products_db)
    now = datetime.now(UTC)
    await apply(products_db, stock_event({"variantId": str(small.id), "available": 2}, now))

    async with products_db() as session, session.begin():
        await stock_changed.many(
            session, [stock_event({"variantId": str(small.id), "available": 6}, now - timedelta(seconds=1))]
        )

    assert await availability(products_db, small.id) == (2, now)


async def test_an_unknown_variant_is_ignored(products_db):
    await apply(products_db, stock_event({"variantId": str(uuid.uuid4()), "available": 3}))


@pytest.mark.parametrize(
    "payload",
    [
        {"available": 3},
        {"variantId": "nope", "available": 3},
        {"variantId": str(uuid.uuid4()), "available": "9"},
    ],
)
async def test_a_payload_without_a_variant_or_a_count_fails_for_the_dead_letters(products_db, payload):
    with pytest.raises(ValueError):
        await apply(products_db, stock_event(payload))


async def test_stock_changed_on_the_inventory_stream_moves_the_in_stock_search(
    gql, admin_token, products_db, redis
):
    _, large = await two_variant_product(gql, admin_token, products_db)

    await redis.xadd(
        INVENTORY_STREAM, stock_event({"variantId": str(large.id), "available": 1, "onHand": 1}).to_fields()
    )

    found = await eventually(
        lambda: search(gql, filter={"inStock": True, "options": [{"name": "Size", "values": ["L"]}]}),
        lambda page: page["totalCount"] == 1,
        what="the large variant in stock",
    )
    assert found["totalCount"] == 1
    assert (await search(gql, filter={"inStock": True, "options": [{"name": "Size", "values": ["S"]}]}))[
        "totalCount"
    ] == 0


async def test_in_stock_search_follows_inventory_within_the_staleness_bound(gql, admin_token):
    product = await create(gql, admin_token, name="Stale Kettle")
    assert (await search(gql, filter={"inStock": True}))["totalCount"] == 0

    started = time.monotonic()
    (await gql("inventory", ADJUST, {"productId": product["id"], "delta": 3}, token=admin_token)).ok()
    found = await eventually(
        lambda: search(gql, filter={"inStock": True}),
        lambda page: page["totalCount"] == 1,
        within=STALENESS_BOUND_SECONDS,
        every=0.02,
        what="the kettle in stock in products' search",
    )
    in_stock_after = time.monotonic() - started
    (await gql("inventory", ADJUST, {"productId": product["id"], "delta": -3}, token=admin_token)).ok()
    started = time.monotonic()
    await eventually(
        lambda: search(gql, filter={"inStock": True}),
        lambda page: page["totalCount"] == 0,
        within=STALENESS_BOUND_SECONDS,
        every=0.02,
        what="the kettle out of stock in products' search",
    )
    out_of_stock_after = time.monotonic() - started

    assert [edge["node"]["name"] for edge in found["edges"]] == ["Stale Kettle"]
    print(
        f"\nstaleness: in stock after {in_stock_after:.3f} s, out of stock after {out_of_stock_after:.3f} s"
    )
