"""restockReturn: a return's units back on hand once per key, in the ledger with the return's reason, with
StockChanged as any stock change; SERVICE only."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from inventory_api import Inventory

RESTOCK = """
mutation Restock($input: RestockReturnInput!) { restockReturn(input: $input) }
"""


async def restock(
    inventory: Inventory,
    key: str,
    lines: list[tuple[str, int]],
    *,
    reason: str = "return R-1",
    token: str | None = None,
) -> Any:
    variables = {
        "input": {
            "key": key,
            "orderId": str(uuid.uuid4()),
            "lines": [{"variantId": variant_id, "quantity": quantity} for variant_id, quantity in lines],
            "reason": reason,
        }
    }
    return await inventory.gql("inventory", RESTOCK, variables, token=token or inventory.service_token)


async def test_a_restock_puts_the_returned_units_back_on_hand_with_the_returns_reason(
    inventory: Inventory,
) -> None:
    variant_id = await inventory.stocked(5)

    response = await restock(inventory, "return:r1:restock", [(variant_id, 2)], reason="return r1")

    assert response.ok() == {"restockReturn": True}
    assert await inventory.stock(variant_id) == {"available": 7, "reserved": 0, "onHand": 7}
    [event] = (await inventory.events("StockChanged", variant_id))[1:]
    assert (event["previousAvailable"], event["available"], event["reason"]) == (5, 7, "return r1")
    ledger = await inventory.rows(
        "SELECT delta_on_hand, reason FROM stock_movements WHERE variant_id = :v ORDER BY id",
        v=uuid.UUID(variant_id),
    )
    assert [tuple(row) for row in ledger] == [(5, "received"), (2, "return r1")]
    assert await inventory.ledger_disagreements() == []


async def test_a_repeated_key_adds_nothing_again(inventory: Inventory) -> None:
    variant_id = await inventory.stocked(5)
    (await restock(inventory, "return:r2:restock", [(variant_id, 2)])).ok()

    again = await restock(inventory, "return:r2:restock", [(variant_id, 2)])

    assert again.ok() == {"restockReturn": True}
    assert (await inventory.stock(variant_id))["onHand"] == 7
    assert len(await inventory.events("StockChanged", variant_id)) == 2


async def test_concurrent_repeats_of_a_key_restock_once(inventory: Inventory) -> None:
    variant_id = await inventory.stocked(5)

    responses = await asyncio.gather(
        *(restock(inventory, "return:r3:restock", [(variant_id, 3)]) for _ in range(4))
    )

    assert [response.ok() for response in responses] == [{"restockReturn": True}] * 4
    assert (await inventory.stock(variant_id))["onHand"] == 8
    assert await inventory.ledger_disagreements() == []


async def test_a_restock_of_a_variant_inventory_never_stocked_gives_it_a_row(inventory: Inventory) -> None:
    variant_id = str(uuid.uuid4())

    (await restock(inventory, "return:r4:restock", [(variant_id, 1)])).ok()

    assert await inventory.stock(variant_id) == {"available": 1, "reserved": 0, "onHand": 1}


@pytest.mark.parametrize(
    ("lines", "reason", "field"),
    [
        ([], "return", "lines"),
        ([("not-an-id", 1)], "return", "lines[0].variantId"),
        ([(str(uuid.uuid4()), 0)], "return", "lines[0].quantity"),
        ([(str(uuid.uuid4()), 1)], "", "input.reason"),
        ([(str(uuid.uuid4()), 1)], "r" * 201, "input.reason"),
    ],
)
async def test_bad_restock_input_is_bad_user_input_and_changes_nothing(
    inventory: Inventory, lines, reason, field
) -> None:
    response = await restock(inventory, "return:bad:restock", lines, reason=reason)

    assert response.error_codes == ["BAD_USER_INPUT"]
    assert response.errors[0]["extensions"]["field"] == field
    assert await inventory.scalar("SELECT count(*) FROM restocks") == 0


async def test_only_a_service_may_restock(inventory: Inventory) -> None:
    variant_id = await inventory.stocked(5)

    response = await restock(inventory, "return:r5:restock", [(variant_id, 1)], token=inventory.admin_token)

    assert response.error_codes == ["FORBIDDEN"]
    assert (await inventory.stock(variant_id))["onHand"] == 5
