"""A small shop for the shipments tests: CONFIRMED orders placed through the real services, staff tokens, and
the shipment operations over HTTP. Databases and streams are read only to check what the services did."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.outbox import Event, stream_name

CREATE_PRODUCT = "mutation C($input: CreateProductInput!) { createProduct(input: $input) { id } }"
ADJUST = """
mutation Adjust($id: ID!, $delta: Int!) {
  adjustStock(productId: $id, delta: $delta, reason: "test") { id }
}"""
PLACE = """
mutation Place($input: PlaceOrderInput!) {
  placeOrder(input: $input) { id status items { line quantity product { id } } }
}"""
CANCEL_ORDER = "mutation Cancel($id: ID!) { cancelOrder(id: $id) { id status } }"
SHIPMENT_FIELDS = """
  id status order { id } carrier trackingNumber trackingUrl returnReason
  createdAt shippedAt deliveredAt returnedAt cancelledAt updatedAt
  lines { line product { id } variant { id } sku productName variantLabel quantity }
"""
CREATE = f"""
mutation Create($input: CreateShipmentInput!) {{ createShipment(input: $input) {{ {SHIPMENT_FIELDS} }} }}"""
SHIP = f"""
mutation Ship($id: ID!, $carrier: String!, $number: String!, $url: String) {{
  markShipmentShipped(id: $id, carrier: $carrier, trackingNumber: $number, trackingUrl: $url) {{
    {SHIPMENT_FIELDS}
  }}
}}"""
DELIVER = f"mutation D($id: ID!) {{ markShipmentDelivered(id: $id) {{ {SHIPMENT_FIELDS} }} }}"
RETURN = f"""
mutation R($id: ID!, $reason: String!) {{
  markShipmentReturned(id: $id, reason: $reason) {{ {SHIPMENT_FIELDS} }}
}}"""
CANCEL = f"mutation C($id: ID!) {{ cancelShipment(id: $id) {{ {SHIPMENT_FIELDS} }} }}"
SHIPMENT = f"query S($id: ID!) {{ shipment(id: $id) {{ {SHIPMENT_FIELDS} }} }}"
SHIPMENTS = """
query L($status: ShipmentStatus, $first: Int, $after: String) {
  shipments(status: $status, first: $first, after: $after) {
    edges { cursor node { id status } } pageInfo { hasNextPage endCursor }
  }
}"""
ORDER_FULFILLMENT = """
query O($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Order { id fulfillmentStatus shipments { id status lines { line quantity } } }
  }
}"""


@dataclass
class Person:
    id: str
    token: str


class ShipmentsShop:
    def __init__(
        self, gql: Any, issuer: Any, engines: dict[str, AsyncEngine], redis: Any, prefix: str
    ) -> None:
        self.gql = gql
        self.issuer = issuer
        self.engines = engines
        self.redis = redis
        self.prefix = prefix
        self.admin = self.person("ADMIN")
        self.partner = self.person("PARTNER")

    def person(self, role: str = "CUSTOMER") -> Person:
        user_id = str(uuid.uuid4())
        return Person(user_id, self.issuer.issue(user_id, [role]).token)

    async def product(self, stock: int = 20) -> str:
        sku = f"SHP-{uuid.uuid4().hex[:10].upper()}"
        product_input = {
            "sku": sku,
            "name": f"Shipped item {sku}",
            "description": "",
            "price": {"amount": 1000, "currency": "USD"},
            "category": "Tests",
        }
        created = await self.gql("products", CREATE_PRODUCT, {"input": product_input}, token=self.admin.token)
        product_id = created.ok()["createProduct"]["id"]
        (await self.gql("inventory", ADJUST, {"id": product_id, "delta": stock}, token=self.admin.token)).ok()
        return product_id

    async def order(
        self, quantities: list[int], customer: Person | None = None
    ) -> tuple[Person, dict[str, Any]]:
        """A customer and their CONFIRMED order of one product per quantity (lines 1, 2, ... in order)."""
        customer = customer or self.person()
        items = [{"productId": await self.product(), "quantity": quantity} for quantity in quantities]
        order_input = {"items": items, "paymentMethod": "tok_approve", "idempotencyKey": uuid.uuid4().hex}
        placed = await self.gql("orders", PLACE, {"input": order_input}, token=customer.token)
        order = placed.ok()["placeOrder"]
        assert order["status"] == "CONFIRMED"
        assert [item["quantity"] for item in sorted(order["items"], key=lambda i: i["line"])] == quantities
        return customer, order

    async def cancel_order(self, customer: Person, order_id: str) -> Any:
        return await self.gql("orders", CANCEL_ORDER, {"id": order_id}, token=customer.token)

    # --- shipments ---

    async def create(
        self, order_id: str, lines: list[tuple[int, int]], *, key: str | None = None, by: Person | None = None
    ) -> Any:
        shipment_input = {
            "orderId": order_id,
            "lines": [{"line": line, "quantity": quantity} for line, quantity in lines],
            "idempotencyKey": key or uuid.uuid4().hex,
        }
        token = (by or self.partner).token
        return await self.gql("shipping", CREATE, {"input": shipment_input}, token=token)

    async def created(self, order_id: str, lines: list[tuple[int, int]]) -> dict[str, Any]:
        return (await self.create(order_id, lines)).ok()["createShipment"]

    async def ship(
        self,
        shipment_id: str,
        carrier: str = "DHL",
        number: str = "JD0146000012345",
        url: str | None = None,
        by: Person | None = None,
    ) -> Any:
        variables = {"id": shipment_id, "carrier": carrier, "number": number, "url": url}
        return await self.gql("shipping", SHIP, variables, token=(by or self.partner).token)

    async def act(self, query: str, shipment_id: str, by: Person | None = None, **more: Any) -> Any:
        variables = {"id": shipment_id, **more}
        return await self.gql("shipping", query, variables, token=(by or self.partner).token)

    async def fulfillment(self, order_id: str, by: Person | None = None) -> Any:
        representations = [{"__typename": "Order", "id": order_id}]
        token = (by or self.admin).token
        return await self.gql(
            "shipping", ORDER_FULFILLMENT, {"representations": representations}, token=token
        )

    async def fulfillment_status(self, order_id: str) -> str:
        return (await self.fulfillment(order_id)).ok()["_entities"][0]["fulfillmentStatus"]

    # --- what the services did ---

    async def outbox(self, shipment_id: str | None = None) -> list[dict[str, Any]]:
        """Shipping's outbox rows (oldest first), of one shipment or all."""
        sql = "SELECT event_type, aggregate_id, payload FROM outbox"
        params: dict[str, Any] = {}
        if shipment_id is not None:
            sql += " WHERE aggregate_id = :id"
            params["id"] = shipment_id
        async with self.engines["shipping"].connect() as conn:
            result = await conn.execute(text(sql + " ORDER BY id"), params)
            return [dict(row._mapping) for row in result]

    async def order_fulfillment_changes(self, order_id: str) -> list[dict[str, Any]]:
        """The `OrderFulfillmentChanged` payloads orders wrote for the order (from shipping's events)."""
        sql = (
            "SELECT payload FROM outbox WHERE event_type = 'OrderFulfillmentChanged' AND aggregate_id = :id "
            "ORDER BY id"
        )
        async with self.engines["orders"].connect() as conn:
            return [row.payload for row in await conn.execute(text(sql), {"id": order_id})]

    async def stream_events(self, producer: str = "shipping") -> list[Event]:
        entries = await self.redis.xrange(stream_name(self.prefix, producer))
        return [Event.from_fields(fields) for _, fields in entries]
