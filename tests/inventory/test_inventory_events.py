"""The events inventory writes to its outbox with each stock change: StockChanged, and StockLow."""

from __future__ import annotations

from inventory_api import Inventory, new_product


async def test_an_adjustment_emits_stock_changed_with_the_new_levels(inventory: Inventory):
    product_id = new_product()

    await inventory.adjust(product_id, 12, "delivery")

    assert await inventory.events("StockChanged", product_id) == [
        {
            # A product inventory never heard of from the catalog: its own single variant, sharing its id.
            "variantId": product_id,
            "productId": product_id,
            "available": 12,
            "reserved": 0,
            "onHand": 12,
            "previousAvailable": 0,
            "reason": "delivery",
        }
    ]


async def test_each_reservation_step_emits_stock_changed_once_per_product(inventory: Inventory):
    product_id, other = await inventory.stocked(10), await inventory.stocked(10)

    await inventory.reserve("k-1", [(product_id, 2), (other, 1), (product_id, 1)])
    await inventory.confirm("k-1")
    await inventory.release("k-1", "order cancelled")

    changes = [
        (event["reason"], event["previousAvailable"], event["available"], event["reserved"], event["onHand"])
        for event in await inventory.events("StockChanged", product_id)
    ]
    assert changes == [
        ("received", 0, 10, 0, 10),
        ("reserved", 10, 7, 3, 10),
        ("confirmed", 7, 7, 0, 7),
        ("order cancelled", 7, 10, 0, 10),
    ]
    assert len(await inventory.events("StockChanged", other)) == 4


async def test_stock_low_is_emitted_when_available_falls_below_the_threshold(inventory: Inventory, api):
    threshold = api.settings["inventory"].low_stock_threshold
    product_id = await inventory.stocked(threshold + 1)

    await inventory.reserve("k-1", [(product_id, 1)])  # down to the threshold: not low yet
    assert await inventory.events("StockLow", product_id) == []
    await inventory.reserve("k-2", [(product_id, 1)])  # below it

    assert await inventory.events("StockLow", product_id) == [
        {"variantId": product_id, "productId": product_id, "available": threshold - 1, "threshold": threshold}
    ]


async def test_stock_low_is_not_repeated_while_stock_stays_low(inventory: Inventory, api):
    threshold = api.settings["inventory"].low_stock_threshold
    product_id = await inventory.stocked(threshold)
    await inventory.reserve("k-1", [(product_id, 1)])

    await inventory.reserve("k-2", [(product_id, 1)])
    await inventory.adjust(product_id, -1, "broken")

    assert len(await inventory.events("StockLow", product_id)) == 1


async def test_stock_low_is_emitted_again_after_stock_recovered(inventory: Inventory, api):
    threshold = api.settings["inventory"].low_stock_threshold
    product_id = await inventory.stocked(threshold)
    await inventory.adjust(product_id, -1, "broken")
    await inventory.adjust(product_id, 10, "delivery")

    await inventory.adjust(product_id, -10, "recall")

    assert len(await inventory.events("StockLow", product_id)) == 2


async def test_a_refused_reservation_emits_nothing(inventory: Inventory):
    product_id = await inventory.stocked(1)
    before = await inventory.events("StockChanged")

    resp = await inventory.reserve_call("k-1", [(product_id, 2)])

    assert resp.error_codes == ["OUT_OF_STOCK"]
    assert await inventory.events("StockChanged") == before
