"""What the fulfillment tests share: the internal operations shipping calls on orders, called as shipping
(a SERVICE token), and a confirmed order to ship."""

from __future__ import annotations

from typing import Any

from orders_shop import Customer, Shop

FULFILLMENT_FIELDS = """
  id userId status currency createdAt shippedAt
  lines { line productId variantId sku productName variantLabel quantity }
"""
FULFILLMENT_ORDER = (
    f"query F($orderId: ID!) {{ fulfillmentOrder(orderId: $orderId) {{ {FULFILLMENT_FIELDS} }} }}"
)
BEGIN_SHIPMENT = f"""
mutation B($orderId: ID!, $shipmentId: ID!) {{
  beginOrderShipment(orderId: $orderId, shipmentId: $shipmentId) {{ {FULFILLMENT_FIELDS} }}
}}"""


def shipping_token(shop: Shop) -> str:
    return shop.issuer.issue_service_token("shipping").token


async def confirmed_order(shop: Shop, lines: int = 2) -> tuple[Customer, dict[str, Any], list[str]]:
    """A customer, their CONFIRMED order of `lines` products (quantities 1, 2, ...), and the products."""
    products = [await shop.product(stock=10) for _ in range(lines)]
    customer = shop.customer()
    placed = await shop.place(customer, [(product, n + 1) for n, product in enumerate(products)])
    order = placed.ok()["placeOrder"]
    assert order["status"] == "CONFIRMED"
    return customer, order, products


async def begin_shipment(shop: Shop, order_id: str, shipment_id: str, token: str | None = None) -> Any:
    variables = {"orderId": order_id, "shipmentId": shipment_id}
    return await shop.gql("orders", BEGIN_SHIPMENT, variables, token=token or shipping_token(shop))
