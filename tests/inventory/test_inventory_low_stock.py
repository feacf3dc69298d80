"""`lowStockProducts` (admin): products whose units available (on hand - reserved, over sellable variants) are
at or below a threshold (the service's, 5, unless asked), fewest first; never-stocked products not listed."""

from __future__ import annotations

from typing import Any

from inventory_api import Inventory, new_key

LOW = "query Low($threshold: Int, $first: Int) { lowStockProducts(threshold: $threshold, first: $first) { id stock { available reserved onHand } } }"  # noqa: E501


async def low(inventory: Inventory, token: str | None = None, **variables: Any) -> Any:
    return await inventory.gql("inventory", LOW, variables, token=token or inventory.admin_token)


async def test_products_at_or_below_the_threshold_come_fewest_first(inventory: Inventory) -> None:
    plenty, six, five, two = [await inventory.stocked(units) for units in (50, 6, 5, 2)]
    await inventory.reserve(new_key(), [(six, 2)])  # 6 on hand, 4 available
    empty = await inventory.stocked(3)
    await inventory.adjust(empty, -3)

    by_default = (await low(inventory)).ok()["lowStockProducts"]
    below_two = (await low(inventory, threshold=2)).ok()["lowStockProducts"]

    assert [(p["id"], p["stock"]["available"]) for p in by_default] == [
        (empty, 0),
        (two, 2),
        (six, 4),
        (five, 5),
    ]
    assert by_default[2]["stock"] == {"available": 4, "reserved": 2, "onHand": 6}
    assert [p["id"] for p in below_two] == [empty, two]
    assert plenty not in {p["id"] for p in by_default}


async def test_first_limits_the_list(inventory: Inventory) -> None:
    ids = [await inventory.stocked(units) for units in (1, 2, 3)]

    found = (await low(inventory, first=2)).ok()["lowStockProducts"]

    assert [p["id"] for p in found] == ids[:2]


async def test_bad_arguments_are_bad_user_input_and_customers_are_forbidden(
    inventory: Inventory, customer_token: str
) -> None:
    for variables, field in (
        ({"first": 0}, "first"),
        ({"first": 101}, "first"),
        ({"threshold": -1}, "threshold"),
    ):
        errors = (await low(inventory, **variables)).errors
        assert [(e["extensions"]["code"], e["extensions"].get("field")) for e in errors] == [
            ("BAD_USER_INPUT", field)
        ]
    forbidden = (await low(inventory, token=customer_token)).errors
    assert [e["extensions"]["code"] for e in forbidden] == ["FORBIDDEN"]
