"""Stock per variant: `ProductVariant.stock`/`inStock`, `Product.stock` summed over a product's variants,
`adjustVariantStock`, `adjustStock` by product id (VARIANT_REQUIRED when it names several variants), and
reservation lines by variant id. The catalog's events are applied through inventory's consumer
(catalog_events.py)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from catalog_events import (
    ADJUST_VARIANT,
    ENTITIES,
    RESERVE_LINES,
    CatalogFeed,
    product_updated,
    variant_event,
)
from inventory_api import ADJUST, Inventory, new_key, new_product
from redis.asyncio import Redis
from sqlalchemy import event


@pytest.fixture
def catalog(inventory: Inventory, redis: Redis) -> CatalogFeed:
    return CatalogFeed(inventory.sessions, redis)


async def entities(gql: Any, *refs: tuple[str, str]) -> list[dict[str, Any]]:
    representations = [{"__typename": typename, "id": id_} for typename, id_ in refs]
    return (await gql("inventory", ENTITIES, {"representations": representations})).ok()["_entities"]


async def adjust_variant(inventory: Inventory, gql: Any, variant_id: str, delta: int) -> Any:
    variables = {"variantId": variant_id, "delta": delta, "reason": "delivery"}
    return await gql("inventory", ADJUST_VARIANT, variables, token=inventory.admin_token)


async def reserve_lines(inventory: Inventory, gql: Any, key: str, lines: list[dict[str, Any]]) -> Any:
    variables = {"input": {"key": key, "orderId": str(uuid.uuid4()), "lines": lines}}
    return await gql("inventory", RESERVE_LINES, variables, token=inventory.service_token)


def stock(available: int, reserved: int = 0) -> dict[str, int]:
    return {"available": available, "reserved": reserved, "onHand": available + reserved}


async def test_each_variant_has_its_own_stock_and_the_product_the_sum(
    inventory: Inventory, gql, catalog: CatalogFeed
) -> None:
    product_id, (small, medium, large) = await catalog.product_with_variants(3)
    (await adjust_variant(inventory, gql, small, 5)).ok()
    (await adjust_variant(inventory, gql, medium, 3)).ok()
    await inventory.reserve(new_key(), [(medium, 1)])

    found = await entities(
        gql,
        ("ProductVariant", small),
        ("ProductVariant", medium),
        ("ProductVariant", large),
        ("Product", product_id),
    )

    assert found == [
        {"id": small, "stock": stock(5), "inStock": True},
        {"id": medium, "stock": stock(2, 1), "inStock": True},
        {"id": large, "stock": stock(0), "inStock": False},
        {"id": product_id, "stock": stock(7, 1), "inStock": True},
    ]


async def test_a_new_variant_has_a_stock_row_from_its_event_alone(
    inventory: Inventory, catalog: CatalogFeed
) -> None:
    product_id, variant_ids = await catalog.product_with_variants(2)

    rows = await inventory.rows(
        "SELECT variant_id::text, product_id::text, on_hand, variant_active, product_active FROM stock_items "
        "ORDER BY variant_id"
    )

    assert [tuple(row) for row in rows] == [(vid, product_id, 0, True, True) for vid in variant_ids]


async def test_a_product_is_not_in_stock_when_only_its_archived_variants_have_units(
    inventory: Inventory, gql, catalog: CatalogFeed
) -> None:
    product_id, (kept, archived) = await catalog.product_with_variants(2)
    (await adjust_variant(inventory, gql, archived, 4)).ok()

    await catalog.apply(variant_event("VariantArchived", archived, product_id, active=False, at=10))

    assert await entities(gql, ("ProductVariant", archived), ("Product", product_id)) == [
        {"id": archived, "stock": stock(4), "inStock": False},
        # The units are in the warehouse whatever the catalog says: counted, not orderable.
        {"id": product_id, "stock": stock(4), "inStock": False},
    ]
    (await adjust_variant(inventory, gql, kept, 1)).ok()
    assert (await entities(gql, ("Product", product_id)))[0]["inStock"] is True


async def test_variants_and_products_of_one_request_are_read_with_one_select_each(
    inventory: Inventory, gql, api, catalog: CatalogFeed
) -> None:
    first, first_variants = await catalog.product_with_variants(3)
    second, second_variants = await catalog.product_with_variants(2)
    for variant_id in [*first_variants, *second_variants]:
        (await adjust_variant(inventory, gql, variant_id, 2)).ok()
    engine = api.servers["inventory"].server.config.app.state.runtime.engine.sync_engine
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    refs = [
        *(("ProductVariant", vid) for vid in [*first_variants, *second_variants, new_product()]),
        ("Product", first),
        ("Product", second),
        ("Product", new_product()),
    ]
    event.listen(engine, "after_cursor_execute", record)
    try:
        found = await entities(gql, *refs)
    finally:
        event.remove(engine, "after_cursor_execute", record)

    assert [item["stock"]["onHand"] for item in found] == [2, 2, 2, 2, 2, 0, 6, 4, 0]
    assert len([s for s in statements if "stock_items" in s]) == 2


async def test_adjust_stock_by_product_id_moves_the_variant_sharing_its_id(
    inventory: Inventory, catalog: CatalogFeed
) -> None:
    product_id = new_product()
    # An event from before variants names none: the product's single variant shares its id.
    await catalog.apply(product_updated(product_id, change="created"))

    adjusted = await inventory.adjust(product_id, 6)

    assert adjusted == {"id": product_id, "stock": stock(6), "inStock": True}
    assert await inventory.rows("SELECT variant_id::text, product_id::text, on_hand FROM stock_items") == [
        (product_id, product_id, 6)
    ]
    assert (await inventory.events("StockChanged", product_id))[0]["variantId"] == product_id


async def test_adjust_stock_by_product_id_moves_the_only_variant_the_product_has(
    inventory: Inventory, catalog: CatalogFeed
) -> None:
    product_id, [variant_id] = await catalog.product_with_variants(1)

    adjusted = await inventory.adjust(product_id, 2)

    assert adjusted == {"id": product_id, "stock": stock(2), "inStock": True}
    assert (
        await inventory.scalar(
            "SELECT on_hand FROM stock_items WHERE variant_id = :v", v=uuid.UUID(variant_id)
        )
        == 2
    )


async def test_adjust_stock_by_the_id_of_a_product_with_several_variants_is_refused(
    inventory: Inventory, gql, catalog: CatalogFeed
) -> None:
    product_id, _ = await catalog.product_with_variants(2)

    by_product = await gql(
        "inventory", ADJUST, {"productId": product_id, "delta": 5, "reason": "x"}, token=inventory.admin_token
    )
    as_variant = await adjust_variant(inventory, gql, product_id, 5)

    assert by_product.error_codes == ["VARIANT_REQUIRED"]
    assert as_variant.error_codes == ["VARIANT_REQUIRED"]
    assert (
        await inventory.scalar(
            "SELECT count(*) FROM stock_items WHERE variant_id = :p", p=uuid.UUID(product_id)
        )
        == 0
    )
    assert await inventory.scalar("SELECT count(*) FROM stock_movements") == 0


async def test_a_variant_inventory_never_heard_of_gets_a_row_of_its_own_until_the_catalog_says_more(
    inventory: Inventory, gql, catalog: CatalogFeed
) -> None:
    variant_id, product_id = new_product(), new_product()

    adjusted = (await adjust_variant(inventory, gql, variant_id, 3)).ok()["adjustVariantStock"]
    await catalog.apply(variant_event("VariantCreated", variant_id, product_id))

    assert adjusted == {"id": variant_id, "stock": stock(3), "inStock": True}
    assert (await entities(gql, ("Product", product_id)))[0]["stock"] == stock(3)
    assert (await entities(gql, ("Product", variant_id)))[0]["stock"] == stock(0)


async def test_adjust_variant_stock_is_for_admins_only(inventory: Inventory, gql, issuer) -> None:
    variables = {"variantId": new_product(), "delta": 5, "reason": "x"}
    customer = issuer.issue(str(uuid.uuid4()), ["CUSTOMER"]).token

    answers = [
        await gql("inventory", ADJUST_VARIANT, variables, token=token)
        for token in (customer, inventory.service_token, None)
    ]

    assert [answer.error_codes for answer in answers] == [["FORBIDDEN"], ["FORBIDDEN"], ["UNAUTHENTICATED"]]
    assert await inventory.scalar("SELECT count(*) FROM stock_items") == 0


async def test_reservation_lines_by_variant_hold_that_variant_only_and_name_its_product(
    inventory: Inventory, gql, catalog: CatalogFeed
) -> None:
    product_id, (first, second) = await catalog.product_with_variants(2)
    for variant_id in (first, second):
        (await adjust_variant(inventory, gql, variant_id, 5)).ok()

    answer = await reserve_lines(inventory, gql, "k-1", [{"variantId": second, "quantity": 2}])

    assert answer.ok()["reserveStock"]["lines"] == [
        {"variantId": second, "productId": product_id, "quantity": 2}
    ]
    assert await entities(gql, ("ProductVariant", first), ("ProductVariant", second)) == [
        {"id": first, "stock": stock(5), "inStock": True},
        {"id": second, "stock": stock(3, 2), "inStock": True},
    ]
    [reserved] = [e for e in await inventory.events("StockChanged", second) if e["reason"] == "reserved"]
    assert (reserved["variantId"], reserved["productId"], reserved["available"]) == (second, product_id, 3)
    assert await inventory.ledger_disagreements() == []


async def test_a_line_by_product_id_and_one_by_the_same_variant_id_are_merged(
    inventory: Inventory, gql
) -> None:
    legacy = await inventory.stocked(10)

    answer = await reserve_lines(
        inventory, gql, "k-1", [{"productId": legacy, "quantity": 2}, {"variantId": legacy, "quantity": 1}]
    )

    assert answer.ok()["reserveStock"]["lines"] == [{"variantId": legacy, "productId": legacy, "quantity": 3}]


@pytest.mark.parametrize(
    "line",
    [
        {"quantity": 1},
        {"variantId": "V", "productId": "V", "quantity": 1},
        {"variantId": "not-a-uuid", "quantity": 1},
    ],
)
async def test_a_line_names_exactly_one_valid_id(inventory: Inventory, gql, line: dict[str, Any]) -> None:
    stocked = await inventory.stocked(3)
    line = {key: stocked if value == "V" else value for key, value in line.items()}

    answer = await reserve_lines(inventory, gql, "k-1", [line])

    assert answer.error_codes == ["BAD_USER_INPUT"]
    assert answer.errors[0]["extensions"]["field"] == "lines[0].variantId"
    assert await inventory.scalar("SELECT count(*) FROM reservations") == 0
