"""Product.stock / Product.inStock through `_entities`, and adjustStock: admin only, validated, ledgered."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from inventory_api import ADJUST, STOCK, Inventory, new_product
from sqlalchemy import event


async def test_a_product_inventory_never_stocked_has_zero_stock_and_is_not_in_stock(inventory: Inventory):
    product_id = new_product()

    [product] = await inventory.products(product_id)

    assert product == {
        "id": product_id,
        "stock": {"available": 0, "reserved": 0, "onHand": 0},
        "inStock": False,
    }


async def test_first_adjustment_creates_the_stock_row(inventory: Inventory):
    product_id = new_product()

    adjusted = await inventory.adjust(product_id, 12, "first delivery")

    assert adjusted == {
        "id": product_id,
        "stock": {"available": 12, "reserved": 0, "onHand": 12},
        "inStock": True,
    }
    assert await inventory.stock(product_id) == {"available": 12, "reserved": 0, "onHand": 12}


async def test_adjustments_add_up_with_one_ledger_row_each(inventory: Inventory):
    product_id = new_product()

    await inventory.adjust(product_id, 10, "delivery")
    await inventory.adjust(product_id, 5, "delivery")
    adjusted = await inventory.adjust(product_id, -3, "  broken in the warehouse  ")

    assert adjusted["stock"] == {"available": 12, "reserved": 0, "onHand": 12}
    ledger = await inventory.rows(
        "SELECT delta_on_hand, delta_reserved, reason FROM stock_movements WHERE variant_id = :p ORDER BY id",
        p=uuid.UUID(product_id),
    )
    assert [tuple(row) for row in ledger] == [
        (10, 0, "delivery"),
        (5, 0, "delivery"),
        (-3, 0, "broken in the warehouse"),
    ]
    assert await inventory.ledger_disagreements() == []


async def test_a_decrease_below_the_reserved_units_is_refused_and_changes_nothing(inventory: Inventory, gql):
    product_id = await inventory.stocked(10)
    await inventory.reserve("k-1", [(product_id, 8)])

    resp = await gql(
        "inventory",
        ADJUST,
        {"productId": product_id, "delta": -3, "reason": "stocktake"},
        token=inventory.admin_token,
    )

    assert resp.error_codes == ["INSUFFICIENT_STOCK"]
    assert resp.errors[0]["extensions"]["available"] == 2
    assert resp.data is None
    assert await inventory.stock(product_id) == {"available": 2, "reserved": 8, "onHand": 10}
    assert await inventory.scalar("SELECT count(*) FROM stock_movements WHERE reason = 'stocktake'") == 0


async def test_a_decrease_down_to_the_reserved_units_is_allowed(inventory: Inventory):
    product_id = await inventory.stocked(10)
    await inventory.reserve("k-1", [(product_id, 8)])

    adjusted = await inventory.adjust(product_id, -2, "stocktake")

    assert adjusted["stock"] == {"available": 0, "reserved": 8, "onHand": 8}
    assert adjusted["inStock"] is False


async def test_a_decrease_of_a_product_never_stocked_is_refused_and_creates_no_row(inventory: Inventory, gql):
    product_id = new_product()

    resp = await gql(
        "inventory",
        ADJUST,
        {"productId": product_id, "delta": -1, "reason": "x"},
        token=inventory.admin_token,
    )

    assert resp.error_codes == ["INSUFFICIENT_STOCK"]
    assert await inventory.scalar("SELECT count(*) FROM stock_items") == 0


@pytest.mark.parametrize(
    ("product_id", "delta", "reason", "field"),
    [
        (None, 0, "nothing", "delta"),
        (None, 1_000_001, "too many", "delta"),
        (None, -1_000_001, "too many", "delta"),
        (None, 5, "   ", "reason"),
        (None, 5, "x" * 201, "reason"),
        ("not-a-uuid", 5, "delivery", "productId"),
    ],
)
async def test_invalid_adjustments_are_refused_and_change_nothing(
    inventory: Inventory, gql, product_id, delta, reason, field
):
    stocked = await inventory.stocked(4)

    resp = await gql(
        "inventory",
        ADJUST,
        {"productId": product_id or stocked, "delta": delta, "reason": reason},
        token=inventory.admin_token,
    )

    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == field
    assert await inventory.stock(stocked) == {"available": 4, "reserved": 0, "onHand": 4}
    assert await inventory.scalar("SELECT count(*) FROM stock_movements") == 1


async def test_the_largest_adjustment_is_accepted(inventory: Inventory):
    product_id = new_product()

    adjusted = await inventory.adjust(product_id, 1_000_000, "pallet")

    assert adjusted["stock"]["onHand"] == 1_000_000


@pytest.mark.parametrize(
    ("roles", "code"), [(["CUSTOMER"], "FORBIDDEN"), (["PARTNER"], "FORBIDDEN"), (None, "UNAUTHENTICATED")]
)
async def test_only_admins_adjust_stock(inventory: Inventory, gql, issuer, roles, code):
    product_id = new_product()
    token = issuer.issue(str(uuid.uuid4()), roles).token if roles else None

    resp = await gql("inventory", ADJUST, {"productId": product_id, "delta": 5, "reason": "x"}, token=token)

    assert resp.error_codes == [code]
    assert await inventory.scalar("SELECT count(*) FROM stock_items") == 0


async def test_a_service_token_cannot_adjust_stock(inventory: Inventory, gql):
    resp = await gql(
        "inventory",
        ADJUST,
        {"productId": new_product(), "delta": 5, "reason": "x"},
        token=inventory.service_token,
    )

    assert resp.error_codes == ["FORBIDDEN"]


async def test_concurrent_adjustments_lose_no_update(inventory: Inventory):
    product_id = await inventory.stocked(100)

    await asyncio.gather(*(inventory.adjust(product_id, delta) for delta in [3, -2] * 20))

    assert await inventory.stock(product_id) == {"available": 120, "reserved": 0, "onHand": 120}
    assert await inventory.ledger_disagreements() == []


async def test_stock_of_many_products_is_read_with_one_select(inventory: Inventory, gql, api):
    stocked = [await inventory.stocked(quantity) for quantity in (1, 2, 3)]
    wanted = [*stocked, new_product(), stocked[0]]
    engine = api.servers["inventory"].server.config.app.state.runtime.engine.sync_engine
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(engine, "after_cursor_execute", record)
    try:
        resp = await gql(
            "inventory", STOCK, {"representations": [{"__typename": "Product", "id": pid} for pid in wanted]}
        )
    finally:
        event.remove(engine, "after_cursor_execute", record)

    on_hand = [product["stock"]["onHand"] for product in resp.ok()["_entities"]]
    assert on_hand == [1, 2, 3, 0, 1]
    assert len([s for s in statements if "stock_items" in s]) == 1


async def test_a_representation_that_is_not_a_uuid_has_zero_stock(inventory: Inventory):
    [product] = await inventory.products("legacy-42")

    assert product == {
        "id": "legacy-42",
        "stock": {"available": 0, "reserved": 0, "onHand": 0},
        "inStock": False,
    }
