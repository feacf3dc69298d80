"""A page of orders asked for their lines reads them with the page (one statement), whichever way the
connection is asked (`edges { node }`, `nodes`, fragments); a page not asked for them reads none."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from orders_shop import Shop
from sqlalchemy import Engine, event

LINES = "items { line product { id } quantity unitPrice { amount currency } total { amount } }"
SHAPES = {
    "edges": f"orders(first: 5) {{ edges {{ node {{ id {LINES} }} }} }}",
    "nodes": f"orders(first: 5) {{ nodes {{ id {LINES} }} }}",
    "fragment": "orders(first: 5) { edges { node { ...Lines } } }",
}
FRAGMENT = f"fragment Lines on Order {{ id {LINES} }}"


@contextmanager
def statements_on(table: str) -> Iterator[list[str]]:
    """The statements reading `table` while the block runs (the stack's servers run in this process)."""
    seen: list[str] = []

    def record(*args: object) -> None:
        if f"FROM {table}" in str(args[2]):
            seen.append(str(args[2]))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def own_orders(selection: str) -> str:
    fragment = FRAGMENT if "...Lines" in selection else ""
    entities = f"_entities(representations: $r) {{ ... on User {{ {selection} }} }}"
    return f"query($r: [_Any!]!) {{ {entities} }} {fragment}"


def orders_of(data: dict) -> list[dict]:
    orders = data["_entities"][0]["orders"]
    return orders["nodes"] if "nodes" in orders else [edge["node"] for edge in orders["edges"]]


@pytest.mark.parametrize("shape", sorted(SHAPES))
async def test_a_customers_page_reads_its_orders_lines_with_one_statement(shop: Shop, shape: str) -> None:
    # Given a customer with three orders of two lines each
    first, second = await shop.product(stock=20), await shop.product(price=990, stock=20)
    customer = shop.customer()
    placed = [
        (await shop.place(customer, [(first, 1), (second, n)])).ok()["placeOrder"]["id"] for n in (1, 2, 3)
    ]
    expected = {order_id: (await shop.order(order_id))["items"] for order_id in placed}

    # When their page of orders is asked for the lines
    with statements_on("order_items") as lines_read:
        response = await shop.gql(
            "orders", own_orders(SHAPES[shape]), {"r": [{"__typename": "User", "id": customer.id}]},
            token=customer.token,
        )  # fmt: skip

    # Then every order has its lines, in line order, from one statement for the page
    orders = orders_of(response.ok())
    assert [order["id"] for order in orders] == placed[::-1]
    for order in orders:
        assert [line["line"] for line in order["items"]] == [1, 2]
        assert [line["product"]["id"] for line in order["items"]] == [
            line["product"]["id"] for line in expected[order["id"]]
        ]
        assert [line["quantity"] for line in order["items"]] == [
            line["quantity"] for line in expected[order["id"]]
        ]
    assert len(lines_read) == 1


async def test_a_page_not_asked_for_lines_reads_none(shop: Shop) -> None:
    product = await shop.product(stock=5)
    customer = shop.customer()
    (await shop.place(customer, [(product, 1)])).ok()

    with statements_on("order_items") as lines_read:
        response = await shop.gql(
            "orders", own_orders("orders(first: 5) { nodes { id status } }"),
            {"r": [{"__typename": "User", "id": customer.id}]}, token=customer.token,
        )  # fmt: skip

    assert len(orders_of(response.ok())) == 1
    assert lines_read == []


async def test_staffs_listing_reads_the_lines_with_the_page(shop: Shop) -> None:
    product = await shop.product(stock=5)
    customer = shop.customer()
    placed = (await shop.place(customer, [(product, 2)])).ok()["placeOrder"]["id"]

    with statements_on("order_items") as lines_read:
        response = await shop.gql(
            "orders", f"{{ orders(first: 1) {{ edges {{ node {{ id {LINES} }} }} }} }}", token=shop.admin
        )

    node = response.ok()["orders"]["edges"][0]["node"]
    assert node["id"] == placed
    assert [(line["line"], line["quantity"]) for line in node["items"]] == [(1, 2)]
    assert len(lines_read) == 1
