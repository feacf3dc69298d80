"""A small shop for the orders tests: products with stock, customers with tokens, and the saga's documents.

Everything goes through the real services over HTTP; the databases are read directly only to check what the
services did (stock ledger, payments), never to arrange a test.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

ORDER_FIELDS = """
  id status failureCode failureReason total { amount currency } createdAt
  user { id }
  items { product { id } productName quantity unitPrice { amount currency } lineTotal { amount currency } }
  statusHistory { status reason at }
"""
PLACE = f"mutation Place($input: PlaceOrderInput!) {{ placeOrder(input: $input) {{ {ORDER_FIELDS} }} }}"
CANCEL = f"mutation Cancel($id: ID!) {{ cancelOrder(id: $id) {{ {ORDER_FIELDS} }} }}"
ORDER = f"query One($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}"
CREATE_PRODUCT = "mutation C($input: CreateProductInput!) { createProduct(input: $input) { id } }"
ARCHIVE_PRODUCT = "mutation A($id: ID!) { archiveProduct(id: $id) { id } }"
ADJUST = """
mutation Adjust($id: ID!, $delta: Int!) {
  adjustStock(productId: $id, delta: $delta, reason: "test stock") { id stock { available reserved onHand } }
}"""
STOCK = """
query Stock($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on Product { id stock { available reserved onHand } } }
}"""


@dataclass
class Customer:
    id: str
    token: str


class Shop:
    def __init__(self, gql: Any, issuer: Any, engines: dict[str, AsyncEngine]) -> None:
        self.gql = gql
        self.issuer = issuer
        self.engines = engines
        self.admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token
        self.service = issuer.issue_service_token("orders").token

    def customer(self) -> Customer:
        user_id = str(uuid.uuid4())
        return Customer(user_id, self.issuer.issue(user_id, ["CUSTOMER"]).token)

    async def product(self, *, price: int = 1250, currency: str = "USD", stock: int = 10) -> str:
        sku = f"ORD-{uuid.uuid4().hex[:10].upper()}"
        product_input = {
            "sku": sku,
            "name": f"Order test item {sku}",
            "description": "",
            "price": {"amount": price, "currency": currency},
            "category": "Tests",
        }
        created = await self.gql("products", CREATE_PRODUCT, {"input": product_input}, token=self.admin)
        product_id = created.ok()["createProduct"]["id"]
        if stock:
            (await self.gql("inventory", ADJUST, {"id": product_id, "delta": stock}, token=self.admin)).ok()
        return product_id

    async def archive(self, product_id: str) -> None:
        (await self.gql("products", ARCHIVE_PRODUCT, {"id": product_id}, token=self.admin)).ok()

    async def stock(self, product_id: str) -> dict[str, int]:
        representations = [{"__typename": "Product", "id": product_id}]
        data = (await self.gql("inventory", STOCK, {"representations": representations})).ok()
        return data["_entities"][0]["stock"]

    async def place(
        self,
        customer: Customer,
        items: list[tuple[str, int]],
        *,
        method: str = "tok_approve",
        key: str | None = None,
        service: str = "orders",
    ) -> Any:
        order_input = {
            "items": [{"productId": product_id, "quantity": quantity} for product_id, quantity in items],
            "paymentMethod": method,
            "idempotencyKey": key or uuid.uuid4().hex,
        }
        return await self.gql(service, PLACE, {"input": order_input}, token=customer.token)

    async def order(self, order_id: str, token: str | None = None) -> dict[str, Any]:
        return (await self.gql("orders", ORDER, {"id": order_id}, token=token or self.admin)).ok()["order"]

    async def rows(self, service: str, sql: str, **params: Any) -> list[dict[str, Any]]:
        """What a service's database holds (checks only)."""
        async with self.engines[service].connect() as conn:
            result = await conn.execute(text(sql), params)
            return [dict(row._mapping) for row in result]

    async def payments_of(self, order_id: str) -> list[dict[str, Any]]:
        return await self.rows(
            "payments",
            "SELECT status, amount, currency FROM payments WHERE order_id = :id",
            id=uuid.UUID(order_id),
        )

    async def ledger_sums(self, product_id: str) -> tuple[int, int]:
        rows = await self.rows(
            "inventory",
            "SELECT coalesce(sum(delta_on_hand), 0) AS on_hand, coalesce(sum(delta_reserved), 0) AS reserved "
            "FROM stock_movements WHERE variant_id = :id",
            id=uuid.UUID(product_id),
        )
        return int(rows[0]["on_hand"]), int(rows[0]["reserved"])


def statuses(order: dict[str, Any]) -> list[str]:
    return [change["status"] for change in order["statusHistory"]]
