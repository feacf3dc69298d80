"""The saga's reservation operations: reserve, confirm, release; idempotent by key, atomic, SERVICE only."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from inventory_api import (
    CONFIRM,
    RELEASE,
    RESERVATION,
    RESERVE,
    Inventory,
    new_key,
    new_product,
    reserve_input,
)


async def test_reserve_holds_units_for_the_order(inventory: Inventory):
    product_id = await inventory.stocked(10)
    order_id = str(uuid.uuid4())

    reservation = await inventory.reserve("k-1", [(product_id, 3)], order_id=order_id)

    assert reservation["key"] == "k-1"
    assert reservation["orderId"] == order_id
    assert reservation["status"] == "RESERVED"
    assert reservation["lines"] == [{"productId": product_id, "quantity": 3}]
    assert await inventory.stock(product_id) == {"available": 7, "reserved": 3, "onHand": 10}


async def test_a_reservation_expires_after_the_configured_ttl(inventory: Inventory, api):
    product_id = await inventory.stocked(10)
    before = datetime.now(UTC)

    reservation = await inventory.reserve(new_key(), [(product_id, 1)])

    ttl = timedelta(seconds=api.settings["inventory"].reservation_ttl_seconds)
    expires_at = datetime.fromisoformat(reservation["expiresAt"])
    assert before + ttl - timedelta(seconds=5) <= expires_at <= datetime.now(UTC) + ttl + timedelta(seconds=5)


async def test_confirm_takes_the_reserved_units_off_hand(inventory: Inventory):
    product_id = await inventory.stocked(10)
    await inventory.reserve("k-1", [(product_id, 3)])

    confirmed = await inventory.confirm("k-1")

    assert confirmed["status"] == "CONFIRMED"
    assert confirmed["expiresAt"] is None
    assert await inventory.stock(product_id) == {"available": 7, "reserved": 0, "onHand": 7}


async def test_confirming_twice_returns_the_confirmed_reservation_and_moves_nothing(inventory: Inventory):
    product_id = await inventory.stocked(10)
    await inventory.reserve("k-1", [(product_id, 3)])
    first = await inventory.confirm("k-1")

    again = await inventory.confirm("k-1")

    assert again == first
    assert await inventory.stock(product_id) == {"available": 7, "reserved": 0, "onHand": 7}
    assert await inventory.scalar("SELECT count(*) FROM stock_movements WHERE reason = 'confirmed'") == 1


async def test_release_gives_the_reserved_units_back(inventory: Inventory):
    product_id = await inventory.stocked(10)
    await inventory.reserve("k-1", [(product_id, 3)])

    released = await inventory.release("k-1", "payment declined")

    assert released["status"] == "RELEASED"
    assert released["lines"] == [{"productId": product_id, "quantity": 3}]
    assert await inventory.stock(product_id) == {"available": 10, "reserved": 0, "onHand": 10}


async def test_releasing_twice_releases_once(inventory: Inventory):
    product_id = await inventory.stocked(10)
    await inventory.reserve("k-1", [(product_id, 3)])
    first = await inventory.release("k-1")

    again = await inventory.release("k-1", "retried")

    assert again == first
    assert await inventory.stock(product_id) == {"available": 10, "reserved": 0, "onHand": 10}
    assert await inventory.ledger_disagreements() == []


async def test_release_after_confirm_restocks_the_units(inventory: Inventory):
    product_id = await inventory.stocked(10)
    await inventory.reserve("k-1", [(product_id, 3)])
    await inventory.confirm("k-1")

    restocked = await inventory.release("k-1", "order cancelled")

    assert restocked["status"] == "RESTOCKED"
    assert await inventory.stock(product_id) == {"available": 10, "reserved": 0, "onHand": 10}
    again = await inventory.release("k-1", "order cancelled")
    assert again["status"] == "RESTOCKED"
    assert await inventory.stock(product_id) == {"available": 10, "reserved": 0, "onHand": 10}


@pytest.mark.parametrize("ended_by", ["release", "release after confirm"])
async def test_confirm_after_the_units_went_back_is_refused(inventory: Inventory, ended_by):
    product_id = await inventory.stocked(10)
    await inventory.reserve("k-1", [(product_id, 3)])
    if ended_by == "release after confirm":
        await inventory.confirm("k-1")
    await inventory.release("k-1")
    before = await inventory.stock(product_id)

    resp = await inventory.confirm_call("k-1")

    assert resp.error_codes == ["RESERVATION_RELEASED"]
    assert await inventory.stock(product_id) == before


async def test_confirm_of_an_unknown_key_is_not_found(inventory: Inventory):
    resp = await inventory.confirm_call("never-reserved")

    assert resp.error_codes == ["NOT_FOUND"]
    assert await inventory.reservation("never-reserved") is None


async def test_the_same_key_twice_reserves_once(inventory: Inventory):
    product_id = await inventory.stocked(10)
    first = await inventory.reserve("k-1", [(product_id, 3)])

    again = await inventory.reserve("k-1", [(product_id, 3)])

    assert again == first
    assert await inventory.stock(product_id) == {"available": 7, "reserved": 3, "onHand": 10}


async def test_a_known_key_returns_its_reservation_whatever_the_new_request_says(inventory: Inventory):
    product_id, other = await inventory.stocked(10), await inventory.stocked(10)
    first = await inventory.reserve("k-1", [(product_id, 3)])
    await inventory.confirm("k-1")

    again = await inventory.reserve("k-1", [(other, 5)])

    assert again == {**first, "status": "CONFIRMED", "expiresAt": None}
    assert await inventory.stock(other) == {"available": 10, "reserved": 0, "onHand": 10}


async def test_concurrent_calls_with_one_key_reserve_once(inventory: Inventory):
    product_id = await inventory.stocked(100)
    order_id = str(uuid.uuid4())

    results = await asyncio.gather(
        *(inventory.reserve("k-1", [(product_id, 2)], order_id=order_id) for _ in range(10))
    )

    assert len({result["id"] for result in results}) == 1
    assert await inventory.stock(product_id) == {"available": 98, "reserved": 2, "onHand": 100}
    assert await inventory.scalar("SELECT count(*) FROM reservations") == 1
    assert await inventory.ledger_disagreements() == []


@pytest.mark.parametrize("short_position", [0, 1, 2])
async def test_one_short_line_reserves_nothing(inventory: Inventory, short_position):
    # Lines are reserved in product id order: the short line comes first, in the middle or last.
    product_ids = sorted(str(uuid.uuid4()) for _ in range(3))
    on_hand = [1 if index == short_position else 10 for index in range(3)]
    for product_id, quantity in zip(product_ids, on_hand, strict=True):
        await inventory.adjust(product_id, quantity)
    short = product_ids[short_position]

    resp = await inventory.reserve_call("k-1", [(product_id, 2) for product_id in reversed(product_ids)])

    assert resp.error_codes == ["OUT_OF_STOCK"]
    extensions = resp.errors[0]["extensions"]
    assert (extensions["productId"], extensions["requested"], extensions["available"]) == (short, 2, 1)
    for product_id, quantity in zip(product_ids, on_hand, strict=True):
        assert await inventory.stock(product_id) == {"available": quantity, "reserved": 0, "onHand": quantity}
    assert await inventory.reservation("k-1") is None
    assert await inventory.scalar("SELECT count(*) FROM stock_movements WHERE reason = 'reserved'") == 0
    assert [e for e in await inventory.events("StockChanged") if e["reason"] == "reserved"] == []


async def test_an_out_of_stock_key_can_reserve_once_stock_arrives(inventory: Inventory):
    product_id = await inventory.stocked(1)
    assert (await inventory.reserve_call("k-1", [(product_id, 2)])).error_codes == ["OUT_OF_STOCK"]
    await inventory.adjust(product_id, 1)

    reservation = await inventory.reserve("k-1", [(product_id, 2)])

    assert reservation["status"] == "RESERVED"
    assert await inventory.stock(product_id) == {"available": 0, "reserved": 2, "onHand": 2}


async def test_a_product_never_stocked_is_out_of_stock(inventory: Inventory):
    product_id = new_product()

    resp = await inventory.reserve_call("k-1", [(product_id, 1)])

    assert resp.error_codes == ["OUT_OF_STOCK"]
    assert resp.errors[0]["extensions"]["productId"] == product_id


async def test_lines_of_one_product_are_merged(inventory: Inventory):
    product_id = await inventory.stocked(10)

    reservation = await inventory.reserve("k-1", [(product_id, 2), (product_id.upper(), 3)])

    assert reservation["lines"] == [{"productId": product_id, "quantity": 5}]
    assert await inventory.stock(product_id) == {"available": 5, "reserved": 5, "onHand": 10}


async def test_a_release_of_an_unknown_key_leaves_a_tombstone_that_a_late_reserve_returns(
    inventory: Inventory,
):
    product_id = await inventory.stocked(10)

    tombstone = await inventory.release("k-late", "saga gave up")
    late = await inventory.reserve("k-late", [(product_id, 3)])

    assert tombstone["status"] == "RELEASED"
    assert tombstone["lines"] == []
    assert tombstone["orderId"] is None
    assert late == tombstone
    assert await inventory.stock(product_id) == {"available": 10, "reserved": 0, "onHand": 10}


async def test_a_release_racing_its_reserve_leaves_nothing_reserved(inventory: Inventory):
    product_id = await inventory.stocked(100)
    keys = [new_key() for _ in range(20)]

    await asyncio.gather(
        *(inventory.reserve_call(key, [(product_id, 1)]) for key in keys),
        *(inventory.release(key, "timed out") for key in keys),
    )

    assert await inventory.stock(product_id) == {"available": 100, "reserved": 0, "onHand": 100}
    statuses = await inventory.rows("SELECT DISTINCT status FROM reservations")
    assert {row.status for row in statuses} == {"RELEASED"}
    assert await inventory.ledger_disagreements() == []


async def test_concurrent_confirm_and_release_of_one_reservation_act_once(inventory: Inventory):
    product_id = await inventory.stocked(10)
    await inventory.reserve("k-1", [(product_id, 4)])

    confirm, release = await asyncio.gather(
        inventory.confirm_call("k-1"), inventory.release("k-1", "customer cancelled")
    )

    stock = await inventory.stock(product_id)
    if confirm.errors:  # the release came first: nothing left the warehouse
        assert confirm.error_codes == ["RESERVATION_RELEASED"]
        assert release["status"] == "RELEASED"
    else:  # the confirmation came first: the release restocked
        assert release["status"] == "RESTOCKED"
    assert stock == {"available": 10, "reserved": 0, "onHand": 10}
    assert await inventory.ledger_disagreements() == []


async def test_the_reservation_query_reads_a_reservation_by_key(inventory: Inventory):
    product_id = await inventory.stocked(10)
    reserved = await inventory.reserve("k-1", [(product_id, 3)])

    assert await inventory.reservation("k-1") == reserved
    assert await inventory.reservation("k-2") is None


def _lines(count: int) -> list[dict[str, object]]:
    return [{"productId": str(uuid.uuid4()), "quantity": 1} for _ in range(count)]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lines": []}, "lines"),
        ({"lines": _lines(101)}, "lines"),
        ({"lines": [{"productId": "p-1", "quantity": 1}]}, "lines[0].productId"),
        ({"lines": [{"productId": str(uuid.uuid4()), "quantity": 0}]}, "lines[0].quantity"),
        ({"lines": [{"productId": str(uuid.uuid4()), "quantity": -1}]}, "lines[0].quantity"),
        ({"lines": [{"productId": str(uuid.uuid4()), "quantity": 10_001}]}, "lines[0].quantity"),
        ({"orderId": "order-1"}, "orderId"),
        ({"key": "  "}, "key"),
        ({"key": "k" * 201}, "key"),
    ],
)
async def test_invalid_reservations_are_refused_and_reserve_nothing(inventory: Inventory, gql, change, field):
    product_id = await inventory.stocked(10)
    variables = {"input": {**reserve_input("k-1", [(product_id, 1)]), **change}}

    resp = await gql("inventory", RESERVE, variables, token=inventory.service_token)

    assert resp.error_codes == ["BAD_USER_INPUT"]
    assert resp.errors[0]["extensions"]["field"] == field
    assert await inventory.scalar("SELECT count(*) FROM reservations") == 0
    assert await inventory.stock(product_id) == {"available": 10, "reserved": 0, "onHand": 10}


async def test_the_largest_reservation_is_accepted(inventory: Inventory):
    products = [await inventory.stocked(10_000) for _ in range(2)]
    lines = [(products[i % 2], 100) for i in range(100)]

    reservation = await inventory.reserve("k-1", lines)

    assert sorted(line["quantity"] for line in reservation["lines"]) == [5000, 5000]


INTERNAL_OPERATIONS = [
    ("reserveStock", RESERVE, {"input": reserve_input("k-1", [(str(uuid.uuid4()), 1)])}),
    ("confirmReservation", CONFIRM, {"key": "k-1"}),
    ("releaseReservation", RELEASE, {"key": "k-1", "reason": "x"}),
    ("reservation", RESERVATION, {"key": "k-1"}),
]


@pytest.mark.parametrize(("operation", "document", "variables"), INTERNAL_OPERATIONS)
@pytest.mark.parametrize(
    ("roles", "code"),
    [
        (["CUSTOMER"], "FORBIDDEN"),
        (["ADMIN"], "FORBIDDEN"),
        (["PARTNER"], "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
    ],
)
async def test_internal_operations_refuse_callers_without_a_service_token(
    inventory: Inventory, gql, issuer, operation, document, variables, roles, code
):
    token = issuer.issue(str(uuid.uuid4()), roles).token if roles else None

    resp = await gql("inventory", document, variables, token=token)

    assert resp.error_codes == [code], operation
    assert resp.data is None or resp.data == {operation: None}
    assert await inventory.scalar("SELECT count(*) FROM reservations") == 0


async def test_reservation_outcomes_are_counted_in_the_metrics(inventory: Inventory, api, http):
    product_id = await inventory.stocked(1)

    async def outcomes() -> dict[str, float]:
        text = (await http.get(f"{api.url('inventory')}/metrics")).text
        counts = {}
        for line in text.splitlines():
            if line.startswith("myshop_inventory_reservations_total{"):
                labels, value = line.rsplit(" ", 1)
                counts[labels.split('outcome="')[1].split('"')[0]] = float(value)
        return counts

    before = await outcomes()
    await inventory.reserve("k-1", [(product_id, 1)])
    await inventory.reserve_call("k-2", [(product_id, 1)])
    await inventory.confirm("k-1")
    await inventory.release("k-1")
    after = await outcomes()

    delta = {outcome: after[outcome] - before.get(outcome, 0.0) for outcome in after}
    assert delta == {
        "reserved": 1,
        "out_of_stock": 1,
        "not_sellable": 0,
        "confirmed": 1,
        "released": 0,
        "expired": 0,
        "restocked": 1,
    }
