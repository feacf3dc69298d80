"""The returns tests' documents and helpers: confirmed orders, their delivery (orders' copy of a DELIVERED
shipment, written directly until shipping's events fill it), and the return mutations over HTTP."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from orders_shop import Customer, Shop
from sqlalchemy import text

RETURN_FIELDS = """
  id status reason rejectionReason createdAt approvedAt rejectedAt receivedAt refundedAt
  order { id }
  lines { line product { id } variant { id } productName variantLabel quantity refund { amount currency } }
  refund {
    subtotal { amount } discount { amount } tax { amount } shipping { amount } total { amount currency }
  }
"""
REQUEST = f"""
mutation Request($input: RequestReturnInput!) {{ requestReturn(input: $input) {{ {RETURN_FIELDS} }} }}"""
APPROVE = f"mutation Approve($id: ID!) {{ approveReturn(id: $id) {{ {RETURN_FIELDS} }} }}"
REJECT = f"""
mutation Reject($id: ID!, $reason: String!) {{
  rejectReturn(id: $id, reason: $reason) {{ {RETURN_FIELDS} }}
}}"""
RECEIVE = f"mutation Receive($id: ID!) {{ receiveReturn(id: $id) {{ {RETURN_FIELDS} }} }}"
ONE = f"query One($id: ID!) {{ return(id: $id) {{ {RETURN_FIELDS} }} }}"
LIST = """
query List($status: ReturnStatus, $first: Int, $after: String) {
  returns(status: $status, first: $first, after: $after) { edges { cursor node { id status } } }
}"""
ORDER_RETURNS = "query O($id: ID!) { order(id: $id) { id returns { id status } } }"


def refund_of(returned: dict[str, Any]) -> dict[str, int]:
    refund = returned["refund"]
    return {name: refund[name]["amount"] for name in ("subtotal", "discount", "tax", "shipping", "total")}


class Returns:
    """The return mutations as a customer or staff, and the orders database behind them."""

    def __init__(self, shop: Shop) -> None:
        self.shop = shop

    async def confirmed_order(
        self, customer: Customer, lines: list[tuple[str, int]], *, key: str | None = None
    ) -> str:
        placed = (await self.shop.place(customer, lines, key=key)).ok()["placeOrder"]
        assert placed["status"] == "CONFIRMED"
        return str(placed["id"])

    async def deliver(self, order_id: str, lines: list[tuple[int, int]], *, days_ago: float = 0) -> None:
        """A DELIVERED shipment of `lines` [(order line, units)] in orders' copy, `days_ago` days ago."""
        delivered_at = datetime.now(UTC) - timedelta(days=days_ago)
        async with self.shop.engines["orders"].begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO order_shipments (shipment_id, order_id, status, lines, shipped_at, "
                    "delivered_at, event_at) "
                    "VALUES (:id, :order, 'DELIVERED', CAST(:lines AS jsonb), :at, :at, :at)"
                ),
                {
                    "id": uuid.uuid4(),
                    "order": uuid.UUID(order_id),
                    "lines": json.dumps([{"line": line, "quantity": quantity} for line, quantity in lines]),
                    "at": delivered_at,
                },
            )

    async def request_call(
        self,
        token: str,
        order_id: str,
        lines: list[tuple[int, int]],
        *,
        reason: str = "Does not fit",
        key: str | None = None,
    ) -> Any:
        request = {
            "orderId": order_id,
            "lines": [{"line": line, "quantity": quantity} for line, quantity in lines],
            "reason": reason,
            "idempotencyKey": key or uuid.uuid4().hex,
        }
        return await self.shop.gql("orders", REQUEST, {"input": request}, token=token)

    async def request(self, token: str, order_id: str, lines: list[tuple[int, int]], **kwargs: Any) -> Any:
        return (await self.request_call(token, order_id, lines, **kwargs)).ok()["requestReturn"]

    async def call(self, document: str, token: str | None = None, **variables: Any) -> Any:
        return await self.shop.gql("orders", document, variables, token=token or self.shop.admin)

    async def approve(self, return_id: str) -> Any:
        return (await self.call(APPROVE, id=return_id)).ok()["approveReturn"]

    async def receive(self, return_id: str) -> Any:
        return (await self.call(RECEIVE, id=return_id)).ok()["receiveReturn"]

    async def refunded(self, token: str, order_id: str, lines: list[tuple[int, int]]) -> Any:
        """A return requested, approved and received: REFUNDED."""
        requested = await self.request(token, order_id, lines)
        await self.approve(requested["id"])
        received = await self.receive(requested["id"])
        assert received["status"] == "REFUNDED", received
        return received

    async def events(self, return_id: str) -> list[tuple[str, dict[str, Any]]]:
        rows = await self.shop.rows(
            "orders",
            "SELECT event_type, payload FROM outbox WHERE aggregate_id = :id ORDER BY id",
            id=return_id,
        )
        return [(row["event_type"], row["payload"]) for row in rows]

    async def partial_refunds(self, order_id: str) -> list[dict[str, Any]]:
        return await self.shop.rows(
            "payments",
            "SELECT key, amount, partial FROM refunds WHERE order_id = :id ORDER BY created_at",
            id=uuid.UUID(order_id),
        )

    async def steps(self, return_id: str) -> dict[str, tuple[str, int]]:
        rows = await self.shop.rows(
            "orders",
            "SELECT step, status, attempts FROM return_steps WHERE return_id = :id",
            id=uuid.UUID(return_id),
        )
        return {row["step"]: (row["status"], row["attempts"]) for row in rows}
