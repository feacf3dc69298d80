"""Inventory follows the catalog: products' events (applied through inventory's consumer, or published by
products itself and consumed by the running inventory server) make stock rows and decide what may be
reserved. A variant that is archived, or whose product is, is refused by inventory itself (NOT_SELLABLE);
units already held still go back or leave."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from catalog_events import CatalogFeed, product_updated, variant_event
from eventually import eventually
from inventory_api import Inventory, new_key, new_product
from redis.asyncio import Redis

from shared.consumer import HandlerFailed


@pytest.fixture
def catalog(inventory: Inventory, redis: Redis) -> CatalogFeed:
    return CatalogFeed(inventory.sessions, redis)


async def flags(inventory: Inventory, variant_id: str) -> tuple[bool, bool]:
    rows = await inventory.rows(
        "SELECT variant_active, product_active FROM stock_items WHERE variant_id = :v",
        v=uuid.UUID(variant_id),
    )
    return tuple(rows[0]) if rows else ()  # type: ignore[return-value]


# --- the consumer --------------------------------------------------------------------------------------


async def test_an_event_delivered_twice_is_applied_once(inventory: Inventory, catalog: CatalogFeed) -> None:
    product_id = new_product()
    created = product_updated(product_id, change="created", variant_ids=[product_id])

    assert await catalog.apply(created, created) == [True, False]
    assert await inventory.scalar("SELECT count(*) FROM processed_events WHERE \"group\" = 'inventory'") == 1


async def test_archiving_a_product_marks_every_row_of_it_and_restoring_it_unmarks_them(
    inventory: Inventory, catalog: CatalogFeed
) -> None:
    product_id, variant_ids = await catalog.product_with_variants(3)

    await catalog.apply(
        product_updated(product_id, active=False, change="archived", variant_ids=variant_ids, at=10)
    )
    archived = [await flags(inventory, vid) for vid in variant_ids]
    await catalog.apply(product_updated(product_id, active=True, variant_ids=variant_ids, at=20))

    assert archived == [(True, False)] * 3
    assert [await flags(inventory, vid) for vid in variant_ids] == [(True, True)] * 3


async def test_an_archive_without_variant_ids_reaches_the_rows_inventory_has_of_the_product(
    inventory: Inventory, catalog: CatalogFeed
) -> None:
    product_id, variant_ids = await catalog.product_with_variants(2)

    await catalog.apply(product_updated(product_id, active=False, change="archived", at=10))

    assert [await flags(inventory, vid) for vid in variant_ids] == [(True, False)] * 2
    # The old event's product id names the product's own single variant: it has a row now too.
    assert await flags(inventory, product_id) == (True, False)


async def test_events_handled_out_of_order_leave_the_newest_state(
    inventory: Inventory, catalog: CatalogFeed
) -> None:
    product_id, [variant_id] = await catalog.product_with_variants(1)

    # Archived at 30, restored at 20, product archived at 40 and restored at 35: handled newest first.
    await catalog.apply(
        variant_event("VariantArchived", variant_id, product_id, active=False, product_active=True, at=30),
        variant_event("VariantUpdated", variant_id, product_id, active=True, product_active=True, at=20),
        product_updated(product_id, active=False, change="archived", variant_ids=[variant_id], at=40),
        product_updated(product_id, active=True, variant_ids=[variant_id], at=35),
    )

    assert await flags(inventory, variant_id) == (False, False)


async def test_a_variant_event_before_its_product_event_makes_the_row_all_the_same(
    inventory: Inventory, catalog: CatalogFeed
) -> None:
    product_id, variant_id = new_product(), new_product()

    await catalog.apply(
        variant_event("VariantCreated", variant_id, product_id, at=5),
        product_updated(product_id, change="created", variant_ids=[variant_id], at=1),
    )

    rows = await inventory.rows("SELECT variant_id::text, product_id::text FROM stock_items")
    assert [tuple(row) for row in rows] == [(variant_id, product_id)]
    assert await flags(inventory, variant_id) == (True, True)


async def test_the_catalog_never_changes_the_units_of_a_row(
    inventory: Inventory, gql, catalog: CatalogFeed
) -> None:
    legacy = await inventory.stocked(7)
    await inventory.reserve("k-1", [(legacy, 2)])

    await catalog.apply(
        product_updated(legacy, change="created", variant_ids=[legacy]),
        variant_event("VariantUpdated", legacy, legacy, at=1),
    )

    assert await inventory.stock(legacy) == {"available": 5, "reserved": 2, "onHand": 7}
    assert await inventory.ledger_disagreements() == []


@pytest.mark.parametrize(
    "payload",
    [{"sku": "NO-IDS"}, {"productId": "not-a-uuid"}, {"productId": str(uuid.uuid4()), "variantIds": "x"}],
)
async def test_a_malformed_product_event_fails_and_changes_nothing(
    inventory: Inventory, catalog: CatalogFeed, payload: dict[str, Any]
) -> None:
    bad = product_updated(new_product())
    bad.payload.clear()
    bad.payload.update(payload)

    with pytest.raises(HandlerFailed):
        await catalog.apply(bad)

    # Rolled back with its processed-id row: retried, then dead-lettered by the consumer.
    assert await inventory.scalar("SELECT count(*) FROM processed_events") == 0
    assert await inventory.scalar("SELECT count(*) FROM stock_items") == 0


# --- refusals ------------------------------------------------------------------------------------------


async def test_a_reservation_of_an_archived_variant_is_refused_whole(
    inventory: Inventory, catalog: CatalogFeed
) -> None:
    product_id, (archived, kept) = await catalog.product_with_variants(2)
    for variant_id in (archived, kept):
        await inventory.adjust(variant_id, 5)
    await catalog.apply(variant_event("VariantArchived", archived, product_id, active=False, at=10))
    before = await inventory.events("StockChanged")

    answer = await inventory.reserve_call(new_key(), [(kept, 1), (archived, 1)])

    assert answer.error_codes == ["NOT_SELLABLE"]
    extensions = answer.errors[0]["extensions"]
    assert (extensions["variantId"], extensions["productId"], extensions["variantIds"]) == (
        archived,
        product_id,
        [archived],
    )
    assert await inventory.variant_stock(kept) == {"available": 5, "reserved": 0, "onHand": 5}
    assert await inventory.scalar("SELECT count(*) FROM reservations") == 0
    assert await inventory.events("StockChanged") == before


async def test_not_sellable_wins_over_out_of_stock(inventory: Inventory, catalog: CatalogFeed) -> None:
    product_id, (archived, short) = await catalog.product_with_variants(2)
    await inventory.adjust(archived, 5)
    await catalog.apply(variant_event("VariantArchived", archived, product_id, active=False, at=10))

    answer = await inventory.reserve_call(new_key(), [(short, 1), (archived, 1)])

    assert answer.error_codes == ["NOT_SELLABLE"]


async def test_a_reservation_of_a_variant_of_an_archived_product_is_refused(
    inventory: Inventory, catalog: CatalogFeed
) -> None:
    product_id, variant_ids = await catalog.product_with_variants(2)
    for variant_id in variant_ids:
        await inventory.adjust(variant_id, 5)
    await catalog.apply(
        product_updated(product_id, active=False, change="archived", variant_ids=variant_ids, at=9)
    )

    answers = [await inventory.reserve_call(new_key(), [(variant_id, 1)]) for variant_id in variant_ids]

    assert [answer.error_codes for answer in answers] == [["NOT_SELLABLE"], ["NOT_SELLABLE"]]
    assert await inventory.scalar("SELECT count(*) FROM stock_items WHERE reserved > 0") == 0


async def test_units_held_before_an_archive_are_still_confirmed_and_released(
    inventory: Inventory, catalog: CatalogFeed
) -> None:
    product_id, [variant_id] = await catalog.product_with_variants(1)
    await inventory.adjust(variant_id, 10)
    await inventory.reserve("confirmed", [(variant_id, 2)])
    await inventory.reserve("released", [(variant_id, 3)])
    await catalog.apply(
        product_updated(product_id, active=False, change="archived", variant_ids=[variant_id], at=9)
    )

    assert (await inventory.confirm("confirmed"))["status"] == "CONFIRMED"
    assert (await inventory.release("released"))["status"] == "RELEASED"
    assert (await inventory.release("confirmed", "order cancelled"))["status"] == "RESTOCKED"
    assert await inventory.variant_stock(variant_id) == {"available": 10, "reserved": 0, "onHand": 10}
    assert await inventory.ledger_disagreements() == []


async def test_a_known_key_still_returns_its_reservation_after_an_archive(
    inventory: Inventory, catalog: CatalogFeed
) -> None:
    product_id, [variant_id] = await catalog.product_with_variants(1)
    await inventory.adjust(variant_id, 10)
    first = await inventory.reserve("k-1", [(variant_id, 2)])
    await catalog.apply(variant_event("VariantArchived", variant_id, product_id, active=False, at=9))

    again = await inventory.reserve("k-1", [(variant_id, 2)])

    assert again == first


# --- through products and the running consumer -----------------------------------------------------------

CREATE_PRODUCT = """
mutation Create($input: CreateProductInput!) { createProduct(input: $input) { id active } }
"""
ARCHIVE_PRODUCT = "mutation Archive($id: ID!) { archiveProduct(id: $id) { id active } }"
RESTORE_PRODUCT = """
mutation Restore($id: ID!) { updateProduct(id: $id, input: {active: true}) { id active } }
"""


async def test_after_archive_product_a_direct_reservation_of_its_variant_is_refused_by_inventory(
    inventory: Inventory, gql
) -> None:
    product_input = {
        "sku": f"INV-{uuid.uuid4().hex[:8].upper()}",
        "name": "Archived Mug",
        "price": {"amount": 900, "currency": "USD"},
        "category": "Kitchen",
    }
    created = await gql("products", CREATE_PRODUCT, {"input": product_input}, token=inventory.admin_token)
    product_id = created.ok()["createProduct"]["id"]
    # Its single variant shares its id: inventory makes its row from products' event.
    await eventually(
        lambda: inventory.scalar(
            "SELECT count(*) FROM stock_items WHERE product_id = :p", p=uuid.UUID(product_id)
        ),
        what="inventory's row for the new product",
    )
    await inventory.adjust(product_id, 5)

    (await gql("products", ARCHIVE_PRODUCT, {"id": product_id}, token=inventory.admin_token)).ok()
    await eventually(lambda: flags(inventory, product_id), lambda got: got == (True, False), what="archived")
    refused = await inventory.reserve_call(new_key(), [(product_id, 1)])
    (await gql("products", RESTORE_PRODUCT, {"id": product_id}, token=inventory.admin_token)).ok()
    await eventually(lambda: flags(inventory, product_id), lambda got: got == (True, True), what="restored")
    restored = await inventory.reserve_call(new_key(), [(product_id, 1)])

    assert refused.error_codes == ["NOT_SELLABLE"]
    assert refused.errors[0]["extensions"]["variantId"] == product_id
    assert restored.ok()["reserveStock"]["status"] == "RESERVED"
    assert await inventory.stock(product_id) == {"available": 4, "reserved": 1, "onHand": 5}


async def test_archives_racing_multi_line_reservations_neither_deadlock_nor_hold_archived_units(
    inventory: Inventory, catalog: CatalogFeed
) -> None:
    product_id, variant_ids = await catalog.product_with_variants(4)
    for variant_id in variant_ids:
        await inventory.adjust(variant_id, 100)
    # Every line lists the variants in another order; the events lock the product's rows all at once.
    orders = [variant_ids, variant_ids[::-1], variant_ids[1:] + variant_ids[:1]]

    async def toggle() -> None:
        for step in range(1, 21):
            active = step % 2 == 0
            change = "updated" if active else "archived"
            await catalog.apply(
                product_updated(product_id, active=active, change=change, variant_ids=variant_ids, at=step)
            )

    answers, _ = await asyncio.gather(
        asyncio.gather(
            *(
                inventory.reserve_call(new_key(), [(vid, 1) for vid in orders[i % len(orders)]])
                for i in range(30)
            )
        ),
        toggle(),
    )

    codes = [answer.error_codes for answer in answers]
    assert all(code in ([], ["NOT_SELLABLE"]) for code in codes), codes
    reserved = codes.count([])
    for variant_id in variant_ids:
        assert await inventory.variant_stock(variant_id) == {
            "available": 100 - reserved,
            "reserved": reserved,
            "onHand": 100,
        }
    assert await flags(inventory, variant_ids[0]) == (True, True)  # the last event (20) restored it
    assert await inventory.ledger_disagreements() == []
