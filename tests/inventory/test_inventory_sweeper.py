"""The sweeper: RESERVED reservations past their deadline become EXPIRED and their units are freed, once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from eventually import eventually
from inventory_api import Inventory, new_key
from sqlalchemy import text

from shared.app import create_subgraph_app
from shared.testing import ServerThread
from subgraphs.inventory.app import definition
from subgraphs.inventory.service import InventoryService, sweep_expired_reservations
from subgraphs.inventory.settings import InventorySettings

# Later than every deadline a test makes (the TTL is 15 minutes): "as if the sweeper ran tomorrow".
TOMORROW = timedelta(days=1)


@pytest.fixture
def settings() -> InventorySettings:
    return InventorySettings(sweep_batch_size=4)


async def sweep(inventory: Inventory, settings: InventorySettings, *, later: timedelta = TOMORROW) -> int:
    return await sweep_expired_reservations(inventory.sessions, settings, as_of=datetime.now(UTC) + later)


async def test_the_sweeper_expires_a_lapsed_reservation_and_frees_its_units(inventory: Inventory, settings):
    product_id = await inventory.stocked(10)
    reserved = await inventory.reserve("k-1", [(product_id, 3)])

    expired = await sweep(inventory, settings)

    assert expired == 1
    reservation = await inventory.reservation("k-1")
    assert reservation["status"] == "EXPIRED"
    assert reservation["expiresAt"] == reserved["expiresAt"]
    assert await inventory.stock(product_id) == {"available": 10, "reserved": 0, "onHand": 10}
    assert await inventory.ledger_disagreements() == []


async def test_the_sweeper_leaves_reservations_within_their_ttl_alone(inventory: Inventory, settings):
    product_id = await inventory.stocked(10)
    await inventory.reserve("k-1", [(product_id, 3)])

    expired = await sweep(inventory, settings, later=timedelta(0))

    assert expired == 0
    assert (await inventory.reservation("k-1"))["status"] == "RESERVED"
    assert await inventory.stock(product_id) == {"available": 7, "reserved": 3, "onHand": 10}


async def test_a_second_sweep_frees_nothing_more(inventory: Inventory, settings):
    product_id = await inventory.stocked(10)
    await inventory.reserve("k-1", [(product_id, 3)])
    await sweep(inventory, settings)

    again = await sweep(inventory, settings)

    assert again == 0
    assert await inventory.stock(product_id) == {"available": 10, "reserved": 0, "onHand": 10}
    assert await inventory.scalar("SELECT count(*) FROM stock_movements WHERE reason = 'expired'") == 1


async def test_the_sweeper_leaves_confirmed_and_released_reservations_alone(inventory: Inventory, settings):
    product_id = await inventory.stocked(10)
    await inventory.reserve("k-confirmed", [(product_id, 3)])
    await inventory.confirm("k-confirmed")
    await inventory.reserve("k-released", [(product_id, 2)])
    await inventory.release("k-released")

    assert await sweep(inventory, settings) == 0
    assert await inventory.stock(product_id) == {"available": 7, "reserved": 0, "onHand": 7}


async def test_concurrent_sweepers_free_each_reservation_once(inventory: Inventory, settings):
    products = [await inventory.stocked(100) for _ in range(3)]
    for index in range(30):
        await inventory.reserve(new_key(), [(products[index % 3], 1), (products[(index + 1) % 3], 2)])

    counts = await asyncio.gather(*(sweep(inventory, settings) for _ in range(4)))

    assert sum(counts) == 30
    for product_id in products:
        assert await inventory.stock(product_id) == {"available": 100, "reserved": 0, "onHand": 100}
    assert await inventory.scalar("SELECT count(*) FROM reservations WHERE status = 'EXPIRED'") == 30
    assert await inventory.scalar("SELECT count(*) FROM stock_movements WHERE reason = 'expired'") == 60
    assert await inventory.ledger_disagreements() == []


async def test_confirming_an_expired_reservation_is_refused(inventory: Inventory, settings):
    product_id = await inventory.stocked(10)
    await inventory.reserve("k-1", [(product_id, 3)])
    await sweep(inventory, settings)

    resp = await inventory.confirm_call("k-1")

    assert resp.error_codes == ["RESERVATION_RELEASED"]
    assert await inventory.stock(product_id) == {"available": 10, "reserved": 0, "onHand": 10}


async def test_releasing_an_expired_reservation_returns_it_as_is(inventory: Inventory, settings):
    product_id = await inventory.stocked(10)
    await inventory.reserve("k-1", [(product_id, 3)])
    await sweep(inventory, settings)

    released = await inventory.release("k-1", "payment timed out")

    assert released["status"] == "EXPIRED"
    assert await inventory.stock(product_id) == {"available": 10, "reserved": 0, "onHand": 10}


async def test_a_reservation_past_its_deadline_not_yet_swept_can_still_be_confirmed(
    inventory: Inventory, settings
):
    # Its units are still held, so the order may have them: only the sweeper ends a reservation by time.
    product_id = await inventory.stocked(10)
    await inventory.reserve("k-1", [(product_id, 3)])

    # In one transaction, so that the service's own sweeper cannot come between the two.
    async with inventory.sessions.begin() as session:
        await session.execute(text("UPDATE reservations SET expires_at = now() - interval '1 minute'"))
        confirmed = await InventoryService(session, settings).confirm_reservation("k-1")

    assert confirmed.status == "CONFIRMED"
    assert await inventory.stock(product_id) == {"available": 7, "reserved": 0, "onHand": 7}


async def test_the_service_sweeps_lapsed_reservations_on_its_own(inventory: Inventory):
    product_id = await inventory.stocked(10)
    await inventory.reserve("k-1", [(product_id, 3)])
    await inventory.lapse_reservations()
    # A second inventory process on the same database, sweeping every 50 ms.
    server = ServerThread(
        create_subgraph_app(definition, InventorySettings(jwks_url="", sweep_interval_seconds=0.05))
    )
    await asyncio.to_thread(server.start)
    try:
        await eventually(lambda: inventory.reservation("k-1"), lambda r: r["status"] == "EXPIRED")
    finally:
        await asyncio.to_thread(server.stop)

    assert (await inventory.reservation("k-1"))["status"] == "EXPIRED"
    assert await inventory.stock(product_id) == {"available": 10, "reserved": 0, "onHand": 10}
