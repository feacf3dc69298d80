"""Shipments through the router: a partner ships, the customer follows the order's fulfillment on the order
itself (orders' `Order` joined with shipping's fields), and the internal operations stay hidden."""

from __future__ import annotations

from typing import Any

import httpx
from shipments_shop import Person, ShipmentsShop

from shared.testing import ServerThread

CREATE = """
mutation Create($input: CreateShipmentInput!) { createShipment(input: $input) { id status } }"""
SHIP = """
mutation Ship($id: ID!) {
  markShipmentShipped(id: $id, carrier: "Royal Mail", trackingNumber: "RM 1") { id }
}"""
ORDER = """
query Order($id: ID!) {
  order(id: $id) {
    id status fulfillmentStatus
    shipments { status carrier trackingUrl lines { line quantity productName product { id name } } }
  }
}"""
HIDDEN = "query F($id: ID!) { fulfillmentOrder(orderId: $id) { id } }"


async def post(router: ServerThread, query: str, variables: dict[str, Any], who: Person | None) -> Any:
    headers = {"authorization": f"Bearer {who.token}"} if who is not None else {}
    async with httpx.AsyncClient(base_url=router.url, timeout=60) as client:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
    return response.json()


async def test_a_partner_ships_through_the_router_and_the_customer_sees_it_on_the_order(
    shop: ShipmentsShop, myshop_router: ServerThread
) -> None:
    customer, order = await shop.order([2, 1])
    shipment_input = {"orderId": order["id"], "lines": [{"line": 1, "quantity": 2}], "idempotencyKey": "r-1"}

    as_customer = await post(myshop_router, CREATE, {"input": shipment_input}, customer)
    created = await post(myshop_router, CREATE, {"input": shipment_input}, shop.partner)
    shipment_id = created["data"]["createShipment"]["id"]
    shipped = await post(myshop_router, SHIP, {"id": shipment_id}, shop.partner)
    seen = await post(myshop_router, ORDER, {"id": order["id"]}, customer)

    assert as_customer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "errors" not in shipped
    assert "errors" not in seen, seen
    view = seen["data"]["order"]
    assert (view["status"], view["fulfillmentStatus"]) == ("CONFIRMED", "PARTIALLY_FULFILLED")
    (parcel,) = view["shipments"]
    assert (parcel["status"], parcel["carrier"]) == ("SHIPPED", "Royal Mail")
    assert parcel["trackingUrl"] == "https://www.royalmail.com/track-your-item#/tracking-results/RM%201"
    line = parcel["lines"][0]
    assert (line["line"], line["quantity"], line["product"]["id"]) == (
        1,
        2,
        order["items"][0]["product"]["id"],
    )
    assert line["product"]["name"] == line["productName"]
    hidden = await post(myshop_router, HIDDEN, {"id": order["id"]}, shop.admin)
    assert hidden["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
